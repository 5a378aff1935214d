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

from ..record import Frozen, Record, Value, short
from ..values import depends_on_unknown, shape_text


class Scope(Record):
    """A module of the torch tree: the network, a block use or a named sequence.

    id: sequential (the root is 0); kind: "network" | "block" | "sequence" | "list"
    (a named merge's branches: an nn.ModuleList); definition: the block's or
    network's name ("" otherwise); parent: Scope or None; span: where it is used
    (the network's name for the root); name: its name in the parent module
    (namespace.py gives it); args: the block's parameter values; children: its
    Nodes and Scopes, in order; explicit: the child names written in the spec ->
    their spans; in_shape, out_shape: what enters and leaves; numbered: its
    children are numbered as in nn.Sequential (a sequence, a `sequential block`, a
    list); inputs: a block's tensor parameters -> the node each one is; input: the
    id of the node whose tensor flows in; output: the id of the node whose tensor flows
    out (what the scope gives even where nothing reads it)."""
    is_scope = True
    _fields = ("id", "kind", "definition", "parent", "span", "name", "args", "children", "explicit",
               "in_shape", "out_shape", "numbered", "inputs", "input", "output")
    _defaults = {"name": None, "args": dict, "children": list, "explicit": dict, "in_shape": None, "out_shape": None,
                 "numbered": False, "inputs": dict, "input": None, "output": None}

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

    def __repr__(self) -> str:     # one line: a scope holds the whole tree below it
        what = f"{self.kind} {self.definition}" if self.kind in ("block", "network") else self.kind
        return (f"<Scope {short(self.qualname) or '(root)'}: {short(what)}, "
                f"{shape_text(self.in_shape)} -> {shape_text(self.out_shape)}, {len(self.children)} children>")


class Loop(Record):
    """One run of a `repeat` or `for` statement (diagrams draw it as a cluster): the
    whole statement's span, the scope its body's layers land in, and its iterations."""
    _fields = ("id", "span", "scope", "count")


class Node(Record):
    """One tensor-producing step: the network input (node 0, spec None), or a layer.

    spec: the catalogue's LayerSpec; args: a SimpleNamespace of the resolved
    arguments, None when they did not bind; inputs: ids of the nodes it reads;
    scope: the module it belongs to; span: the call written; shape: the per-sample
    output shape, None when unknown; name: its module name in its scope; label: the
    name written in the spec, if any; origin: the block-use spans it was expanded
    from, innermost first; explain: the shape rule's formulas; failure: the first
    error diagnostic reported at it; stand_in: it stands for what could not be
    expanded (its span is the text written); params, buffers (BatchNorm statistics),
    macs: its costs; loops: (Loop, iteration) of each enclosing repeat/for;
    arg_spans: where each argument is written (the rules' carets point there);
    warnings: the warnings its rules reported."""
    # slots: a 1,000,000-layer expansion keeps a million Nodes; no per-node __dict__.
    __slots__ = _fields = ("id", "spec", "args", "inputs", "scope", "span", "shape", "name", "label", "origin",
                           "explain", "failure", "stand_in", "params", "buffers", "macs", "loops", "arg_spans",
                           "warnings")
    is_scope = False

    # The one record with its own constructor: one is made per layer of every
    # expansion, and this is 5x faster than record.py's generic one (bench/README.md).
    def __init__(self, id, spec, args, inputs, scope, span, shape=None, name=None, label=None, origin=(),
                 explain=None, failure=None, stand_in=False, params=0, buffers=0, macs=0, loops=(), arg_spans=None,
                 warnings=()):
        self.id, self.spec, self.args, self.inputs, self.scope, self.span = id, spec, args, inputs, scope, span
        self.shape, self.name, self.label, self.origin = shape, name, label, origin
        self.explain = [] if explain is None else explain
        self.failure, self.stand_in = failure, stand_in
        self.params, self.buffers, self.macs, self.loops = params, buffers, macs, loops
        self.arg_spans, self.warnings = arg_spans, warnings

    @property
    def kind(self) -> str:
        return self.spec.name if self.spec is not None else "input"

    @property
    def has_module(self) -> bool:
        """It becomes a named child of its module: a layer, or a learnable tensor (spec.state)."""
        spec = self.spec
        if spec is None or self.stand_in:
            return False
        if spec.functional is not None and self.args is not None and spec.functional(self.args):
            return False
        return spec.torch is not None or spec.state is not None

    @property
    def path(self) -> tuple[str, ...]:
        return (*self.scope.path, self.name or "?")

    @property
    def qualname(self) -> str:
        return ".".join(self.path)

    def __repr__(self) -> str:
        return f"<Node {self.id} {short(self.qualname)}: {self.kind} -> {shape_text(self.shape)}>"

    def describe(self) -> str:
        """The diagram label (`conv 3×3, 64, p1`); the kind alone when the arguments did not
        bind or read an unknown shape (the label rule would format nonsense)."""
        if self.spec is None or self.args is None or self.stand_in or \
                any(depends_on_unknown(v) for v in vars(self.args).values()):
            return self.kind
        return self.spec.label(self.args) or self.kind


class Graph(Value):
    """A network expanded: its name, its parameter values, its nodes in topological
    order, its module tree (root), the id of the node it returns (output), its
    diagnostics (and how many more were counted but not kept: omitted), and the
    Signature of the network and every block it uses (definitions, by name).
    `outputs`: None when the network returns one tensor (`output`); else what an
    `output(...)` statement names, as ((name or None, node id), ...), and `output`
    is the first of them. `unused`: the ids of nodes no output depends on (an
    auxiliary head that is built, and whose parameters count, but that the
    forward pass never computes: its MACs are not counted)."""
    _fields = ("network", "params", "nodes", "root", "output", "diagnostics", "definitions", "omitted", "outputs",
               "unused")
    _defaults = {"output": None, "diagnostics": list, "definitions": dict, "omitted": 0, "outputs": None,
                 "unused": frozenset}

    def __repr__(self) -> str:
        errors = sum(d.is_error for d in self.diagnostics)
        state = f", {errors} error{'s' if errors != 1 else ''}" if errors else ""
        return (f"<Graph {short(self.network)}: {shape_text(self.input_shape)} -> {shape_text(self.output_shape)}, "
                f"{len(self.layers)} layers, {self.total_params:,} parameters{state}>")

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
    def returns(self) -> list[tuple[str | None, tuple | None]]:
        """What the network returns: (name or None, shape) for each output."""
        if self.outputs is None:
            return [(None, self.output_shape)]
        return [(name, self.nodes[node].shape) for name, node in self.outputs]

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
        """Per sample, over what the forward pass computes (not the `unused` nodes)."""
        return sum(n.macs for n in self.nodes if n.id not in self.unused)

    def output_ids(self) -> list[int]:
        if self.outputs is not None:
            return [node for _, node in self.outputs]
        return [self.output] if self.output is not None else []

    def find_unused(self) -> frozenset:
        """The nodes no output depends on (nodes are in topological order)."""
        outs = self.output_ids()
        if not outs:
            return frozenset()
        needed = set(outs)
        for n in reversed(self.nodes):
            if n.id in needed:
                needed.update(n.inputs)
        return frozenset(n.id for n in self.nodes if n.id not in needed)

    def scopes(self) -> list[Scope]:
        out, stack = [], [self.root]
        while stack:
            s = stack.pop()
            out.append(s)
            stack.extend(reversed([c for c in s.children if isinstance(c, Scope)]))
        return out


NO_DEFAULT = object()       # a parameter without a constant default

# A network parameter named `init` chooses the weight initialisation (docs/compile.md):
# elaboration checks its value, code generation acts on it.
INIT_PARAMETER = "init"
INIT_CHOICES = ("default", "xavier")


class Parameter(Frozen):
    """A block's or network's parameter as the backends see it: its name, its default
    when that is a constant (NO_DEFAULT when the spec gives none, or one computed
    from other parameters or the input), and where it is written."""
    __slots__ = _fields = ("name", "default", "span")


class Signature(Frozen):
    """A block or network definition, as far as code generation needs it: its
    constructor parameters, its tensor parameters (inputs of its forward), and for a
    its body as code generation reads it (`template`: an ir.template.Deferred)."""
    __slots__ = _fields = ("name", "kind", "params", "inputs", "template")
    _defaults = {"inputs": (), "template": None}
    # kind: "network" | "block"

    def param(self, name: str) -> Parameter | None:
        return next((p for p in self.params if p.name == name), None)
