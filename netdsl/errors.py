"""The exceptions netdsl raises to Python callers, in one hierarchy.

    NetdslError            anything netdsl reports on purpose
    ├── SpecError          the spec has problems; `.diagnostics` holds them all
    └── SpecIOError        a spec path cannot be read (also an OSError)

Internal bugs are none of these: they surface as whatever Python raised, and the
CLI reports them as internal errors (exit 3).
"""
from __future__ import annotations


class NetdslError(Exception):
    """Base class of the errors netdsl raises on purpose."""


class SpecError(NetdslError):
    """A spec has errors. `diagnostics` holds all of them, as `netdsl check` prints them."""

    def __init__(self, diagnostics: list):
        from .diagnostics.render import render_all
        self.diagnostics = list(diagnostics)
        super().__init__(render_all(self.diagnostics, color=False))


class SpecIOError(NetdslError, OSError):
    """A spec (or the file given as one) cannot be read: a usage / I-O problem, exit 2 on the CLI."""

    def __init__(self, message: str):
        super().__init__(message)
