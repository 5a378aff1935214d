"""Python values written as netdsl source, for tests that generate specs."""
from __future__ import annotations


def lit(v) -> str:
    """A Python value as netdsl source: true/false, none, 'text', (a,), [a, b], numbers."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, str):
        return f"'{v}'"
    if isinstance(v, tuple):
        return "(" + ", ".join(lit(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, list):
        return "[" + ", ".join(lit(x) for x in v) + "]"
    return repr(v)
