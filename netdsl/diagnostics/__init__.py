"""Diagnostics: what went wrong, where, and how to fix it.

Passes never print; they report Diagnostic objects. render.py lays them out
(text / short), cli.py prints them. Codes are registered once in codes.py.
"""
from __future__ import annotations

from ..frontend.source import Span
from ..record import Frozen, Value
from .codes import Code

ERROR = "error"
WARNING = "warning"


class Label(Frozen):
    """A span a diagnostic points at, with its message; the primary one gets the carets."""
    __slots__ = _fields = ("span", "message", "primary")
    _defaults = {"message": "", "primary": True}


class Diagnostic(Value):
    """One problem: severity, code, message, labelled spans, notes and help."""
    _fields = ("severity", "code", "message", "labels", "notes", "help", "file", "fixes")

    _defaults = {"labels": list, "notes": list, "help": list, "file": None, "fixes": list}
    # file: for diagnostics without a span (e.g. I/O); fixes: the help lines that
    # propose an edit, as data (diagnostics/fixes.py), each verified to work

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if type(self.code) is not Code:      # a bare string would escape the registry
            raise TypeError(f"a diagnostic code must be a netdsl.diagnostics.codes.Code, not {self.code!r}")
        if self.severity != self.code.severity:
            raise ValueError(f"{self.code} is a code for {self.code.severity}s, not {self.severity}s")

    def __repr__(self) -> str:
        from ..record import short
        name, line, col, _, _ = self.location()
        where = f" {short(name, 60)}:{line}:{col}" if name else ""
        return f"<Diagnostic {self.severity} {self.code}{where}: {short(self.message, 100)}>"

    @property
    def primary(self) -> Span | None:
        for label in self.labels:
            if label.primary:
                return label.span
        return self.labels[0].span if self.labels else None

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def location(self) -> tuple[str | None, int, int, int, int]:
        span = self.primary
        if span is None:
            return self.file, 0, 0, 0, 0
        end_line, end_col = span.end_line_col
        return span.source.name, span.line, span.column, end_line, end_col

    def to_json(self) -> dict:
        name, line, col, end_line, end_col = self.location()
        return {
            "severity": self.severity, "code": self.code, "message": self.message,
            "file": name, "line": line, "column": col,
            "end_line": end_line, "end_column": end_col,
            "notes": list(self.notes), "help": list(self.help),
            "fixes": [f.to_json() for f in self.fixes],
            "labels": [{"file": lab.span.source.name, "line": lab.span.line,
                        "column": lab.span.column, "message": lab.message,
                        "primary": lab.primary} for lab in self.labels],
        }


def error(code: Code, message: str, span: Span | None = None, label: str = "", **kw) -> Diagnostic:
    labels = [Label(span, label)] if span is not None else []
    return Diagnostic(ERROR, code, message, labels, **kw)


def warning(code: Code, message: str, span: Span | None = None, label: str = "", **kw) -> Diagnostic:
    labels = [Label(span, label)] if span is not None else []
    return Diagnostic(WARNING, code, message, labels, **kw)
