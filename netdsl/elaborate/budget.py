"""The expansion budget: how much one network's walk may build before it stops.

Two counts, both bounded by LIMITS.max_layers: the nodes created, and the work
(nodes plus loop iterations, at most 4 × the limit, so that loops creating
nothing still end). A loop is priced before it runs, from a lower bound on what
one iteration creates read from the syntax alone, so that
`repeat 1000000 { repeat 1000000 { relu } }` fails at once instead of after
building a million nodes. When the budget is spent, E0320 is reported at the
outermost loop being expanded (the statement to change) and the walk stops.
"""
from __future__ import annotations

from contextlib import contextmanager

from ..catalogue import lookup
from ..diagnostics.codes import E0320
from ..frontend import ast as A
from ..frontend.source import Span
from ..limits import LIMITS
from .report import Reporter, Stop

_NOTES = ("netdsl stops here rather than run out of time or memory",)
_HELP = ("raise the limit with --max-layers if this is intended",)


class Budget:
    def __init__(self, reporter: Reporter, blocks: dict):
        self.reporter = reporter
        self.blocks = blocks            # name -> program.Definition, to price block uses
        self.nodes = 0
        self.work = 0
        self.loop_span: Span | None = None      # the outermost loop being expanded
        self._cost: dict[int, tuple[int, int]] = {}

    def spend_node(self, span: Span) -> None:
        """Account for one node about to be created."""
        self.work += 1
        if self.nodes >= LIMITS.max_layers or self.work > 4 * LIMITS.max_layers:
            self.exhausted(span, f"the network expands to more than {LIMITS.max_layers:,} layers")
        self.nodes += 1

    def exhausted(self, span: Span, message: str, origin=()):
        self.reporter.error(E0320, message, self.loop_span or span, "expands too far", _NOTES, _HELP, origin)
        raise Stop()

    def check_repeat_count(self, count: int, span: Span, origin=()) -> None:
        if count > LIMITS.max_layers:
            self.reporter.error(E0320, f"repeat {count:,} is larger than the expansion limit ({LIMITS.max_layers:,})",
                                span, help=_HELP, origin=origin)
            raise Stop()

    @contextmanager
    def loop(self, span: Span, iterations: int, body, origin=()):
        """Price a loop of `iterations` runs of `body` before it runs; then `iteration()`
        accounts for each run as it starts."""
        layers, work = self.min_cost(body)
        if self.nodes + iterations * layers > LIMITS.max_layers:
            self.exhausted(span, f"the network expands to more than {LIMITS.max_layers:,} layers", origin)
        if self.work + iterations * (1 + work) > 4 * LIMITS.max_layers:
            self.exhausted(span, f"the loops here run more than {4 * LIMITS.max_layers:,} times", origin)
        saved = self.loop_span
        self.loop_span = self.loop_span or span
        try:
            yield
        finally:
            self.loop_span = saved

    def precharge(self, body, span: Span, origin=()) -> None:
        """Before a block use is expanded: stop now if its body alone cannot fit."""
        if self.nodes + self.min_cost(body)[0] > LIMITS.max_layers:
            self.exhausted(span, f"the network expands to more than {LIMITS.max_layers:,} layers", origin)

    def iteration(self, span: Span, origin=()) -> None:
        self.work += 1
        if self.work > 4 * LIMITS.max_layers:
            self.exhausted(span, f"the loops here run more than {4 * LIMITS.max_layers:,} times", origin)

    def min_cost(self, stmts) -> tuple[int, int]:
        """A lower bound on (layers, loop iterations) one run of `stmts` creates, read
        from the syntax: unconditional layer calls, and repeats with literal counts."""
        key = id(stmts)
        if key in self._cost:
            return self._cost[key]
        self._cost[key] = (0, 0)         # a block reached again through itself costs nothing more
        layers = work = 0
        items = []
        for stmt in stmts:
            if isinstance(stmt, A.Chain):
                items.extend(stmt.items)
        while items:
            item = items.pop()
            t = type(item)
            if t is A.Named:
                items.append(item.item)
            elif t is A.Sequence:
                sub = self.min_cost(item.body)
                layers, work = layers + sub[0], work + sub[1]
            elif t is A.Call:
                block = self.blocks.get(item.name) if lookup(item.name) is None else None
                if block is None:
                    layers += 1
                else:
                    body = self.min_cost(block.ast.body)[0]
                    # A call that cannot fail to bind runs the body; any other call
                    # leaves at least one node (the body's, or the stand-in).
                    sure = not block.ast.params and block.ast.accepts is None and not item.args
                    layers += body if sure else min(1, body)
            elif t is A.Repeat and type(item.count) is A.Const and type(item.count.value) is int \
                    and item.count.value > 0:
                sub = self.min_cost(item.body)
                n = item.count.value
                layers, work = layers + n * sub[0], work + n * (1 + sub[1])
        self._cost[key] = (layers, work)
        return layers, work
