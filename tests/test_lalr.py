"""netdsl's LALR runtime (netdsl/lalr.py) parses exactly as Lark does.

Lark compiles the grammar into tables and netdsl runs them without importing lark.
Here Lark itself is the reference: for every zoo spec, every language-page
example, every diagnostics-corpus file and thousands of mutants of them, both
parsers see the same text through the same post-lexer and must agree on
everything: the tree (rule names, children, None placeholders, tokens and the
positions of every node), or the error (the kind, the offending token or
character, the `expected` set and the `accepts()` set).
"""
from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz import mutate
from test_fuzz import tokens as split_tokens

from netdsl.frontend import grammar, lalr
from netdsl.frontend.layout import Layout, LayoutError

ROOT = Path(__file__).resolve().parent.parent
TEXTS = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8", errors="replace")
         for pattern in ("specs/*.net", "tests/diagnostics/*.net", "tests/fuzz_corpus/*.net")
         for p in sorted(ROOT.glob(pattern))}
TEXTS.update({f"docs/language.md#{i}": block for i, block in enumerate(
    re.findall(r"```netdsl\n(.*?)```", (ROOT / "docs" / "language.md").read_text(encoding="utf-8"), re.S))})


@pytest.fixture(scope="module")
def lark_parser():
    return grammar.lark_parser()


def flat(root, describe):
    """A tree as a flat list in pre-order (iterative: the corpus nests deeply)."""
    out, todo = [], [root]
    while todo:
        node = todo.pop()
        entry, children = describe(node)
        out.append(entry)
        todo.extend(reversed(children))
    return out


def lark_outcome(parser, text: str):
    """What Lark makes of `text`, in a plain comparable form."""
    from lark import Token, Tree
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    def describe(node):
        if isinstance(node, Tree):
            meta = node.meta
            span = (None, None) if meta.empty else (meta.start_pos, meta.end_pos)
            return (str(node.data), len(node.children), *span), node.children
        if isinstance(node, Token):
            return ("token", node.type, str(node.value), node.start_pos, node.end_pos), []
        assert node is None
        return None, []

    try:
        return ("tree", flat(parser.parse(text), describe))
    except UnexpectedCharacters as e:
        return ("character", e.pos_in_stream)
    except UnexpectedToken as e:
        tok = e.token
        return ("token", tok.type, tok.start_pos, sorted(e.expected), sorted(e.interactive_parser.accepts()))
    except LayoutError as e:
        return ("layout", e.code, e.message, e.token.start_pos)


def netdsl_outcome(text: str):
    """The same for netdsl's runtime, building plain tuples instead of AST nodes."""
    tables = grammar.tables()

    def build(name, children, start, end):
        return (name, len(children), start, end), children

    def describe(node):
        if isinstance(node, lalr.Token):
            return ("token", node.type, node.value, node.start_pos, node.end_pos), []
        return node if node is not None else (None, [])

    try:
        return ("tree", flat(lalr.parse(tables, Layout().process(lalr.tokens(tables, text)), build), describe))
    except lalr.UnexpectedCharacter as e:
        return ("character", e.pos)
    except lalr.UnexpectedToken as e:
        tok = e.token
        return ("token", tok.type, tok.start_pos, sorted(e.expected), sorted(e.accepts))
    except LayoutError as e:
        return ("layout", e.code, e.message, e.token.start_pos)


def test_the_corpus_covers_trees_and_every_kind_of_error(lark_parser):
    kinds = {lark_outcome(lark_parser, text)[0] for text in TEXTS.values()}
    assert kinds == {"tree", "token", "character", "layout"}, kinds
    assert len(TEXTS) > 100


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_same_outcome_as_lark(lark_parser, name):
    text = TEXTS[name]
    assert netdsl_outcome(text) == lark_outcome(lark_parser, text)


def test_same_outcome_on_mutants(lark_parser):
    rng = random.Random(20261124)
    sources = [t for t in TEXTS.values() if len(t) < 20_000]
    pool = sorted({tok for text in sources for tok in split_tokens(text)})
    trees = errors = 0
    for _ in range(1500):
        text = mutate(rng.choice(sources), rng, pool)
        expected = lark_outcome(lark_parser, text)
        assert netdsl_outcome(text) == expected, text
        trees += expected[0] == "tree"
        errors += expected[0] != "tree"
    assert trees > 100 and errors > 500     # both paths are exercised


# Short random token soups reach parser states that whole files rarely do.
WORDS = ["network", "block", "N", "x", "in", "if", "else", "for", "repeat", "as", "let", "input", "expect",
         "import", "(", ")", "[", "]", "{", "}", ",", ":", "->", "=", "+", "-", "*", "//", "**", "==", ".",
         "1", "2.5", "'s'", '"n{i}"', "@r", "true", "none", "not", "and", "or", "\n", ";", "# c\n"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(WORDS), max_size=30))
def test_same_outcome_on_token_soup(lark_parser, words):
    text = " ".join(words)
    assert netdsl_outcome(text) == lark_outcome(lark_parser, text)


def test_tables_cache_is_rebuilt_when_stale(tmp_path, monkeypatch):
    # A cache file from another grammar text (or a damaged one) is never used.
    monkeypatch.setenv("NETDSL_CACHE_DIR", str(tmp_path))
    path = Path(grammar._cache_path(grammar.grammar_text(), grammar.lark_version()))
    assert path.parent == tmp_path
    path.write_bytes(b"not marshal data")
    grammar.tables.cache_clear()
    try:
        fresh = grammar.tables()
        assert fresh.states and path.stat().st_size > 1000        # rebuilt and rewritten
        import marshal
        data = marshal.loads(path.read_bytes())
        data["grammar"] = data["grammar"] + "\n// edited"
        path.write_bytes(marshal.dumps(data))
        grammar.tables.cache_clear()
        grammar.tables()
        assert marshal.loads(path.read_bytes())["grammar"] == grammar.grammar_text()
        if hasattr(os, "getuid"):
            # A file others may write is not trusted (the temp dir is shared): it is
            # replaced, not read. The planted table here would make the parse fail.
            data = marshal.loads(path.read_bytes())
            data["states"] = [{} for _ in data["states"]]
            path.write_bytes(marshal.dumps(data))
            path.chmod(0o666)
            grammar.tables.cache_clear()
            assert any(grammar.tables().states)   # the planted rows are all empty; real ones are not
            assert not path.stat().st_mode & 0o022
    finally:
        grammar.tables.cache_clear()


def test_running_netdsl_check_does_not_import_lark(tmp_path):
    # The point of the runtime: with the tables cached, no lark at all.
    import subprocess
    import sys
    code = ("import sys; from netdsl.cli import main; sys.argv = ['netdsl', 'check', 'specs/lenet.net']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert 'lark' not in sys.modules, 'lark was imported'\nprint('ok')")
    grammar.tables()      # make sure the cache exists
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip().endswith("ok"), out.stdout + out.stderr
