"""Source text and spans.

Text is normalised once on the way in (BOM stripped, CRLF/CR -> LF) so that every
later stage works on plain `\n`-separated lines and offsets; columns are counted in
characters, so a tab is one column and carets still land on the right character.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field


class DecodeError(Exception):
    """The bytes are not UTF-8; `offset` is the first bad byte."""

    def __init__(self, offset: int, byte: int):
        super().__init__(f"byte 0x{byte:02x} at offset {offset} is not valid UTF-8")
        self.offset = offset
        self.byte = byte


@dataclass(eq=False)
class Source:
    name: str
    text: str
    _line_starts: list[int] = field(default_factory=list, repr=False)

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

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        if not self._line_starts:
            self._line_starts.append(0)
            self._line_starts.extend(i + 1 for i, ch in enumerate(self.text) if ch == "\n")
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        self.line_col(0)
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]


@dataclass(frozen=True)
class Span:
    source: Source
    start: int
    end: int

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
