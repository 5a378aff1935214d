"""The cache of compiled generated code behind netdsl.load (build.compiled_code): an
entry is used only for exactly the source, file name and Python it was compiled
with, and only if it is this user's and intact. Speed is measured in bench/."""
from __future__ import annotations

import marshal
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import netdsl  # noqa: E402
from netdsl import cache  # noqa: E402
from netdsl.backends import build  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LENET = str(ROOT / "specs" / "lenet.net")


pytestmark = pytest.mark.usefixtures("cache_dir")      # an empty cache per test (conftest.py)


@pytest.fixture
def compiles(monkeypatch):
    """The sources build really compiled (cache misses), and a fresh start: what a new
    process has in memory."""
    seen = []

    def counting(source, filename, mode):
        seen.append(source)
        return compile(source, filename, mode)
    monkeypatch.setattr(build, "compile", counting, raising=False)
    build._COMPILED.clear()
    build._MODULES.clear()
    yield seen
    build._COMPILED.clear()
    build._MODULES.clear()


def fresh_load(*args, **kwargs):
    build._COMPILED.clear()
    build._MODULES.clear()
    return netdsl.load(*args, **kwargs)


def code_entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("netdsl-code-*.marshal"))


def same_model(a, b) -> bool:
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        return ({k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in b.state_dict().items()}
                and torch.equal(a.eval()(x), b.eval()(x)))


def test_a_second_cold_load_compiles_nothing(cache_dir, compiles):
    import inspect
    first = fresh_load(LENET)
    assert len(compiles) == 1 and len(code_entries(cache_dir)) == 1
    second = fresh_load(LENET)
    assert len(compiles) == 1
    assert type(second) is not type(first) and same_model(first, second)
    # the text stays readable for inspect (and so torch.jit.script)
    assert "class LeNet(nn.Module):" in inspect.getsource(type(second))


def test_other_source_for_the_same_spec_is_compiled_again(compiles):
    assert fresh_load(LENET, num_classes=5)(torch.randn(1, 1, 28, 28)).shape == (1, 5)
    assert fresh_load(LENET, num_classes=7)(torch.randn(1, 1, 28, 28)).shape == (1, 7)
    assert fresh_load(LENET, num_classes=5)(torch.randn(1, 1, 28, 28)).shape == (1, 5)
    assert len(compiles) == 3               # one entry per spec and network: each change recompiles


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_a_damaged_entry_is_compiled_again(cache_dir, compiles, damage):
    first = fresh_load(LENET)
    (entry,) = code_entries(cache_dir)
    data = entry.read_bytes()
    entry.write_bytes({"flip": data[:100] + bytes([data[100] ^ 4]) + data[101:],
                       "truncate": data[:len(data) // 2], "empty": b""}[damage])
    assert same_model(first, fresh_load(LENET))
    assert len(compiles) == 2 and entry.read_bytes() == data


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX file modes")
def test_an_entry_others_can_write_is_ignored(cache_dir, compiles):
    fresh_load(LENET)
    (entry,) = code_entries(cache_dir)
    entry.chmod(0o666)
    fresh_load(LENET)
    assert len(compiles) == 2


def test_an_entry_is_for_its_source_file_name_and_python_only(cache_dir):
    source = "VALUE = 'compiled'\n"
    build.compiled_code(source, "<f>", "slot")
    (entry,) = code_entries(cache_dir)
    stamp, text, _ = marshal.loads(cache.read_checked(str(entry)))
    assert text == source

    def plant(stamp, text):
        planted = marshal.dumps(compile("VALUE = 'planted'\n", "<f>", "exec"))
        assert cache.store_checked(str(entry), marshal.dumps((stamp, text, planted)))

    def run(code) -> str:
        space: dict = {}
        exec(code, space)
        return space["VALUE"]

    plant(stamp, source)                    # what the checks guard: an entry as written is used
    assert run(build.compiled_code(source, "<f>", "slot")) == "planted"
    plant((*stamp[:2], stamp[2] + 1, *stamp[3:]), source)           # another Python's
    assert run(build.compiled_code(source, "<f>", "slot")) == "compiled"
    plant(stamp, source)
    assert run(build.compiled_code(source, "<other file name>", "slot")) == "compiled"
    plant(stamp, "VALUE = 'other'\n")
    assert run(build.compiled_code(source, "<f>", "slot")) == "compiled"


def test_spec_text_and_no_usable_directory_write_nothing(tmp_path, monkeypatch, cache_dir, compiles):
    text = Path(LENET).read_text(encoding="utf-8")
    fresh_load(text)
    fresh_load(text)
    assert len(compiles) == 2 and code_entries(cache_dir) == []
    (tmp_path / "file").write_text("x", encoding="utf-8")
    monkeypatch.setenv("NETDSL_CACHE_DIR", str(tmp_path / "file" / "cache"))
    assert fresh_load(LENET)(torch.randn(1, 1, 28, 28)).shape == (1, 10)
