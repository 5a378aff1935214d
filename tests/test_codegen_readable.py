"""Generated constructor calls leave out arguments equal to their defaults.
That is only safe if every catalogue default equals torch's own default: proven here."""
from __future__ import annotations

import inspect
import shutil
import subprocess
from pathlib import Path

import pytest
from torch import nn

from netdsl.backends.codegen import catalogue_defaults
from netdsl.catalogue import LAYERS

ROOT = Path(__file__).resolve().parent.parent
_PAIRED = {"kernel_size", "stride", "padding", "dilation", "output_padding"}


def _torch_signature_defaults(cls) -> dict:
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


@pytest.mark.parametrize("spec", [s for s in LAYERS.values() if s.torch is not None], ids=lambda s: s.name)
def test_catalogue_defaults_equal_torch_defaults(spec):
    # A representative, valid call: required arguments filled in, defaults elsewhere.
    cls_name, _ = spec.torch(_default_args(spec), [(8, 16, 16)])
    cls = getattr(nn, cls_name, None)
    if cls is None:
        pytest.skip(f"{cls_name} is netdsl's own module, not torch's")
    torch_defaults = _torch_signature_defaults(cls)
    for name, value in catalogue_defaults(spec).items():
        if name not in torch_defaults:
            continue        # a DSL-only name (e.g. `kernel`); torch's name is an alias
        expected = torch_defaults[name]
        if name in _PAIRED and isinstance(expected, int):
            expected = (expected, expected)
        assert type(value) is type(expected) and value == expected, (spec.name, name, value, expected)


def _default_args(spec):
    from types import SimpleNamespace
    values = {}
    for p in spec.params:
        if p.required:
            values[p.name] = p.type.coerce((4, 4) if spec.name == "center_crop" else 2)
        else:
            values[p.name] = p.type.coerce(p.default) if p.default is not None else None
    if spec.name == "upsample":
        values["scale"] = 2.0
    return SimpleNamespace(**values)


def test_generated_resnet18_reads_like_handwritten_code():
    from netdsl.backends.build import build_source
    src = build_source("specs/resnet18.net")
    assert "nn.Conv2d(in_channels=3, out_channels=64, kernel_size=7, stride=2, padding=3, bias=False)" in src
    assert "nn.BatchNorm2d(num_features=64)" in src
    # BasicBlock's one class: its constant arguments shortened alike, the others its parameters
    assert "nn.Conv2d(in_channels=channels, out_channels=channels, kernel_size=3, padding=1, bias=False)" in src
    assert "dilation" not in src and "groups" not in src and "momentum" not in src


def _zoo_and_doc_sources() -> dict:
    """file name -> generated source: every zoo spec through both emitters, and the calls
    docs/compile.md shows (other parameters, another input size, the Xavier init)."""
    import glob

    import netdsl
    from netdsl.backends.codegen import generate
    sources = {}
    for path in sorted(glob.glob(str(ROOT / "specs" / "*.net"))):
        graphs = list(netdsl.check(path).graphs)
        stem = Path(path).stem
        sources[f"{stem}.py"] = generate(graphs, path)
        sources[f"{stem}_per_use.py"] = generate(graphs, path, block_classes=False)
    lenet, resnet18 = str(ROOT / "specs" / "lenet.net"), str(ROOT / "specs" / "resnet18.net")
    sources["lenet_5.py"] = generate(list(netdsl.check(lenet, params={"num_classes": 5}).graphs), lenet)
    sources["lenet_xavier.py"] = generate(list(netdsl.check(lenet).graphs), lenet, init="xavier")
    sources["resnet18_64.py"] = generate(list(netdsl.check(resnet18, input_shape=(3, 64, 64)).graphs), resnet18)
    return sources


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed (a dev dependency)")
def test_generated_code_is_what_ruff_format_writes(tmp_path):
    """Requirement 5: ruff-clean, lint and format. The emitter writes what `ruff format`
    (the project's settings, line length 120) would; ruff is never run at run time."""
    sources = _zoo_and_doc_sources()
    for name, text in sources.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    config = ["--no-cache", "--config", str(ROOT / "pyproject.toml")]
    formatted = subprocess.run(["ruff", "format", "--diff", *config, str(tmp_path)], capture_output=True,
                               text=True, check=False)
    assert formatted.returncode == 0, formatted.stdout[-6000:] + formatted.stderr[-2000:]
    linted = subprocess.run(["ruff", "check", *config, str(tmp_path)], capture_output=True, text=True, check=False)
    assert linted.returncode == 0, linted.stdout[-6000:]


@pytest.mark.parametrize("line, expected", [
    # fits: kept, whatever its brackets
    ("        self.fc = nn.Linear(in_features=512, out_features=10)", None),
    # a call too long: its arguments on one indented line
    ("        self.conv1 = nn.Conv2d(in_channels=in_channels, out_channels=channels, kernel_size=3, stride=stride, "
     "padding=1, bias=False)",
     ["        self.conv1 = nn.Conv2d(",
      "            in_channels=in_channels, out_channels=channels, kernel_size=3, stride=stride, padding=1, bias=False",
      "        )"]),
    # a trailing comma asks for one item per line, nested brackets included
    ("        super().__init__(OrderedDict([(\"a\", nn.ReLU()), (\"b\", nn.ReLU()),]))",
     ["        super().__init__(", "            OrderedDict(", "                [", '                    ("a", nn.ReLU()),',
      '                    ("b", nn.ReLU()),', "                ]", "            )", "        )"]),
    # ... but a one-item tuple's comma does not
    ('        if (a,) != (1,):', None),
    # a literal tuple that must be split: one item per line, after the comparison's left side
    ("        if (c, k, stride, groups, dilation, norm, act, eps, momentum) != (64, 3, 1, 1, 1, \"batchnorm\", "
     "\"relu\", 1e-05, 0.1):",
     ["        if (c, k, stride, groups, dilation, norm, act, eps, momentum) != (", "            64,", "            3,",
      "            1,", "            1,", "            1,", '            "batchnorm",', '            "relu",',
      "            1e-05,", "            0.1,", "        ):"]),
    # a string is never split; strings joined implicitly go one per line
    ('        raise ValueError("' + "x" * 120 + '")', ["        raise ValueError(", '            "' + "x" * 120 + '"',
                                                     "        )"]),
    ('        torch._assert(x.shape[1] == 4, f"' + "a" * 60 + '" f"' + "b" * 60 + '")',
     ["        torch._assert(", "            x.shape[1] == 4,", '            f"' + "a" * 60 + '"',
      '            f"' + "b" * 60 + '",', "        )"]),
    # a comprehension that does not fit on its own line: the element, then each clause on a line
    ("    return tuple(efficientnet_adjust_channels(c_in, width_mult) + efficientnet_adjust_depth(n, depth_mult) "
     "for (c_in, n) in table if n > 0)",
     ["    return tuple(",
      "        efficientnet_adjust_channels(c_in, width_mult) + efficientnet_adjust_depth(n, depth_mult)",
      "        for (c_in, n) in table",
      "        if n > 0",
      "    )"]),
])
def test_wrap_breaks_lines_as_ruff_format_does(line, expected):
    from netdsl.backends.blockclass import wrap
    assert wrap(line) == (expected if expected is not None else [line])
