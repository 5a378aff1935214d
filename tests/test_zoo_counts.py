"""The zoo against torchvision's published model table (no torch needed).

Parameter counts must be exact; MACs (conv + linear multiply-adds, bias
excluded: the table's GFLOPS column) within 3%. The figures are torchvision's
published ones, typed in here, not produced by netdsl.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from netdsl.cli import cli
from netdsl.pipeline import check_file

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(ROOT.glob("specs/*.net"))

# torchvision's model table: (parameters, GFLOPS)
TORCHVISION = {
    "resnet18": (11_689_512, 1.81),
    "resnet50": (25_557_032, 4.09),
    "alexnet": (61_100_840, 0.71),
    "vgg11": (132_863_336, 7.61),
    "googlenet": (6_624_904, 1.50),
    "densenet121": (7_978_856, 2.83),
    "mobilenet_v2": (3_504_872, 0.30),
}


def summary_json(path, *args):
    r = CliRunner().invoke(cli, ["summary", str(path), "--format", "json", *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_params_exact_and_macs_within_3_percent(name):
    params, gflops = TORCHVISION[name]
    data = summary_json(ROOT / "specs" / f"{name}.net")
    assert data["total_params"] == params
    assert abs(data["total_macs"] / 1e9 - gflops) / gflops < 0.03, data["total_macs"]


def test_unet_maps_572_to_388_with_two_classes():
    g = check_file(str(ROOT / "specs/unet.net")).graph()
    assert g.input_shape == (1, 572, 572)
    assert g.output_shape == (2, 388, 388)
    # Ronneberger et al.'s network as usually reimplemented: 31,030,658 weights
    assert g.total_params == 31_030_658


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_spec_checks_clean(path):
    r = check_file(str(path))
    assert r.ok and not r.warnings, [d.message for d in r.diagnostics]


def test_new_specs_cite_their_papers():
    cites = {"resnet50": "Deep Residual Learning", "densenet121": "Densely Connected",
             "mobilenet_v2": "Linear Bottlenecks", "unet": "Biomedical Image Segmentation"}
    for name, title in cites.items():
        head = (ROOT / "specs" / f"{name}.net").read_text().split("\n", 6)
        assert any(title in line for line in head), name


def test_resnet50_uses_torchvision_names():
    g = check_file(str(ROOT / "specs/resnet50.net")).graph()
    names = {n.qualname for n in g.layers if n.params}
    assert {"conv1", "bn1", "layer1.0.conv3", "layer1.0.downsample.0", "layer1.0.downsample.1",
            "layer4.2.bn3", "fc"} <= names
    assert "layer1.1.downsample.0" not in names
