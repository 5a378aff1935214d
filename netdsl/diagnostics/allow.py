"""`# netdsl: allow CODE`: warnings a spec's author has looked at and accepts.

On a line of its own the comment silences the codes in the whole file; after code
on a line, on that line only. Errors are never silenced.
"""
from __future__ import annotations

import re

from . import Diagnostic

_ALLOW = re.compile(r"#\s*netdsl:\s*allow\s+([A-Z0-9 ,]+)")


def allowed_codes(source) -> tuple[set, dict]:
    """(codes allowed in the whole file, {line: codes allowed on that line})."""
    whole, per_line = set(), {}
    if "netdsl:" not in source.text:
        return whole, per_line
    for i, line in enumerate(source.text.split("\n"), 1):
        m = _ALLOW.search(line)
        if m:
            codes = {c for c in re.split(r"[ ,]+", m.group(1).strip()) if c}
            if line[:m.start()].strip():
                per_line.setdefault(i, set()).update(codes)
            else:
                whole.update(codes)
    return whole, per_line


class Allowances:
    """Answers whether a diagnostic is silenced, reading each source's comments once."""

    def __init__(self):
        self._by_source: dict[int, tuple] = {}

    def suppresses(self, d: Diagnostic) -> bool:
        span = d.primary
        if d.is_error or span is None:
            return False
        key = id(span.source)
        if key not in self._by_source:
            self._by_source[key] = allowed_codes(span.source)
        whole, per_line = self._by_source[key]
        return d.code in whole or d.code in per_line.get(span.line, ())
