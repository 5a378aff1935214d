"""netdsl survives Lark: the tables it reads out of Lark's private details, and the
fallback to Lark's own parser when they cannot be read (netdsl/frontend/grammar.py,
netdsl/frontend/lark_fallback.py).

Both paths must give the same AST, node for node and span for span, or the same
diagnostics, on every spec, language-page example and corpus file (and mutants of
them); a spec must go through every command with the extraction broken on purpose;
the table cache is keyed by the Lark version; and the newest Lark on the index is
tried in a scratch directory, so a release that breaks the contract shows up here
before the version bound in pyproject.toml is raised.
"""
from __future__ import annotations

import marshal
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_fuzz import mutate
from test_fuzz import tokens as split_tokens

from netdsl.frontend import grammar, lalr, syntax
from netdsl.frontend.lark_fallback import LarkParser
from netdsl.frontend.source import DecodeError, Source, Span
from netdsl.limits import LIMITS
from netdsl.record import Record

ROOT = Path(__file__).resolve().parent.parent
_FENCE = re.compile(r"^```netdsl([^\n]*)\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)   # as in test_language.py


def _source(name: str, data: bytes) -> Source:
    try:
        return Source.from_bytes(name, data)
    except DecodeError:         # the parser still sees what a lenient reader would pass on
        return Source.from_text(name, data.decode("utf-8", errors="replace"))


TEXTS = {p.relative_to(ROOT).as_posix(): _source(p.name, p.read_bytes())
         for pattern in ("specs/*.net", "tests/diagnostics/*.net", "tests/fuzz_corpus/*")
         for p in sorted(ROOT.glob(pattern))}
TEXTS.update({f"docs/language.md#{i}": Source.from_text(f"example_{i}.net", m.group(2)) for i, m in enumerate(
    _FENCE.finditer((ROOT / "docs" / "language.md").read_text(encoding="utf-8")))})
# The runtime builds each node as it reduces, so an error in what came before a
# syntax error wins; Lark only fails at the end: the adapter must replay.
_BEFORE_A_SYNTAX_ERROR = {
    "number": "let a = 1" + "0" * (LIMITS.max_int_digits + 1),
    "nesting": "let a = " + "-" * (LIMITS.max_depth + 5) + "1",
    "template": 'network N {\n    "x{": relu',
}
TEXTS.update({f"precedence/{k}": Source.from_text(f"{k}.net", v + "\nlet b = )\n")
              for k, v in _BEFORE_A_SYNTAX_ERROR.items()})


def dump(root) -> list:
    """An AST as a flat pre-order list: each node's class, each plain field value,
    each span as (start, end). Iterative: the corpus nests deeply."""
    out, todo = [], [root]
    while todo:
        x = todo.pop()
        if isinstance(x, Span):
            out.append(("span", x.start, x.end))
        elif isinstance(x, Record):
            out.append((type(x).__name__, x._fields))
            todo.extend(reversed([getattr(x, f) for f in x._fields]))
        elif isinstance(x, (tuple, list)):
            out.append((type(x).__name__, len(x)))
            todo.extend(reversed(x))
        else:
            out.append((type(x).__name__, x))
    return out


def outcome(source: Source):
    module, diagnostics = syntax.parse(source)
    if module is not None:
        return "ast", dump(module)
    return "diagnostics", [(d.severity, str(d.code), d.message, d.notes, d.help,
                            [(l.span and (l.span.start, l.span.end), l.message, l.primary) for l in d.labels])
                           for d in diagnostics]


def _clear():
    grammar.tables.cache_clear()
    grammar.parser.cache_clear()
    grammar._shared_lark.cache_clear()


def _broken(parser):
    raise AttributeError("'Scanner' object has no attribute '_mres'")    # as a Lark release might make it


def _rename_a_private_attribute(mp: pytest.MonkeyPatch):
    # What the issue feared: Lark renames an attribute netdsl reads (here the
    # terminals of a Scanner, which Lark itself only uses while building it).
    import lark.lexer
    init = lark.lexer.Scanner.__init__

    def renamed(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.renamed_terminals = self.__dict__.pop("terminals")
    mp.setattr(lark.lexer.Scanner, "__init__", renamed)


def _mutants(n: int) -> dict[str, Source]:
    rng = random.Random(20260301)
    texts = [s.text for s in TEXTS.values() if len(s.text) < 20_000]
    pool = sorted({tok for text in texts for tok in split_tokens(text)})
    return {f"mutant/{i}": Source.from_text(f"m{i}.net", mutate(rng.choice(texts), rng, pool)) for i in range(n)}


MUTANTS = _mutants(400)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """name -> (outcome with the tables, outcome with Lark's own parser)."""
    sources = {**TEXTS, **MUTANTS}
    _clear()
    assert isinstance(grammar.parser(), lalr.Tables), "the installed Lark no longer gives netdsl its tables"
    with_tables = {name: outcome(s) for name, s in sources.items()}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NETDSL_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))     # nothing cached to fall back on
        mp.setattr(grammar, "build_tables", _broken)
        _clear()
        try:
            assert isinstance(grammar.parser(), LarkParser)
            with_lark = {name: outcome(s) for name, s in sources.items()}
        finally:
            _clear()
    return {name: (with_tables[name], with_lark[name]) for name in sources}


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_same_ast_or_diagnostics_with_lark_parser(both, name):
    tables, lark = both[name]
    assert lark == tables


def _kind(result) -> str:
    return "ast" if result[0] == "ast" else result[1][0][1]      # or the first diagnostic's code


def test_same_outcome_on_mutants_with_lark_parser(both):
    for name in MUTANTS:
        tables, lark = both[name]
        assert lark == tables, MUTANTS[name].text
    kinds = {_kind(both[name][0]) for name in MUTANTS}
    assert {"ast", "E0101"} <= kinds, kinds      # trees and syntax errors both compared


def test_same_corpus_covers_asts_and_every_parse_diagnostic(both):
    kinds = {_kind(both[name][0]) for name in TEXTS}
    assert {"ast", "E0101", "E0102", "E0103", "E0104", "E0105"} <= kinds, kinds
    # What came before the syntax error is reported, by both paths (compared above).
    first = [both[f"precedence/{k}"][0][1][0][2] for k in _BEFORE_A_SYNTAX_ERROR]
    assert first == ["number literal is too large", f"nested more than {LIMITS.max_depth} levels deep",
                     "unbalanced `{` or `}` in a layer name"], first


def test_same_tables_from_the_installed_lark(tmp_path, monkeypatch):
    # Freshly built tables pass the sample check and are cached under this Lark's version.
    import lark
    monkeypatch.setenv("NETDSL_CACHE_DIR", str(tmp_path))
    _clear()
    try:
        assert isinstance(grammar.parser(), lalr.Tables)
        (path,) = tmp_path.iterdir()
        assert path.name.endswith(f"-lark{lark.__version__}.marshal")
        assert marshal.loads(path.read_bytes())["lark"] == lark.__version__
    finally:
        _clear()


def test_tables_that_parse_differently_from_lark_are_not_used(tmp_path, monkeypatch):
    # As if a Lark release changed what a private detail means rather than its name
    # (here the None placeholders of trailing [optional]s): the tables would load and
    # run, building other trees. The sample check at build time catches it.
    monkeypatch.setenv("NETDSL_CACHE_DIR", str(tmp_path))
    shape = grammar._shape
    monkeypatch.setattr(grammar, "_shape", lambda rule: (*shape(rule)[:5], 0))
    _clear()
    try:
        with pytest.raises(RuntimeError, match="do not parse as Lark does"):
            grammar.tables()
        assert isinstance(grammar.parser(), LarkParser)
        assert list(tmp_path.iterdir()) == []            # nothing cached for the next run
    finally:
        _clear()


# ---- every command with the extraction broken --------------------------------------
def _every_output(path: str) -> tuple:
    from netdsl import check_file
    from netdsl.backends import summary
    from netdsl.backends.build import build_source
    from netdsl.backends.digraph import to_networkx
    from netdsl.backends.render import dot_source
    result = check_file(path)
    assert result.ok and result.diagnostics == [], result.diagnostics
    (g,) = result.graphs
    return summary.FORMATS["text"](summary.build(g)), dot_source(to_networkx(g)), build_source(path)


def test_a_spec_goes_through_every_command_with_the_extraction_broken(tmp_path):
    spec = str(ROOT / "specs" / "resnet18.net")
    _clear()
    expected = _every_output(spec)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NETDSL_CACHE_DIR", str(tmp_path))
        _rename_a_private_attribute(mp)
        _clear()
        try:
            assert isinstance(grammar.parser(), LarkParser)     # the breakage does reach the extraction
            assert _every_output(spec) == expected
        finally:
            _clear()


DRIVER = """\
import sys
import lark.lexer
init = lark.lexer.Scanner.__init__
def renamed(self, *args, **kwargs):      # as if a Lark release renamed a private attribute
    init(self, *args, **kwargs)
    self.renamed_terminals = self.__dict__.pop("terminals")
lark.lexer.Scanner.__init__ = renamed
from netdsl.cli import main
main(sys.argv[1:])
"""


def _cli(args, cache: Path, debug: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NETDSL_DEBUG"}
    env["NETDSL_CACHE_DIR"] = str(cache)
    if debug:
        env["NETDSL_DEBUG"] = "1"
    return subprocess.run([sys.executable, "-c", DRIVER, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args", [("check", "specs/resnet18.net"), ("summary", "specs/resnet18.net"),
                                  ("compile", "specs/lenet.net", "-o", "-")])
def test_cli_works_with_the_extraction_broken(tmp_path, args):
    out = _cli(args, tmp_path, debug=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stderr == "" and out.stdout           # the fallback is silent without NETDSL_DEBUG
    assert list(tmp_path.glob("netdsl-tables-*")) == []            # and caches no tables


def test_cli_says_once_when_it_falls_back_under_netdsl_debug(tmp_path):
    out = _cli(("check", "specs/resnet18.net"), tmp_path, debug=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "internal error" not in out.stderr
    (line,) = [ln for ln in out.stderr.splitlines() if ln.startswith("netdsl:")]
    assert "parser tables unavailable (AttributeError" in line and line.endswith("using Lark's parser")


# ---- the cache key -----------------------------------------------------------------
def test_a_cache_written_under_another_lark_version_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("NETDSL_CACHE_DIR", str(tmp_path))
    text = grammar.grammar_text()
    assert grammar._cache_path(text, "1.3.1") != grammar._cache_path(text, "1.3.2")
    _clear()
    try:
        real = grammar.lark_version()
        grammar.tables()
        data = marshal.loads(Path(grammar._cache_path(text, real)).read_bytes())
        # Tables "from another Lark": if netdsl read them, every parse would fail.
        planted = dict(data, lark="0.1-other", states=[{} for _ in data["states"]])
        Path(grammar._cache_path(text, "0.1-other")).write_bytes(marshal.dumps(planted))
        monkeypatch.setattr(grammar, "lark_version", lambda: "0.2-newer")
        _clear()
        assert any(grammar.tables().states)
        assert Path(grammar._cache_path(text, "0.2-newer")).is_file()        # rebuilt under the new key
        # A file under the right name but built by another version is not used either.
        Path(grammar._cache_path(text, "0.2-newer")).write_bytes(marshal.dumps(planted))
        _clear()
        assert any(grammar.tables().states)
    finally:
        _clear()


def test_lark_version_is_read_without_importing_lark():
    # (What it costs is measured in bench/README.md, not asserted here.)
    code = ("import sys\nfrom netdsl.frontend.grammar import lark_version\n"
            "v = lark_version()\nassert 'lark' not in sys.modules, 'lark was imported'\n"
            "import lark\nprint(v, lark.__version__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    found, real = out.stdout.split()
    assert found == real


def test_netdsl_works_from_the_cache_without_lark(tmp_path, monkeypatch):
    # python -I -S: no site-packages and no PYTHONPATH, so no lark at all (nor click:
    # the API, not the CLI).
    monkeypatch.setenv("NETDSL_CACHE_DIR", str(tmp_path))
    _clear()
    try:
        grammar.tables()              # a trusted cache, from whichever Lark is installed
    finally:
        _clear()
    code = ("import sys; sys.path.insert(0, '.')\nfrom netdsl import check_file\n"
            "from netdsl.frontend.grammar import lark_version\n"
            "r = check_file('specs/resnet18.net')\n"
            "print(lark_version(), r.ok, 'lark' in sys.modules)")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "NETDSL_CACHE_DIR": str(tmp_path)})
    assert out.stdout.split() == ["None", "True", "False"], out.stdout + out.stderr


# ---- the newest Lark ---------------------------------------------------------------
@pytest.mark.slow
def test_newest_lark_keeps_the_contract(tmp_path):
    # Whatever the index offers now, unpinned: a Lark release that breaks the tables
    # (or the fallback) fails here first. Lark is pure Python and needs nothing else.
    site = tmp_path / "site"
    try:
        pip = subprocess.run([sys.executable, "-m", "pip", "install", "--upgrade", "--target", str(site), "--quiet",
                              "--disable-pip-version-check", "--no-input", "--timeout", "15", "--retries", "0", "lark"],
                             capture_output=True, text=True, timeout=40)
    except subprocess.TimeoutExpired:
        pytest.skip("pip could not fetch lark from the package index within 40 s")
    if pip.returncode != 0:
        pytest.skip(f"pip could not install the newest lark: {pip.stderr.strip()[-400:]}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), "NETDSL_CACHE_DIR": str(tmp_path)}
    which = subprocess.run([sys.executable, "-c", "import lark; print(lark.__version__, lark.__file__)"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert which.returncode == 0, which.stderr
    version, where = which.stdout.split()
    assert Path(where).is_relative_to(site), where          # the new Lark, not the installed one
    # The comparisons only: tables against Lark itself (test_lalr.py), fallback against tables (here).
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow",
                          "-k", "same", str(ROOT / "tests" / "test_lalr.py"), str(Path(__file__))],
                         cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)       # a bound, not a speed test: the machine may be busy
    assert out.returncode == 0, f"lark {version}:\n{out.stdout[-3000:]}{out.stderr[-2000:]}"
