"""What a valid graph is, checked apart from the code that builds it (as tinygrad's uop spec).

`problems(graph)` lists every way a graph breaks the IR's contract; the tests run
it on every spec, every corpus case and every docs example. The backends rely on
these properties and check none of them themselves.
"""
from __future__ import annotations

from . import Graph, Node, Scope


def _is_shape(shape) -> bool:
    return (type(shape) is tuple and 1 <= len(shape) and
            all(type(d) is int and d >= 1 for d in shape))


def problems(graph: Graph) -> list[str]:
    out: list[str] = []
    nodes = graph.nodes
    diagnostics = {id(d) for d in graph.diagnostics}
    for i, node in enumerate(nodes):
        where = f"node {i} ({node.kind})"
        if node.id != i:
            out.append(f"{where}: id {node.id} is not its position")
        if any(not (0 <= j < i) for j in node.inputs):
            out.append(f"{where}: reads {node.inputs}, not all of them earlier nodes")
        if node.spec is None and (i != 0 or node.inputs):
            out.append(f"{where}: only node 0 may be the network input")
        if node.shape is not None and not _is_shape(node.shape):
            out.append(f"{where}: shape {node.shape!r} is not a tuple of positive ints")
        if node.failure is not None:
            if not node.failure.is_error:
                out.append(f"{where}: its failure is a warning")
            if id(node.failure) not in diagnostics and not graph.omitted:
                out.append(f"{where}: its failure is not among the graph's diagnostics")
            if node.shape is not None:
                out.append(f"{where}: failed but has a shape")
        if node.args is None and node.spec is not None and node.failure is None and not node.stand_in:
            out.append(f"{where}: arguments that did not bind, but no failure")
        if node.shape is None and node.failure is None and not node.stand_in and node.spec is not None:
            upstream = any(nodes[j].shape is None for j in node.inputs if 0 <= j < len(nodes))
            if not upstream and not _reads_unknown(node):
                out.append(f"{where}: no shape, no failure, and nothing unknown upstream")
        if node.stand_in and node.has_module:
            out.append(f"{where}: a stand-in must not become a module")
    if graph.output is not None and not 0 <= graph.output < len(nodes):
        out.append(f"output {graph.output} is not a node")
    if graph.ok and (graph.output is None or any(n.shape is None for n in nodes)):
        out.append("the graph has no errors but an unknown shape or no output")
    out += _scope_problems(graph)
    return out


def _reads_unknown(node: Node) -> bool:
    from ..values import depends_on_unknown
    return node.args is not None and any(depends_on_unknown(v) for v in vars(node.args).values())


def _scope_problems(graph: Graph) -> list[str]:
    out = []
    for scope in graph.scopes():
        names = [c.name for c in scope.children]
        if any(n is None for n in names):
            out.append(f"scope {scope.qualname or scope.definition!r}: a child without a name")
        elif len(set(names)) != len(names):
            out.append(f"scope {scope.qualname or scope.definition!r}: two children share a name")
        for child in scope.children:
            if isinstance(child, Scope):
                if child.parent is not scope:
                    out.append(f"scope {child.qualname!r}: listed under a scope that is not its parent")
            elif not child.has_module or child.scope is not scope:
                out.append(f"node {child.id}: listed as a module of {scope.qualname!r} wrongly")
    for node in graph.nodes:
        if node.has_module and node not in node.scope.children:
            out.append(f"node {node.id} ({node.kind}): a module missing from its scope's children")
    return out
