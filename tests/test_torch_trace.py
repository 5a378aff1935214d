"""Every zoo model goes through torch.fx.symbolic_trace, torch.export.export and
torch.jit.script.

The big models are built on the meta device: tracing, export and scripting only
need shapes, and this keeps the whole file to a few seconds per model. LeNet and
a small spec using the generated CenterCrop helper also run for real on the CPU,
comparing the traced/exported/scripted outputs with the module's own.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import netdsl
from netdsl.backends.build import check_spec

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(ROOT.glob("specs/*.net"))
JIT_MAX_MODULES = 300


def shapes(y) -> list:
    """(name or None, shape) of each tensor a module returned."""
    if isinstance(y, dict):
        return [(k, tuple(v.shape)) for k, v in y.items()]
    return [(None, tuple(v.shape)) for v in (y if isinstance(y, tuple) else (y,))]


def meta_model(path: Path):
    with torch.device("meta"):
        return netdsl.load(str(path)).eval()


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_fx_export_and_jit_on_the_zoo(path):
    graph = check_spec(str(path)).graph()
    model = meta_model(path)
    x = torch.randn(2, *graph.input_shape, device="meta")
    expected = [(name, (2, *shape)) for name, shape in graph.returns]

    traced = torch.fx.symbolic_trace(model)
    assert shapes(traced(x)) == expected
    # fx sees the same module tree: every call_module target is a real submodule
    targets = {n.target for n in traced.graph.nodes if n.op == "call_module"}
    names = dict(model.named_modules())
    assert targets and targets <= set(names)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exported = torch.export.export(model, (x,))
    assert shapes(exported.module()(x)) == expected
    params = {k for k, _ in model.named_parameters()}
    assert params <= set(exported.state_dict)

    # torch.jit.script's time grows with the module count; DenseNet-121 (427 modules) uses
    # only constructs the smaller models already script (conv, norm, pools, concat, blocks)
    if len([n for n in graph.layers if n.has_module]) <= JIT_MAX_MODULES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # jit.script is deprecated in favour of export, but still offered
            scripted = torch.jit.script(model)
        assert shapes(scripted(x)) == expected


CROP_SPEC = """
network Crop {
    input [3, 20, 20]
    conv2d(8, 3) -> relu
    skip: conv2d(8, 1)
    small: conv2d(8, 5, stride=2) -> relu
    concat {
        center_crop(@small)
        @small
    }
    concat {
        [@skip -> center_crop((7, 7))]
        conv2d(4, 3, padding=1)
    }
    flatten -> linear(5)
}
"""


@pytest.mark.parametrize("text", [CROP_SPEC, (ROOT / "specs/lenet.net").read_text()], ids=["crop", "lenet"])
def test_traced_exported_and_scripted_outputs_equal_eager(text):
    torch.manual_seed(0)
    model = netdsl.load(text).eval()
    graph = netdsl.check(text).graph()
    x = torch.randn(2, *graph.input_shape)
    with torch.no_grad():
        eager = model(x)
        assert tuple(eager.shape) == (2, *graph.output_shape)
        torch.testing.assert_close(torch.fx.symbolic_trace(model)(x), eager)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.testing.assert_close(torch.export.export(model, (x,)).module()(x), eager)
            torch.testing.assert_close(torch.jit.script(model)(x), eager)


def test_center_crop_helper_matches_the_shape_rule_on_odd_excess():
    # 9 -> 6 removes 3 rows: 1 before, 2 after (the rule's "one more removed after")
    text = "network C {\n  input [1, 9, 9]\n  center_crop((6, 6))\n}\n"
    model = netdsl.load(text)
    x = torch.arange(81.0).reshape(1, 1, 9, 9)
    torch.testing.assert_close(model(x), x[..., 1:7, 1:7])


MIXED_SEQUENCE = """
network S {
    input [3, 8, 8]
    trunk: [
        c1: conv2d(4, 3, padding=1)
        relu
        add {
            conv2d(4, 3, padding=1)
            identity
        }
        inner: [conv2d(4, 1) -> relu]
    ]
    head: [flatten -> linear(2)]
}
"""


def test_a_sequence_with_a_merge_inside_keeps_its_keys_and_runs_everywhere():
    model = netdsl.load(MIXED_SEQUENCE).eval()
    assert list(model.state_dict()) == ["trunk.c1.weight", "trunk.c1.bias", "trunk.2.weight", "trunk.2.bias",
                                        "trunk.inner.0.weight", "trunk.inner.0.bias", "head.1.weight", "head.1.bias"]
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        eager = model(x)
        # the same computation written out: relu(c1(x)), then conv branch + identity branch
        r = torch.relu(model.trunk.c1(x))
        by_hand = model.head(model.trunk.inner(model.trunk[2](r) + r))
        torch.testing.assert_close(eager, by_hand)
        torch.testing.assert_close(torch.fx.symbolic_trace(model)(x), eager)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.testing.assert_close(torch.jit.script(model)(x), eager)
