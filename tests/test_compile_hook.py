"""`import netdsl.hook`, then `import lenet` finds lenet.net on sys.path."""
from __future__ import annotations

import importlib
import os
import shutil
import sys
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import netdsl
import netdsl.hook
import netdsl.output

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def spec_dir(tmp_path, monkeypatch):
    # The hook writes its cache as Python writes bytecode: not under -B or
    # PYTHONDONTWRITEBYTECODE (which some environments set); these tests want it written.
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.syspath_prepend(str(tmp_path))
    netdsl.hook.install()
    added = []
    yield tmp_path, added
    for name in added:
        sys.modules.pop(name, None)


def _import(name, added):
    added.append(name)
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    return importlib.import_module(name)


def test_import_a_spec(spec_dir):
    d, added = spec_dir
    shutil.copy(ROOT / "specs/lenet.net", d / "hook_lenet.net")
    module = _import("hook_lenet", added)
    model = module.LeNet(num_classes=10)
    assert isinstance(model, torch.nn.Module)
    assert tuple(model(torch.randn(3, 1, 28, 28)).shape) == (3, 10)
    assert sum(p.numel() for p in model.parameters()) == 61_706
    # cached next to the spec, and the module's text is what `netdsl compile` writes
    cache = d / "__pycache__" / "hook_lenet.netdsl.py"
    assert cache.exists()
    assert cache.read_text().split("\n", 1)[1] == netdsl.build_source(str(d / "hook_lenet.net")).replace(
        str(d / "hook_lenet.net"), "hook_lenet.net")
    # the source is findable, so torch.jit.script works on imported classes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # jit.script's deprecation notice
        scripted = torch.jit.script(model)
    assert tuple(scripted(torch.randn(1, 1, 28, 28)).shape) == (1, 10)


def test_changed_spec_is_recompiled_and_unchanged_reuses_the_cache(spec_dir):
    d, added = spec_dir
    spec = d / "hook_tiny.net"
    spec.write_text("network Tiny {\n  input [4]\n  linear(3)\n}\n")
    module = _import("hook_tiny", added)
    assert module.Tiny()(torch.randn(2, 4)).shape == (2, 3)
    cache = d / "__pycache__" / "hook_tiny.netdsl.py"
    stamp = cache.stat().st_mtime_ns
    module = _import("hook_tiny", added)          # unchanged: the cache is reused, not rewritten
    assert cache.stat().st_mtime_ns == stamp
    spec.write_text("network Tiny {\n  input [4]\n  linear(5)\n}\n")
    module = importlib.reload(module)
    assert module.Tiny()(torch.randn(2, 4)).shape == (2, 5)


def test_a_change_in_an_imported_file_recompiles(spec_dir):
    d, added = spec_dir
    (d / "lib_blocks.net").write_text("block Head(n: int) {\n  linear(n)\n}\n")
    (d / "hook_uses_lib.net").write_text('import "lib_blocks.net"\nnetwork U {\n  input [4]\n  Head(3)\n}\n')
    module = _import("hook_uses_lib", added)
    assert module.U()(torch.randn(2, 4)).shape == (2, 3)
    (d / "lib_blocks.net").write_text("block Head(n: int) {\n  linear(n * 2)\n}\n")
    module = importlib.reload(module)
    assert module.U()(torch.randn(2, 4)).shape == (2, 6)


def test_a_spec_with_errors_raises_spec_error_at_import(spec_dir):
    d, added = spec_dir
    (d / "hook_bad.net").write_text("network Bad {\n  input [3, 8, 8]\n  conv2d(4, 9)\n}\n")
    with pytest.raises(netdsl.SpecError) as info:
        _import("hook_bad", added)
    assert "E0301" in str(info.value)
    assert "hook_bad" not in sys.modules


def test_python_modules_win_and_missing_names_still_fail(spec_dir):
    d, added = spec_dir
    (d / "hook_both.net").write_text("network Tiny {\n  input [4]\n  linear(3)\n}\n")
    (d / "hook_both.py").write_text("WHO = 'python'\n")
    assert _import("hook_both", added).WHO == "python"
    with pytest.raises(ModuleNotFoundError):
        _import("hook_no_such_spec_anywhere", added)


def test_read_only_directory_falls_back_to_memory(spec_dir, monkeypatch):
    d, added = spec_dir
    (d / "hook_ro.net").write_text("network Tiny {\n  input [4]\n  linear(3)\n}\n")

    # (root ignores directory modes, so the refusal is simulated where the cache is written)
    monkeypatch.setattr("netdsl.cache.write_file", lambda *a, **k: (_ for _ in ()).throw(
        netdsl.output.OutputError("read-only")))
    module = _import("hook_ro", added)
    assert module.Tiny()(torch.randn(2, 4)).shape == (2, 3)
    assert not (d / "__pycache__" / "hook_ro.netdsl.py").exists()


def test_other_parameter_values_build_through_the_hook(spec_dir):
    d, added = spec_dir
    shutil.copy(ROOT / "specs/lenet.net", d / "hook_lenet2.net")
    module = _import("hook_lenet2", added)
    default = module.LeNet()
    assert isinstance(default, module.LeNet)
    five = module.LeNet(num_classes=5)
    assert isinstance(five, module.LeNet) and type(five) is module.LeNet       # issue 13, requirement 4
    assert five.linear_2.out_features == 5
    assert tuple(five(torch.randn(1, 1, 28, 28)).shape) == (1, 5)
    assert tuple(module.LeNet(7)(torch.randn(2, 1, 28, 28)).shape) == (2, 7)
    with pytest.raises(TypeError):
        module.LeNet(no_such_parameter=1)


def test_a_network_for_its_compiled_values_recompiles_through_the_hook(spec_dir):
    d, added = spec_dir
    (d / "hook_looped.net").write_text("network Looped(widths = [4, 8]) {\n    input [3, 8, 8]\n"
                                       "    for c in widths { conv2d(c, 3, padding=1) -> relu }\n}\n")
    module = _import("hook_looped", added)
    assert isinstance(module.Looped(), module.Looped)
    three = module.Looped(widths=(4, 8, 2))     # the class refuses other values: netdsl.load builds them
    assert tuple(three(torch.randn(1, 3, 8, 8)).shape) == (1, 2, 8, 8)


# ---- the cache in __pycache__ is trusted only when it is this user's, and complete ------------
PLANTED = "# netdsl-cache: {meta}\nimport builtins\nbuiltins.NETDSL_PLANTED = True\n__all__ = []\n"


def _plant(d, name, meta, mode=0o644, uid=None):
    import json

    from netdsl.backends.hook import _netdsl_stamp
    cache = d / "__pycache__" / f"{name}.netdsl.py"
    cache.parent.mkdir(exist_ok=True)
    cache.write_text(PLANTED.format(meta=json.dumps({"netdsl": _netdsl_stamp(), **meta})))
    cache.chmod(mode)
    if uid is not None:
        os.chown(cache, uid, -1)
    return cache


@pytest.mark.parametrize("how", ["foreign owner", "world-writable", "no dependencies", "spec not among them"])
def test_a_planted_cache_is_never_run(spec_dir, how):
    import builtins
    d, added = spec_dir
    name = f"hook_victim_{how.replace(' ', '_').replace('-', '_')}"
    (d / f"{name}.net").write_text("network Tiny {\n  input [4]\n  linear(3)\n}\n")
    other = d / "other.net"
    other.write_text("let x = 1\n")
    from netdsl.program.files import current_fingerprint
    meta = {"deps": {str(other.resolve()): current_fingerprint(other)}} if how == "spec not among them" \
        else {"deps": {}}
    if how == "foreign owner":
        if os.getuid() != 0:
            pytest.skip("needs root to give a file to another user")
        _plant(d, name, meta, uid=4242)
    elif how == "world-writable":
        _plant(d, name, meta, mode=0o666)
    else:
        _plant(d, name, meta)
    builtins.__dict__.pop("NETDSL_PLANTED", None)
    module = _import(name, added)
    assert not getattr(builtins, "NETDSL_PLANTED", False)
    assert module.Tiny()(torch.randn(2, 4)).shape == (2, 3)       # compiled from the spec instead


def test_no_cache_is_written_under_dont_write_bytecode(spec_dir, monkeypatch):
    d, added = spec_dir
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    (d / "hook_nob.net").write_text("network Tiny {\n  input [4]\n  linear(3)\n}\n")
    assert _import("hook_nob", added).Tiny()(torch.randn(2, 4)).shape == (2, 3)
    assert not (d / "__pycache__" / "hook_nob.netdsl.py").exists()


def test_the_stamp_covers_the_whole_package(monkeypatch):
    """A module codegen never was (catalogue/conv.py) saved again changes the stamp: the
    size and modification time of every file count, as in Python's own bytecode cache."""
    from types import SimpleNamespace

    from netdsl import cache
    from netdsl.backends import hook
    before = hook._netdsl_stamp()
    cache.package_stamp.cache_clear()
    real = os.scandir
    touched = []

    class SavedAgain:
        """A directory entry whose file was written again (one nanosecond later)."""

        def __init__(self, entry):
            self.entry = entry
            self.name, self.path = entry.name, entry.path

        def is_dir(self, **kw):
            return self.entry.is_dir(**kw)

        def stat(self):
            st = self.entry.stat()
            touched.append(self.path)
            return SimpleNamespace(st_size=st.st_size, st_mtime_ns=st.st_mtime_ns + 1)

    class Listing:
        def __init__(self, path):
            self.it = real(path)

        def __enter__(self):
            return [SavedAgain(e) if e.path.endswith(os.path.join("catalogue", "conv.py")) else e
                    for e in self.it.__enter__()]

        def __exit__(self, *exc):
            return self.it.__exit__(*exc)
    monkeypatch.setattr(os, "scandir", Listing)
    try:
        assert hook._netdsl_stamp() != before
        assert touched and touched[0].endswith(os.path.join("netdsl", "catalogue", "conv.py"))
    finally:
        cache.package_stamp.cache_clear()


def test_an_import_that_now_finds_another_file_recompiles(spec_dir, tmp_path, monkeypatch):
    """The spec's import first comes from $NETDSL_PATH; a file of that name put beside
    the spec comes first (program/imports.py), though no file the cache records changed."""
    d, added = spec_dir
    shared = tmp_path / "shared_lib"
    shared.mkdir()
    (shared / "hook_width.net").write_text("let WIDTH = 3\n")
    monkeypatch.setenv("NETDSL_PATH", str(shared))
    (d / "hook_shadowed.net").write_text('import "hook_width.net"\nnetwork N {\n  input [4]\n  linear(WIDTH)\n}\n')
    assert _import("hook_shadowed", added).N().linear.out_features == 3
    (d / "hook_width.net").write_text("let WIDTH = 6\n")
    assert _import("hook_shadowed", added).N().linear.out_features == 6


def test_a_constants_file_change_reaches_the_hook(spec_dir):
    d, added = spec_dir
    (d / "hook_consts.net").write_text("let WIDTH = 3\n")
    (d / "hook_uses.net").write_text('import "hook_consts.net"\nnetwork N {\n  input [4]\n  linear(WIDTH)\n}\n')
    assert _import("hook_uses", added).N().linear.out_features == 3
    (d / "hook_consts.net").write_text("let WIDTH = 5\n")
    assert _import("hook_uses", added).N().linear.out_features == 5
