"""Generated constructor calls leave out arguments equal to their defaults.
That is only safe if every catalogue default equals torch's own default: proven here."""
from __future__ import annotations

import inspect

import pytest
from torch import nn

from netdsl.backends.codegen import catalogue_defaults
from netdsl.catalogue import LAYERS

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
