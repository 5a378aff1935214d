"""`netdsl sizes`: which input sizes a network accepts. No torch."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from netdsl.backends.sizes import compact, runs, scan
from netdsl.cli import cli
from netdsl.program import load_path

ROOT = Path(__file__).resolve().parent.parent


def sizes(*args, code=0):
    r = CliRunner().invoke(cli, ["sizes", *map(str, args), "--color", "never"])
    assert r.exit_code == code, r.output
    return r.output


def test_unet_accepts_every_16_from_188():
    # Four 2×2 poolings need even sizes at each level, and the valid 3×3
    # convolutions take 4 pixels per level: inputs 16k + 92 with k >= 6
    # (k = 30 is the paper's 572).
    data = json.loads(sizes(ROOT / "specs/unet.net", "--format", "json"))
    assert data["accepted"] == list(range(188, 1025, 16))
    assert data["smallest"] == 188
    assert data["accepted_compact"] == "every 16 from 188 to 1020"
    assert data["declared"] == 572 and data["declared_ok"] is True
    assert data["smallest_rejected_by"]["size"] == 172
    assert data["smallest_rejected_by"]["code"] == "E0301"


def test_unet_text_output():
    out = sizes(ROOT / "specs/unet.net")
    assert "accepted (53): every 16 from 188 to 1020" in out
    assert "smallest accepted: 188" in out
    assert "187 is rejected by pool1: W0401" in out
    assert "rejected by pool1 (W0401, 509): every 2 from 7 to 1023" in out


def test_lenet_needs_multiples_of_4():
    # 5×5 'same' conv, 2×2 pool, 5×5 valid conv, 2×2 pool: n even, (n/2 - 4) even, n/2 >= 6
    s = scan(load_path(str(ROOT / "specs/lenet.net")), "LeNet", lo=1, hi=64)
    assert s.accepted == list(range(12, 65, 4))
    assert s.rejected[8].code == "E0301" and s.rejected[8].layer == "conv2d_1"
    assert s.rejected[13].code == "W0401" and s.rejected[13].layer == "avgpool2d"


def test_declared_size_that_fails_gets_nearest(tmp_path):
    spec = tmp_path / "odd.net"
    spec.write_text("network Odd {\n    input [3, 30, 30]\n    conv2d(8, 3) -> maxpool2d(2)\n"
                    "    conv2d(8, 3) -> maxpool2d(2)\n}\n")
    # 30 -> 28 -> 14 -> 12 -> 6 works: n - 2 even, (n - 2)/2 - 2 even (n = 4k + 2), and (n - 2)/2 >= 3
    data = json.loads(sizes(spec, "--max", "40", "--format", "json"))
    assert data["accepted"] == [10, 14, 18, 22, 26, 30, 34, 38]
    spec.write_text(spec.read_text().replace("[3, 30, 30]", "[3, 32, 32]"))
    out = sizes(spec, "--max", "40")
    assert "the declared size 32 is rejected" in out
    assert "nearest accepted size: 30" in out


def test_expects_do_not_reject_other_sizes(tmp_path):
    spec = tmp_path / "e.net"
    spec.write_text("network E {\n    input [1, 8, 8]\n    conv2d(2, 3, padding=1)\n    expect [2, 8, 8]\n}\n")
    data = json.loads(sizes(spec, "--max", "10", "--format", "json"))
    assert data["accepted"] == list(range(1, 11))


def test_one_axis(tmp_path):
    data = json.loads(sizes(ROOT / "specs/unet.net", "--height", "572", "--min", "500", "--max", "600",
                            "--format", "json"))
    assert data["axis"] == "width" and data["fixed"] == 572
    assert data["accepted"] == [508, 524, 540, 556, 572, 588]


def test_nothing_accepted_exits_1(tmp_path):
    spec = tmp_path / "big.net"
    spec.write_text("network Big {\n    input [1, 64, 64]\n    conv2d(2, 100)\n}\n")
    out = sizes(spec, "--max", "50", code=1)
    assert "accepted (0): none" in out


def test_usage_errors(tmp_path):
    sizes(ROOT / "specs/unet.net", "--min", "10", "--max", "5", code=2)
    sizes(ROOT / "specs/unet.net", "--height", "5", "--width", "5", code=2)
    sizes(tmp_path / "missing.net", code=2)


@pytest.mark.parametrize("values,text", [
    ([], "none"),
    ([5], "5"),
    ([1, 2, 3, 4], "1–4"),
    ([3, 4], "3, 4"),
    ([12, 16, 20, 24], "every 4 from 12 to 24"),
    ([1, 2, 3, 10, 20, 30, 31], "1–3, every 10 from 10 to 30, 31"),
])
def test_compact(values, text):
    assert compact(values) == text


def test_runs_cover_every_value():
    values = [1, 2, 5, 9, 13, 14, 20, 21, 22]
    covered = []
    for start, stop, step in runs(values):
        covered.extend(range(start, stop + 1, step or 1))
    assert covered == values


def test_networks_without_an_image_input(tmp_path):
    spec = tmp_path / "noinput.net"
    spec.write_text("network A {\n    relu\n}\n")
    out = sizes(spec, code=1)
    assert "E0313" in out and "has no input shape" in out
    spec.write_text("network M {\n    input [4]\n    linear(3)\n}\n")
    assert "sizes scans [C, H, W] inputs" in sizes(spec, code=2)
