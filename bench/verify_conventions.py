"""Cross-check netdsl's --convention presets against the real tools.

Not part of the test suite (fvcore, ptflops and thop are not dependencies).
In a venv with them installed (fvcore 0.1.5, ptflops 0.7.5, thop
0.1.1.post2209072238, torchinfo 1.8):

    python bench/verify_conventions.py specs/*.net

For each spec it prints (netdsl, tool, equal) per convention, per sample.
"""
import contextlib
import io
import logging
import sys
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)
import torch
from fvcore.nn import FlopCountAnalysis
from ptflops import get_model_complexity_info
from thop import profile as thop_profile
from torchinfo import summary

import netdsl
from netdsl.backends.costs import layer_macs

for f in sys.argv[1:]:
    r = netdsl.check(f)
    g = r.graph()
    m = netdsl.load(f).eval()
    shp = g.input_shape
    x = torch.randn(1, *shp)
    ours = {c: sum(layer_macs(g, n, c) or 0 for n in g.layers) for c in ["fvcore","ptflops","thop","torchinfo"]}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        fa = FlopCountAnalysis(m, x)
        fa.unsupported_ops_warnings(False)
        fa.uncalled_modules_warnings(False)
        theirs = {
            "fvcore": fa.total(),
            "ptflops": get_model_complexity_info(
                m,
                tuple(shp),
                as_strings=False,
                print_per_layer_stat=False,
                backend="pytorch",
                backend_specific_config={"count_functional": False},
            )[0],
            "thop": int(thop_profile(m, inputs=(x,), verbose=False)[0]),
            "torchinfo": summary(m, input_size=(1, *shp), verbose=0).total_mult_adds,
        }
    print(f, {c: (ours[c], theirs[c], ours[c]==theirs[c]) for c in ours})
