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

Two things are re-checked as a whole rather than guarded: a block's `accepts ->
returns` signature (values.Relation) and an `expect` (values.ExpectRelation),
whose sizes are evaluated again with `in` and `@name` reading the replayed shapes,
and judged as Walk.expect judges them (an error, or W0406 for one written for the
declared input). Their reads would otherwise pin every size they look at.
"""
from __future__ import annotations

from collections.abc import Callable

from ..diagnostics import ERROR, WARNING, Diagnostic, Label
from ..diagnostics.codes import E0308, W0406
from ..frontend import ast as A
from ..ir import Graph, Node
from ..values import UNKNOWN, Env, EvalError, ExpectRelation, Relation, ShapeValue, evaluate
from . import rules
from .report import Reporter
from .walk import Declared, declared_expect_message, expect_holds, expect_mismatch_message


class Diverged(Exception):
    """At this size the network would expand differently: replay cannot answer."""


class Replay:
    """`rejects`: the diagnostics that reject a size; `notes`: those that do not, but are
    worth reporting beside it (lost rows); `declared`: what held at the declared input
    (walk.Declared), for the `expect`s written for it."""

    def __init__(self, graph: Graph, guards: list, rejects: Callable[[Diagnostic], bool],
                 notes: Callable[[Diagnostic], bool] | None = None, declared: Declared | None = None):
        self.graph = graph
        self.rejects = rejects
        self.notes = notes or (lambda d: False)
        self.declared = declared
        self.guards: dict[int, list] = {}       # node id -> [(axis or None, value read)]
        self.relations: dict[int, list] = {}    # output node id -> [Relation]
        self.expects: dict[int, list] = {}      # the node made just before -> [ExpectRelation]
        for guard in guards:
            if isinstance(guard, Relation):
                self.relations.setdefault(guard.output, []).append(guard)
            elif isinstance(guard, ExpectRelation):
                self.expects.setdefault(guard.after, []).append(guard)
            else:
                node, axis, value = guard
                self.guards.setdefault(node, []).append((axis, value))
        self.memo: list[dict] = [{} for _ in graph.nodes]
        self.signatures: dict = {}              # (relation id, input shape, output shape) -> it holds
        self.evaluated = 0                      # rule runs (memo misses), for the caller's budget

    def run(self, input_shape: tuple, shapes: list | None = None,
            notes: list | None = None) -> tuple[Diagnostic, Node] | None:
        """The first diagnostic rejecting `input_shape` and the node it belongs to, or
        None if none does. Raises Diverged if the expansion would differ. `shapes`, a
        list as long as the graph's nodes, receives every node's shape at that size;
        `notes` receives (diagnostic, node) for each diagnostic worth noting beside it."""
        nodes = self.graph.nodes
        if shapes is None:
            shapes = [None] * len(nodes)
        if notes is None:
            notes = []
        shapes[0] = input_shape
        self._guard(0, input_shape)
        expects, relations, memo = self.expects, self.relations, self.memo
        if 0 in expects:
            found = self._expects(0, shapes, notes)
            if found is not None:
                return found
        for node in nodes[1:]:
            ins = tuple(shapes[i] for i in node.inputs)
            if None in ins:
                continue
            hit = memo[node.id].get(ins)
            if hit is None:
                hit = memo[node.id][ins] = self._evaluate(node, list(ins))
            shape, rejection, noted = hit
            if noted:
                notes.extend((d, node) for d in noted)
            if rejection is not None:
                return rejection, node
            shapes[node.id] = shape
            if node.id in self.guards:
                self._guard(node.id, shape)
            if node.id in relations:
                for relation in relations[node.id]:
                    if not self._signature_holds(relation, shapes):
                        raise Diverged()
            if node.id in expects:
                found = self._expects(node.id, shapes, notes)
                if found is not None:
                    return found
        return None

    def _signature_holds(self, relation: Relation, shapes: list) -> bool:
        """_signature_holds, remembered per (input, output) shape: a block used at many
        sizes meets the same shapes deep in the network."""
        key = (id(relation), shapes[relation.input], shapes[relation.output])
        held = self.signatures.get(key)
        if held is None:
            held = self.signatures[key] = _signature_holds(relation, shapes)
        return held

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
        noted = tuple(d for d in reporter.diagnostics if not self.rejects(d) and self.notes(d))
        return probe.shape, rejection, noted

    def _expects(self, after: int, shapes: list, notes: list) -> tuple[Diagnostic, Node] | None:
        """The `expect`s the walk checked once node `after` was made, at this size (Walk.expect)."""
        for rel in self.expects.get(after, ()):
            shape = shapes[rel.node]
            if shape is None:
                continue
            if not rel.replayable:
                raise Diverged()
            wants = _expect_wants(rel, shapes)
            if expect_holds(wants, shape):
                continue
            node = self.graph.nodes[rel.node]
            span = rel.item.span
            if not rel.relative and self.declared is not None and \
                    (span.source.name, span.start, wants) in self.declared.held:
                d = Diagnostic(WARNING, W0406, declared_expect_message(rel.item, self.declared.shape),
                               [Label(span, "holds at the declared input")])
                if self.notes(d):
                    notes.append((d, node))
                continue
            d = Diagnostic(ERROR, E0308, expect_mismatch_message(rel.item, shape),
                           [Label(rel.item.shape.span, "does not match")])
            if self.rejects(d):
                return d, node
        return None


def _expect_wants(rel: ExpectRelation, shapes: list) -> tuple:
    """An `expect`'s sizes at the replayed shapes: `in` and `@name` read them."""
    env = Env()
    env.vars = rel.vars
    if rel.in_node is not None and shapes[rel.in_node] is not None:
        env.in_shape = ShapeValue(shapes[rel.in_node])

    def ref(name, span):
        node = rel.refs.get(name)
        if node is None or shapes[node] is None:
            raise Diverged()
        return ShapeValue(shapes[node])
    env.refs = ref
    try:
        return tuple(None if isinstance(e, A.Var) and e.name == "_" else evaluate(e, env) for e in rel.item.shape.items)
    except EvalError:
        raise Diverged() from None


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
