"""Replay: the shape rules of an expanded network, re-run for another input size.

`netdsl sizes` asks the same network about hundreds of input sizes. Expanding it
again for each (the walk: binding, blocks, loops, scopes) costs several times more
than the shape rules themselves, and most networks expand the same way at every
size. A Replay keeps one expansion, made with guards recorded (values.record_guards):
every value the walk read from a shape, with the node and axis it came from. At
another size the rules run node by node on the new shapes; as soon as a guarded
read would give another value (the expansion would differ: `if in.h > 32`, a crop
to `@skip`'s size), the replay says so and the caller expands that size in full.
Up to that point the replay is exact, so a size rejected earlier is rejected for
the same reason. Each node's result is remembered per input shape, so sizes that
meet the same shapes deep in the network (after downsampling) cost nothing there.
"""
from __future__ import annotations

from collections.abc import Callable

from ..diagnostics import Diagnostic
from ..frontend import ast as A
from ..ir import Graph, Node
from ..values import UNKNOWN, Env, EvalError, Relation, evaluate
from . import rules
from .report import Reporter


class Diverged(Exception):
    """At this size the network would expand differently: replay cannot answer."""


class Replay:
    def __init__(self, graph: Graph, guards: list, rejects: Callable[[Diagnostic], bool]):
        self.graph = graph
        self.rejects = rejects
        self.guards: dict[int, list] = {}       # node id -> [(axis or None, value read)]
        self.relations: dict[int, list] = {}    # output node id -> [Relation]
        for guard in guards:
            if isinstance(guard, Relation):
                self.relations.setdefault(guard.output, []).append(guard)
            else:
                node, axis, value = guard
                self.guards.setdefault(node, []).append((axis, value))
        self.memo: list[dict] = [{} for _ in graph.nodes]
        self.evaluated = 0                      # rule runs (memo misses), for the caller's budget

    def run(self, input_shape: tuple, shapes: list | None = None) -> tuple[Diagnostic, Node] | None:
        """The first diagnostic rejecting `input_shape` and the node it belongs to, or
        None if none does. Raises Diverged if the expansion would differ. `shapes`, a
        list as long as the graph's nodes, receives every node's shape at that size."""
        nodes = self.graph.nodes
        if shapes is None:
            shapes = [None] * len(nodes)
        shapes[0] = input_shape
        self._guard(0, input_shape)
        for node in nodes[1:]:
            ins = tuple(shapes[i] for i in node.inputs)
            if any(s is None for s in ins):
                continue
            hit = self.memo[node.id].get(ins)
            if hit is None:
                hit = self.memo[node.id][ins] = self._evaluate(node, list(ins))
            shape, rejection = hit
            if rejection is not None:
                return rejection, node
            shapes[node.id] = shape
            self._guard(node.id, shape)
            for relation in self.relations.get(node.id, ()):
                if not _signature_holds(relation, shapes):
                    raise Diverged()
        return None

    def _guard(self, node_id: int, shape: tuple) -> None:
        for axis, value in self.guards.get(node_id, ()):
            if (shape if axis is None else shape[axis]) != value:
                raise Diverged()

    def _evaluate(self, node: Node, shapes: list):
        self.evaluated += 1
        if node.stand_in:           # the reference expansion had none (it was clean); be safe
            raise Diverged()
        probe = Node(node.id, node.spec, node.args, node.inputs, node.scope, node.span, origin=node.origin,
                     arg_spans=node.arg_spans)
        reporter = Reporter()
        rules.apply(node.spec, probe, shapes, reporter, node.arg_spans or {}, node.span, self.graph.nodes)
        rejection = next((d for d in reporter.diagnostics if self.rejects(d)), None)
        return probe.shape, rejection


def _signature_holds(relation: Relation, shapes: list) -> bool:
    """A block's `accepts -> returns` check on the replayed shapes (Walk.match's rules)."""
    env = Env(relation.env)
    env.vars.update(relation.params)
    return ((relation.accepts is None or _matches(relation.accepts, shapes[relation.input], env, True)) and
            (relation.returns is None or _matches(relation.returns, shapes[relation.output], env, False)))


def _matches(pattern, shape: tuple | None, env: Env, bind: bool) -> bool:
    if shape is None or not isinstance(pattern, A.TupleExpr) or len(pattern.items) != len(shape):
        return False
    for elem, actual in zip(pattern.items, shape):
        if isinstance(elem, A.Var) and elem.name == "_":
            continue
        if bind and isinstance(elem, A.Var):
            try:
                env.lookup(elem.name)
            except KeyError:
                env.vars[elem.name] = actual
                continue
        try:
            want = evaluate(elem, env)
        except EvalError:
            return False
        if want is not UNKNOWN and want != actual:
            return False
    return True
