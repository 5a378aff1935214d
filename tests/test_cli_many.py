"""`netdsl check` on hundreds of files: one report per file, keeps going after
failures, exit 1 if any file has errors, exit 2 (naming the path) for paths that
cannot be read; exit 3 (internal error) never. All in-process."""
from __future__ import annotations

import json
import os
import re

import pytest
from click.testing import CliRunner

from netdsl.cli import cli, main

GOOD = "network Good{i} {{\n    input [3, 16, 16]\n    conv2d({c}, 3, padding=1) -> relu\n}}\n"
BAD = "network Bad{i} {{\n    input [3, 16, 16]\n    conv2d({c}, 99)\n}}\n"
SYNTAX = "network Broken{i} {{\n    input [3, 16, 16]\n    conv2d(8, 3\n}}\n"


def make_files(tmp_path, n=300):
    """n files: every 7th has a shape error, every 11th a syntax error, every 13th bad bytes."""
    paths, failing = [], set()
    for i in range(n):
        path = tmp_path / f"f{i:03d}.net"
        if i % 13 == 5:
            path.write_bytes(b"network N {}\n# \xff\xfe\n")
            failing.add(path.name)
        elif i % 11 == 3:
            path.write_text(SYNTAX.format(i=i))
            failing.add(path.name)
        elif i % 7 == 2:
            path.write_text(BAD.format(i=i, c=i + 1))
            failing.add(path.name)
        else:
            path.write_text(GOOD.format(i=i, c=i + 1))
        paths.append(path)
    return paths, failing


def invoke(*args, input=None):
    res = CliRunner().invoke(cli, list(args), input=input)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code != 3, res.output
    return res


def test_hundreds_of_files_report_per_file_and_keep_going(tmp_path):
    paths, failing = make_files(tmp_path)
    res = invoke("check", *map(str, paths))
    assert res.exit_code == 1
    out = res.output
    for p in paths:
        assert f"{p}:" in out, f"no report for {p.name}"
    # Each failing file gets its own error count line; every good file its summary.
    for p in paths:
        if p.name in failing:
            assert re.search(rf"{re.escape(str(p))}:.*error", out), p.name
        else:
            assert re.search(rf"{re.escape(str(p))}: Good\d+ .*\u2192 \[\d+, 16, 16\]", out), p.name
    assert out.count("error[E0301]") == sum(1 for i in range(300) if i % 7 == 2 and i % 11 != 3 and i % 13 != 5)
    assert out.count("error[E0100]") == sum(1 for i in range(300) if i % 13 == 5)


def test_short_format_locates_every_problem(tmp_path):
    paths, failing = make_files(tmp_path, 120)
    res = invoke("check", "--format", "short", *map(str, paths))
    assert res.exit_code == 1
    lines = [line for line in res.output.splitlines() if "error[" in line]
    named = {re.match(r"(.*?\.net):", line).group(1).rsplit("/", 1)[-1] for line in lines}
    assert named == failing
    for line in lines:
        if "E0100" not in line:
            assert re.match(r".*\.net:\d+:\d+: error\[E0\d+\]", line), line


def test_json_format_covers_every_file(tmp_path):
    paths, failing = make_files(tmp_path, 100)
    res = invoke("check", "--format", "json", *map(str, paths))
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    files_with_errors = {os.path.basename(d["file"]) for d in data["diagnostics"] if d["severity"] == "error"}
    assert files_with_errors == failing
    networks = {os.path.basename(n["file"]) for n in data["networks"]}
    assert networks >= {p.name for p in paths if p.name not in failing}


def test_all_clean_files_exit_0(tmp_path):
    paths = []
    for i in range(200):
        p = tmp_path / f"ok{i}.net"
        p.write_text(GOOD.format(i=i, c=i + 1))
        paths.append(str(p))
    res = invoke("check", "--quiet", *paths)
    assert res.exit_code == 0 and res.output == ""


@pytest.mark.parametrize("bad", ["missing.net", "a_directory", "nul\x00byte.net", "x" * 5000 + ".net"])
def test_unreadable_paths_exit_2_naming_the_path(tmp_path, bad):
    (tmp_path / "a_directory").mkdir()
    good = tmp_path / "good.net"
    good.write_text(GOOD.format(i=0, c=4))
    target = str(tmp_path / bad)
    res = invoke("check", str(good), target, str(good))
    assert res.exit_code == 2
    shown = bad if "\x00" not in bad else "nul"
    assert "cannot read" in res.output and shown[:40] in res.output
    assert res.output.count(f"{good}: Good0") == 2, "the readable files are still checked"


def test_unreadable_and_failing_files_together_exit_2(tmp_path):
    paths, _ = make_files(tmp_path, 30)
    res = invoke("check", *map(str, paths), str(tmp_path / "nope.net"))
    assert res.exit_code == 2
    assert "nope.net" in res.output and "error[E0301]" in res.output


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read anything")
def test_permission_denied(tmp_path):
    p = tmp_path / "secret.net"
    p.write_text(GOOD.format(i=0, c=4))
    p.chmod(0)
    res = invoke("check", str(p))
    assert res.exit_code == 2 and "secret.net" in res.output


def test_main_entry_point_exit_codes(tmp_path, capsys):
    """Through `netdsl.cli.main`, the console script's entry point, with SystemExit."""
    paths, _ = make_files(tmp_path, 40)
    for argv, want in ((["check", *map(str, paths)], 1),
                       (["check", str(paths[0])], 0),
                       (["check", str(tmp_path / "missing.net")], 2)):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == want, argv[:3]
    err = capsys.readouterr().err
    assert "missing.net" in err and "internal error" not in err


def test_stdin_among_files(tmp_path):
    good = tmp_path / "good.net"
    good.write_text(GOOD.format(i=1, c=4))
    res = invoke("check", str(good), "-", input=BAD.format(i=2, c=4))
    assert res.exit_code == 1
    assert "<stdin>:3:" in res.output and f"{good}: Good1" in res.output


# ---- no partial output ------------------------------------------------------------
def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("command,out_name", [("compile", "model.py"), ("render", "model.dot")])
def test_errors_and_interrupts_leave_no_partial_output(tmp_path, monkeypatch, command, out_name):
    good = tmp_path / "good.net"
    good.write_text(GOOD.format(i=0, c=4))
    out = tmp_path / out_name
    out.write_text("previous contents\n")
    if command == "compile":
        bad = tmp_path / "bad.net"
        bad.write_text(BAD.format(i=0, c=4))
        res = invoke("compile", str(bad), "-o", str(out))
        assert res.exit_code == 1 and out.read_text() == "previous contents\n"

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)       # Ctrl-C just before the rename
    res = CliRunner().invoke(cli, [command, str(good), "-o", str(out)])
    assert res.exit_code != 0
    assert out.read_text() == "previous contents\n"
    assert _leftovers(tmp_path) == [], "a temporary file was left behind"
    monkeypatch.undo()
    res = invoke(command, str(good), "-o", str(out))
    assert res.exit_code == 0 and out.read_text() != "previous contents\n"
    assert _leftovers(tmp_path) == []


def test_compile_write_failure_is_exit_2_and_names_the_path(tmp_path):
    good = tmp_path / "good.net"
    good.write_text(GOOD.format(i=0, c=4))
    target = tmp_path / "no_such_dir" / "model.py"
    res = invoke("compile", str(good), "-o", str(target))
    assert res.exit_code == 2 and "model.py" in res.output
    assert not target.parent.exists()
