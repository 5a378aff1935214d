"""Fixes as data: a help line that proposes an edit carries the edit.

A rule that knows the fix passes `Fix(message, [Edit(span, text)])` among its
help; the Reporter keeps the message as the help line and the Fix on the
diagnostic (`Diagnostic.fixes`). Before a check returns, `keep_working` applies
each fix to the text in memory and checks again: a fix stays only if its
diagnostic goes away and no new error appears anywhere in the file (in every use
of a block, since the whole file is re-checked). So what `--format json`,
`check --fix` and, later, an editor's code actions offer has been seen to work.
"""
from __future__ import annotations

from collections import Counter

from ..frontend.source import Span
from ..record import Frozen

# Re-checks one check may spend on verifying fixes (each is a full check of the file).
MAX_VERIFIED = 16


class Edit(Frozen):
    """Replace the text of `span` by `text` (an insertion: an empty span)."""
    __slots__ = _fields = ("span", "text")

    def to_json(self) -> dict:
        end_line, end_col = self.span.end_line_col
        return {"file": self.span.source.name, "line": self.span.line, "column": self.span.column,
                "end_line": end_line, "end_column": end_col, "text": self.text}


class Fix(Frozen):
    """What to change, in words (the help line) and as edits."""
    __slots__ = _fields = ("message", "edits")

    def to_json(self) -> dict:
        return {"message": self.message, "edits": [e.to_json() for e in self.edits]}


def rename(span: Span | None, old: str, new: str, message: str) -> Fix | str:
    """A fix replacing the name `old` at the start of `span` by `new`; the bare message
    when the span does not start with that name (nothing safe to edit)."""
    if span is None or span.source.text[span.start:span.start + len(old)] != old:
        return message
    return Fix(message, (Edit(Span(span.source, span.start, span.start + len(old)), new),))


def drop_argument(span: Span, call: Span, message: str) -> Fix:
    """A fix removing the argument written at `span` inside the call written at `call`,
    with the comma that joins it to its neighbour."""
    text = span.source.text
    tail = text[span.end:call.end]
    stripped = tail.lstrip(" \t")
    if stripped.startswith(","):
        end = span.end + len(tail) - len(stripped) + 1
        while end < len(text) and text[end] in " \t":
            end += 1
        return Fix(message, (Edit(Span(span.source, span.start, end), ""),))
    head = text[call.start:span.start].rstrip(" \t")
    if head.endswith(","):
        return Fix(message, (Edit(Span(span.source, call.start + len(head) - 1, span.end), ""),))
    return Fix(message, (Edit(span, ""),))         # the only argument


def apply(text: str, edits) -> str | None:
    """`text` with `edits` applied, or None if two of them overlap."""
    ordered = sorted(edits, key=lambda e: (e.span.start, e.span.end))
    for a, b in zip(ordered, ordered[1:]):
        if b.span.start < a.span.end:
            return None
    for e in reversed(ordered):
        text = text[:e.span.start] + e.text + text[e.span.end:]
    return text


def _counts(diagnostics) -> tuple[Counter, Counter]:
    errors = Counter(d.code for d in diagnostics if d.is_error)
    warnings = Counter(d.code for d in diagnostics if not d.is_error)
    return errors, warnings


def works(d, fix: Fix, before: list, recheck) -> bool:
    """Does applying `fix` remove `d` without a new error? `recheck(text)` checks the
    edited root file and returns its diagnostics (None when it cannot be re-checked)."""
    sources = {e.span.source for e in fix.edits}
    if len(sources) != 1:
        return False
    (source,) = sources
    text = apply(source.text, fix.edits)
    if text is None or text == source.text:
        return False
    after = recheck(source, text)
    if after is None:
        return False
    errors_before, warnings_before = _counts(before)
    errors_after, warnings_after = _counts(after)
    if any(n > errors_before[code] for code, n in errors_after.items()):
        return False                    # a new error, or more of one
    if d.is_error:
        return errors_after[d.code] < errors_before[d.code]
    return warnings_after[d.code] < warnings_before[d.code] and sum(errors_after.values()) <= sum(
        errors_before.values())


def keep_working(diagnostics: list, recheck) -> None:
    """Drop, in place, every fix that does not work (see `works`); at most MAX_VERIFIED
    re-checks, after which the remaining fixes are dropped too (unverified is not offered)."""
    budget = MAX_VERIFIED
    for d in diagnostics:
        kept = []
        for fix in d.fixes:
            if budget > 0:
                budget -= 1
                if works(d, fix, diagnostics, recheck):
                    kept.append(fix)
        d.fixes = kept


def unambiguous(diagnostics: list) -> list[Fix]:
    """The fixes `check --fix` applies: the one fix of each diagnostic that has exactly
    one, without edits overlapping another chosen fix's."""
    chosen, taken = [], []
    for d in diagnostics:
        if len(d.fixes) != 1:
            continue
        fix = d.fixes[0]
        spans = [(e.span.source.name, e.span.start, e.span.end) for e in fix.edits]
        if any(f == g and s < e2 and s2 < e for f, s, e in spans for g, s2, e2 in taken):
            continue        # overlaps a chosen fix (an identical fix overlaps itself)
        chosen.append(fix)
        taken.extend(spans)
    return chosen
