"""The graph IR: what a network expands to.

Nodes are numbered in creation order, which is a topological order (a node only
reads tensors made before it). Scopes mirror the torch module tree: the network,
each block use, and each named sequence.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .catalogue import LayerSpec
from .source import Span


@dataclass(eq=False)
class Scope:
    id: int
    kind: str                      # "network" | "block" | "sequence"
    definition: str                # block or network name ("" for sequences)
    parent: Scope | None
    span: Span                     # where it is used (the network's name for the root)
    name: str | None = None     # name in the parent module, set on close
    args: dict = field(default_factory=dict)     # block parameter values
    children: list = field(default_factory=list)  # Nodes and Scopes, in order
    explicit: dict = field(default_factory=dict)  # explicit child names -> span
    in_shape: tuple | None = None
    out_shape: tuple | None = None

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


@dataclass(eq=False)
class Loop:
    """One run of a `repeat` or `for` statement (diagrams draw it as a cluster)."""
    id: int
    span: Span                     # the whole statement
    scope: Scope                   # the scope its body's layers land in
    count: int                     # iterations


# slots: a 1,000,000-layer expansion keeps a million Nodes; no per-node __dict__.
@dataclass(eq=False, slots=True)
class Node:
    id: int
    spec: LayerSpec | None      # None for the network input
    args: Any                      # SimpleNamespace of resolved arguments
    inputs: tuple[int, ...]
    scope: Scope
    span: Span
    shape: tuple | None = None
    name: str | None = None     # module name within its scope
    label: str | None = None    # the name written in the spec, if any
    origin: tuple = ()             # block-use spans, innermost first
    explain: list = field(default_factory=list)
    error: str | None = None    # first error message at this node, if any
    params: int = 0                # trainable parameters
    buffers: int = 0               # buffer elements (BatchNorm running stats)
    macs: int = 0
    loops: tuple = ()              # (Loop, iteration) for each enclosing repeat/for, outermost first

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


@dataclass
class Graph:
    network: str
    params: dict                    # the network's parameter values
    nodes: list[Node]
    root: Scope
    output: int | None = None    # id of the node whose tensor the network returns
    diagnostics: list = field(default_factory=list)

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
