"""Source text and spans.

Text is normalised once on the way in (BOM stripped, CRLF/CR -> LF) so that every
later stage works on plain `\n`-separated lines and offsets; columns are counted in
characters, so a tab is one column and carets still land on the right character.
"""
from __future__ import annotations

import bisect
import functools

from ..record import Frozen, Record


class DecodeError(Exception):
    """The bytes are not UTF-8; `offset` is the first bad byte."""

    def __init__(self, offset: int, byte: int):
        super().__init__(f"byte 0x{byte:02x} at offset {offset} is not valid UTF-8")
        self.offset = offset
        self.byte = byte


class Source(Record):
    """One file's text. Compared by identity: two files with equal text are still two files."""
    _fields = ("name", "text")

    @classmethod
    def from_bytes(cls, name: str, data: bytes) -> Source:
        bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        data = data[bom:]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DecodeError(e.start + bom, data[e.start]) from None      # offset in the file
        return cls.from_text(name, text)

    @classmethod
    def from_text(cls, name: str, text: str) -> Source:
        if text.startswith("\ufeff"):
            text = text[1:]
        return cls(name, text.replace("\r\n", "\n").replace("\r", "\n"))

    @functools.cached_property
    def _line_starts(self) -> list[int]:
        return [0, *(i + 1 for i, ch in enumerate(self.text) if ch == "\n")]

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]


class Span(Frozen):
    """Character offsets [start, end) in a source; immutable, compared and hashed by value."""
    __slots__ = _fields = ("source", "start", "end")

    # Written out rather than the generic Record constructor: one span is made per AST
    # node, when parsing and when reading a cached parse back (bench/README.md).
    def __init__(self, source: Source, start: int, end: int):
        _set_source(self, source)
        _set_start(self, start)
        _set_end(self, end)

    # Written out rather than inherited: spans are compared and hashed often.
    def __eq__(self, other):
        if other.__class__ is Span:
            return (self.source, self.start, self.end) == (other.source, other.start, other.end)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.source, self.start, self.end))

    @property
    def line(self) -> int:
        return self.source.line_col(self.start)[0]

    @property
    def column(self) -> int:
        return self.source.line_col(self.start)[1]

    @property
    def end_line_col(self) -> tuple[int, int]:
        return self.source.line_col(max(self.start, self.end))

    def text(self) -> str:
        return self.source.text[self.start:self.end]

    def __repr__(self) -> str:
        return f"{self.source.name}:{self.line}:{self.column}"


# The slots' own setters, past Frozen's guard against assignment.
_set_source, _set_start, _set_end = Span.source.__set__, Span.start.__set__, Span.end.__set__
