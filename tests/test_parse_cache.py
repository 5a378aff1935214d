"""The cache of parsed files (netdsl/frontend/parse_cache.py): a hit gives the tree that
parsing gives, and anything it cannot trust (damaged, foreign, stale, another limit) is
ignored, the file parsed again. Speed is measured in bench/, not here."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from netdsl import check_file, check_source
from netdsl.frontend import ast as A
from netdsl.frontend import grammar, parse_cache
from netdsl.frontend.source import Source, Span
from netdsl.frontend.syntax import parse
from netdsl.limits import LIMITS
from netdsl.program import load_path
from netdsl.program import loader as loader_module
from netdsl.program.files import read_source

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.net")) + sorted((ROOT / "specs" / "lib").glob("*.net"))
LENET = ROOT / "specs" / "lenet.net"


pytestmark = pytest.mark.usefixtures("cache_dir")      # an empty cache per test (conftest.py)


@pytest.fixture
def parses(monkeypatch):
    """The files the loader really parsed (cache misses), by name."""
    seen = []

    def counting(src):
        seen.append(Path(src.name).name)
        return parse(src)
    monkeypatch.setattr(loader_module, "parse", counting)
    return seen


def same_tree(a, b, src_a: Source, src_b: Source) -> bool:
    """Equal node for node, each span in its own file's text at the same offsets."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Span):
        return a.source is src_a and b.source is src_b and (a.start, a.end) == (b.start, b.end)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same_tree(x, y, src_a, src_b) for x, y in zip(a, b))
    if isinstance(a, A._Node):
        return all(same_tree(getattr(a, f), getattr(b, f), src_a, src_b) for f in a._fields)
    return a == b


def classes(node) -> set[str]:
    return {type(n).__name__ for n in A.walk(node)}


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("netdsl-ast-*.marshal"))


def test_a_hit_gives_the_tree_parsing_gives(tmp_path):
    # Every spec of the zoo and the grammar's own sample (grammar.py: most rules,
    # optional gaps, keywords), each read back from its entry in a fresh Source.
    sample = tmp_path / "sample.net"
    sample.write_text(grammar._SAMPLES[0], encoding="utf-8")
    seen: set[str] = set()
    for path in [*SPECS, sample]:
        src = read_source(str(path))
        module, diags = parse(src)
        assert diags == [] and module is not None, path
        assert parse_cache.store(src, str(path), module), path
        again = read_source(str(path))          # another process's Source: same text, another object
        cached = parse_cache.load(again, str(path))
        assert cached is not None, path
        assert same_tree(cached, parse(again)[0], again, again), path
        seen |= classes(cached)
    assert seen >= {"Module", "Import", "Definition", "Param", "Call", "Arg", "Named", "Sequence", "If", "For",
                    "Repeat", "Ref", "Expect", "Chain", "Let", "Function", "Input", "Template", "Const", "Var",
                    "InShape", "BinOp", "Unary", "BoolOp", "CondExpr", "Attr", "Index", "FunCall", "TupleExpr",
                    "Comprehension", "RefShape"}, sorted(set(parse_cache._CLASSES) - seen)


def test_a_second_load_parses_nothing_and_checks_the_same(cache_dir, parses):
    spec = str(ROOT / "specs" / "resnet18.net")
    first = check_file(spec)
    assert parses == ["resnet18.net", "resnet.net"] and len(entries(cache_dir)) == 2
    second = check_file(spec)
    assert parses == ["resnet18.net", "resnet.net"]          # both files came from the cache
    assert second.ok and [g.network for g in second.graphs] == ["ResNet18"]
    assert [(n.name, n.kind, n.shape) for n in second.graphs[0].nodes] == \
           [(n.name, n.kind, n.shape) for n in first.graphs[0].nodes]
    assert second.graphs[0].nodes[-1].shape == (1000,)
    # the spans point into this run's own text of each file
    library = second.program.files[str(ROOT / "specs" / "lib" / "resnet.net")]
    block = second.program.blocks["BasicBlock"].ast
    assert block.span.source is library and block.name_span.text() == "BasicBlock"
    assert second.program.networks["ResNet18"].ast.span.source is second.program.root


def test_an_edited_file_is_parsed_again(tmp_path, cache_dir, parses):
    spec = tmp_path / "n.net"
    spec.write_text("network N {\n    input [3, 8, 8]\n    conv2d(4, 3)\n}\n", encoding="utf-8")
    assert check_file(str(spec)).graphs[0].nodes[-1].shape == (4, 6, 6)
    spec.write_text("network N {\n    input [3, 8, 8]\n    conv2d(5, 3)\n}\n", encoding="utf-8")
    assert check_file(str(spec)).graphs[0].nodes[-1].shape == (5, 6, 6)
    assert parses == ["n.net", "n.net"] and len(entries(cache_dir)) == 1     # the entry was replaced
    assert check_file(str(spec)).graphs[0].nodes[-1].shape == (5, 6, 6)
    assert parses == ["n.net", "n.net"]


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "garbage"])
def test_a_damaged_entry_is_ignored_and_rewritten(cache_dir, parses, damage):
    check_file(str(LENET))
    (entry,) = entries(cache_dir)
    data = entry.read_bytes()
    entry.write_bytes({"flip": data[:-40] + bytes([data[-40] ^ 1]) + data[-39:],
                       "truncate": data[:len(data) // 2], "empty": b"",
                       "garbage": b"\x00" * 8 + os.urandom(200)}[damage])
    result = check_file(str(LENET))
    assert result.ok and result.graphs[0].nodes[-1].shape == (10,)
    assert parses == ["lenet.net", "lenet.net"]
    assert entry.read_bytes() == data                       # parsed again and stored again
    check_file(str(LENET))
    assert parses == ["lenet.net", "lenet.net"]


def test_an_intact_entry_with_a_wrong_tree_is_not_trusted_beyond_its_text(tmp_path, cache_dir):
    # An entry is for one text: the same path with other text is a miss, never the old tree.
    spec = tmp_path / "n.net"
    spec.write_text("network N {\n    input [4]\n    linear(2)\n}\n", encoding="utf-8")
    src = read_source(str(spec))
    assert parse_cache.store(src, str(spec), parse(src)[0])
    other = Source.from_text(str(spec), "network N {\n    input [4]\n    linear(3)\n}\n")
    assert parse_cache.load(other, str(spec)) is None
    assert parse_cache.load(read_source(str(spec)), str(spec)) is not None


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX file modes")
def test_an_entry_others_can_write_is_ignored(cache_dir, parses):
    check_file(str(LENET))
    (entry,) = entries(cache_dir)
    entry.chmod(0o666)
    assert check_file(str(LENET)).ok
    assert parses == ["lenet.net", "lenet.net"]


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to hand a file to another user")
def test_an_entry_of_another_user_is_ignored(cache_dir, parses):
    check_file(str(LENET))
    (entry,) = entries(cache_dir)
    os.chown(entry, 4242, -1)
    assert check_file(str(LENET)).ok
    assert parses == ["lenet.net", "lenet.net"]


def test_a_cached_parse_still_obeys_lower_limits(tmp_path, parses):
    # Parsing enforces limits (nesting depth, digits): a file cached under the defaults
    # must still be refused under lower ones, as parsing it would be.
    spec = tmp_path / "deep.net"
    spec.write_text("let x = -(-(-(-(-1))))\nnetwork N {\n    input [4]\n    linear(x + 2)\n}\n", encoding="utf-8")
    assert check_file(str(spec)).ok
    with LIMITS.override(max_depth=3):
        result = check_file(str(spec))
    assert [d.code for d in result.errors] == ["E0104"]
    assert parses == ["deep.net", "deep.net"]


def test_an_entry_from_another_frontend_is_ignored(cache_dir, parses, monkeypatch):
    check_file(str(LENET))
    monkeypatch.setattr(parse_cache, "_code_stamp", lambda: 12345)     # as if syntax.py had changed
    assert check_file(str(LENET)).ok
    assert parses == ["lenet.net", "lenet.net"]


def test_files_with_parse_errors_and_text_not_from_a_file_are_not_stored(tmp_path, cache_dir):
    bad = tmp_path / "bad.net"
    bad.write_text("network N {\n    relu tanh\n}\n", encoding="utf-8")
    assert [d.code for d in check_file(str(bad)).errors] == ["E0101"]
    assert check_source(LENET.read_text(encoding="utf-8"), name=str(LENET)).ok
    assert entries(cache_dir) == []


def test_the_cache_directory_is_the_one_netdsl_cache_dir_names(tmp_path, monkeypatch):
    own = tmp_path / "elsewhere"
    monkeypatch.setenv("NETDSL_CACHE_DIR", str(own))
    load_path(str(LENET))
    assert len(entries(own)) == 1 and os.stat(entries(own)[0]).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("where", ["under a file", "writable by others"])
def test_without_a_usable_cache_directory_files_are_parsed_every_time(tmp_path, monkeypatch, parses, where):
    if where == "under a file":
        (tmp_path / "file").write_text("x", encoding="utf-8")
        folder = tmp_path / "file" / "cache"
    else:
        folder = tmp_path / "open"
        folder.mkdir()
        folder.chmod(0o777)
    monkeypatch.setenv("NETDSL_CACHE_DIR", str(folder))
    for _ in range(2):
        result = check_file(str(LENET))
        assert result.ok and result.graphs[0].nodes[-1].shape == (10,)
    assert parses == ["lenet.net", "lenet.net"]
    assert not folder.exists() or entries(folder) == []


def test_entries_are_bounded_the_least_recently_written_go(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setattr(parse_cache, "MAX_ENTRIES", 3)
    specs = []
    for i in range(5):
        spec = tmp_path / f"n{i}.net"
        spec.write_text(f"network N{i} {{\n    input [4]\n    linear({i + 1})\n}}\n", encoding="utf-8")
        assert check_file(str(spec)).ok
        entry = Path(parse_cache._path(str(spec.resolve())))
        os.utime(entry, ns=(10 ** 9 * (i + 1), 10 ** 9 * (i + 1)))       # written in this order
        specs.append(entry)
    assert entries(cache_dir) == sorted(specs[2:])
    # rewriting an existing entry (an edited file) removes nothing
    (tmp_path / "n4.net").write_text("network N4 {\n    input [4]\n    linear(9)\n}\n", encoding="utf-8")
    assert check_file(str(tmp_path / "n4.net")).graphs[0].nodes[-1].shape == (9,)
    assert entries(cache_dir) == sorted(specs[2:])
