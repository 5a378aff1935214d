"""`parameter` (a learnable tensor of the module around it) in one class per block definition.

ConvNeXt's `layer_scale: parameter([dim, 1, 1], init=layer_scale)` is a branch of a
`mul`: the block's class holds it as torchvision's CNBlock does
(`nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)`) and forward multiplies with it.
Compared here with the class per specialisation (the emitter tests/test_zoo_reference.py
holds to torchvision): the same state_dict keys and shapes, the same initial values,
the same outputs under the same weights. Where a parameter cannot be written this way
the block keeps a class per use, with the reason above it.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import netdsl
from netdsl.backends.codegen import generate
from netdsl.pipeline import check_source

torch = pytest.importorskip("torch")
from netdsl.backends.build import exec_source  # noqa: E402

SPECS = Path(__file__).resolve().parent.parent / "specs"

# A parameter whose shape is computed from a parameter (2 * c) and filled with one,
# and a constant one added after the product
SCALED = """
block Scaled(c: int, scale: float = 0.5) {
    add {
        mul {
            gamma: parameter([2 * c, 1, 1], init=scale)
            conv2d(2 * c, 3, padding=1)
        }
        beta: parameter([1, 1, 1], init=0.25)
    }
}

network Probe(c = 3, scale = 1e-6) {
    input [4, 5, 5]
    Scaled(c, scale) -> Scaled(c + 1)
}
"""


def _both(text: str):
    graphs = list(check_source(text).graphs)
    mine = generate(graphs)
    return mine, exec_source(mine), exec_source(generate(graphs, block_classes=False))


def test_a_parameter_of_a_computed_shape_gets_one_class():
    text, mine_mod, ref_mod = _both(SCALED)
    assert len(re.findall(r"^class Scaled\(nn\.Module\):", text, flags=re.M)) == 1
    assert "Scaled_2" not in text and "a class per use" not in text
    assert "        self.gamma = nn.Parameter(torch.ones(2 * c, 1, 1) * scale)\n" in text
    assert "        self.beta = nn.Parameter(torch.full((1, 1, 1), 0.25))\n" in text
    assert "        x1 = self.gamma * x1\n" in text and "        x = x1 + self.beta\n" in text

    torch.manual_seed(0)
    mine = mine_mod.Probe()
    torch.manual_seed(0)
    ref = ref_mod.Probe()
    # the module's own parameters come first in a state_dict, then its submodules'
    keys = ["scaled.gamma", "scaled.beta", "scaled.conv2d.weight", "scaled.conv2d.bias",
            "scaled_1.gamma", "scaled_1.beta", "scaled_1.conv2d.weight", "scaled_1.conv2d.bias"]
    shapes = [(6, 1, 1), (1, 1, 1), (6, 4, 3, 3), (6,), (8, 1, 1), (1, 1, 1), (8, 6, 3, 3), (8,)]
    for module in (mine, ref):
        assert [(k, tuple(v.shape)) for k, v in module.state_dict().items()] == list(zip(keys, shapes))
    # initial values, before loading anything: the fills as float32, and the same convolutions
    assert torch.equal(mine.scaled.gamma, torch.full((6, 1, 1), 1e-6))
    assert mine.scaled.gamma.dtype == torch.float32 and mine.scaled.gamma[0, 0, 0].item() == \
        torch.tensor(1e-6).item()
    assert torch.equal(mine.scaled_1.gamma, torch.full((8, 1, 1), 0.5))
    assert torch.equal(mine.scaled_1.beta, torch.full((1, 1, 1), 0.25))
    assert all(isinstance(p, torch.nn.Parameter) and p.requires_grad for p in (mine.scaled.gamma, mine.scaled.beta))
    for (k, a), b in zip(mine.state_dict().items(), ref.state_dict().values()):
        assert torch.equal(a, b), k
    # the same outputs under the same (other) weights
    torch.manual_seed(1)
    weights = {k: torch.rand_like(v) + 0.5 for k, v in ref.state_dict().items()}
    ref.load_state_dict(weights)
    mine.load_state_dict(weights)
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        out = mine(x)
        assert tuple(out.shape) == (2, 8, 5, 5)
        torch.testing.assert_close(out, ref(x), rtol=0, atol=0)


def test_the_class_takes_other_values():
    """Scaled(5, 3, scale=2.0) has a 6-channel gamma filled with 2.0, as elaboration builds it."""
    text, mine_mod, _ = _both(SCALED)
    block = mine_mod.Scaled(5, 3, scale=2.0)
    assert torch.equal(block.gamma, torch.full((6, 1, 1), 2.0))
    assert tuple(block.conv2d.weight.shape) == (6, 5, 3, 3)
    loaded = netdsl.load(SCALED.replace("c = 3, scale = 1e-6", "c = 3, scale = 2.0")
                         .replace("input [4, 5, 5]", "input [5, 5, 5]"))
    assert torch.equal(loaded.scaled.gamma, block.gamma)
    # an int fill (the class is plain Python) still gives a float tensor, as elaboration's coercion does
    assert mine_mod.Scaled(5, 3, scale=2).gamma.dtype == torch.float32


@pytest.mark.parametrize("body, why", [
    ("p: parameter([4, 1, 1])",
     "`parameter` is not a branch of its own of a merge that broadcasts it against a tensor (add, mul)"),
    ("concat {\n        conv2d(4, 1)\n        p: parameter([4, 5, 5])\n    }",
     "a `parameter` branch of `concat` that no tensor branch always joins (it would need the batch dimension)"),
    ("mul {\n        p: parameter([4, 1, 1])\n        conv2d(in.c, 1)\n    }",
     "a `parameter` whose first size (4) may differ from the channels it meets (in_channels)"),
])
def test_a_parameter_that_cannot_be_written_keeps_a_class_per_use(body, why):
    text = f"block B {{\n    {body}\n}}\n\nnetwork Probe {{\n    input [4, 5, 5]\n    B\n}}\n"
    source, mine_mod, ref_mod = _both(text)
    assert f"# B: a class per use, because {why}.\n" in source
    torch.manual_seed(0)
    mine = mine_mod.Probe()
    torch.manual_seed(0)
    ref = ref_mod.Probe()
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        assert torch.equal(mine(x), ref(x))


SMALL = ((8, 16, 1), (16, 24, 2), (24, 32, 0), (32, None, 1))


def test_convnext_is_parametric():
    """ConvNeXt(num_classes=10) with narrow stages, against netdsl.load with those values:
    torchvision's keys, the same shapes and initial layer_scale, the same outputs."""
    graph = netdsl.check(str(SPECS / "convnext_tiny.net")).graph()
    text = generate([graph], "convnext_tiny.net")
    assert "        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)\n" in text
    assert "        x1 = self.layer_scale * x1\n" in text
    assert len(re.findall(r"^class (CNBlock|CNStage|ConvNeXt)\w*\(", text, flags=re.M)) == 3
    module = exec_source(text)
    torch.manual_seed(0)
    mine = module.ConvNeXt(block_setting=SMALL, stochastic_depth_prob=0.2, layer_scale=0.5, num_classes=10)
    torch.manual_seed(0)
    ref = netdsl.load(str(SPECS / "convnext_tiny.net"), **dict(
        block_setting=SMALL, stochastic_depth_prob=0.2, layer_scale=0.5, num_classes=10))
    mine_sd, ref_sd = mine.state_dict(), ref.state_dict()
    assert [(k, v.shape) for k, v in mine_sd.items()] == [(k, v.shape) for k, v in ref_sd.items()]
    assert tuple(mine_sd["features.1.0.layer_scale"].shape) == (8, 1, 1)
    assert tuple(mine_sd["features.1.0.block.0.weight"].shape) == (8, 1, 7, 7)
    assert tuple(mine_sd["features.3.1.block.3.weight"].shape) == (64, 16)     # the second stage's, 4x expanded
    assert "features.5.0.layer_scale" not in mine_sd                            # a stage of no blocks
    assert tuple(mine_sd["classifier.2.weight"].shape) == (10, 32)
    assert torch.equal(mine.features[1][0].layer_scale, torch.full((8, 1, 1), 0.5))
    for k, v in mine_sd.items():
        assert torch.equal(v, ref_sd[k]), k
    # stochastic depth of the last block is the network's (torchvision divides by total - 1)
    assert mine.features[7][0].stochastic_depth.p == pytest.approx(0.2)
    torch.manual_seed(1)
    weights = {k: torch.randn_like(v) * 0.1 for k, v in ref_sd.items()}
    mine.load_state_dict(weights)
    ref.load_state_dict(weights)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        out = mine.eval()(x)
        assert tuple(out.shape) == (2, 10)
        torch.testing.assert_close(out, ref.eval()(x), rtol=0, atol=0)


def test_permute_moves_the_channels_and_sizes_a_class_follows():
    """[C, H, W] -> [H, W, C] and back, as permute's shape rule (what ConvNeXt's linear
    layers read their in_features from, channels last)."""
    from types import SimpleNamespace

    from netdsl.catalogue.layout import PERMUTE
    last = SimpleNamespace(d0=(1, 2, 0), **{f"d{i}": None for i in range(1, 8)})
    back = SimpleNamespace(d0=(-1,), d1=0, d2=1, **{f"d{i}": None for i in range(3, 8)})     # permute(-1, 0, 1)
    assert PERMUTE.out_channels(last, [(3, 5, 7)]) == 5 and PERMUTE.out_spatial(last, [(3, 5, 7)]) == (7, 3)
    assert PERMUTE.out_channels(back, [(5, 7, 3)]) == 3 and PERMUTE.out_spatial(back, [(5, 7, 3)]) == (5, 7)
