"""The grammar (grammars/netdsl.lark) and the LALR tables Lark compiles from it.

Lark builds the tables once per grammar text and Lark version; they are cached as a
marshal file in the user's cache directory (netdsl/cache.py), so an ordinary netdsl
run reads ~30 KB of plain data and never imports lark. The cache holds the grammar text it was built
from and is used only when that text is identical; anything unreadable is rebuilt.

Reading the tables out of Lark takes its private details (build_tables), which any
Lark release may change. So freshly built tables must parse a sample exactly as
Lark does, and when they cannot be had at all, parser() falls back to Lark's own
parser through its public API (lark_fallback.py): slower to start, same results.
"""
from __future__ import annotations

import functools
import marshal
import os
import sys

from .. import cache
from . import lalr
from .layout import Layout

# Bump when the table layout or the runtime's reading of it changes.
TABLES_FORMAT = 2


@functools.lru_cache(maxsize=1)
def grammar_text() -> str:
    # Plain file reads first (a source checkout or editable install has grammars/
    # beside the package; a wheel maps it to netdsl/_grammars/): importlib.resources
    # costs start-up time and is only needed for zipped installs.
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))      # netdsl/
    for candidate in (os.path.join(package, "_grammars", "netdsl.lark"),
                      os.path.join(os.path.dirname(package), "grammars", "netdsl.lark")):
        try:
            with open(candidate, encoding="utf-8") as f:
                return f.read()
        except OSError:
            continue
    from importlib import resources
    return resources.files("netdsl._grammars").joinpath("netdsl.lark").read_text(encoding="utf-8")


def lark_parser(strict: bool = False):
    """Lark's own parser for the grammar, with netdsl's post-lexer: what the tables
    are built from, the fallback, and the reference tests/test_lalr.py compares the
    runtime with."""
    from .lark_fallback import make_lark
    return make_lark(grammar_text(), strict=strict)


def lark_version() -> str | None:
    """The version of the lark that `import lark` would load; None if there is none.

    Read from the text of lark/__init__.py: a warm `netdsl check` must not import
    lark, and reading the file is cheap (bench/README.md has both figures)."""
    module = sys.modules.get("lark")
    if module is not None:
        return str(getattr(module, "__version__", "unknown"))
    # What importlib.util.find_spec does, without importing importlib.util.
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        spec = find("lark", None) if find is not None else None
        if spec is not None:
            break
    else:
        return None
    try:
        with open(spec.origin, encoding="utf-8") as f:
            source = f.read()
    except (OSError, TypeError):        # not a plain file (a zip, say): still a key, if a coarse one
        return "unknown"
    for line in source.splitlines():
        if line.startswith("__version__"):
            return line.partition("=")[2].strip().strip("\"'")
    return "unknown"


def build_tables(parser) -> dict:
    """Lark's lexer pattern, keyword map and LALR tables as plain data (private
    details of Lark: the reason for the checks in tables() and for the fallback)."""
    from lark.lexer import PatternStr
    from lark.parsers.lalr_analysis import Shift

    lexer = parser.parser.lexer.lexer            # the basic lexer behind the post-lexer
    scanner = lexer.scanner                      # builds the pattern and the keyword callbacks
    if len(scanner._mres) != 1:
        raise RuntimeError("the grammar needs more regex groups than one pattern holds")
    keywords = {}
    for kind, callback in lexer.callback.items():
        terms = callback.scanner.terminals       # Lark's UnlessCallback: exact strings only
        if not all(isinstance(t.pattern, PatternStr) and not t.pattern.flags for t in terms):
            raise RuntimeError(f"unsupported lexer callback on {kind}")
        keywords[kind] = {t.pattern.value: t.name for t in terms}

    rules = list(parser.rules)
    index = {id(rule): i for i, rule in enumerate(rules)}
    table = parser.parser.parser.parser.parse_table
    states = [None] * len(table.states)
    for state, row in table.states.items():
        states[state] = {str(symbol): (arg if action is Shift else ~index[id(arg)])
                         for symbol, (action, arg) in row.items()}
    return {
        "format": TABLES_FORMAT,
        "grammar": grammar_text(),
        "pattern": str(scanner._mres[0].pattern),
        "flags": int(scanner._mres[0].flags),
        "keywords": {str(k): {str(v): str(n) for v, n in m.items()} for k, m in keywords.items()},
        "ignore": sorted(map(str, lexer.ignore_types)),
        "literals": {str(t.name): str(t.pattern.value) for t in parser.terminals if isinstance(t.pattern, PatternStr)},
        "states": states,
        "rules": [_shape(rule) for rule in rules],
        "start": table.start_states["start"],
        "end": table.end_states["start"],
    }


def _shape(rule) -> tuple:
    """How a reduction by `rule` shapes its children, as Lark's tree builder does
    (lark/parse_tree_builder.py: ChildFilter, ExpandSingleChild, maybe_placeholders)."""
    name = str(rule.alias or rule.origin.name)    # lark names are str subclasses
    if rule.origin.name.startswith("_"):
        mode = lalr.INLINE
    elif rule.options.expand1 and not rule.alias:
        mode = lalr.COLLAPSE
    else:
        mode = lalr.NODE
    # empty_indices: one flag per symbol of the written rule, True where an absent
    # [optional] left a gap; it becomes the count of Nones before each kept child.
    flags = rule.options.empty_indices or (False,) * len(rule.expansion)
    gaps, run = [], 0
    for flag in flags:
        if flag:
            run += 1
        else:
            gaps.append(run)
            run = 0
    gaps.append(run)
    include, nones = [], 0
    for i, sym in enumerate(rule.expansion):
        nones += gaps[i]
        if rule.options.keep_all_tokens or not (sym.is_term and sym.filter_out):
            splice = not sym.is_term and sym.name.startswith("_")
            include.append((i, splice, nones))
            nones = 0
    nones += gaps[len(rule.expansion)]
    return (str(rule.origin.name), len(rule.expansion), name, mode, tuple(include), nones)


# What a fresh build must parse exactly as Lark does: most rules, optional gaps,
# keywords, the layout's LSEQ/_NL, and the errors (with their expected sets).
_SAMPLES = (
    'import "lib.net"\n'
    "let k = -2 ** 3 + (1, 2.5, 'a')[0] * x.y // 4 if not true and @r == in or none else [false, f(1,)]\n"
    "block B(c: int = 3, s: (int, int),): [_, h, w]\n    -> [c, h, w] {\n"
    "    conv2d(c, 3, padding=1) -> relu; tanh\n"
    '    "n{i}": [relu\n        tanh]\n'
    "    if k > 1 { relu } else if false { @x } else { gelu }\n"
    "    for (a, b) in [(1, 2)] { repeat 2 as j { expect () } }\n}\n"
    "network N { input [3, 8, 8]\n    m: B(4) -> add { identity; [relu] } }\n",
    "network N {\n    relu tanh\n}\n",
    "let x = (1, 2 +\n)\n",
    "let x = 1 $ 2\n",
)


def _agrees_with_lark(tables: lalr.Tables, reference) -> bool:
    def build(name, children, start, end):
        return name, start, end, tuple((c.type, c.value, c.start_pos, c.end_pos) if isinstance(c, lalr.Token) else c
                                       for c in children)

    def outcome(run, text):
        try:
            return run(text)
        except lalr.UnexpectedToken as e:
            return e.token.type, e.token.start_pos, e.expected, e.accepts
        except lalr.UnexpectedCharacter as e:
            return e.pos

    def runtime(text):
        return lalr.parse(tables, Layout().process(lalr.tokens(tables, text)), build)

    return all(outcome(runtime, text) == outcome(lambda t: reference.parse(t, build), text) for text in _SAMPLES)


def _cache_prefix(text: str) -> str:
    import zlib
    return f"netdsl-tables-{zlib.crc32(text.encode()):08x}-{TABLES_FORMAT}-{sys.implementation.cache_tag}-lark"


def _cache_path(text: str, version: str) -> str | None:
    """Where tables for this grammar and Lark version live: in this user's cache
    directory (netdsl/cache.py), never a predictable name in a shared folder. None
    when no safe directory can be had (then the tables are built on every run)."""
    folder = cache.directory()
    if folder is None:
        return None
    # The Lark version is in the key: another Lark may build other tables (and the
    # sample check above only runs when they are built).
    safe = "".join(ch if ch.isalnum() or ch in ".+-" else "_" for ch in version)
    return os.path.join(folder, f"{_cache_prefix(text)}{safe}.marshal")


def _cached(text: str, version: str | None) -> dict | None:
    if version is not None:
        paths = [_cache_path(text, version)]
    else:
        # No lark to rebuild with: tables any Lark built for this grammar (and that
        # passed the check) still parse it, so use the newest.
        folder, prefix = cache.directory(), _cache_prefix(text)
        try:
            names = [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(".marshal")]
        except (OSError, TypeError):
            names = []
        paths = sorted((os.path.join(folder, n) for n in names), key=_mtime, reverse=True)
    for path in paths:
        blob = cache.read(path) if path is not None else None
        if blob is None:
            continue
        try:
            data = marshal.loads(blob)
            if data["format"] == TABLES_FORMAT and data["grammar"] == text and version in (None, data["lark"]):
                return data
        except Exception:       # truncated, or from another version: rebuild it
            pass
    return None


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


@functools.lru_cache(maxsize=1)
def _shared_lark():
    # One Lark build (~0.2 s) serves both the table extraction and, if that fails, the fallback.
    return lark_parser()


@functools.lru_cache(maxsize=1)
def tables() -> lalr.Tables:
    """The runtime's tables, cached or built with Lark. Raises when Lark's private
    details no longer give tables that parse as Lark does (parser() then falls back)."""
    text = grammar_text()
    data = _cached(text, lark_version())
    if data is not None:
        return lalr.Tables(data)
    from .lark_fallback import LarkParser
    reference = _shared_lark()
    data = build_tables(reference)
    data["lark"] = lark_version()            # lark is imported now: its own __version__
    built = lalr.Tables(data)
    if not _agrees_with_lark(built, LarkParser(reference)):
        raise RuntimeError("the tables read from Lark do not parse as Lark does")
    path = _cache_path(text, data["lark"])
    if path is not None:      # a failed write only costs the rebuild next time
        cache.store(path, marshal.dumps(data))
    _shared_lark.cache_clear()               # the runtime needs nothing more from Lark
    return built


@functools.lru_cache(maxsize=1)
def parser():
    """What parses specs: the runtime's tables (lalr.Tables) or, when they cannot be
    had, Lark's own parser (lark_fallback.LarkParser). Both have .literals."""
    try:
        return tables()
    except Exception as e:       # whatever a changed Lark breaks must not stop netdsl
        reason = f"{type(e).__name__}: {e}"
    from .lark_fallback import LarkParser
    fallback = LarkParser(_shared_lark())
    if os.environ.get("NETDSL_DEBUG"):
        print(f"netdsl: parser tables unavailable ({reason}); using Lark's parser", file=sys.stderr)
    return fallback
