"""How the walk reports problems: once each, labelled with every block use they came from.

A block used ten times with the same mistake inside gives one diagnostic, not ten:
later reports of the same problem add "and this use" labels (a few, then stop).

Policy: a Reporter can be told when to stop the walk (`stop_when`). `netdsl check`
never stops: every independent problem is reported in one run. `netdsl sizes`
stops at the first diagnostic that rejects the input size it is trying, because
nothing later can change that verdict (backends/sizes.py). Stopping raises Stop,
which the walk catches at the network level; the graph is then partial.
"""
from __future__ import annotations

from collections.abc import Callable

from ..diagnostics import ERROR, Diagnostic, Label
from ..diagnostics.codes import Code
from ..diagnostics.fixes import Fix
from ..frontend.source import Span
from ..limits import LIMITS
from ..values import EvalError

MAX_USE_LABELS = 4      # labels on one diagnostic, counting the primary


class Stop(Exception):
    """Ends the walk of one network: the expansion budget is spent, or the reporter's
    policy has seen the diagnostic it was waiting for."""


class Reporter:
    def __init__(self, stop_when: Callable[[Diagnostic], bool] | None = None):
        self.diagnostics: list[Diagnostic] = []
        self.omitted = 0
        self.stop_when = stop_when
        self._seen: dict = {}
        self.where: list[str] = []      # the loop iterations being expanded, outermost first (a note each)

    def report(self, severity: str, code: Code, message: str, span: Span | None, label: str = "",
               notes=(), help=(), origin=(), node=None) -> Diagnostic:
        """Record a problem at `span`; `origin` are the block uses it was expanded from,
        innermost first; `node`: the IR node it is about (an error becomes its failure,
        a warning one of its warnings). Returns the diagnostic (an earlier one, for a repeat)."""
        key = (severity, code, message, span.source.name if span else None, span.start if span else None)
        d = self._seen.get(key)
        if d is not None:
            if origin and len(d.labels) < MAX_USE_LABELS and not any(lb.span == origin[0] for lb in d.labels):
                d.labels.append(Label(origin[0], "and this use", primary=False))
            _link(d, node)
            return d
        labels = [Label(span, label)] if span is not None else []
        for i, use in enumerate(origin[:3]):
            labels.append(Label(use, "in this use of the block" if i == 0 else "used from here", primary=False))
        fixes = [h for h in help if isinstance(h, Fix)]         # a help line that carries its edit
        d = Diagnostic(severity, code, message, labels, [*notes, *self.where],
                       [getattr(h, "message", h) for h in help], fixes=fixes)
        self._seen[key] = d
        _link(d, node)          # before add(), whose policy may end the walk
        return self.add(d)

    def error(self, code: Code, message: str, span: Span | None, label: str = "", notes=(), help=(),
              origin=()) -> Diagnostic:
        return self.report(ERROR, code, message, span, label, notes, help, origin)

    def eval_error(self, e: EvalError, origin=()) -> Diagnostic:
        d = self.report(ERROR, e.code, e.message, e.span, "", e.notes, e.help, origin)
        if e.final:         # a budget is spent: the walk ends here
            raise Stop()
        return d

    def add(self, d: Diagnostic) -> Diagnostic:
        """Record a diagnostic built by the caller (one with labels of its own). Past
        LIMITS.max_diagnostics, diagnostics are counted (`omitted`), not kept."""
        if len(self.diagnostics) < LIMITS.max_diagnostics:
            self.diagnostics.append(d)
        else:
            self.omitted += 1
        if self.stop_when is not None and self.stop_when(d):
            raise Stop()
        return d


def _link(d: Diagnostic, node) -> None:
    if node is None:
        return
    if d.is_error:
        if node.failure is None:
            node.failure = d
    else:
        node.warnings = (*node.warnings, d)
