"""The graph IR: what a network expands to.

Nodes are numbered in creation order, which is a topological order (a node only
reads tensors made before it). Scopes mirror the torch module tree: the network,
each block use, and each named sequence.
"""
from __future__ import annotations

from typing import Any

from ..catalogue import LayerSpec
from ..frontend.source import Span
from ..record import Record, Value


class Scope(Record):
    """A module of the torch tree: the network, a block use or a named sequence."""
    _fields = ("id", "kind", "definition", "parent", "span", "name", "args", "children", "explicit",
               "in_shape", "out_shape")

    def __init__(self, id: int, kind: str, definition: str, parent: Scope | None, span: Span,
                 name: str | None = None, args: dict | None = None, children: list | None = None,
                 explicit: dict | None = None, in_shape: tuple | None = None, out_shape: tuple | None = None):
        self.id = id
        self.kind = kind                # "network" | "block" | "sequence"
        self.definition = definition    # block or network name ("" for sequences)
        self.parent = parent
        self.span = span                # where it is used (the network's name for the root)
        self.name = name                # name in the parent module, set on close
        self.args = {} if args is None else args                  # block parameter values
        self.children = [] if children is None else children      # Nodes and Scopes, in order
        self.explicit = {} if explicit is None else explicit      # explicit child names -> span
        self.in_shape = in_shape
        self.out_shape = out_shape

    @property
    def path(self) -> tuple[str, ...]:
        if self.parent is None:
            return ()
        return (*self.parent.path, self.name or "?")

    @property
    def depth(self) -> int:
        return 0 if self.parent is None else self.parent.depth + 1

    @property
    def qualname(self) -> str:
        return ".".join(self.path)


class Loop(Record):
    """One run of a `repeat` or `for` statement (diagrams draw it as a cluster)."""
    _fields = ("id", "span", "scope", "count")

    def __init__(self, id: int, span: Span, scope: Scope, count: int):
        self.id = id
        self.span = span            # the whole statement
        self.scope = scope          # the scope its body's layers land in
        self.count = count          # iterations


# slots: a 1,000,000-layer expansion keeps a million Nodes; no per-node __dict__.
class Node(Record):
    """One tensor-producing step: the network input, or a layer."""
    __slots__ = _fields = ("id", "spec", "args", "inputs", "scope", "span", "shape", "name", "label", "origin",
                           "explain", "error", "params", "buffers", "macs", "loops")

    def __init__(self, id: int, spec: LayerSpec | None, args: Any, inputs: tuple[int, ...], scope: Scope,
                 span: Span, shape: tuple | None = None, name: str | None = None, label: str | None = None,
                 origin: tuple = (), explain: list | None = None, error: str | None = None, params: int = 0,
                 buffers: int = 0, macs: int = 0, loops: tuple = ()):
        self.id = id
        self.spec = spec            # None for the network input
        self.args = args            # SimpleNamespace of resolved arguments
        self.inputs = inputs
        self.scope = scope
        self.span = span
        self.shape = shape
        self.name = name            # module name within its scope
        self.label = label          # the name written in the spec, if any
        self.origin = origin        # block-use spans, innermost first
        self.explain = [] if explain is None else explain
        self.error = error          # first error message at this node, if any
        self.params = params        # trainable parameters
        self.buffers = buffers      # buffer elements (BatchNorm running stats)
        self.macs = macs
        self.loops = loops          # (Loop, iteration) for each enclosing repeat/for, outermost first

    @property
    def kind(self) -> str:
        return self.spec.name if self.spec is not None else "input"

    @property
    def has_module(self) -> bool:
        return self.spec is not None and self.spec.torch is not None

    @property
    def path(self) -> tuple[str, ...]:
        return (*self.scope.path, self.name or "?")

    @property
    def qualname(self) -> str:
        return ".".join(self.path)

    def describe(self) -> str:
        return self.spec.label(self.args) if self.spec is not None and self.args is not None else self.kind


class Graph(Value):
    """A network expanded: its nodes in topological order and its module tree."""
    _fields = ("network", "params", "nodes", "root", "output", "diagnostics")

    def __init__(self, network: str, params: dict, nodes: list[Node], root: Scope, output: int | None = None,
                 diagnostics: list | None = None):
        self.network = network
        self.params = params        # the network's parameter values
        self.nodes = nodes
        self.root = root
        self.output = output        # id of the node whose tensor the network returns
        self.diagnostics = [] if diagnostics is None else diagnostics

    @property
    def input(self) -> Node | None:
        return self.nodes[0] if self.nodes and self.nodes[0].spec is None else None

    @property
    def input_shape(self):
        return self.input.shape if self.input else None

    @property
    def output_shape(self):
        return self.nodes[self.output].shape if self.output is not None else None

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def layers(self) -> list[Node]:
        return [n for n in self.nodes if n.spec is not None]

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.nodes)

    @property
    def total_macs(self) -> int:
        return sum(n.macs for n in self.nodes)

    def scopes(self) -> list[Scope]:
        out, stack = [], [self.root]
        while stack:
            s = stack.pop()
            out.append(s)
            stack.extend(reversed([c for c in s.children if isinstance(c, Scope)]))
        return out
