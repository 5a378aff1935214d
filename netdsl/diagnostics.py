"""Diagnostics: what went wrong, where, and how to fix it.

Passes never print; they append Diagnostic objects. cli.py renders them
(text / short / json).  Codes are registered once in netdsl/codes.py.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable

from .record import Frozen, Value, set_field
from .source import Span

ERROR = "error"
WARNING = "warning"


class Label(Frozen):
    """A span a diagnostic points at, with its message; the primary one gets the carets."""
    __slots__ = _fields = ("span", "message", "primary")

    def __init__(self, span: Span, message: str = "", primary: bool = True):
        set_field(self, "span", span)
        set_field(self, "message", message)
        set_field(self, "primary", primary)


class Diagnostic(Value):
    """One problem: severity, code, message, labelled spans, notes and help."""
    _fields = ("severity", "code", "message", "labels", "notes", "help", "file")

    def __init__(self, severity: str, code: str, message: str, labels: list[Label] | None = None,
                 notes: list[str] | None = None, help: list[str] | None = None, file: str | None = None):
        self.severity = severity
        self.code = code
        self.message = message
        self.labels = [] if labels is None else labels
        self.notes = [] if notes is None else notes
        self.help = [] if help is None else help
        self.file = file           # for diagnostics without a span (e.g. I/O)

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
            "labels": [{"file": lab.span.source.name, "line": lab.span.line,
                        "column": lab.span.column, "message": lab.message,
                        "primary": lab.primary} for lab in self.labels],
        }


def error(code: str, message: str, span: Span | None = None, label: str = "", **kw) -> Diagnostic:
    labels = [Label(span, label)] if span is not None else []
    return Diagnostic(ERROR, code, message, labels, **kw)


def warning(code: str, message: str, span: Span | None = None, label: str = "", **kw) -> Diagnostic:
    labels = [Label(span, label)] if span is not None else []
    return Diagnostic(WARNING, code, message, labels, **kw)


class SpecError(Exception):
    """A spec has errors. `diagnostics` holds all of them, as `netdsl check` prints them."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__(render_all(self.diagnostics, color=False))


# ---- rendering --------------------------------------------------------------
class _Style:
    def __init__(self, color: bool):
        self.color = color

    def __call__(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text


def _sev_color(severity: str) -> str:
    return "1;31" if severity == ERROR else "1;33"


def render_short(d: Diagnostic) -> str:
    name, line, col, _, _ = d.location()
    where = f"{name}:{line}:{col}: " if line else (f"{name}: " if name else "")
    return f"{where}{d.severity}[{d.code}]: {d.message}"


def _expand_tabs(line: str, col: int) -> tuple[str, int]:
    """Display a line with tabs expanded; return it and the display column of `col` (1-based)."""
    out, disp = [], 0
    for i, ch in enumerate(line):
        if i == col - 1:
            col_disp = disp
        if ch == "\t":
            pad = 4 - disp % 4
            out.append(" " * pad)
            disp += pad
        else:
            out.append(ch)
            disp += 1
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
    head = st(f"{d.severity}[{d.code}]", _sev_color(d.severity)) + st(f": {d.message}", "1")
    lines = [head]
    labels = [lab for lab in d.labels if lab.span is not None]
    if not labels:
        if d.file:
            lines.append(f"  --> {d.file}")
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
            lines.append(f"{pad}{st(arrow, '1;34')} {first.span.source.name}:{first.span.line}:{first.span.column}")
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
                    text = f" {lab.message}" if lab.message else ""
                    lines.append(f"{pad} {st('|', '1;34')} {' ' * disp}{mark}{text}".rstrip())
                prev = ln
        lines.append(f"{pad} {st('|', '1;34')}")
    pad = " " * (max((len(str(lab.span.line)) for lab in labels), default=1))
    for note in d.notes:
        lines.append(f"{pad} {st('=', '1;34')} {st('note', '1')}: {note}")
    for h in d.help:
        lines.append(f"{pad} {st('=', '1;34')} {st('help', '1')}: {h}")
    return "\n".join(lines)


def render_all(diags: Iterable[Diagnostic], color: bool = False) -> str:
    return "\n\n".join(render(d, color) for d in diags)


def to_json(diags: Iterable[Diagnostic]) -> str:
    import json
    return json.dumps({"diagnostics": [d.to_json() for d in diags]}, indent=2)


def suggest(name: str, candidates: Iterable[str], otherwise: str = "", sigil: str = "") -> tuple:
    """The help for an unknown name: "did you mean `x`?" when one is close, else `otherwise`."""
    guess = did_you_mean(name, candidates)
    if guess:
        return (f"did you mean `{sigil}{guess}`?",)
    return (otherwise,) if otherwise else ()


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """elm's nearbyNames: edit distance 1 for short names, 2 otherwise (ignoring case)."""
    if len(name) > 64:          # nobody mistypes a 64-character name
        return None
    limit = 1 if len(name) <= 3 else 2
    low = name.lower()
    names = frozenset(candidates)
    if len(names) <= _SCAN_ALL:
        pool = [c for c in names if abs(len(c) - len(name)) <= limit]
    else:
        # Thousands of names (and perhaps thousands of misspellings in one spec): look
        # up only the names that can be this close, instead of measuring every one.
        index = _deletion_index(names)
        if index is not None:
            pool = {c for key in _deletions(low, limit) for c in index.get(key, ())}
        else:                   # too many to index: a bounded look at the nearest lengths
            pool = sorted(names, key=lambda c: (abs(len(c) - len(name)), c))[:_SCAN_ALL]
    best, best_d = None, limit + 1
    for cand in sorted(pool):
        dist = _edit_distance(low, cand.lower(), best_d)
        if dist < best_d:
            best, best_d = cand, dist
    return best


_SCAN_ALL = 200                 # up to this many names, just measure each one
_INDEX_CAP = 400_000            # deletion variants one index may hold (bounds its memory)


def _deletions(word: str, depth: int) -> set[str]:
    """`word` with any `depth` or fewer of its characters removed."""
    out, frontier = {word}, {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


@functools.lru_cache(maxsize=4)
def _deletion_index(names: frozenset) -> dict[str, tuple] | None:
    """Every name under each of its deletion variants (up to 2 removed characters).
    Two words within edit distance k share a variant with at most k removals from
    each (a substitution is a removal on both sides), so the variants of a
    misspelling find every name close enough to it. None when it would be too big."""
    index: dict[str, list] = {}
    size = 0
    for name in names:
        if len(name) > 66:      # beyond reach of any name did_you_mean looks up
            continue
        variants = _deletions(name.lower(), 2)
        size += len(variants)
        if size > _INDEX_CAP:
            return None
        for key in variants:
            index.setdefault(key, []).append(name)
    return {k: tuple(v) for k, v in index.items()}


def _edit_distance(a: str, b: str, cap: int) -> int:
    """Levenshtein distance, or `cap` when it is at least `cap`. Only the diagonal band
    |i - j| < cap can hold a smaller distance, so each row costs O(cap), not O(len(b))."""
    if abs(len(a) - len(b)) >= cap:
        return cap
    # A common prefix or suffix is always matched as it is: measure what lies between.
    start, shortest = 0, min(len(a), len(b))
    while start < shortest and a[start] == b[start]:
        start += 1
    end = 0
    while end < shortest - start and a[-1 - end] == b[-1 - end]:
        end += 1
    a, b = a[start:len(a) - end], b[start:len(b) - end]
    n = len(b)
    prev = [j if j < cap else cap for j in range(n + 1)]
    for i, ca in enumerate(a, 1):
        lo, hi = max(1, i - cap + 1), min(n, i + cap - 1)
        cur = [cap] * (n + 1)
        cur[0] = i if i < cap else cap
        for j in range(lo, hi + 1):
            cost = prev[j - 1] + (ca != b[j - 1])
            up, left = prev[j] + 1, cur[j - 1] + 1
            cur[j] = min(cost, up, left, cap)
        if min(cur[lo - 1:hi + 1]) >= cap:      # every path through this row costs `cap`
            return cap
        prev = cur
    return prev[n]
