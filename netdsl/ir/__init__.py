"""The graph IR: what a network expands to, and all that the backends read.

Nodes are numbered in creation order, which is a topological order (a node only
reads tensors made before it). Scopes mirror the torch module tree: the network,
each block use, and each named sequence. A node whose shape could not be computed
says why: `failure` is the error diagnostic reported at it, and `stand_in` marks a
node that stands for something elaboration could not expand (an unknown layer, a
block use that failed to bind). A node with neither lies downstream of a failure.
What a valid graph is: netdsl/ir/validate.py.
"""
from __future__ import annotations

from typing import Any

from ..catalogue import LayerSpec
from ..diagnostics import Diagnostic
from ..frontend.source import Span
from ..record import Frozen, Record, Value, set_field
from ..values import depends_on_unknown


class Scope(Record):
    """A module of the torch tree: the network, a block use or a named sequence."""
    is_scope = True
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
                           "explain", "failure", "stand_in", "params", "buffers", "macs", "loops")
    is_scope = False

    def __init__(self, id: int, spec: LayerSpec | None, args: Any, inputs: tuple[int, ...], scope: Scope,
                 span: Span, shape: tuple | None = None, name: str | None = None, label: str | None = None,
                 origin: tuple = (), explain: list | None = None, failure: Diagnostic | None = None,
                 stand_in: bool = False, params: int = 0, buffers: int = 0, macs: int = 0, loops: tuple = ()):
        self.id = id
        self.spec = spec            # None for the network input
        self.args = args            # SimpleNamespace of resolved arguments; None if they did not bind
        self.inputs = inputs
        self.scope = scope
        self.span = span
        self.shape = shape
        self.name = name            # module name within its scope
        self.label = label          # the name written in the spec, if any
        self.origin = origin        # block-use spans, innermost first
        self.explain = [] if explain is None else explain
        self.failure = failure      # the first error reported at this node
        self.stand_in = stand_in    # stands for what could not be expanded (span: the text written)
        self.params = params        # trainable parameters
        self.buffers = buffers      # buffer elements (BatchNorm running stats)
        self.macs = macs
        self.loops = loops          # (Loop, iteration) for each enclosing repeat/for, outermost first

    @property
    def kind(self) -> str:
        return self.spec.name if self.spec is not None else "input"

    @property
    def has_module(self) -> bool:
        return self.spec is not None and self.spec.torch is not None and not self.stand_in

    @property
    def path(self) -> tuple[str, ...]:
        return (*self.scope.path, self.name or "?")

    @property
    def qualname(self) -> str:
        return ".".join(self.path)

    def describe(self) -> str:
        """The diagram label (`conv 3×3, 64, p1`); the kind alone when the arguments did not
        bind or read an unknown shape (the label rule would format nonsense)."""
        if self.spec is None or self.args is None or self.stand_in or \
                any(depends_on_unknown(v) for v in vars(self.args).values()):
            return self.kind
        return self.spec.label(self.args) or self.kind


class Graph(Value):
    """A network expanded: its nodes in topological order and its module tree."""
    _fields = ("network", "params", "nodes", "root", "output", "diagnostics", "definitions")

    def __init__(self, network: str, params: dict, nodes: list[Node], root: Scope, output: int | None = None,
                 diagnostics: list | None = None, definitions: dict | None = None):
        self.network = network
        self.params = params        # the network's parameter values
        self.nodes = nodes
        self.root = root
        self.output = output        # id of the node whose tensor the network returns
        self.diagnostics = [] if diagnostics is None else diagnostics
        # name -> Signature of the network and of every block it uses
        self.definitions = {} if definitions is None else definitions

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


NO_DEFAULT = object()       # a parameter without a constant default


class Parameter(Frozen):
    """A block's or network's parameter as the backends see it: its name, its default
    when that is a constant (NO_DEFAULT when the spec gives none, or one computed
    from other parameters or the input), and where it is written."""
    __slots__ = _fields = ("name", "default", "span")

    def __init__(self, name: str, default, span: Span):
        set_field(self, "name", name)
        set_field(self, "default", default)
        set_field(self, "span", span)


class Signature(Frozen):
    """A block or network definition, as far as code generation needs it."""
    __slots__ = _fields = ("name", "kind", "params")

    def __init__(self, name: str, kind: str, params: tuple[Parameter, ...]):
        set_field(self, "name", name)
        set_field(self, "kind", kind)       # "network" | "block"
        set_field(self, "params", params)

    def param(self, name: str) -> Parameter | None:
        return next((p for p in self.params if p.name == name), None)
