"""Running a layer kind's catalogue entry on one node: its checks, its shape rule, its costs.

The catalogue's rules never see the walk: they get the node's arguments, the
input shapes and a RuleContext to report through (catalogue/spec.py). The first
error reported at a node becomes its failure. A rule that raises an arithmetic
error is reported as E0216 rather than crashing.
"""
from __future__ import annotations

import math
import sys

from ..catalogue import LayerSpec
from ..diagnostics import ERROR, WARNING
from ..diagnostics.codes import E0216, E0217, E0307, W0405
from ..diagnostics.fixes import Edit, Fix, drop_argument
from ..frontend.source import Span
from ..ir import Node
from ..limits import LIMITS
from ..values import shape_text, show_shape
from .report import Reporter


class RuleContext:
    """What a shape rule reports through (catalogue.spec.RuleContext). `at` names the
    argument at fault (`"kernel"`, or `"branch2"` for a merge) so the caret lands on it."""

    __slots__ = ("reporter", "node", "arg_spans", "failed", "nodes", "env")

    def __init__(self, reporter: Reporter, node: Node, arg_spans: dict, nodes=None, env=None):
        self.reporter, self.node, self.arg_spans, self.failed = reporter, node, arg_spans, False
        self.nodes = nodes          # the graph's nodes so far (for producer), when the caller has them
        self.env = env              # the names in reach, inside a block use (None outside blocks)

    @property
    def in_block(self) -> bool:
        return self.env is not None

    def written(self, value: int, dim: int = 0) -> str:
        """`value` as help should write it here. Inside a block, help in one use's numbers
        would break the other uses: the name in reach that holds `value` (a parameter, a
        loop variable, a constant) when exactly one does, else `in.c` / `in.h` / `in.w`
        when the block's input has it at `dim`; the number when nothing names it."""
        if self.env is None:
            return str(value)
        names = set()
        env = self.env
        while env is not None:
            names.update(n for n, v in env.vars.items()
                         if type(v) is int and v == value and n not in names)
            env = env.parent
        if len(names) == 1:
            return names.pop()
        dims = getattr(self.env.in_shape, "dims", None)
        if not names and dims is not None and dim < len(dims) and dims[dim] == value:
            return f"in.{'chw'[dim]}" if len(dims) == 3 else str(value)
        return str(value)

    def insert_before(self, text: str, message: str):
        span = self.node.span
        if span is None:
            return message
        return Fix(message, (Edit(Span(span.source, span.start, span.start), text),))

    def replace_argument(self, at: str, text: str, message: str):
        """A help line carrying the edit that rewrites argument `at` as `text`, when the
        argument was written as a literal keyword argument (`groups=4`); else the words."""
        import re
        span = self.arg_spans.get(at)
        if span is None or not re.fullmatch(rf"{re.escape(at)}\s*=\s*-?\d+", span.text()):
            return message
        return Fix(message, (Edit(span, text),))

    def remove_argument(self, at: str, message: str):
        """A help line carrying the edit that removes argument `at` (when it was written
        positionally: a keyword argument was chosen by name), else the words."""
        span = self.arg_spans.get(at)
        if span is None or self.node.span is None or positional(span) is False:
            return message
        return drop_argument(span, self.node.span, message)

    def positional(self, at: str) -> bool:
        """Was argument `at` written without its name?"""
        span = self.arg_spans.get(at)
        return span is not None and positional(span)

    def producer(self, i: int = 0):
        if self.nodes is None or i >= len(self.node.inputs):
            return None
        j = self.node.inputs[i]
        return self.nodes[j] if j < len(self.nodes) else None

    def _span(self, at):
        if at is not None and at in self.arg_spans:
            return self.arg_spans[at]
        return self.node.span

    def error(self, code, message, at=None, *, notes=(), help=(), label=""):
        self.failed = True
        self.reporter.report(ERROR, code, message, self._span(at), label, notes, help, self.node.origin, self.node)

    def warn(self, code, message, at=None, *, notes=(), help=(), label=""):
        self.reporter.report(WARNING, code, message, self._span(at), label, notes, help, self.node.origin, self.node)

    def explain(self, text):
        self.node.explain.append(sys.intern(text))     # repeated layers repeat their formulas


def positional(span) -> bool:
    """An argument written without `name=`."""
    import re
    return re.match(r"[A-Za-z_][A-Za-z0-9_]*\s*=(?!=)", span.text()) is None


def _rank_help(rank: int, shape: tuple) -> tuple:
    """What to do when a layer gets the wrong number of dimensions."""
    if rank == 3 and len(shape) == 1:
        return ("a flat input has no height or width: move this layer before `flatten`, "
                "or start the network from a [C, H, W] input",)
    if rank == 3:
        return ("2-D layers need a per-sample [C, H, W] input",)
    if rank == 1 and len(shape) > 1:
        return (f"add `flatten` before it to make [{shape_text(shape)}] one feature vector",)
    return ()


def validate(spec: LayerSpec, node: Node, reporter: Reporter, spans: dict) -> bool:
    """The checks between arguments that need no input shape. They run even after an
    upstream error, so independent problems are all reported. False if one failed."""
    if spec.validate is None:
        return True
    ctx = RuleContext(reporter, node, spans)
    spec.validate(node.args, ctx)
    return not ctx.failed


def apply(spec: LayerSpec, node: Node, shapes: list, reporter: Reporter, spans: dict, name_span,
          nodes=None, env=None) -> None:
    """Compute the node's shape and costs from known input shapes, or record its failure."""
    if spec.rank is not None:
        for s in shapes:
            if len(s) != spec.rank:
                want = {3: "[C, H, W]", 1: "[features]"}.get(spec.rank, f"{spec.rank} dimensions")
                reporter.report(
                    ERROR, E0307, f"`{spec.name}` needs a {want} input, but its input is {show_shape(s, 'unknown')}",
                    name_span, help=_rank_help(spec.rank, s), origin=node.origin, node=node)
                return
    ctx = RuleContext(reporter, node, spans, nodes, env)
    try:
        shape = spec.shape(node.args, shapes, ctx)
    except (ZeroDivisionError, OverflowError, ValueError) as e:     # rule guard: report, never crash
        ctx.error(E0216, f"`{spec.name}` cannot compute its output: {e}")
        shape = None
    if ctx.failed or shape is None:
        return
    too_large = LIMITS.max_value // 2 ** 20
    if any(x > too_large for x in shape):
        ctx.error(E0217, f"`{spec.name}` output {show_shape(shape, 'unknown')} is absurdly large")
        return
    if math.prod(shape) > LIMITS.max_value:
        ctx.error(E0217, f"`{spec.name}` output {show_shape(shape, 'unknown')} has more elements than torch can "
                  "hold in one tensor", notes=(f"{math.prod(shape):,} elements; the limit is 2**63 \u2212 1",))
        return
    node.shape = tuple(shape)
    node.params, node.buffers = spec.count_params(node.args, shapes, node.shape)
    node.macs = spec.macs(node.args, shapes, node.shape)
    if 4 * max(node.params, node.buffers) > LIMITS.max_value:     # torch cannot size the storage
        ctx.error(E0217, f"`{spec.name}` has {node.params:,} parameters: more float32 bytes than torch can "
                  "address", notes=("torch refuses: \"Storage size calculation overflowed\"",),
                  help=("check the input size: is a flatten or pooling missing?",))
        node.shape = None
        return
    if node.params > LIMITS.max_layer_params:
        ctx.warn(W0405, f"`{spec.name}` has {node.params:,} parameters",
                 notes=(f"that is {node.params * 4 / 2 ** 30:.1f} GiB in float32",),
                 help=("check the input size: is a flatten or pooling missing?",))
