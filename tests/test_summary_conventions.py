"""--convention presets on single layers, against each tool's published formula.

The formulas are transcribed from each tool's counting rule (docs/costs.md). Each
expected number was also confirmed by running the real tool (fvcore 0.1.5,
ptflops 0.7.5 with count_functional=False, thop 0.1.1.post2209072238, torchinfo
1.8) on the same torch module, batch 1; bench/verify_conventions.py repeats that
for whole specs where those tools are installed.
"""
from __future__ import annotations

import pytest

from netdsl.backends.costs import CONVENTIONS, layer_macs
from netdsl.pipeline import check_source


def macs_of(layer: str, shape: str, convention: str, *, before: str = "") -> int:
    text = f"network T {{\n    input {shape}\n{before}    {layer}\n}}\n"
    r = check_source(text)
    assert r.ok, [d.message for d in r.diagnostics]
    g = r.graph()
    return layer_macs(g, g.nodes[-1], convention)


CASES = [
    # (layer, input shape, {convention: expected})
    ("conv2d(6, 3, padding=1)", "[4, 8, 8]", {
        "torchvision": 6 * 8 * 8 * 4 * 9,            # out elements · C_in · k²
        "fvcore": 6 * 8 * 8 * 4 * 9,
        "thop": 6 * 8 * 8 * 4 * 9,
        "ptflops": 9 * 4 * 6 * 64 + 6 * 64,         # k²·C_in·C_out per position + bias per output
        "torchinfo": (6 * 4 * 9 + 6) * 64,          # (weight + bias) per output position
    }),
    ("conv2d(6, 3, stride=2, groups=2, bias=false)", "[4, 9, 9]", {
        "torchvision": 6 * 4 * 4 * 2 * 9, "fvcore": 1728, "thop": 1728,
        "ptflops": 9 * 4 * 3 * 16, "torchinfo": 6 * 2 * 9 * 16,
    }),
    ("conv_transpose2d(6, 2, stride=2)", "[4, 5, 5]", {
        "torchvision": 4 * 25 * 6 * 4,              # input elements · C_out · k²
        "fvcore": 2400,
        "thop": 6 * 10 * 10 * 4 * 4,                # thop: output elements · C_in · k²
        "ptflops": 4 * 4 * 6 * 25 + 6 * 100,        # k²·C_in·C_out per *input* position + bias
        "torchinfo": (4 * 6 * 4 + 6) * 100,
    }),
    ("linear(7)", "[10]", {"torchvision": 70, "fvcore": 70, "thop": 70, "ptflops": 77, "torchinfo": 77}),
    ("linear(7, bias=false)", "[10]", {"torchvision": 70, "fvcore": 70, "thop": 70, "ptflops": 70, "torchinfo": 70}),
    ("batchnorm2d", "[4, 5, 5]", {"torchvision": 0, "fvcore": 2 * 100, "thop": 4 * 100, "ptflops": 2 * 100,
                                  "torchinfo": 8}),
    ("batchnorm2d(affine=false)", "[4, 5, 5]", {"torchvision": 0, "fvcore": 100, "thop": 200, "ptflops": 100,
                                                "torchinfo": 0}),
    ("relu", "[4, 5, 5]", {"torchvision": 0, "fvcore": 0, "thop": 0, "ptflops": 100, "torchinfo": 0}),
    ("relu6", "[4, 5, 5]", {"torchvision": 0, "fvcore": 0, "thop": 0, "ptflops": 100, "torchinfo": 0}),
    ("sigmoid", "[4, 5, 5]", {"torchvision": 0, "fvcore": 0, "thop": 0, "ptflops": 0, "torchinfo": 0}),
    ("maxpool2d(2)", "[4, 6, 6]", {"torchvision": 0, "fvcore": 0, "thop": 0, "ptflops": 144, "torchinfo": 0}),
    ("avgpool2d(2)", "[4, 6, 6]", {"torchvision": 0, "fvcore": 0, "thop": 36, "ptflops": 144, "torchinfo": 0}),
    ("adaptive_avgpool2d(1)", "[4, 6, 6]", {"torchvision": 0, "fvcore": 144, "thop": (36 + 1) * 4,
                                            "ptflops": 144, "torchinfo": 0}),
    ("adaptive_avgpool2d(2)", "[4, 6, 6]", {"fvcore": 144, "thop": (9 + 1) * 16, "ptflops": 144}),
    ("upsample(scale=2)", "[4, 3, 3]", {"torchvision": 0, "fvcore": 144, "thop": 144, "ptflops": 144}),
    ("upsample(scale=2, mode='bilinear')", "[4, 3, 3]", {"fvcore": 4 * 144, "thop": 11 * 144, "ptflops": 144}),
    ("layernorm", "[4, 3, 3]", {"fvcore": 5 * 36, "thop": 4 * 36, "ptflops": 36, "torchinfo": 72}),
    ("groupnorm(2)", "[4, 3, 3]", {"fvcore": 5 * 36, "thop": 0, "ptflops": 72}),
    ("softmax", "[4, 3, 3]", {"fvcore": 0, "thop": 9 * (3 * 4 - 1), "ptflops": 0}),
    ("dropout", "[4, 3, 3]", {c: 0 for c in CONVENTIONS}),
    ("flatten", "[4, 3, 3]", {c: 0 for c in CONVENTIONS}),
]


@pytest.mark.parametrize("layer,shape,expected", CASES, ids=[c[0] for c in CASES])
def test_single_layer_costs(layer, shape, expected):
    got = {c: macs_of(layer, shape, c) for c in expected}
    assert got == expected


def test_add_costs_nothing_in_every_convention():
    text = "network T {\n    input [4, 5, 5]\n    add {\n        relu\n        identity\n    }\n}\n"
    g = check_source(text).graph()
    add = g.nodes[-1]
    assert add.kind == "add"
    assert all(layer_macs(g, add, c) == 0 for c in CONVENTIONS)


def test_notes_cost_example_5x5_conv_on_256x256():
    # The notes: a 5×5 convolution, 128 -> 128 channels, 256×256 kept: about
    # 26.8 G multiply-adds, "over 53 billion operations".
    macs = macs_of("conv2d(128, 5, padding=2)", "[128, 256, 256]", "torchvision")
    assert macs == 256 * 256 * 128 * 128 * 5 * 5
    assert round(macs / 1e9, 1) == 26.8
    assert 2 * macs > 53e9


# Whole-network totals as the real tools report them for the module netdsl.load
# builds from specs/resnet18.net and specs/mobilenet_v2.net (batch 1; measured
# with bench/verify_conventions.py).
MEASURED = {
    "resnet18": {"fvcore": 1_819_065_856, "ptflops": 1_822_177_768, "thop": 1_824_033_792,
                 "torchinfo": 1_814_083_944, "torchvision": 1_814_073_344},
    "mobilenet_v2": {"fvcore": 314_193_216, "ptflops": 320_300_008, "thop": 327_550_720,
                     "torchinfo": 300_809_384},
}


@pytest.mark.parametrize("spec", sorted(MEASURED))
def test_cli_totals_match_the_tools(spec):
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from netdsl.cli import cli
    path = Path(__file__).resolve().parent.parent / "specs" / f"{spec}.net"
    for convention, expected in MEASURED[spec].items():
        r = CliRunner().invoke(cli, ["summary", str(path), "--format", "json", "--convention", convention])
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["total_macs"] == expected, convention
