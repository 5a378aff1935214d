"""The CLI under hostile conditions: JSON output stays one document whatever fails,
a closed pipe or a full disk ends the command cleanly, and odd specs are
diagnostics, never internal errors (exit 3)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from netdsl.cli import cli

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "specs" / "lenet.net"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def stdout_of(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netdsl", *map(str, args)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


@pytest.fixture
def broken(tmp_path):
    (tmp_path / "syntax.net").write_text("network N {\n    input [\n}\n")
    (tmp_path / "badarg.net").write_text("network N {\n    input [3, 8, 8]\n    dropout(p=(1, 2))\n}\n")
    (tmp_path / "two.net").write_text("network A {\n  input [4]\n  relu\n}\nnetwork B {\n  input [4]\n  relu\n}\n")
    (tmp_path / "noinput.net").write_text("network N {\n    relu\n}\n")
    return tmp_path


@pytest.mark.parametrize("command", ["check", "summary", "sizes"])
@pytest.mark.parametrize("case", ["syntax.net", "badarg.net", "two.net", "noinput.net", "missing.net", "dir"])
def test_format_json_always_prints_one_json_document(broken, command, case):
    target = broken if case == "dir" else broken / case
    extra = ["--max", "8"] if command == "sizes" else []
    proc = stdout_of(command, "--format", "json", *extra, target)
    assert proc.returncode in (0, 1, 2), proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    json.loads(proc.stdout)             # exactly one document, nothing else on stdout


def test_summary_of_a_bad_layer_argument_is_a_table_not_a_crash(broken):
    res = run("summary", broken / "badarg.net")
    assert res.exit_code == 1 and "E0214" in res.output and "dropout" in res.output
    for convention in ("fvcore", "ptflops", "thop", "torchinfo"):
        assert run("summary", "--convention", convention, "--format", "json", broken / "badarg.net").exit_code == 1


def test_a_closed_pipe_ends_quietly(tmp_path):
    spec = tmp_path / "wide.net"
    spec.write_text("network N {\n    input [4]\n" + "    relu\n" * 20000 + "}\n")
    proc = subprocess.Popen([sys.executable, "-m", "netdsl", "summary", str(spec)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.close()                 # the reader is gone before netdsl writes (`| head -0`)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert err == ""


def test_a_full_disk_is_an_io_error_not_an_internal_error():
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "netdsl", "summary", str(LENET)], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2
    assert "No space left" in proc.stderr and "internal error" not in proc.stderr


def test_param_values_are_one_line_and_one_value():
    for bad in ("num_classes=5\nlet x = 1", "num_classes=5; let x = 1", "num_classes=5\rx"):
        res = run("check", LENET, "--param", bad)
        assert res.exit_code == 2 and "Invalid value" in res.output, bad
    assert run("check", LENET, "--param", "num_classes=5").exit_code == 0


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2, -3])
def test_every_convention_counts_softmax_on_any_dim(tmp_path, dim):
    spec = tmp_path / "sm.net"
    spec.write_text(f"network N {{\n    input [3, 4, 5]\n    softmax(dim={dim})\n}}\n")
    for convention in ("torchvision", "fvcore", "ptflops", "thop", "torchinfo"):
        res = run("summary", "--convention", convention, "--format", "json", spec)
        assert res.exit_code == 0, res.output
    n = (3, 4, 5)[dim]
    thop = json.loads(run("summary", "--convention", "thop", "--format", "json", spec).output)["total_macs"]
    assert thop == 60 // n * (3 * n - 1)
