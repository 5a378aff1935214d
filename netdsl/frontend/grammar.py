"""The grammar (grammars/netdsl.lark) and the LALR tables Lark compiles from it.

Lark builds the tables once per grammar text; they are cached as a marshal file in
the temporary directory, so an ordinary netdsl run reads ~30 KB of plain data and
never imports lark. The cache holds the grammar text it was built from and is used
only when that text is identical; anything unreadable is rebuilt.
"""
from __future__ import annotations

import functools
import marshal
import os
import sys

from . import lalr
from .layout import Layout

# Bump when the table layout or the runtime's reading of it changes.
TABLES_FORMAT = 1

_OPTIONAL = ("regex", "interegular")


def _import_lark():
    # Lark imports two optional packages whenever they are installed: `regex` for
    # Lark(regex=True), which netdsl does not use, and `interegular`, which only
    # checks terminal collisions (strict mode, see enable_strict_checks). Hiding them
    # during the import saves ~10 ms when the tables are rebuilt.
    hidden = [name for name in _OPTIONAL if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None         # makes `import name` raise ImportError
    try:
        import lark
    finally:
        for name in hidden:
            del sys.modules[name]
    return lark


def enable_strict_checks() -> None:
    """Let Lark use interegular again (strict=True grammar builds, collision checks)."""
    _import_lark()
    import interegular
    import lark.lexer
    lark.lexer.interegular = interegular
    lark.lexer.has_interegular = True


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
    are built from, and the reference tests/test_lalr.py compares the runtime with."""
    lark = _import_lark()
    return lark.Lark(grammar_text(), parser="lalr", lexer="basic", postlex=Layout(),
                     propagate_positions=True, maybe_placeholders=True, strict=strict)


def build_tables(parser) -> dict:
    """Lark's lexer pattern, keyword map and LALR tables as plain data."""
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


def _cache_dir() -> str:
    # tempfile.gettempdir() would do, but importing tempfile costs start-up time.
    for var in ("NETDSL_CACHE_DIR", "TMPDIR", "TEMP", "TMP"):
        d = os.environ.get(var)
        if d and os.path.isdir(d):
            return d
    if os.name == "posix" and os.path.isdir("/tmp"):
        return "/tmp"
    import tempfile
    return tempfile.gettempdir()


def _cache_path(text: str) -> str:
    import zlib
    user = os.getuid() if hasattr(os, "getuid") else "u"
    key = f"{user}-{zlib.crc32(text.encode()):08x}-{TABLES_FORMAT}-{sys.implementation.cache_tag}"
    return os.path.join(_cache_dir(), f"netdsl-tables-{key}.marshal")


def _trusted(f) -> bool:
    # The temp dir is shared: only a file this user wrote and nobody else can change
    # is read (a planted one could otherwise change how specs parse).
    if not hasattr(os, "getuid"):
        return True
    st = os.fstat(f.fileno())
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


@functools.lru_cache(maxsize=1)
def tables() -> lalr.Tables:
    text = grammar_text()
    path = _cache_path(text)
    try:
        with open(path, "rb") as f:
            data = marshal.load(f) if _trusted(f) else None
        if data["format"] == TABLES_FORMAT and data["grammar"] == text:
            return lalr.Tables(data)
    except Exception:       # missing, truncated, from another version: rebuild it
        pass
    data = build_tables(lark_parser())
    blob = marshal.dumps(data)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), "wb") as f:
            f.write(blob)
        os.replace(tmp, path)      # atomic: a concurrent run sees the old file or the new one
    except OSError:                # a read-only temp dir only costs the rebuild next time
        try:
            os.unlink(tmp)
        except OSError:
            pass
    return lalr.Tables(data)
