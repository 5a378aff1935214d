"""`netdsl sizes`: which input sizes a network accepts. No torch."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from netdsl import check_source
from netdsl.backends.sizes import compact, runs, scan
from netdsl.cli import cli
from netdsl.program import load_path

ROOT = Path(__file__).resolve().parent.parent


def sizes(*args, code=0):
    r = CliRunner().invoke(cli, ["sizes", *map(str, args), "--color", "never"])
    assert r.exit_code == code, r.output
    return r.output


def test_unet_accepts_every_16_from_188():
    # Four 2×2 poolings and the valid 3×3 convolutions (4 pixels per level) run
    # from 188 on, the crops taking up the odd rows; but the spec's last
    # `expect [num_classes, in.h - 184, in.w - 184]`, written from the input,
    # holds only for inputs 16k + 92 with k >= 6 (k = 30 is the paper's 572).
    data = json.loads(sizes(ROOT / "specs/unet.net", "--format", "json"))
    assert data["accepted"] == list(range(188, 1025, 16))
    assert data["smallest"] == 188
    assert data["accepted_compact"] == "every 16 from 188 to 1020"
    assert data["declared"] == 572 and data["declared_ok"] is True
    assert data["smallest_rejected_by"]["size"] == 172
    assert data["smallest_rejected_by"]["code"] == "E0301"
    assert data["warned"] == [] and data["warnings"] == []
    rejected = {(g["layer"], g["code"]) for g in data["rejections"]}
    assert ("expect at line 52", "E0308") in rejected


def test_unet_text_output():
    out = sizes(ROOT / "specs/unet.net")
    assert "accepted (53): every 16 from 188 to 1020" in out
    assert "smallest accepted: 188" in out
    # 187 runs out of rows in the decoder: 183, 91, 87, 43, 39, 19, 15, 7, 3, then 6, 2, then 4 and 2 < 3
    assert "187 is rejected by dec3.conv2: E0301" in out
    # 188–1024 but for the 53 accepted: the expect written from the input
    assert "rejected by expect at line 52 (E0308, 784): 189–203, 205–219," in out
    assert "the declared size 572 is accepted" in out


def test_lenet_runs_from_12_and_warns_where_it_drops_rows():
    # 5×5 'same' conv, 2×2 pool, 5×5 valid conv, 2×2 pool: ⌊n/2⌋ - 4 >= 2, so n >= 12;
    # odd sizes (and sizes where ⌊n/2⌋ - 4 is odd) lose a row at a pooling: a warning
    s = scan(load_path(str(ROOT / "specs/lenet.net")), "LeNet", lo=1, hi=64)
    assert s.accepted == list(range(12, 65))
    assert s.rejected[8].code == "E0301" and s.rejected[8].layer == "conv2d_1"
    assert [(w.code, w.layer) for w in s.warned[13]] == [("W0401", "avgpool2d")]
    assert [(w.code, w.layer) for w in s.warned[14]] == [("W0401", "avgpool2d_1")]
    assert sorted(set(s.accepted) - set(s.warned)) == list(range(12, 65, 4))
    out = s.to_text()
    assert "  without warnings (14): every 4 from 12 to 64" in out
    assert "  runs, but avgpool2d warns (W0401, 26): every 2 from 13 to 63: stride 2 does not divide" in out


def test_a_relative_expect_rejects_where_it_fails_and_the_declared_size_gets_nearest(tmp_path):
    spec = tmp_path / "odd.net"
    spec.write_text("network Odd {\n    input [3, 32, 32]\n    conv2d(8, 3) -> maxpool2d(2)\n"
                    "    conv2d(8, 3) -> maxpool2d(2)\n    expect [8, in.h // 4 - 1, in.w // 4 - 1]\n}\n")
    # n -> n - 2 -> ⌊(n - 2)/2⌋ -> ... -> ⌊(⌊(n - 2)/2⌋ - 2)/2⌋, which is ⌊n/4⌋ - 1 for
    # n = 4k + 2 and 4k + 3 only; below 10 the second convolution has no input left
    data = json.loads(sizes(spec, "--max", "40", "--format", "json"))
    assert data["accepted"] == [10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31, 34, 35, 38, 39]
    assert data["rejections"][-1]["layer"] == "expect at line 5"
    out = sizes(spec, "--max", "40")
    assert "the declared size 32 is rejected (expect at line 5: E0308" in out
    assert "nearest accepted size: 31" in out


def test_a_literal_expect_warns_beside_the_sizes_it_was_not_written_for(tmp_path):
    spec = tmp_path / "e.net"
    spec.write_text("network E {\n    input [1, 8, 8]\n    conv2d(2, 3, padding=1)\n    expect [2, 8, 8]\n}\n")
    data = json.loads(sizes(spec, "--max", "10", "--format", "json"))
    assert data["accepted"] == list(range(1, 11))
    assert data["warned"] == [1, 2, 3, 4, 5, 6, 7, 9, 10]
    assert data["warnings"] == [{"layer": "expect at line 4", "code": "W0406", "count": 9, "sizes": "1–7, 9, 10",
                                 "message": "`expect [2, 8, 8]` is written for the declared input 1×8×8"}]


def test_a_literal_expect_wrong_at_the_declared_size_is_an_error_wherever_it_fails(tmp_path):
    spec = tmp_path / "e.net"
    spec.write_text("network E {\n    input [1, 8, 8]\n    conv2d(2, 3)\n    expect [2, 8, 8]\n}\n")
    # the valid 3×3 convolution gives 6 at 8: the expect holds only at 10
    data = json.loads(sizes(spec, "--max", "12", "--format", "json"))
    assert data["accepted"] == [10] and data["warned"] == []
    assert [(g["layer"], g["code"], g["sizes"]) for g in data["rejections"]] == \
        [("conv2d", "E0301", "1, 2"), ("expect at line 4", "E0308", "3–9, 11, 12")]


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


STEM = """network Stem {
    input [3, 224, 224]
    conv2d(64, 7, stride=2, padding=3) -> relu
    expect [64, 112, 112]
    maxpool2d(3, stride=2, padding=1)
    expect [64, (in.h + 3) // 4, (in.w + 3) // 4]
}
"""


def codes(text, shape):
    return [(d.code, d.primary.line) for d in check_source(text, input_shape=shape).diagnostics]


def test_check_input_reports_a_literal_expect_as_written_for_the_declared_input():
    # 7×7/2 with padding 3, then 3×3/2 with padding 1: ⌈⌈n/2⌉/2⌉ = ⌊(n + 3)/4⌋ at every n
    assert codes(STEM, (3, 224, 224)) == []
    assert codes(STEM, (3, 100, 100)) == [("W0406", 4)]
    d = check_source(STEM, input_shape=(3, 100, 100)).diagnostics[0]
    assert d.message == "`expect [64, 112, 112]` is written for the declared input 3×224×224"
    assert d.notes == ["here the input is 3×100×100 and the shape is [64, 50, 50]"]
    # without an input to replace, the same expect is an error where it fails
    assert codes(STEM.replace("112, 112", "111, 111"), None) == [("E0308", 4)]
    assert codes(STEM.replace("112, 112", "111, 111"), (3, 100, 100)) == [("E0308", 4)]


def test_an_expect_written_from_the_input_is_an_error_wherever_it_fails():
    wrong = STEM.replace("(in.h + 3) // 4, (in.w + 3) // 4", "in.h // 4, in.w // 4")
    assert codes(wrong, (3, 224, 224)) == []        # 56 = 224 // 4
    assert codes(wrong, (3, 226, 226)) == [("W0406", 4), ("E0308", 6)]   # 57, but 226 // 4 = 56


def test_sizes_reports_the_declared_input_expect_beside_the_sizes(tmp_path):
    spec = tmp_path / "stem.net"
    spec.write_text(STEM)
    data = json.loads(sizes(spec, "--min", "200", "--max", "230", "--format", "json"))
    assert data["accepted"] == list(range(200, 231))
    # the literal expect holds where ⌈n/2⌉ = 112: 223 and 224
    assert [g["code"] for g in data["warnings"]] == ["W0406"]
    assert data["warnings"][0]["sizes"] == "200–222, 225–230"
