#!/usr/bin/env python3
"""Differential fuzzing of netdsl's two code generators against each other.

The default emitter writes one class per block *definition* (netdsl/backends/blockclass.py:
`__init__` computes the body from the block's parameters) and a network class that takes
the network's parameters; the reference writes one class per block *specialisation*
(`generate(graphs, block_classes=False)`, held to torchvision by tests/test_zoo_reference.py).
For every generated spec that `check` accepts, the oracle demands of the default emitter's
module, against the reference's, on the CPU:

  * generate, exec, construction and forward raise nothing the reference does not raise;
  * the same state_dict keys, in the same order, with the same shapes;
  * under the same (perturbed) weights, in eval mode, exactly the same outputs;
  * in training mode, from the same torch seed, exactly the same outputs and the same
    buffers afterwards (random numbers drawn in another order, or where the output does
    not need them, show up here: dropout, stochastic depth).

Generators: `structured` and `modern` are tools/fuzz_backends.py's; `zoo` chains blocks
from specs/lib/*.net (and the zoo's network specs) with random arguments near their
defaults, some of them network parameters, under `if` arms and `when`, with `@name`
references, merges and named `return`s; `gblock` writes a block whose body branches,
loops and merges on its parameters and uses it several times; `lift` turns literals of a
`structured`/`modern` network into network parameters.

Failures are grouped by symptom (phase and exception type, or what differs), minimised
(fuzz_backends' delta debugging over lines, then tokens) and written to
tests/fuzz_corpus_emitters/<symptom>.net with a first comment line naming the symptom;
tests/test_fuzz_emitters.py replays that directory.

    nice -n 10 python3 tools/fuzz_emitters.py --minutes 30 --seed 1
    python3 tools/fuzz_emitters.py --replay tests/fuzz_corpus_emitters/*.net
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import random
import re
import signal
import sys
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
CORPUS_DIR = ROOT / "tests" / "fuzz_corpus_emitters"
HEADER = "# fuzz_emitters: "
NETDSL_DIR = str(ROOT / "netdsl")


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# Reused, not copied: the structured/modern generators, delta debugging and the tokeniser.
fb = _load("netdsl_fuzz_backends", ROOT / "tools" / "fuzz_backends.py")
warnings.filterwarnings("ignore")

MAX_PARAMS = 300_000          # a case's parameter count above which it is skipped (keeps each case fast)
MAX_ACTIVATIONS = 2_000_000


# =============================================================================
# Generators: each takes a random.Random and returns spec text.
# =============================================================================

def _pick(rng, *xs):
    return rng.choice(xs)


# name -> (file to import, argument writer: rng -> list of (keyword or None, literal text)).
# Values sit near the blocks' defaults, small enough for a fast forward pass.
def _a(**kw):
    return [(None if k.startswith("_") else k, v) for k, v in kw.items() if v is not None]


def _opt(rng, p, value):
    return value if rng.random() < p else None


ZOO_BLOCKS = {
    "BasicBlock": ("lib/resnet.net", lambda r, c: _a(_c=r.randint(1, 6), stride=_opt(r, .5, r.randint(1, 2)))),
    "Bottleneck": ("lib/resnet.net", lambda r, c: _a(
        _p=r.randint(1, 4), stride=_opt(r, .5, r.randint(1, 2)), groups=_opt(r, .3, r.randint(1, 2)),
        base_width=_opt(r, .3, _pick(r, 32, 64, 128)), dilation=_opt(r, .3, r.randint(1, 2)))),
    "BottleneckLayer": ("lib/resnet.net", lambda r, c: _a(
        _p=r.randint(1, 3), _b=r.randint(0, 3), stride=_opt(r, .5, r.randint(1, 2)),
        groups=_opt(r, .3, r.randint(1, 2)), dilate=_opt(r, .4, _pick(r, "true", "false")),
        dilation=_opt(r, .3, r.randint(1, 2)))),
    "Conv2dNormActivation": ("lib/ops.net", lambda r, c: _a(
        _c=r.randint(1, 6), k=_opt(r, .5, _pick(r, 1, 3, 5)), stride=_opt(r, .4, r.randint(1, 2)),
        groups=_opt(r, .2, r.randint(1, 2)), dilation=_opt(r, .2, r.randint(1, 2)),
        norm=_opt(r, .4, _pick(r, '"batchnorm"', '"layernorm2d"', '"none"')),
        act=_opt(r, .4, _pick(r, '"relu"', '"relu6"', '"hardswish"', '"silu"', '"none"')),
        padding=_opt(r, .3, _pick(r, "none", 0, 1, 2)), bias=_opt(r, .3, _pick(r, "none", "true", "false")))),
    "SqueezeExcitation": ("lib/ops.net", lambda r, c: _a(
        _s=r.randint(1, 4), act=_opt(r, .4, _pick(r, '"relu"', '"silu"')),
        scale=_opt(r, .4, _pick(r, '"sigmoid"', '"hardsigmoid"')))),
    "BasicConv2d": ("lib/inception.net", lambda r, c: _a(
        _c=r.randint(1, 6), _k=_pick(r, 1, 3, "(1, 3)", "(3, 1)"), stride=_opt(r, .4, r.randint(1, 2)),
        padding=_opt(r, .5, _pick(r, 0, 1, "(0, 1)")))),
    "InceptionA": ("lib/inception.net", lambda r, c: _a(_p=r.randint(1, 8))),
    "Fire": ("lib/squeezenet.net", lambda r, c: _a(_a=r.randint(1, 4), _b=r.randint(1, 4), _c=r.randint(1, 4))),
    "ShuffleBranch": ("lib/shufflenet.net", lambda r, c: _a(_bf=r.randint(1, 4), _s=r.randint(1, 2))),
    "ShuffleStage": ("lib/shufflenet.net", lambda r, c: _a(_o=_pick(r, 2, 4, 6), _n=r.randint(1, 3))),
    "InvertedResidual@shufflenet": ("lib/shufflenet.net", lambda r, c: _a(_o=_pick(r, 2, 4, 6, 8),
                                                                          _s=r.randint(1, 3))),
    "ResBottleneckBlock": ("lib/regnet.net", lambda r, c: _a(
        _w=_pick(r, 4, 8), _s=r.randint(1, 2), _g=_pick(r, 2, 4), bm=_opt(r, .4, _pick(r, 0.5, 1.0)),
        se_ratio=_opt(r, .5, _pick(r, "none", 0.25, 0.5)))),
    "AnyStage": ("lib/regnet.net", lambda r, c: _a(
        _st=r.randint(1, 4), _w=_pick(r, 4, 8), _s=r.randint(1, 2), _d=r.randint(0, 3), _g=_pick(r, 2, 4),
        bm=_opt(r, .3, _pick(r, 0.5, 1.0)), se_ratio=_opt(r, .4, _pick(r, "none", 0.25)))),
    "BottleneckTransform": ("lib/regnet.net", lambda r, c: _a(
        _w=_pick(r, 4, 8), _s=r.randint(1, 2), _g=_pick(r, 2, 4), bm=_opt(r, .3, _pick(r, 0.5, 1.0)),
        se_ratio=_opt(r, .4, _pick(r, "none", 0.25)))),
    "InvertedResidual@mnasnet": ("lib/mnasnet.net", lambda r, c: _a(
        _o=r.randint(1, 6), _k=_pick(r, 3, 5), _s=r.randint(1, 2), _t=r.randint(1, 3),
        momentum=_opt(r, .3, _pick(r, 0.1, 0.01)))),
    "Stack": ("lib/mnasnet.net", lambda r, c: _a(
        _o=r.randint(1, 4), _k=_pick(r, 3, 5), _s=r.randint(1, 2), _t=r.randint(1, 3), _n=r.randint(1, 3))),
    "CNBlock": ("lib/convnext.net", lambda r, c: _a(
        _sd=_pick(r, 0.0, 0.1, 0.5), layer_scale=_opt(r, .4, _pick(r, 1e-6, 0.5, 2.0)))),
    "CNStage": ("lib/convnext.net", lambda r, c: _a(
        n=r.randint(0, 3), first=r.randint(0, 2), total=r.randint(3, 6), sd_prob=_pick(r, 0.0, 0.2, 0.5),
        layer_scale=_opt(r, .3, _pick(r, 1e-6, 0.5)))),
    "CNDownsample": ("lib/convnext.net", lambda r, c: _a(_c=r.randint(1, 6))),
    "MBConv": ("lib/efficientnet.net", lambda r, c: _a(
        _e=_pick(r, 1, 1.0, 4, 6), _k=_pick(r, 3, 5), _s=r.randint(1, 2), _ic=c, _o=r.randint(1, 8),
        _sd=_pick(r, 0.0, 0.2, 0.5))),
    "FusedMBConv": ("lib/efficientnet.net", lambda r, c: _a(
        _e=_pick(r, 1, 1.0, 4), _k=_pick(r, 3, 5), _s=r.randint(1, 2), _ic=c, _o=r.randint(1, 8),
        _sd=_pick(r, 0.0, 0.2, 0.5))),
    "EfficientNetStage": ("lib/efficientnet.net", lambda r, c: _a(
        _kind=_pick(r, '"mb"', '"fused"', '"MBConv"', '"FusedMBConv"'), _e=_pick(r, 1, 4), _k=3,
        _s=r.randint(1, 2), _ic=c, _o=r.randint(1, 6), _l=r.randint(1, 3), _f=r.randint(0, 2),
        _t=r.randint(3, 6), _sd=_pick(r, 0.0, 0.2))),
    "InvertedResidual@mobilenet": ("lib/mobilenet.net", lambda r, c: _a(
        _ic=c, _k=_pick(r, 3, 5), _ex=r.randint(1, 8), _o=r.randint(1, 6), _se=_pick(r, "true", "false"),
        _act=_pick(r, '"RE"', '"HS"'), _s=r.randint(1, 2), dilation=_opt(r, .3, r.randint(1, 2)))),
    "DenseLayer": ("densenet121.net", lambda r, c: _a(_g=r.randint(1, 4), _b=r.randint(1, 3))),
    "DenseBlock": ("densenet121.net", lambda r, c: _a(
        _l=r.randint(0, 3), growth=_opt(r, .8, r.randint(1, 4)), bn_size=_opt(r, .8, r.randint(1, 3)))),
    "Transition": ("densenet121.net", lambda r, c: []),
    "InvertedResidual@mobilenet_v2": ("mobilenet_v2.net", lambda r, c: _a(
        _o=r.randint(1, 6), _s=r.randint(1, 2), _t=r.randint(1, 3))),
    "NiNBlock": ("nin.net", lambda r, c: _a(_c=r.randint(1, 6), _k=r.randint(1, 3), _s=r.randint(1, 2),
                                            _p=r.randint(0, 1))),
    "DoubleConv": ("unet.net", lambda r, c: _a(_c=r.randint(1, 6))),
    "Inception": ("googlenet.net", lambda r, c: [(None, r.randint(1, 4)) for _ in range(6)]),
    "GoogLeNetAux": ("googlenet.net", lambda r, c: _a(_n=r.randint(1, 5), dropout=_opt(r, .5, _pick(r, 0.0, 0.7)))),
    "ASPPPooling": ("deeplabv3_resnet50.net", lambda r, c: _a(_c=r.randint(1, 4))),
    "ASPP": ("deeplabv3_resnet50.net", lambda r, c: _a(
        _r=_pick(r, "[1]", "[1, 2]", "[2, 3, 4]", "[]"), out=_opt(r, .9, r.randint(1, 6)))),
    "FCNHead": ("deeplabv3_resnet50.net", lambda r, c: _a(_c=r.randint(1, 6))),
}
# blocks whose first use must see the channels they are told (`input_channels`)
NEEDS_CHANNELS = {"MBConv", "FusedMBConv", "EfficientNetStage", "InvertedResidual@mobilenet"}


def _defines(imp: str) -> set[str]:
    text = (ROOT / "specs" / imp).read_text()
    return set(re.findall(r"^(?:sequential )?block (\w+)", text, flags=re.M))


class _Params:
    """Network parameters the generated network takes, each with its default."""

    def __init__(self, rng):
        self.rng = rng
        self.items: list[tuple[str, str]] = []

    def new(self, default) -> str:
        name = f"p{len(self.items)}"
        self.items.append((name, str(default)))
        return name

    def lift(self, value, p: float = 0.3) -> str:
        """`value` as a literal, or (with probability `p`) as a network parameter or an expression of one."""
        text = str(value)
        if self.rng.random() >= p:
            return text
        if re.fullmatch(r"\d+", text):
            v = int(text)
            roll = self.rng.random()
            if roll < 0.5 or v < 2:
                return self.new(v)
            if roll < 0.8:
                return f"{self.new(v - 1)} + 1"
            if v % 2 == 0:
                return f"{self.new(v // 2)} * 2"
            return self.new(v)
        if text in ("true", "false") or re.fullmatch(r"\d+\.\d*(e-?\d+)?|\d+e-?\d+", text) or text.startswith('"'):
            return self.new(text)
        return text

    def signature(self) -> str:
        return "(" + ", ".join(f"{n} = {d}" for n, d in self.items) + ")" if self.items else ""


def _use(rng, name: str, params: _Params, channels: str) -> str:
    _, writer = ZOO_BLOCKS[name]
    args = writer(rng, channels)
    parts = []
    for k, v in args:
        v = v if v == channels else params.lift(v)
        parts.append(v if k is None else f"{k}={v}")
    bare = name.split("@")[0]
    if not parts and rng.random() < 0.5:
        return bare
    return f"{bare}({', '.join(parts)})"


def gen_zoo(rng: random.Random) -> str:
    """A network chaining zoo blocks with random arguments, some of them network parameters,
    under `if` arms and `when`, with `@name` references, merges and named returns."""
    names = sorted(ZOO_BLOCKS)
    chosen: list[str] = []
    imports: list[str] = []
    defined: dict[str, str] = {}
    for _ in range(rng.randint(1, 3)):
        name = rng.choice(names)
        imp = ZOO_BLOCKS[name][0]
        bare = name.split("@")[0]
        if defined.get(bare, imp) != imp:
            continue                     # two files define this name: importing both is a conflict
        if imp not in imports:
            if any(defined.get(b, imp) != imp for b in _defines(imp)):
                continue
            imports.append(imp)
            for b in _defines(imp):
                defined.setdefault(b, imp)
        chosen.append(name)
    if not chosen:
        chosen, imports = ["BasicBlock"], ["lib/resnet.net"]
    params = _Params(rng)
    c = rng.choice([2, 3, 4, 8])
    size = rng.choice([8, 9, 12, 16])
    lines: list[str] = []
    tensors: list[str] = []          # names given so far, in order

    def channels_of_previous() -> str:
        if not lines:
            return "in.c"
        if tensors and lines[-1].startswith(f"{tensors[-1]}:"):
            return f"@{tensors[-1]}.c"
        t = f"t{len(tensors)}"
        tensors.append(t)
        lines.append(f"{t}: identity")
        return f"@{t}.c"

    n_items = rng.randint(1, 4)
    for _ in range(n_items):
        name = rng.choice(chosen)
        ch = channels_of_previous() if name in NEEDS_CHANNELS else "in.c"
        use = _use(rng, name, params, ch)
        roll = rng.random()
        if roll < 0.12:
            flag = params.new(rng.choice(["true", "false"]))
            other = _use(rng, rng.choice(chosen), params, ch)
            stmt = f"if {flag} {{\n    {use}\n}} else {{\n    {other}\n}}"
        elif roll < 0.2:
            flag = params.new(rng.choice(["true", "false"]))
            stmt = f"{use} when {flag}" if rng.random() < 0.6 else f"{use} when not {flag}"
        elif roll < 0.27 and tensors:
            stmt = f"concat {{\n    identity\n    @{rng.choice(tensors)}\n}}"
        elif roll < 0.34:
            stmt = f"add {{\n    identity\n    {use}\n}}"
        elif roll < 0.4:
            k = params.new(rng.randint(0, 2))
            stmt = f"repeat {k} {{\n    {use}\n}}"
        elif roll < 0.45 and tensors:
            stmt = f"@{rng.choice(tensors)}"
        elif roll < 0.5 and tensors:
            flag = params.new(rng.choice(["true", "false"]))
            t = f"t{len(tensors)}"
            tensors.append(t)
            stmt = f"if {flag} {{\n    @{rng.choice(tensors[:-1])}\n    {t}: [{use}]\n}}"
        elif roll < 0.55:
            stmt = use + " -> " + rng.choice(["relu", "dropout(0.5)", 'stochastic_depth(0.3, "row")', "identity"])
        else:
            stmt = use
        if rng.random() < 0.6 and not stmt.startswith(("if ", "@", "repeat ")) and "\n" not in stmt \
                and " when " not in stmt:
            t = f"t{len(tensors)}"
            tensors.append(t)
            stmt = f"{t}: [{stmt}]" if "->" in stmt else f"{t}: {stmt}"
        lines.append(stmt)
    if tensors and rng.random() < 0.45:
        outs = rng.sample(tensors, rng.randint(1, min(3, len(tensors))))
        roll = rng.random()
        if roll < 0.15:         # several returns, each taken on a flag (the first whose flag holds)
            for _ in range(rng.randint(1, 3)):
                flag = params.new(rng.choice(["true", "false"]))
                picked = rng.sample(tensors, rng.randint(1, min(2, len(tensors))))
                lines.append(f"return({', '.join('@' + t for t in picked)}) when {flag}")
            lines.append(f"return(@{rng.choice(tensors)})")
        elif roll < 0.4:
            flag = params.new(rng.choice(["true", "false"]))
            lines.append(f"return({', '.join(f'o{j}=@{t}' for j, t in enumerate(outs))}) when {flag}")
            lines.append(f"return(o0=@{outs[0]})")
        elif roll < 0.7:
            lines.append(f"return({', '.join(f'o{j}=@{t}' for j, t in enumerate(outs))})")
        else:
            lines.append(f"return({', '.join('@' + t for t in outs)})")
    head = "".join(f'import "zoo:{imp}"\n' for imp in imports)
    body = "\n".join("    " + ln for ln in "\n".join(lines).split("\n"))
    return f"{head}network Probe{params.signature()} {{\n    input [{c}, {size}, {size}]\n{body}\n}}\n"


# ---- a block whose body depends on its parameters, used several times ----------------
_GB_STATEMENTS = [
    "conv2d(a, 1)",
    "conv2d(a * 2, 3, padding=1)",
    "conv2d(in.c, 1)",
    "conv2d(a + in.c, 1, bias=f)",
    "conv2d(a, 3, stride=s, padding=1)",
    "batchnorm2d -> relu",
    "if f {\n    relu\n} else {\n    conv2d(a, 1)\n}",
    "if in.c > a {\n    conv2d(a, 1)\n} else if f {\n    batchnorm2d\n}",
    "relu when f",
    "conv2d(b, 1) when not f",
    "batchnorm2d when in.c == a",
    "repeat b as i {\n    conv2d(a + i, 1)\n}",
    "repeat b {\n    relu\n}",
    "for c in [a, a + 1] {\n    conv2d(c, 1)\n}",
    "for i in range(b) {\n    \"m{i}\": conv2d(a, 1)\n}",
    "add {\n    identity when s == 1 and in.c == a\n    [conv2d(a, 3, stride=s, padding=1) -> batchnorm2d]\n}",
    "add {\n    identity\n    conv2d(in.c, 1) when f\n}",
    "x: conv2d(a, 1)\nrelu\nconcat {\n    @x\n    identity\n}",
    "y: relu\nconv2d(a, 1)\n@y",
    "z: conv2d(a, 1)\nmul {\n    @z\n    [global_avgpool -> conv2d(a, 1) -> sigmoid]\n}",
    "let w = a * b\nconv2d(w, 1)",
    "if k == \"x\" {\n    gelu\n} else if k == \"y\" {\n    silu\n} else {\n    identity\n}",
    "dropout(0.5) when f",
    "stochastic_depth(0.25, \"row\") when not f",
    "dropout(0.3)",
    "stochastic_depth(0.5, \"batch\")",
    "concat {\n    conv2d(a, 1)\n    conv2d(b, 1) when f\n    identity when in.c < 4\n}",
    "add {\n    [conv2d(a, 1) -> dropout(0.5)]\n    [conv2d(a, 1) -> stochastic_depth(0.5, \"row\")] when f\n}",
    "Inner(a)",
    "Inner(b) when f",
    "maxpool2d(2) when s == 2",
]
_GB_INNER = ("block Inner(c: int) {\n    conv2d(c, 1)\n    relu when c > 2\n"
             "    add {\n        identity when in.c == c\n        conv2d(c, 1)\n    }\n}\n")


def gen_gblock(rng: random.Random) -> str:
    """A block whose body branches, loops and merges on its parameters, used with random arguments."""
    n = rng.randint(2, 5)
    stmts = [rng.choice(_GB_STATEMENTS) for _ in range(n)]
    seq = rng.random() < 0.3
    body = "\n".join("    " + ln for ln in "\n".join(stmts).split("\n"))
    inner = _GB_INNER if "Inner(" in body else ""
    blk = (f"{inner}{'sequential ' if seq else ''}block G(a: int, b: int = 1, s: int = 1, f: bool = false, "
           f"k: str = \"x\") {{\n{body}\n}}\n")
    params = _Params(rng)
    lines = []
    for _ in range(rng.randint(1, 3)):
        parts = [params.lift(rng.randint(1, 5), 0.4)]
        if rng.random() < 0.6:
            parts.append(f"b={params.lift(rng.randint(0, 3), 0.4)}")
        if rng.random() < 0.4:
            parts.append(f"s={params.lift(rng.randint(1, 2), 0.4)}")
        if rng.random() < 0.6:
            parts.append(f"f={params.lift(rng.choice(['true', 'false']), 0.5)}")
        if rng.random() < 0.4:
            parts.append("k=" + params.lift(rng.choice(['"x"', '"y"', '"z"']), 0.5))
        use = f"G({', '.join(parts)})"
        if rng.random() < 0.3:
            use = f"g{len(lines)}: {use}"
        lines.append(use)
    c, size = rng.choice([1, 2, 3, 4]), rng.choice([4, 6, 8])
    net_body = "\n".join("    " + ln for ln in lines)
    return f"{blk}network Probe{params.signature()} {{\n    input [{c}, {size}, {size}]\n{net_body}\n}}\n"


def gen_lift(rng: random.Random) -> str:
    """A structured or modern network whose small integer literals become network parameters."""
    text = fb.gen_structured(rng) if rng.random() < 0.5 else fb.gen_modern(rng)
    m = re.search(r"^network (\w+)( \{)", text, flags=re.M)
    if not m:
        return text
    head, rest = text[:m.end(1)], text[m.end(1):]
    params = _Params(rng)
    body_start = rest.index("{") + 1
    body = rest[body_start:]
    first_nl = body.index("\n", body.index("input")) if "input" in body else 0
    keep, tail = body[:first_nl], body[first_nl:]

    def sub(mm):
        return params.lift(mm.group(0), 0.35)
    tail = re.sub(r"(?<![\w.\"'])\d+(?![\w.\"'])", sub, tail)
    return head + params.signature() + " {" + keep + tail


GENERATORS = {"zoo": gen_zoo, "gblock": gen_gblock, "lift": gen_lift,
              "structured": fb.gen_structured, "modern": fb.gen_modern}
WEIGHTS = {"zoo": 45, "gblock": 30, "lift": 15, "structured": 5, "modern": 5}


class Cases:
    """An endless, seeded stream of (generator name, spec text)."""

    def __init__(self, seed: int, gens: list[str] | None = None):
        self.rng = random.Random(seed)
        self.gens = gens or list(WEIGHTS)

    def __iter__(self):
        return self

    def __next__(self):
        g = self.rng.choices(self.gens, [WEIGHTS[x] for x in self.gens])[0]
        return g, GENERATORS[g](self.rng)


# =============================================================================
# The oracle.
# =============================================================================

class Slow(BaseException):
    """A case over its time budget (BaseException: no `except Exception` in netdsl swallows it)."""


def _on_alarm(signum, frame):
    raise Slow()


class Outcome:
    """status: "rejected" (check refuses it), "skipped" (too large, or the reference itself cannot
    be built), "same" or "differs". For "differs", `symptom` names the class, `detail` says more."""

    def __init__(self, status: str, symptom: str = "", detail: str = "", trace: str = ""):
        self.status, self.symptom, self.detail, self.trace = status, symptom, detail, trace

    def __repr__(self):
        return f"Outcome({self.status}, {self.symptom!r}, {self.detail[:200]!r})"


def _innermost(tb) -> str:
    frame = "-"
    for fs in traceback.extract_tb(tb):
        if fs.filename.startswith(NETDSL_DIR):
            frame = f"{Path(fs.filename).stem}:{fs.name}"
    return frame


def _crash(phase: str, e: BaseException) -> Outcome:
    where = _innermost(e.__traceback__)
    symptom = f"{phase}-{type(e).__name__}" + (f"-{where.split(':')[-1]}" if where != "-" else "")
    return Outcome("differs", symptom, f"{type(e).__name__}: {e}"[:500],
                   "".join(traceback.format_exception(type(e), e, e.__traceback__))[-3000:])


def _equal(a, b, torch) -> str:
    """'' if `a` and `b` (tensors, tuples, lists, dicts of them) are exactly equal, else what differs."""
    if isinstance(b, dict):
        if not isinstance(a, dict) or list(a) != list(b):
            return f"output keys {list(a) if isinstance(a, dict) else type(a).__name__} != {list(b)}"
        for k in b:
            d = _equal(a[k], b[k], torch)
            if d:
                return f"[{k!r}] {d}"
        return ""
    if isinstance(b, (tuple, list)):
        if not isinstance(a, (tuple, list)) or len(a) != len(b):
            return f"output structure {type(a).__name__} != {type(b).__name__}[{len(b)}]"
        for i, (x, y) in enumerate(zip(a, b)):
            d = _equal(x, y, torch)
            if d:
                return f"[{i}] {d}"
        return ""
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        return "" if type(a) is type(b) and a == b else f"{type(a).__name__} != {type(b).__name__}"
    if a.shape != b.shape:
        return f"shape {tuple(a.shape)} != {tuple(b.shape)}"
    if a.dtype != b.dtype:
        return f"dtype {a.dtype} != {b.dtype}"
    same = (a == b) | (torch.isnan(a) & torch.isnan(b)) if a.is_floating_point() else a == b
    if bool(same.all()):
        return ""
    diff = (a - b).abs().nan_to_num(float("inf")).max().item() if a.is_floating_point() else "-"
    return f"values differ (max abs {diff})"


def _network_class(mod, g):
    cls = getattr(mod, g.network, None)
    if cls is None:     # the namespace renamed it: the last class defined is the network's
        classes = [v for v in vars(mod).values() if isinstance(v, type) and v.__module__ == mod.__name__]
        cls = classes[-1] if classes else None
    return cls


def _forget_modules():
    from netdsl.backends import build as B
    for cache in (getattr(B, "_MODULES", None), getattr(B, "_COMPILED", None)):
        if isinstance(cache, dict):
            cache.clear()
    for k in [k for k in sys.modules if k.startswith("netdsl_generated.")]:
        del sys.modules[k]


def compare(text: str, timeout: float = 20.0) -> Outcome:
    """Run one spec through both emitters and compare (see the module docstring)."""
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return _compare(text)
    except Slow:
        return Outcome("skipped", "slow")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        _forget_modules()


def _compare(text: str) -> Outcome:
    import torch

    from netdsl.backends.build import exec_source
    from netdsl.backends.codegen import generate
    from netdsl.pipeline import check_source
    try:
        result = check_source(text, "fuzz.net", include=(str(ROOT / "specs"),))
    except Exception:       # noqa: BLE001 - check's own robustness is fuzz_backends' business
        return Outcome("rejected", "check-crash")
    if not result.ok or not result.graphs:
        return Outcome("rejected")
    graphs = list(result.graphs)
    for g in graphs:
        if not g.input_shape or any(not isinstance(d, int) or d < 1 for d in g.input_shape):
            return Outcome("skipped", "input")
        acts = sum(math.prod(n.shape) for n in g.nodes if n.shape is not None)
        if g.total_params > MAX_PARAMS or acts > MAX_ACTIVATIONS:
            return Outcome("skipped", "large")
    try:
        ref_src = generate(graphs, "fuzz.net", block_classes=False)
        ref_mod = exec_source(ref_src, "ref")
    except Exception as e:  # noqa: BLE001 - the reference cannot do it: nothing to compare with
        return Outcome("skipped", f"reference-{type(e).__name__}")
    try:
        src = generate(graphs, "fuzz.net")
    except Exception as e:  # noqa: BLE001
        return _crash("generate", e)
    try:
        mod = exec_source(src, "mine")
    except Exception as e:  # noqa: BLE001
        return _crash("exec", e)
    for g in graphs:
        out = _compare_network(torch, g, _network_class(mod, g), _network_class(ref_mod, g))
        if out.status != "same":
            return out
    return Outcome("same")


def _run(model, x, torch):
    try:
        return model(x), None
    except Exception as e:  # noqa: BLE001
        return None, e


def _compare_network(torch, g, mine_cls, ref_cls) -> Outcome:
    try:
        torch.manual_seed(0)
        ref = ref_cls()
    except Exception as e:  # noqa: BLE001
        return Outcome("skipped", f"reference-build-{type(e).__name__}")
    try:
        torch.manual_seed(0)
        mine = mine_cls()
    except Exception as e:  # noqa: BLE001
        return _crash("build", e)
    a, b = mine.state_dict(), ref.state_dict()
    ka, kb = [(k, tuple(v.shape)) for k, v in a.items()], [(k, tuple(v.shape)) for k, v in b.items()]
    if ka != kb:
        if [k for k, _ in ka] == [k for k, _ in kb]:
            bad = next(f"{x} != {y}" for x, y in zip(ka, kb) if x != y)
            return Outcome("differs", "state-dict-shapes", bad)
        if sorted(ka) == sorted(kb):
            return Outcome("differs", "state-dict-order", f"{[k for k, _ in ka][:8]} vs {[k for k, _ in kb][:8]}")
        extra, missing = sorted(set(ka) - set(kb)), sorted(set(kb) - set(ka))
        return Outcome("differs", "state-dict-keys", f"extra {extra[:5]}, missing {missing[:5]}")
    torch.manual_seed(0)
    for v in b.values():
        if v.is_floating_point():
            v.copy_(torch.rand_like(v) + 0.5)
    try:
        mine.load_state_dict(b)
    except Exception as e:  # noqa: BLE001
        return _crash("load", e)
    torch.manual_seed(1)
    x = torch.randn(2, *g.input_shape)
    for mode in ("eval", "train"):
        mine.train(mode == "train")
        ref.train(mode == "train")
        with torch.no_grad():
            torch.manual_seed(2)
            want, ref_err = _run(ref, x, torch)
            torch.manual_seed(2)
            got, err = _run(mine, x, torch)
        if err is not None and ref_err is None:
            return _crash(f"forward-{mode}", err)
        if ref_err is not None:
            if err is None:
                return Outcome("differs", f"forward-{mode}-reference-only-error",
                               f"the reference raises {type(ref_err).__name__}: {ref_err}"[:500])
            continue     # both raise (batchnorm on one value per channel in training mode, ...)
        d = _equal(got, want, torch)
        if d:
            return Outcome("differs", f"{mode}-outputs", d)
        if mode == "train":
            after_a, after_b = mine.state_dict(), ref.state_dict()
            for k in after_b:
                d = _equal(after_a[k], after_b[k], torch)
                if d:
                    return Outcome("differs", "train-buffers", f"{k}: {d}")
    return Outcome("same")


# =============================================================================
# Minimising and saving.
# =============================================================================

def minimise(text: str, symptom: str, budget_s: float = 90.0) -> str:
    """The smallest variant of `text` that still fails with `symptom` (lines, then tokens)."""
    deadline = time.monotonic() + budget_s

    def fails(candidate: str) -> bool:
        try:
            out = compare(candidate)
        except Exception:   # noqa: BLE001 - a broken candidate is just not a reproducer
            return False
        return out.status == "differs" and out.symptom == symptom

    if not fails(text):
        return text
    lines = fb.ddmin(text.splitlines(keepends=True), lambda u: fails("".join(u)), deadline)
    cur = "".join(lines)
    units: list[str] = []
    for t in fb.fz.tokens(cur):
        if t.isspace() and units:
            units[-1] += t
        else:
            units.append(t)
    units = fb.ddmin(units, lambda u: fails("".join(u)), deadline)
    for width in (8, 4, 3, 2):
        i = 0
        while i + width <= len(units) and time.monotonic() < deadline:
            cand = units[:i] + units[i + width:]
            if cand and fails("".join(cand)):
                units = cand
            else:
                i += 1
    cur = "".join(units)
    tidy = re.sub(r"[ \t]+\n", "\n", re.sub(r"\n{3,}", "\n\n", cur)).strip() + "\n"
    return tidy if tidy != cur and fails(tidy) else cur


def _slug(symptom: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", re.sub(r"(?<=[a-z])(?=[A-Z])", "-", symptom).lower()).strip("-")[:60]


def save(out_dir: Path, out: Outcome, text: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    base = _slug(out.symptom)
    path, i = out_dir / f"{base}.net", 2
    while path.exists():
        path, i = out_dir / f"{base}-{i}.net", i + 1
    detail = out.detail.replace("\n", " ")[:200]
    path.write_text(f"{HEADER}{out.symptom}; {detail}\n{text}", encoding="utf-8")
    return path


def replay(paths: list[Path]) -> dict[str, Outcome]:
    return {str(p): compare(p.read_text(encoding="utf-8")) for p in paths}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=1.0, help="wall-clock minutes")
    ap.add_argument("--cases", type=int, default=None, help="stop after this many cases")
    ap.add_argument("--seed", type=int, default=None, help="random seed")
    ap.add_argument("--gens", default=",".join(WEIGHTS), help="comma-separated generators")
    ap.add_argument("--out", type=Path, default=CORPUS_DIR, help="where minimised reproducers go")
    ap.add_argument("--report", type=Path, default=None, help="write the figures and classes as JSON here")
    ap.add_argument("--minimise-seconds", type=float, default=90.0, help="budget per new class")
    ap.add_argument("--no-minimise", action="store_true")
    ap.add_argument("--keep", type=int, default=3, help="reproducers kept per symptom")
    ap.add_argument("--replay", nargs="*", type=Path, default=None, help="compare these files, then exit")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    if a.replay is not None:
        bad = 0
        for path, out in replay(a.replay).items():
            print(f"{path}: {out.status} {out.symptom} {out.detail}")
            bad += out.status == "differs"
        return 1 if bad else 0
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    gens = [g for g in a.gens.split(",") if g]
    cases = Cases(seed, gens)
    end = time.monotonic() + 60 * a.minutes
    stats: Counter = Counter()
    per_gen: Counter = Counter()
    classes: dict[str, dict] = {}
    n = 0
    while time.monotonic() < end and (a.cases is None or n < a.cases):
        gen, text = next(cases)
        n += 1
        out = compare(text)
        stats[out.status] += 1
        per_gen[f"{gen}:{out.status}"] += 1
        if out.status == "skipped":
            stats[f"skipped:{out.symptom}"] += 1
        if out.status != "differs":
            continue
        known = classes.setdefault(out.symptom, {"count": 0, "files": [], "detail": out.detail, "generator": gen})
        known["count"] += 1
        if known["count"] > a.keep:
            continue        # one symptom may have several causes: the first few of each are kept
        if not a.quiet:
            print(f"[{n}] {'NEW' if known['count'] == 1 else 'AGAIN'} {out.symptom}: {out.detail[:300]}\n"
                  f"{text}{out.trace}", flush=True)
        small = text if a.no_minimise else minimise(text, out.symptom, a.minimise_seconds)
        path = save(a.out, out, small)
        known["files"].append(str(path))
        if not a.quiet:
            print(f"    -> {path}\n{small}", flush=True)
    summary = {"seed": seed, "cases": n, "outcomes": dict(stats), "per_generator": dict(per_gen),
               "classes": classes}
    print(json.dumps(summary, indent=1))
    if a.report:
        a.report.write_text(json.dumps(summary, indent=1))
    return 1 if classes else 0


if __name__ == "__main__":
    sys.exit(main())
