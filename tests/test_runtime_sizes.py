"""Layers that take another tensor's size (`upsample(size=@x)`, `center_crop(@x)`) read
it at run time, as torch code does (`F.interpolate(x, size=y.shape[-2:])`), so a
compiled module works at every input size `netdsl check --input` accepts, with the
shapes it predicts. The static rules take the size from that tensor's shape."""
from __future__ import annotations

from pathlib import Path

import pytest

import netdsl
from netdsl import check_source

ROOT = Path(__file__).resolve().parent.parent

POOLED = """block ImagePool {
    adaptive_avgpool2d(1) -> conv2d(8, 1)
    upsample(size=@in, mode="bilinear")
}
network N {
    input [3, 33, 40]
    e: conv2d(8, 3)
    ImagePool
    maxpool2d(2)
    up: conv_transpose2d(8, 2, stride=2)
    concat {
        @e -> center_crop(@up)
        identity
    }
    out: upsample(size=@in, mode="bilinear")
}
"""


def test_the_static_shapes_come_from_the_other_tensor():
    g = check_source(POOLED).graph()
    by = {n.qualname: n for n in g.layers}
    assert by["center_crop"].shape == (8, 30, 38) and len(by["center_crop"].inputs) == 2
    assert g.output_shape == (16, 33, 40)
    assert not g.nodes[g.output].has_module                              # F.interpolate: no module
    assert [n.describe() for n in g.layers if n.kind == "upsample"][-1] == "upsample \u2192 size of @in"


def test_a_reference_of_the_wrong_rank_is_an_error():
    bad = "network N {\n    input [8, 16, 16]\n    a: flatten\n    @in\n    upsample(size=@a)\n}\n"
    assert [d.code for d in check_source(bad).diagnostics] == ["E0215"]
    bad = "network N {\n    input [8, 16, 16]\n    a: flatten\n    @in\n    center_crop(@a)\n}\n"
    assert [d.code for d in check_source(bad).diagnostics] == ["E0215"]


@pytest.mark.parametrize("size", [(33, 40), (64, 64), (50, 37)])
def test_the_compiled_module_follows_the_input_size(size):
    torch = pytest.importorskip("torch")
    model = netdsl.load(POOLED)
    predicted = check_source(POOLED, input_shape=(3, *size)).graph().output_shape
    assert tuple(model(torch.randn(2, 3, *size)).shape[1:]) == predicted == (16, *size)
    source = netdsl.build_source(POOLED)
    assert 'nn.functional.interpolate(out, size=x.shape[2:], mode="bilinear", align_corners=False)' in source


@pytest.mark.parametrize("size", [188, 572])
def test_unet_runs_at_every_accepted_size(size):
    torch = pytest.importorskip("torch")
    spec = str(ROOT / "specs" / "unet.net")
    predicted = netdsl.check(spec, input_shape=(1, size, size)).graph().output_shape
    with torch.device("meta"):
        model = netdsl.load(spec)
    assert tuple(model(torch.empty(1, 1, size, size, device="meta")).shape[1:]) == predicted


def test_deeplab_returns_the_input_size():
    torch = pytest.importorskip("torch")
    spec = str(ROOT / "specs" / "deeplabv3_resnet50.net")
    with torch.device("meta"):
        model = netdsl.load(spec, aux=True).eval()
    out = model(torch.empty(1, 3, 100, 130, device="meta"))
    assert {k: tuple(v.shape) for k, v in out.items()} == {"out": (1, 21, 100, 130), "aux": (1, 21, 100, 130)}
