"""Static summary figures against the built torch module.

- parameters: static totals == sum(p.numel()) of netdsl.load's module; buffers too;
- MACs: torch.utils.flop_counter.FlopCounterMode on a forward pass counts
  2 FLOPs per multiply-add of aten convolution (transposed included) and of
  matrix products (linear's addmm: the matmul only, the bias add is skipped),
  and nothing else: no norms, activations, pooling or elementwise adds. That is
  exactly torchvision's convention, so its count must equal 2 × static MACs.
  Heavy specs run on the meta device (the counter only needs shapes);
- receptive fields: backpropagate from the centre output pixel through a module
  with all-positive weights and measure the extent of nonzero input gradient.
"""
from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode

import netdsl
from netdsl.backends.costs import receptive_fields

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(ROOT.glob("specs/*.net"))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_params_and_macs_match_torch(path):
    g = netdsl.check(str(path)).graph()
    with torch.device("meta"):
        model = netdsl.load(str(path)).eval()
        x = torch.empty(1, *g.input_shape)
    assert sum(p.numel() for p in model.parameters()) == g.total_params
    assert sum(b.numel() for b in model.buffers()) == sum(n.buffers for n in g.nodes)
    with FlopCounterMode(display=False) as counter:
        model(x)
    assert counter.get_total_flops() == 2 * g.total_macs


def empirical_field(text: str, size: int) -> tuple:
    """Rows and columns of the input that the centre output pixel depends on."""
    g = netdsl.check(text).graph()
    model = netdsl.load(text).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.01)     # positive weights: no cancellation in the gradient
    x = torch.ones(1, g.input_shape[0], size, size, dtype=torch.float64, requires_grad=True)
    y = model(x)
    h, w = y.shape[-2:]
    y[0, :, h // 2, w // 2].sum().backward()
    nz = x.grad[0].abs().sum(0) > 0
    rows = nz.any(1).nonzero().flatten()
    cols = nz.any(0).nonzero().flatten()
    return (int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1))


def static_field(text: str):
    g = netdsl.check(text).graph()
    f = receptive_fields(g)[g.output]
    return tuple(int(s) for s in f.size), tuple(int(j) for j in f.jump)


# Expected fields by hand: r += (k_eff - 1) * jump; jump *= stride.
SMALL = {
    # 3 -> 3 + 4·1 = 7 (jump 2) -> dilated 3×3 spans 5: 7 + 4·2 = 15
    "conv_stack": ("conv2d(4, 3) -> relu -> conv2d(4, 5, stride=2, padding=2) -> conv2d(4, 3, dilation=2)",
                   (15, 15), (2, 2)),
    # 3 -> 4 (j2) -> 8 -> 8 + 2·2 = 12 (j4) -> 12 + 2·4 = 20
    "pooling": (("conv2d(4, 3, padding=1) -> avgpool2d(2) -> conv2d(4, 3, padding=1) -> avgpool2d(3, stride=2)"
                 " -> conv2d(4, 3, padding=1)"), (20, 20), (4, 4)),
    # height: 5 (j2) -> 5 -> 5 + 2·2 = 9 (j4); width: 1 -> 3 -> 3 + 2·1 = 5 (j2)
    "rectangular": ("conv2d(4, (5, 1), stride=(2, 1)) -> conv2d(4, (1, 3)) -> conv2d(4, 3, stride=2)",
                    (9, 5), (4, 2)),
    # the add takes the wider branch: 3 + 2 + 2 = 7
    "residual": (("conv2d(4, 3, padding=1)\n    add {\n        [conv2d(4, 3, padding=1) -> conv2d(4, 3, padding=1)]\n"
                  "        identity\n    }\n    conv2d(4, 1, stride=2)"), (7, 7), (2, 2)),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_receptive_field_matches_backprop(name):
    body, size, jump = SMALL[name]
    text = f"network RF {{\n    input [2, 64, 64]\n    {body}\n}}\n"
    assert static_field(text) == (size, jump)
    assert empirical_field(text, 64) == size


def test_transposed_conv_field_is_an_upper_bound():
    # A 2×2 stride-2 up-convolution: each output sees one input pixel (field
    # unchanged, jump halved); the 3×3 after it spans 3 half-pixels.
    text = ("network Up {\n    input [2, 32, 32]\n    conv2d(4, 3) -> conv_transpose2d(4, 2, stride=2)"
            " -> conv2d(4, 3)\n}\n")
    g = netdsl.check(text).graph()
    f = receptive_fields(g)[g.output]
    assert f.jump == (0.5, 0.5) and f.size == (4, 4)
    emp = empirical_field(text, 32)
    assert emp[0] <= 4 and emp[0] >= 3
