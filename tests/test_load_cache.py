"""The disk cache of what netdsl.load generated (backends/load_cache.py): a spec file
loaded again in a new process, unchanged, is not checked again; anything it depended
on that changed (its text, an imported file's, where an import resolves, the request,
the limits, netdsl's own code), or a damaged or untrusted entry, makes load check it
again. Speed is measured in bench/ (bench_forward.py's "cold")."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import netdsl  # noqa: E402
from netdsl.backends import build, load_cache  # noqa: E402
from netdsl.limits import LIMITS  # noqa: E402

pytestmark = pytest.mark.usefixtures("cache_dir")      # an empty cache per test (conftest.py)

LIB = "block Head(k: int) {\n    linear(k)\n}\n"
SPEC = 'import "lib.net"\nnetwork N(k = 3) {\n    input [4]\n    Head(k)\n}\n'


@pytest.fixture
def checks(monkeypatch):
    """The specs load really checked, and a fresh start: what a new process has in memory."""
    seen = []
    real = build.check_spec

    def counting(path_or_source, *args, **kwargs):
        seen.append(path_or_source)
        return real(path_or_source, *args, **kwargs)
    monkeypatch.setattr(build, "check_spec", counting)
    forget()
    yield seen
    forget()


def forget():
    build._COMPILED.clear()
    build._MODULES.clear()


def fresh_load(*args, **kwargs):
    forget()
    return netdsl.load(*args, **kwargs)


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("netdsl-load-*.marshal"))


def out_features(model) -> int:
    return model(torch.randn(2, 4)).shape[1]


@pytest.fixture
def spec(tmp_path) -> Path:
    (tmp_path / "lib.net").write_text(LIB, encoding="utf-8")
    path = tmp_path / "spec.net"
    path.write_text(SPEC, encoding="utf-8")
    return path


def test_a_second_cold_load_checks_nothing(spec, cache_dir, checks):
    first = fresh_load(str(spec))
    assert len(checks) == 1 and len(entries(cache_dir)) == 1
    second = fresh_load(str(spec))
    assert len(checks) == 1 and out_features(second) == 3
    assert type(second) is not type(first)      # a new module, from the kept source
    assert [k for k in first.state_dict()] == [k for k in second.state_dict()]


def test_a_changed_spec_or_imported_file_is_checked_again(spec, checks):
    fresh_load(str(spec))
    spec.write_text(SPEC.replace("k = 3", "k = 5"), encoding="utf-8")
    assert out_features(fresh_load(str(spec))) == 5
    (spec.parent / "lib.net").write_text(LIB.replace("linear(k)", "linear(k + 1)"), encoding="utf-8")
    assert out_features(fresh_load(str(spec))) == 6
    assert len(checks) == 3


def test_an_import_that_now_finds_another_file_is_checked_again(tmp_path, monkeypatch, checks):
    """lib.net first comes from the search path; a lib.net put beside the spec comes
    first in import order (program/imports.py), though no file the check read changed."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "lib.net").write_text(LIB, encoding="utf-8")
    own = tmp_path / "own"
    own.mkdir()
    path = own / "spec.net"
    path.write_text(SPEC, encoding="utf-8")
    monkeypatch.setenv("NETDSL_PATH", str(shared))
    assert out_features(fresh_load(str(path))) == 3
    (own / "lib.net").write_text(LIB.replace("linear(k)", "linear(2 * k)"), encoding="utf-8")
    assert out_features(fresh_load(str(path))) == 6
    assert len(checks) == 2
    # and an import that no longer resolves is the check's error again, not an old module
    (own / "lib.net").unlink()
    (shared / "lib.net").unlink()
    with pytest.raises(netdsl.SpecError):
        fresh_load(str(path))
    assert len(checks) == 3


def test_other_requests_have_entries_of_their_own(spec, cache_dir, checks):
    assert out_features(fresh_load(str(spec), k=7)) == 7
    assert out_features(fresh_load(str(spec))) == 3
    assert out_features(fresh_load(str(spec), k=7)) == 7
    assert out_features(fresh_load(str(spec))) == 3
    assert len(checks) == 2 and len(entries(cache_dir)) == 2


def test_other_limits_are_checked_again(spec, monkeypatch, checks):
    fresh_load(str(spec))
    monkeypatch.setattr(LIMITS, "max_layers", 0)
    with pytest.raises(netdsl.SpecError):       # the limit refuses what the entry holds
        fresh_load(str(spec))
    assert len(checks) == 2


def test_other_netdsl_code_is_checked_again(spec, monkeypatch, checks):
    fresh_load(str(spec))
    monkeypatch.setattr(load_cache, "code_stamp", lambda: "another netdsl")
    fresh_load(str(spec))
    assert len(checks) == 2


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_a_damaged_entry_is_checked_again(spec, cache_dir, checks, damage):
    fresh_load(str(spec))
    (entry,) = entries(cache_dir)
    data = entry.read_bytes()
    entry.write_bytes({"flip": data[:60] + bytes([data[60] ^ 4]) + data[61:],
                       "truncate": data[:len(data) // 2], "empty": b""}[damage])
    assert out_features(fresh_load(str(spec))) == 3
    assert len(checks) == 2


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX file modes")
def test_an_entry_others_can_write_is_ignored(spec, cache_dir, checks):
    fresh_load(str(spec))
    (entry,) = entries(cache_dir)
    entry.chmod(0o666)
    fresh_load(str(spec))
    assert len(checks) == 2


def test_a_planted_entry_for_other_files_is_not_used(spec, cache_dir, checks):
    """An entry as written is what the checks guard: with another file's digest in it
    (the spec as it was when the entry was made), it is not used."""
    import marshal

    from netdsl import cache
    fresh_load(str(spec))
    (entry,) = entries(cache_dir)
    stamp, request, fields = marshal.loads(cache.read_checked(str(entry)))
    deps = {path: "0" * 64 for path in fields[0]}
    planted = fields[4].replace("out_features=k", "out_features=k + 100")
    assert planted != fields[4]
    assert cache.store_checked(str(entry), marshal.dumps((stamp, request, (fields[0], *fields[1:4], planted,
                                                                           fields[5]))))
    assert out_features(fresh_load(str(spec))) == 103        # the guard is the entry's own checks
    assert cache.store_checked(str(entry), marshal.dumps((stamp, request, (deps, *fields[1:4], planted,
                                                                           fields[5]))))
    assert out_features(fresh_load(str(spec))) == 3
    assert len(checks) == 2


def test_spec_text_and_specs_with_errors_write_no_entry(spec, cache_dir, checks):
    fresh_load(SPEC.replace('import "lib.net"\n', LIB))
    spec.write_text(SPEC.replace("k = 3", "k = 0"), encoding="utf-8")
    for _ in range(2):
        with pytest.raises(netdsl.SpecError):
            fresh_load(str(spec))
    assert entries(cache_dir) == [] and len(checks) == 3


def test_no_usable_cache_directory_still_loads(spec, tmp_path, monkeypatch, checks):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    monkeypatch.setenv("NETDSL_CACHE_DIR", str(tmp_path / "file" / "cache"))
    assert out_features(fresh_load(str(spec))) == 3
    assert out_features(fresh_load(str(spec))) == 3
    assert len(checks) == 2         # nothing kept: each new process checks again
