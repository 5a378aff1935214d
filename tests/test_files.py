"""The file system: nothing is lost, nothing is read that is not a spec, caches are not stale.

Outputs never overwrite an input and are written one way (netdsl/output.py);
imports read only `.net` files in the spec's tree or the search path
(netdsl/program/imports.py); special files never block; the load cache and the
import hook record every file read, with the text actually compiled.
"""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

import netdsl
from netdsl.cli import cli
from netdsl.output import OutputError, write_file

ROOT = Path(__file__).resolve().parent.parent
LENET = (ROOT / "specs" / "lenet.net").read_text(encoding="utf-8")
TINY = "network Tiny {\n    input [4]\n    linear(3)\n}\n"


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


# ---- outputs never overwrite an input ---------------------------------------------------
@pytest.mark.parametrize("command", ["compile", "render"])
def test_output_onto_the_spec_is_refused(tmp_path, command):
    spec = tmp_path / "my.net"
    spec.write_text(LENET)
    for target in (spec, tmp_path / "link.net"):
        if target.name == "link.net":
            target.symlink_to(spec)
        extra = ["--format", "dot"] if command == "render" else []
        res = run(command, spec, "-o", target, *extra)
        assert res.exit_code == 2, res.output
        assert "refusing to write" in res.output
        assert spec.read_text() == LENET
        assert not list(tmp_path.glob(".*.tmp"))


def test_output_onto_an_imported_file_or_a_hard_link_is_refused(tmp_path):
    (tmp_path / "blocks.net").write_text("block B { relu }\n")
    spec = tmp_path / "net.net"
    spec.write_text('import "blocks.net"\nnetwork N {\n    input [4]\n    B -> linear(2)\n}\n')
    os.link(spec, tmp_path / "hard.py")
    for target in ("blocks.net", "hard.py"):
        res = run("compile", spec, "-o", tmp_path / target)
        assert res.exit_code == 2 and "refusing to write" in res.output, res.output
    assert (tmp_path / "blocks.net").read_text() == "block B { relu }\n"
    assert spec.read_text().startswith("import")


def test_compile_writes_through_a_symlink_and_keeps_the_link(tmp_path):
    spec = tmp_path / "tiny.net"
    spec.write_text(TINY)
    target = tmp_path / "real.py"
    target.write_text("old\n")
    link = tmp_path / "out.py"
    link.symlink_to(target)
    assert run("compile", spec, "-o", link).exit_code == 0
    assert link.is_symlink() and "class Tiny" in target.read_text()


def test_compile_writes_into_a_fifo_without_replacing_it(tmp_path):
    spec = tmp_path / "tiny.net"
    spec.write_text(TINY)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    res = run("compile", spec, "-o", fifo)
    reader.join(10)
    assert res.exit_code == 0, res.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert b"class Tiny" in got[0]


def test_compile_into_dev_null_leaves_the_device(tmp_path):
    spec = tmp_path / "tiny.net"
    spec.write_text(TINY)
    before = os.stat("/dev/null")
    assert run("compile", spec, "-o", "/dev/null").exit_code == 0
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (before.st_ino, before.st_rdev) == (after.st_ino, after.st_rdev)


def test_modes_follow_the_umask_and_are_never_widened(tmp_path):
    code = ("import os, sys; os.umask(0o077); from netdsl.output import write_file; "
            "write_file(sys.argv[1], 'new'); write_file(sys.argv[2], 'again'); print(oct(os.umask(0o022)))")
    existing = tmp_path / "old.txt"
    existing.write_text("x")
    existing.chmod(0o640)
    new = tmp_path / "new.txt"
    out = subprocess.run([sys.executable, "-c", code, str(new), str(existing)], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "0o77"                   # the process umask is what it set, untouched
    assert stat.S_IMODE(new.stat().st_mode) == 0o600      # 0o666 less the umask
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640  # kept: neither widened nor narrowed
    assert existing.read_text() == "again"


def test_no_module_changes_the_process_umask():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "netdsl").rglob("*.py")
                 if "os.umask(" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_write_file_refuses_directories_and_cleans_up(tmp_path):
    with pytest.raises(OutputError):
        write_file(str(tmp_path), "x")
    with pytest.raises(OutputError):
        write_file(str(tmp_path / "missing" / "x.py"), "x")
    assert list(tmp_path.iterdir()) == []


# ---- imports read only specs, inside the tree or the search path ---------------------------
def codes(result):
    return [d.code for d in result.diagnostics]


@pytest.mark.parametrize("target", ["/proc/self/environ", "/etc/hostname", "secret.txt", "creds"])
def test_imports_of_files_that_are_not_specs_are_refused_and_never_quoted(tmp_path, target):
    (tmp_path / "secret.txt").write_text("AWS_SECRET=hunter2\n")
    (tmp_path / "creds").write_text("AWS_SECRET=hunter2\n")
    spec = tmp_path / "n.net"
    spec.write_text(f'import "{target}"\n' + TINY)
    res = run("check", spec)
    assert res.exit_code == 1
    assert "E0109" in res.output and "hunter2" not in res.output and "PATH=" not in res.output


def test_imports_outside_the_tree_are_refused_but_the_search_path_is_allowed(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "blocks.net").write_text("block B { relu }\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "link.net").symlink_to(lib / "blocks.net")
    uses = "network N {\n    input [4]\n    B -> linear(2)\n}\n"
    for written in ("../lib/blocks.net", str(lib / "blocks.net"), "link.net"):
        (project / "n.net").write_text(f'import "{written}"\n' + uses)
        assert codes(netdsl.check(project / "n.net")) == ["E0109"], written
    (project / "n.net").write_text('import "blocks.net"\n' + uses)
    assert codes(netdsl.check(project / "n.net")) == ["E0106"]
    assert netdsl.check(project / "n.net", include=[lib]).ok
    assert run("check", "--include", lib, project / "n.net").exit_code == 0
    assert run("check", project / "n.net", env={"NETDSL_PATH": str(lib)}).exit_code == 0
    (project / "n.net").write_text('import "../lib/blocks.net"\n' + uses)
    assert netdsl.check(project / "n.net", include=[lib]).ok       # inside a search-path directory


def test_a_missing_file_outside_the_tree_is_refused_not_probed(tmp_path):
    spec = tmp_path / "n.net"
    spec.write_text('import "../nowhere/x.net"\n' + TINY)
    assert codes(netdsl.check(spec)) == ["E0109"]


def test_special_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.net"
    os.mkfifo(fifo)
    spec = tmp_path / "n.net"
    spec.write_text('import "pipe.net"\n' + TINY)
    result = netdsl.check(spec)                         # would block forever if it opened the FIFO to read
    assert codes(result) == ["E0106"] and "pipe" in result.diagnostics[0].message
    proc = subprocess.run([sys.executable, "-m", "netdsl", "check", str(fifo)], capture_output=True, text=True,
                          timeout=30, cwd=ROOT)
    assert proc.returncode == 2 and "is a pipe" in proc.stderr
    res = run("check", "/dev/zero")
    assert res.exit_code == 2 and "device" in res.output


# ---- caches record every file read, with the text compiled -----------------------------------
def test_load_sees_a_changed_constants_file(tmp_path):
    pytest.importorskip("torch")
    (tmp_path / "consts.net").write_text("let WIDTH = 3\n")
    spec = tmp_path / "n.net"
    spec.write_text('import "consts.net"\nnetwork N {\n    input [4]\n    linear(WIDTH)\n}\n')
    assert netdsl.load(spec).linear.out_features == 3
    (tmp_path / "consts.net").write_text("let WIDTH = 5\n")
    assert netdsl.load(spec).linear.out_features == 5


def test_load_cache_records_the_text_it_compiled_not_a_second_read(tmp_path, monkeypatch):
    # An editor saves while netdsl compiles: the cache must describe what was compiled.
    pytest.importorskip("torch")
    from netdsl.backends import build
    spec = tmp_path / "n.net"
    spec.write_text(TINY)
    real = build.check_spec

    def check_then_save(*args, **kw):
        result = real(*args, **kw)
        spec.write_text(TINY.replace("linear(3)", "linear(7)"))   # the save lands mid-compile
        return result
    monkeypatch.setattr(build, "check_spec", check_then_save)
    assert netdsl.load(spec).linear.out_features == 3             # compiled before the save
    monkeypatch.setattr(build, "check_spec", real)
    assert netdsl.load(spec).linear.out_features == 7             # the saved file, not the stale cache


def test_every_file_read_is_a_dependency():
    result = netdsl.check(ROOT / "tests" / "diagnostics" / "E0107_import_cycle.net")
    names = {Path(p).name for p in result.program.files}
    assert {"E0107_import_cycle.net", "cycle_a.net", "cycle_b.net"} <= names


# ---- the parser-table cache is per user and cannot be planted ----------------------------------
def _check_in_subprocess(env_extra, timeout=60):
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-m", "netdsl", "check", str(ROOT / "specs" / "lenet.net")],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def test_the_tables_cache_lives_in_a_private_per_user_directory(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_CACHE_HOME": "", "NETDSL_CACHE_DIR": ""}
    assert _check_in_subprocess(env).returncode == 0
    folder = home / ".cache" / "netdsl"
    assert folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) == 0o700
    tables = list(folder.glob("netdsl-tables-*.marshal"))
    assert tables and all(stat.S_IMODE(t.stat().st_mode) == 0o600 for t in tables)


def test_a_fifo_planted_as_the_tables_cache_does_not_hang(tmp_path):
    from netdsl.frontend import grammar
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    env = {"NETDSL_CACHE_DIR": str(cache)}
    assert _check_in_subprocess(env).returncode == 0          # writes the real cache file
    (planted,) = cache.glob("netdsl-tables-*.marshal")
    planted.unlink()
    os.mkfifo(planted)
    proc = _check_in_subprocess(env, timeout=30)               # opening a FIFO to read would block forever
    assert proc.returncode == 0, proc.stderr
    assert grammar is not None


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to hand files to another user")
def test_a_cache_directory_or_file_of_another_user_is_not_trusted(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    env = {"NETDSL_CACHE_DIR": str(cache)}
    assert _check_in_subprocess(env).returncode == 0
    (tables,) = cache.glob("netdsl-tables-*.marshal")
    os.chown(tables, 4242, -1)
    from netdsl import cache as C
    assert C.read(str(tables)) is None
    os.chown(tables, os.getuid(), -1)
    assert C.read(str(tables)) is not None
    os.chown(cache, 4242, -1)
    assert C.read(str(tables)) is None and C.directory() != str(cache)
