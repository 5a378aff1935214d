"""Parsed files kept between runs, so that a new process loading an unchanged spec
(`netdsl.load`, `netdsl check`) skips lexing and parsing it.

One cache file per spec file (named after its real path, so editing a spec rewrites
its entry instead of adding one; at most MAX_ENTRIES), in this user's cache directory, read only if it is
this user's and nobody else can write it (netdsl/cache.py). An entry holds the exact
text that was parsed, the stamp of what parsing depends on (the grammar, the
frontend's own code, netdsl's and Lark's versions, Python) and the limits parsing
enforces; it is used only when all three equal the current ones, so a hit gives the
tree that parsing the text would give. A checksum covers the whole entry (cache.read_checked): anything
truncated, corrupt, unreadable or from another version is ignored, the file parsed
again and the entry rewritten. Only parses without diagnostics are stored.

The tree is marshal data of plain values (tuples, lists, strings, numbers, None),
never code or pickles: a node is a list [class name, field, ...], a span a list
[start, end] in the file's own text. Reading it back can only make AST nodes
(the classes of frontend/ast.py, looked up by name) and spans.
bench/README.md has the figures (parsing ResNet-18 and its block library against
reading them back).
"""
from __future__ import annotations

import functools
import marshal
import os
import sys

from .. import cache
from ..limits import LIMITS
from ..version import __version__
from . import ast as A
from .source import Source, Span

# Bump when the entry's layout or the tree's encoding changes.
FORMAT = 1
# Larger files are parsed every time: their entries would be large, and rare.
MAX_CACHED_TEXT = 2 ** 20
# Entries kept (the least recently written go first): a few MB at most.
MAX_ENTRIES = 1000

_CLASSES = {cls.__name__: cls for cls in vars(A).values()
            if isinstance(cls, type) and issubclass(cls, A._Node) and cls is not A._Node}
_PLAIN = (int, float, str, bool, type(None))


def stamp() -> int | None:
    """What the tree of a text depends on besides the text: every module of the
    frontend, the grammar, the parser in use and the versions (the tables are
    Lark's). None when the frontend's files cannot be read (a zipped install): then
    nothing is cached."""
    from .grammar import parser
    code = _code_stamp()
    return None if code is None else cache.checksum(f"{code}\0{type(parser()).__name__}".encode())


@functools.lru_cache(maxsize=1)
def _code_stamp() -> int | None:
    from .grammar import grammar_text, lark_version
    parts = [f"{FORMAT}\0{__version__}\0{sys.implementation.cache_tag}\0{lark_version()}".encode(),
             grammar_text().encode()]
    folder = os.path.dirname(os.path.abspath(__file__))
    try:
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                with open(os.path.join(folder, name), "rb") as f:
                    parts.append(name.encode() + b"\0" + f.read())
    except OSError:
        return None
    return cache.checksum(b"\0".join(parts))


def _limits() -> tuple:
    return (LIMITS.max_tokens, LIMITS.max_nesting, LIMITS.max_depth, LIMITS.max_int_digits)


def _path(real_path: str) -> str | None:
    folder = cache.directory()
    if folder is None:
        return None
    return os.path.join(folder, f"netdsl-ast-{cache.checksum(real_path.encode('utf-8', 'surrogatepass')):016x}.marshal")


def load(source: Source, real_path: str) -> A.Module | None:
    """The cached tree of `source` (the file at `real_path`), or None."""
    if len(source.text) > MAX_CACHED_TEXT:
        return None
    current = stamp()
    where = _path(real_path) if current is not None else None
    payload = cache.read_checked(where) if where is not None else None
    if payload is None:
        return None
    try:
        fmt, stamped, limits, text, tree = marshal.loads(payload)
        if fmt != FORMAT or stamped != current or limits != _limits() or text != source.text:
            return None
        module = _decoder(source)(tree)
    except Exception:       # marshal's errors, a malformed entry: parse instead
        return None
    return module if type(module) is A.Module else None


def store(source: Source, real_path: str, module: A.Module) -> bool:
    """Write the entry for `source` (parsed into `module`); False if it cannot be."""
    if len(source.text) > MAX_CACHED_TEXT:
        return False
    current = stamp()
    where = _path(real_path) if current is not None else None
    if where is None:
        return False
    try:
        tree = _encode(module, source)
    except (_Unencodable, RecursionError):
        return False
    payload = marshal.dumps((FORMAT, current, _limits(), source.text, tree))
    return cache.store_entry(where, payload, MAX_ENTRIES)


class _Unencodable(Exception):
    """Something in the tree the encoding does not describe (then nothing is stored)."""


def _encode(value, source: Source):
    kind = type(value)
    if kind is tuple:
        return tuple(_encode(v, source) for v in value)
    if kind is Span:
        if value.source is not source:
            raise _Unencodable()
        return [value.start, value.end]
    if _CLASSES.get(kind.__name__) is kind:
        return [kind.__name__, *(_encode(getattr(value, f), source) for f in kind._fields)]
    if kind in _PLAIN:
        return value
    raise _Unencodable()


def _decoder(source: Source):
    classes = _CLASSES

    def decode(value):
        # Leaves and a node's spans are handled in the loop rather than by a call each:
        # this is most of the work of a hit (bench/README.md).
        if type(value) is tuple:
            return tuple([v if type(v) not in (list, tuple) else decode(v) for v in value])
        head = value[0]
        if type(head) is not str:
            return Span(source, head, value[1])
        fields = []
        for v in value[1:]:
            kind = type(v)
            if kind is list and type(v[0]) is int:
                fields.append(Span(source, v[0], v[1]))
            elif kind is list or kind is tuple:
                fields.append(decode(v))
            else:
                fields.append(v)
        return classes[head](*fields)
    return decode
