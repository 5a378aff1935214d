"""`netdsl summary`: the table, its formats, --explain, --depth, errors. No torch."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from netdsl.cli import cli

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "summary"


def run(*args, code=0):
    r = CliRunner().invoke(cli, ["summary", *map(str, args), "--color", "never"])
    assert r.exit_code == code, r.output
    return r.output


def write(tmp_path, text, name="t.net"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("name", ["lenet", "resnet18"])
def test_golden_text(name):
    """Inspected by hand; regenerate only with NETDSL_UPDATE_GOLDEN=1."""
    out = run(ROOT / "specs" / f"{name}.net")
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("NETDSL_UPDATE_GOLDEN") == "1":
        path.write_text(out)
    assert out == path.read_text()


def test_lenet_rows_by_hand():
    data = json.loads(run(ROOT / "specs/lenet.net", "--format", "json"))
    assert data["network"] == "LeNet"
    assert data["input_shape"] == [1, 28, 28] and data["output_shape"] == [10]
    assert data["total_params"] == 61_706
    first = data["layers"][0]
    assert first["name"] == "conv2d" and first["kind"] == "conv2d"
    assert first["output_shape"] == [6, 28, 28]
    assert first["params"] == 6 * 25 + 6
    assert first["macs"] == 6 * 28 * 28 * 25
    assert first["receptive_field"] == [5, 5] and first["jump"] == [1, 1]
    # conv5 -> pool2 -> conv5 -> pool2: 5, 6, 14, 16; jumps 1, 2, 2, 4
    rf = [(row["receptive_field"], row["jump"]) for row in data["layers"] if row["kind"] != "sigmoid"][:4]
    assert rf == [([5, 5], [1, 1]), ([6, 6], [2, 2]), ([14, 14], [2, 2]), ([16, 16], [4, 4])]
    assert data["layers"][-1]["receptive_field"] == "global"
    assert data["total_macs"] == 117_600 + 240_000 + 48_000 + 10_080 + 840


def test_resnet18_receptive_field_and_buffers():
    data = json.loads(run(ROOT / "specs/resnet18.net", "--format", "json"))
    layer4 = next(r for r in data["layers"] if r["name"] == "layer4")
    assert layer4["scope"] and layer4["receptive_field"] == [435, 435] and layer4["jump"] == [32, 32]
    # BatchNorm running mean and var are buffers (+ num_batches_tracked), not parameters
    bn1 = next(r for r in data["layers"] if r["name"] == "bn1")
    assert bn1["params"] == 128 and bn1["buffers"] == 129
    assert data["trainable_params"] == 11_689_512 and data["non_trainable_params"] == 0


def test_memory_totals_scale_with_batch():
    one = json.loads(run(ROOT / "specs/lenet.net", "--format", "json"))
    four = json.loads(run(ROOT / "specs/lenet.net", "--format", "json", "--batch", "4"))
    acts = sum(6 * 28 * 28 * 2 + 6 * 14 * 14 for _ in [0])  # conv, sigmoid, pool of stage 1
    acts += 16 * 10 * 10 * 2 + 16 * 5 * 5 + 400 + 120 * 2 + 84 * 2 + 10
    assert one["activation_bytes"] == 4 * acts
    assert four["activation_bytes"] == 4 * 4 * acts
    assert one["param_bytes"] == four["param_bytes"] == 4 * 61_706


def test_flops_doubles_and_notes_example(tmp_path):
    spec = write(tmp_path, "network Notes {\n    input [128, 256, 256]\n    conv2d(128, 5, padding=2)\n}\n")
    data = json.loads(run(spec, "--format", "json", "--flops"))
    assert data["total_macs"] == 26_843_545_600
    assert data["total_flops"] == 2 * 26_843_545_600 > 53_000_000_000
    text = run(spec)
    assert "26.84 GMACs" in text
    assert "53.69 GFLOPs" in run(spec, "--flops")


def test_convention_changes_totals():
    tv = json.loads(run(ROOT / "specs/resnet18.net", "--format", "json"))["total_macs"]
    fv = json.loads(run(ROOT / "specs/resnet18.net", "--format", "json", "--convention", "fvcore"))["total_macs"]
    # fvcore adds 2 per element for each eval-mode affine batch norm and the adaptive pool input
    assert fv > tv


def test_depth_folds_blocks():
    data = json.loads(run(ROOT / "specs/resnet18.net", "--format", "json", "--depth", "1"))
    names = [r["name"] for r in data["layers"]]
    assert "layer1" in names and not any(n.startswith("layer1.") for n in names)
    layer1 = data["layers"][names.index("layer1")]
    assert layer1["params"] == 2 * (2 * 64 * 64 * 9 + 2 * 128)
    full = json.loads(run(ROOT / "specs/resnet18.net", "--format", "json"))
    assert sum(r["params"] for r in full["layers"] if not r["scope"]) == 11_689_512


def test_csv_and_markdown():
    rows = list(csv.DictReader(io.StringIO(run(ROOT / "specs/lenet.net", "--format", "csv"))))
    assert rows[0]["name"] == "conv2d" and rows[0]["output_shape"] == "6x28x28" and rows[0]["macs"] == "117600"
    assert len(rows) == 12
    md = run(ROOT / "specs/lenet.net", "--format", "markdown")
    assert "| Layer | Kind | Output shape | Params | MACs | Act. mem | RF | Jump |" in md
    assert "| `conv2d` | conv2d | [6, 28, 28] | 156 | 117,600 | 18.38 KiB | 5 | 1 |" in md  # 6·28·28·4 B


def test_explain_shows_the_arithmetic():
    out = run(ROOT / "specs/lenet.net", "--explain")
    assert "h = ⌊(28 − 5 + 2·2 + 1)/1⌋ = 28" in out
    assert "h = ⌊(14 − 5 + 2·0 + 1)/1⌋ = 10" in out
    assert "MACs = 6·28·28 outputs × 25 = 117,600" in out
    assert "features = 16 × 5 × 5 = 400" in out


BAD = """network Bad {
    input [3, 32, 32]
    conv1: conv2d(16, 3)
    pool: maxpool2d(2)
    conv2: conv2d(32, 40)
    relu
    flatten -> linear(10)
}
"""


def test_invalid_spec_shows_table_up_to_the_failure(tmp_path):
    out = run(write(tmp_path, BAD), code=1)
    assert "error[E0301]" in out                       # diagnostics as `check` prints them
    table = out[out.index("Layer (kind)"):]
    assert "conv1: conv2d    [16, 30, 30]" in table
    assert "conv2: conv2d    ✗ error" in table
    assert "^^^ error here: the kernel (40) is larger" in table
    after = table[table.index("^^^"):].splitlines()[1]
    assert after.split()[:2] == ["relu", "?"]
    assert "the rest is unknown" in table
    assert "Total MACs per sample: unknown" in table


def test_invalid_spec_json(tmp_path):
    r = CliRunner().invoke(cli, ["summary", str(write(tmp_path, BAD)), "--format", "json"])
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["ok"] is False and data["total_macs"] is None
    conv2 = next(x for x in data["layers"] if x["name"] == "conv2")
    assert conv2["error"].startswith("the kernel (40)") and conv2["output_shape"] is None
    assert data["diagnostics"][0]["code"] == "E0301"


def test_unreadable_file_and_several_networks(tmp_path):
    assert "cannot read" in run(tmp_path / "missing.net", code=2)
    two = write(tmp_path, "network A {\n    input [4]\n    relu\n}\nnetwork B {\n    input [4]\n    relu\n}\n")
    assert "choose one with --network" in run(two, code=2)
    assert "B: [4]" in run(two, "--network", "B")


def test_summary_does_not_import_torch():
    code = ("import sys\nfrom netdsl.cli import main\n"
            "try:\n    main(['summary', 'specs/resnet50.net', '--format', 'json'])\n"
            "except SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr


def test_error_inside_a_folded_block_is_marked_on_the_block(tmp_path):
    spec = write(tmp_path, "block B(c: int) {\n    conv2d(c, 3) -> relu\n    conv2d(c, 50)\n}\n"
                           "network Bad {\n    input [3, 32, 32]\n    stem: conv2d(8, 3)\n    body: B(16)\n"
                           "    flatten -> linear(10)\n}\n")
    folded = run(spec, "--depth", "1", code=1)
    assert "body: B       ✗ error" in folded
    assert "^^^ error here: in body.conv2d_1: the kernel (50)" in folded
    full = run(spec, code=1)
    assert full.count("^^^ error here") == 1 and "  conv2d_1    ✗ error" in full


def test_a_layer_that_could_not_be_expanded_shows_what_was_written_and_why(tmp_path):
    # An unknown layer leaves a stand-in node: the row shows the source written there
    # and the diagnostic's message, not an anonymous "(identity)" and "unknown".
    spec = write(tmp_path, "network N {\n    input [3, 8, 8]\n    conv2d(4, 3)\n    convv2d(4, 3)\n    relu\n}\n")
    table = run(spec, code=1)
    table = table[table.index("Layer (kind)"):]
    assert "(convv2d(4, 3)): unknown" in table and "✗ error" in table
    assert "^^^ error here: unknown layer or block `convv2d`" in table
    assert "identity" not in table
    r = CliRunner().invoke(cli, ["summary", str(spec), "--format", "json"])
    row = json.loads(r.stdout)["layers"][1]
    assert (row["kind"], row["error"]) == ("unknown", "unknown layer or block `convv2d`")


# ---- several outputs -------------------------------------------------------------------------
TWO_OUTPUTS = ("network Two {\n    input [8, 16, 16]\n    a: conv2d(4, 1)\n    b: conv2d(2, 3)\n"
               "    return(out=@b, aux=@a)\n}\n")


def test_a_network_with_named_outputs_shows_each_in_the_title(tmp_path):
    out = run(write(tmp_path, TWO_OUTPUTS))
    assert out.splitlines()[1].startswith("Two: [8, 16, 16] → out [2, 14, 14], aux [4, 16, 16]")
    md = run(write(tmp_path, TWO_OUTPUTS), "--format", "markdown")
    assert md.splitlines()[0] == "**Two**: [8, 16, 16] → out [2, 14, 14], aux [4, 16, 16]"
    data = json.loads(run(write(tmp_path, TWO_OUTPUTS), "--format", "json"))
    assert data["outputs"] == [{"name": "out", "shape": [2, 14, 14]}, {"name": "aux", "shape": [4, 16, 16]}]
    assert data["output_shape"] == [2, 14, 14]


def test_a_network_returning_a_tuple_shows_it_as_one(tmp_path):
    text = TWO_OUTPUTS.replace("return(out=@b, aux=@a)", "return(@a, @b)")
    assert "→ ([4, 16, 16], [2, 14, 14])" in run(write(tmp_path, text)).splitlines()[1]


def test_one_output_has_no_outputs_list(tmp_path):
    text = TWO_OUTPUTS.replace("return(out=@b, aux=@a)", "return(out=@b)")
    data = json.loads(run(write(tmp_path, text), "--format", "json"))
    assert "outputs" not in data and data["output_shape"] == [2, 14, 14]
