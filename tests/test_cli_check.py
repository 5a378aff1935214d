"""`netdsl check` as a user runs it: a separate process, real exit codes, real output."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
LENET = SPECS / "lenet.net"
ANSI = "\x1b["

# Two independent problems; line 3's second conv sees a 4x4 input (8 - 5 + 1).
BROKEN = """\
network Broken {
    input [3, 8, 8]
    conv2d(4, 5) -> conv2d(4, 5)
    linear(10)
}
"""


def netdsl(*args, stdin=None, cwd=None, env=None):
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "netdsl", *map(str, args)], input=stdin, capture_output=True,
                          text=True, cwd=cwd, env=full_env, timeout=60, check=False)


@pytest.fixture
def broken(tmp_path) -> Path:
    p = tmp_path / "broken.net"
    p.write_text(BROKEN)
    return p


def test_clean_specs_print_shapes_and_parameter_counts():
    proc = netdsl("check", LENET, SPECS / "resnet18.net")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # LeNet as in the notes: 1x28x28 -> 10 with 61,706 parameters; ResNet-18 as torchvision.
    assert f"{LENET}: LeNet  [1, 28, 28] → [10]  61,706 params" in lines
    assert any("ResNet18  [3, 224, 224] → [1000]  11,689,512 params" in ln for ln in lines)
    assert proc.stderr == ""


def test_every_network_in_a_file_is_reported(tmp_path):
    spec = tmp_path / "two.net"
    spec.write_text("network A {\n  input [4]\n  linear(2)\n}\n\nnetwork B(n = 3) {\n  input [2, 4, 4]\n"
                    "  flatten -> linear(n)\n}\n")
    proc = netdsl("check", spec)
    assert proc.returncode == 0, proc.stdout
    # linear(4 -> 2) has 4*2 + 2 = 10 parameters; linear(32 -> 3) has 32*3 + 3 = 99.
    assert f"{spec}: A  [4] → [2]  10 params" in proc.stdout
    assert f"{spec}: B  [2, 4, 4] → [3]  99 params" in proc.stdout


def test_dash_reads_stdin():
    proc = netdsl("check", "-", stdin=LENET.read_text())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "LeNet  [1, 28, 28] → [10]  61,706 params" in proc.stdout


def test_stdin_errors_are_located_in_stdin():
    proc = netdsl("check", "--format", "short", "-", stdin=BROKEN)
    assert proc.returncode == 1
    assert "<stdin>:3:" in proc.stdout


def test_errors_exit_1_with_located_diagnostics(broken):
    proc = netdsl("check", broken)
    assert proc.returncode == 1
    out = proc.stdout
    assert "error[E0301]" in out                       # kernel 5 larger than the 4x4 input
    assert f"--> {broken}:3:" in out
    assert "conv2d(4, 5) -> conv2d(4, 5)" in out       # the source line is shown
    assert "has errors" in out
    assert "Traceback" not in out + proc.stderr


def test_short_format_is_one_line_per_diagnostic(broken):
    proc = netdsl("check", "--format", "short", broken)
    assert proc.returncode == 1
    diag_lines = [ln for ln in proc.stdout.splitlines() if "error[" in ln or "warning[" in ln]
    assert diag_lines, proc.stdout
    for ln in diag_lines:
        path, line, col, _rest = ln.split(":", 3)
        assert path == str(broken) and line.isdigit() and col.isdigit(), ln
    assert any(ln.startswith(f"{broken}:3:") and "error[E0301]" in ln for ln in diag_lines)
    assert " --> " not in proc.stdout and "  |" not in proc.stdout


def test_json_format(broken):
    proc = netdsl("check", "--format", "json", broken)
    assert proc.returncode == 1
    data = json.loads(proc.stdout)                     # stdout is exactly one JSON document
    diags = data["diagnostics"]
    assert isinstance(diags, list) and diags
    keys = {"severity", "code", "message", "file", "line", "column", "end_line", "end_column", "notes", "help"}
    for d in diags:
        assert keys <= set(d), set(d)
        assert d["severity"] in ("error", "warning")
        assert isinstance(d["notes"], list) and isinstance(d["help"], list)
    first = next(d for d in diags if d["code"] == "E0301")
    assert first["severity"] == "error"
    assert first["file"] == str(broken)
    assert first["line"] == 3 and first["end_line"] == 3
    # Columns are 1-based and point into `conv2d(4, 5) -> conv2d(4, 5)` on line 3.
    line3 = BROKEN.splitlines()[2]
    assert 1 <= first["column"] < first["end_column"] <= len(line3) + 1
    assert line3[first["column"] - 1:first["end_column"] - 1] == "5"   # the kernel argument of the second conv
    assert first["column"] > line3.index("->")


TWO = """\
network Good {
    input [3, 32, 32]
    conv2d(8, 3, padding=1) -> relu
    flatten -> linear(10)
}

network Bad {
    input [3, 16, 16]
    conv2d(8, 3) -> maxpool2d(2)
    conv2d(4, 9)
}
"""


def test_json_groups_the_diagnostics_by_network(tmp_path):
    spec = tmp_path / "two.net"
    spec.write_text(TWO)
    proc = netdsl("check", "--format", "json", spec)
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    good, bad = data["networks"]
    # Good: 8·3·9 + 8 conv weights and biases; 8·32·32 features into 10 outputs
    assert good == {"file": str(spec), "network": "Good", "input_shape": [3, 32, 32], "output_shape": [10],
                    "params": 8 * 27 + 8 + 8 * 32 * 32 * 10 + 10, "ok": True, "errors": 0, "warnings": 0,
                    "diagnostics": [], "omitted_diagnostics": 0}
    # Bad: 16 -> 14 -> 7, and a 9×9 kernel does not fit in 7
    assert (bad["network"], bad["input_shape"], bad["output_shape"], bad["ok"]) == ("Bad", [3, 16, 16], None, False)
    assert [(d["code"], d["line"]) for d in bad["diagnostics"]] == [("E0301", 10)]
    assert (bad["errors"], bad["warnings"]) == (1, 0)
    # the flat list is kept: every diagnostic of the file, as before
    assert data["diagnostics"] == bad["diagnostics"]
    assert data["files"] == [{"file": str(spec), "ok": False, "networks": ["Good", "Bad"], "diagnostics": []}]


def test_json_puts_the_diagnostics_of_no_network_under_the_file(tmp_path):
    spec = tmp_path / "syntax.net"
    spec.write_text("network N {\n    input [3, 8, 8]\n    conv2d(4, 3\n}\n")
    data = json.loads(netdsl("check", "--format", "json", spec).stdout)
    assert data["networks"] == []
    (entry,) = data["files"]
    assert entry["networks"] == [] and entry["ok"] is False
    assert [d["code"] for d in entry["diagnostics"]] == [d["code"] for d in data["diagnostics"]] != []


def test_json_for_a_clean_spec_has_an_empty_list():
    proc = netdsl("check", "--format", "json", LENET)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["diagnostics"] == []


def test_missing_file_exits_2_and_names_the_path(tmp_path):
    missing = tmp_path / "no_such_spec.net"
    proc = netdsl("check", missing)
    assert proc.returncode == 2
    assert str(missing) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_file_does_not_hide_other_files(tmp_path):
    proc = netdsl("check", tmp_path / "gone.net", LENET)
    assert proc.returncode == 2
    assert "LeNet  [1, 28, 28] → [10]" in proc.stdout


@pytest.mark.parametrize("args", [
    ["check"],                                   # no files
    ["check", "--format", "xml", LENET],         # bad choice
    ["check", "--input", "abc", LENET],          # unparsable shape
    ["check", "--input", "0x28x28", LENET],      # non-positive size
    ["check", "--param", "num_classes", LENET],  # no `=`
    ["check", "--no-such-option", LENET],
], ids=["no-files", "bad-format", "bad-input", "zero-input", "bad-param", "unknown-option"])
def test_bad_usage_exits_2(args):
    proc = netdsl(*args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip()


def test_input_override():
    # LeNet at 1x32x32: conv(pad 2) 32 -> pool 16 -> conv5 12 -> pool 6; flatten 16*6*6 = 576.
    # 156 + 2,416 + (576*120 + 120) + (120*84 + 84) + (84*10 + 10) = 82,826.
    proc = netdsl("check", "--input", "1x32x32", LENET)
    assert proc.returncode == 0, proc.stdout
    assert "LeNet  [1, 32, 32] → [10]  82,826 params" in proc.stdout


def test_param_override():
    # Only the last layer changes: 84*100 + 100 replaces 84*10 + 10, so 61,706 + 7,650.
    proc = netdsl("check", "--param", "num_classes=100", LENET)
    assert proc.returncode == 0, proc.stdout
    assert "LeNet  [1, 28, 28] → [100]  69,356 params" in proc.stdout


def test_unknown_param_override_is_a_spec_error_with_a_suggestion():
    proc = netdsl("check", "--param", "num_clases=3", LENET)
    assert proc.returncode == 1
    assert "E0210" in proc.stdout and "did you mean `num_classes`" in proc.stdout


def test_input_override_can_break_a_spec():
    proc = netdsl("check", "--input", "1x4x4", LENET)
    assert proc.returncode == 1
    assert "error[E0301]" in proc.stdout


def test_no_ansi_codes_when_not_a_tty(broken):
    proc = netdsl("check", broken)
    assert proc.returncode == 1
    assert ANSI not in proc.stdout + proc.stderr


def _run_in_pty(args, env):
    """Run netdsl with stdout on a pseudo-terminal, so it believes it talks to a user."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full_env.update(env)
    proc = subprocess.Popen([sys.executable, "-m", "netdsl", *map(str, args)], stdout=slave, stderr=slave,
                            stdin=subprocess.DEVNULL, env=full_env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:      # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    proc.wait(timeout=60)
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_color_on_a_tty_and_no_color_respected(broken):
    code, out = _run_in_pty(["check", broken], {"TERM": "xterm"})
    assert code == 1
    assert ANSI in out, "a terminal gets coloured diagnostics"
    code, out = _run_in_pty(["check", broken], {"TERM": "xterm", "NO_COLOR": "1"})
    assert code == 1
    assert "error[E0301]" in out
    assert ANSI not in out, "NO_COLOR turns colour off even on a terminal"


def test_color_always_and_never_override_the_terminal_test(broken):
    proc = netdsl("check", "--color", "always", broken)           # a pipe, but colour was asked for
    assert proc.returncode == 1
    assert f"{ANSI}1;31merror[E0301]" in proc.stdout
    code, out = _run_in_pty(["check", "--color", "never", broken], {"TERM": "xterm"})
    assert code == 1 and "error[E0301]" in out
    assert ANSI not in out


def test_check_never_imports_torch(broken):
    for spec in (SPECS / "resnet18.net", broken):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "netdsl", "check", str(spec)],
                              capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
        imported = [ln.rsplit("|", 1)[-1].strip() for ln in proc.stderr.splitlines()
                    if ln.startswith("import time:")]
        assert "netdsl.pipeline" in imported          # importtime really recorded the run
        heavy = [m for m in imported if m.split(".")[0] in ("torch", "torchinfo", "torchvision", "numpy")]
        assert heavy == [], heavy


def test_layers_lists_every_kind():
    proc = netdsl("layers")
    assert proc.returncode == 0
    kinds = [ln.split()[0] for ln in proc.stdout.splitlines() if ln.strip()]
    for kind in ("conv2d", "maxpool2d", "avgpool2d", "batchnorm2d", "relu", "flatten", "linear",
                 "conv_transpose2d", "center_crop", "add", "concat"):
        assert kind in kinds


def test_layers_shows_one_kind_with_its_parameters():
    proc = netdsl("layers", "conv2d")
    assert proc.returncode == 0
    out = proc.stdout
    assert out.startswith("conv2d:")
    for param in ("channels", "kernel", "stride", "padding", "dilation", "groups", "bias"):
        assert f"  {param}" in out, param
    assert "aliases: conv" in out
    assert "kernel_size" in out                      # torch's keyword is accepted as an alias


def test_layers_folds_parameters_alike_in_all_but_name():
    out = netdsl("layers", "permute").stdout.splitlines()
    assert out[1].startswith("  d0: ") and out[2].startswith("  d1 ... d7: an integer or none; default none.")
    assert len(out) == 3


def test_layers_unknown_kind_suggests_and_exits_2():
    proc = netdsl("layers", "conv2")
    assert proc.returncode == 2
    assert "conv2d" in proc.stderr
