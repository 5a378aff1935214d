"""Laying diagnostics out as text: rustc's layout, with carets under the spans."""
from __future__ import annotations

from collections.abc import Iterable

from . import ERROR, Diagnostic, Label


class _Style:
    def __init__(self, color: bool):
        self.color = color

    def __call__(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text


def _sev_color(severity: str) -> str:
    return "1;31" if severity == ERROR else "1;33"


def terminal_safe(text: str) -> str:
    """Text as it may reach a terminal: every control, format or invisible character
    (ESC, BEL, bidi overrides, ...) shown as an escape such as `\x1b` or `\u202e`, so
    a spec can neither drive the terminal (erase lines, write the clipboard with OSC 52)
    nor make its source look other than it is. Tabs and newlines stay."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in "\t\n" else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    n = ord(ch)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def render_short(d: Diagnostic) -> str:
    name, line, col, _, _ = d.location()
    where = f"{name}:{line}:{col}: " if line else (f"{name}: " if name else "")
    return terminal_safe(f"{where}{d.severity}[{d.code}]: {d.message}")


def _expand_tabs(line: str, col: int) -> tuple[str, int]:
    """Display a source line: tabs expanded, other invisible characters escaped
    (terminal_safe); return it and the display column of `col` (1-based)."""
    out, disp = [], 0
    for i, ch in enumerate(line):
        if i == col - 1:
            col_disp = disp
        if ch == "\t":
            piece = " " * (4 - disp % 4)
        elif ch.isprintable():
            piece = ch
        else:
            piece = _escape(ch)
        out.append(piece)
        disp += len(piece)
    if col - 1 >= len(line):
        col_disp = disp + (col - 1 - len(line))
    return "".join(out), col_disp


def _display_width(line: str, start_col: int, end_col: int) -> int:
    _, a = _expand_tabs(line, start_col)
    _, b = _expand_tabs(line, end_col)
    return max(1, b - a)


MAX_SHOWN = 160      # characters of a source line shown around the labels


def _window(line: str, labels, ln: int) -> tuple[int, str]:
    """A long line (minified or generated specs, 1 MB lines) is shown as a window
    around its labels, with `…` at the cut ends. Returns (characters cut before, text)."""
    if len(line) <= MAX_SHOWN:
        return 0, line
    first = min(lab.span.column for lab in labels) - 1
    start = max(0, first - MAX_SHOWN // 3)
    end = min(len(line), start + MAX_SHOWN)
    start = max(0, min(start, end - MAX_SHOWN))
    head = "…" if start > 0 else ""
    tail = "…" if end < len(line) else ""
    return start - len(head), head + line[start:end] + tail


def render(d: Diagnostic, color: bool = False) -> str:
    st = _Style(color)
    safe = terminal_safe
    head = st(f"{d.severity}[{d.code}]", _sev_color(d.severity)) + st(f": {safe(d.message)}", "1")
    lines = [head]
    labels = [lab for lab in d.labels if lab.span is not None]
    if not labels:
        if d.file:
            lines.append(f"  --> {safe(d.file)}")
    else:
        # Group labels by source; the primary's source comes first.
        primary = d.primary
        groups: dict[int, list[Label]] = {}
        order: list = []
        for lab in sorted(labels, key=lambda lb: (lb.span.source is not primary.source, not lb.primary)):
            key = id(lab.span.source)
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append(lab)
        gutter = max(len(str(lab.span.line)) for lab in labels)
        pad = " " * gutter
        for gi, key in enumerate(order):
            group = groups[key]
            first = next((lb for lb in group if lb.primary), group[0])
            arrow = "-->" if gi == 0 else ":::"
            where = safe(f"{first.span.source.name}:{first.span.line}:{first.span.column}")
            lines.append(f"{pad}{st(arrow, '1;34')} {where}")
            lines.append(f"{pad} {st('|', '1;34')}")
            by_line: dict[int, list[Label]] = {}
            for lab in group:
                by_line.setdefault(lab.span.line, []).append(lab)
            prev = None
            for ln in sorted(by_line):
                if prev is not None and ln > prev + 1:
                    lines.append(st("...", "1;34"))
                src_line = first.span.source.line_text(ln)
                cut, src_line = _window(src_line, by_line[ln], ln)
                shown, _ = _expand_tabs(src_line, 1)
                lines.append(f"{st(str(ln).rjust(gutter), '1;34')} {st('|', '1;34')} {shown}".rstrip())
                for lab in sorted(by_line[ln], key=lambda lb: lb.span.column):
                    col = lab.span.column
                    end_line, end_col = lab.span.end_line_col
                    if end_line != ln:
                        end_col = len(src_line) + 1 + cut
                    col = min(max(1, col - cut), len(src_line) + 1)
                    end_col = min(max(1, end_col - cut), len(src_line) + 1)
                    _, disp = _expand_tabs(src_line, col)
                    width = _display_width(src_line, col, max(end_col, col + 1))
                    mark = ("^" if lab.primary else "-") * width
                    mark = st(mark, _sev_color(d.severity) if lab.primary else "1;34")
                    text = f" {safe(lab.message)}" if lab.message else ""
                    lines.append(f"{pad} {st('|', '1;34')} {' ' * disp}{mark}{text}".rstrip())
                prev = ln
        lines.append(f"{pad} {st('|', '1;34')}")
    pad = " " * (max((len(str(lab.span.line)) for lab in labels), default=1))
    for note in d.notes:
        lines.append(f"{pad} {st('=', '1;34')} {st('note', '1')}: {safe(note)}")
    for h in d.help:
        lines.append(f"{pad} {st('=', '1;34')} {st('help', '1')}: {safe(h)}")
    return "\n".join(lines)


def render_all(diags: Iterable[Diagnostic], color: bool = False) -> str:
    return "\n\n".join(render(d, color) for d in diags)


def to_json(diags: Iterable[Diagnostic]) -> str:
    import json
    return json.dumps({"diagnostics": [d.to_json() for d in diags]}, indent=2)
