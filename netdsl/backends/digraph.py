"""The graph IR as a `networkx.DiGraph`: the public, documented view of a network.

`netdsl render` draws exactly this graph (render.py reads nothing else), so what a
user gets from `netdsl.graph(spec)` is what the diagram shows. docs/render.md lists
the attributes; keep it in step with `_node_attrs` and `_scope_attrs`.

networkx is imported inside the functions, so `import netdsl` stays light.
"""
from __future__ import annotations

import re

from ..ir import Graph, Node, Scope
from ..values import shape_text

_KWARG = re.compile(r"\s*([A-Za-z_]\w*)\s*=(?!=)")


def _location(span) -> dict:
    if span is None:
        return {"file": None, "line": None, "column": None}
    return {"file": span.source.name, "line": span.line, "column": span.column}


def node_failure(node: Node) -> str | None:
    """`CODE: message` of the error reported at `node`, if its shape failed *here*."""
    d = node.failure
    return f"{d.code}: {d.message}" if d is not None else None


def node_label(node: Node) -> str:
    if node.stand_in:
        # A stand-in for something elaboration could not expand (an unknown layer,
        # a failed `expect`): show the source the user wrote.
        text = node.span.text().strip().split("\n")[0] if node.span is not None else ""
        return text if len(text) <= 40 else text[:39] + "\u2026"
    return node.describe()


def _node_attrs(node: Node, g: Graph) -> dict:
    in_shapes = tuple(g.nodes[i].shape for i in node.inputs)
    spec = node.spec
    chain = []
    s = node.scope
    while s.parent is not None:
        chain.append(s.id)
        s = s.parent
    attrs = {
        "kind": node.kind,
        "category": spec.category if spec is not None else "input",
        "label": node_label(node),
        "name": node.name,
        "qualname": node.qualname,
        "settings": dict(vars(node.args)) if node.args is not None else {},
        "shape": node.shape,
        "in_shapes": in_shapes,
        "params": node.params,
        "buffers": node.buffers,
        "macs": node.macs,
        "merge": spec is not None and spec.inputs == "many",
        "scope": node.scope.id,
        "scopes": tuple(reversed(chain)),
        "loops": tuple((loop.id, i) for loop, i in node.loops),
        "error": node_failure(node),
    }
    attrs.update(_location(node.span))
    return attrs


def scope_label(scope: Scope) -> str:
    """`layer2`, `0: BasicBlock(128, stride=2)`: the name, and the block with its arguments."""
    if scope.kind != "block":
        return scope.name or "?"
    written = _written_args(scope)
    if written is None:
        written = [f"{k}={_show(v)}" for k, v in scope.args.items()]
    return f"{scope.name}: {scope.definition}({', '.join(written)})"


def _written_args(scope: Scope) -> list | None:
    """The arguments as the use wrote them, with values for expressions: the use
    `BasicConv2d(c3, 3, padding=1)` shows as `BasicConv2d(192, 3, padding=1)`, which
    is shorter than every parameter and clearer than values alone. None if the use's
    text cannot be split (the caller then lists every parameter)."""
    text = scope.span.text() if scope.span is not None else ""
    names = list(scope.args)
    start = text.find("(")
    if start < 0:
        return []
    pieces, depth, cur = [], 0, []
    for ch in text[start + 1:]:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                break
            depth -= 1
        if ch == "," and depth == 0:
            pieces.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    else:
        return None
    pieces.append("".join(cur))
    out = []
    for i, piece in enumerate(p for p in pieces if p.strip()):
        m = _KWARG.match(piece)
        key = m.group(1) if m else (names[i] if i < len(names) else None)
        if key not in scope.args:
            return None
        value = _show(scope.args[key])
        out.append(f"{key}={value}" if m else value)
    return out


def _show(v) -> str:
    from ..values import show
    return show(v)


def loop_label(text: str, count: int) -> str:
    """`repeat 3`, `repeat n  ×4`, `for (c, s) in [(64, 1), (128, 2)]`: the statement's head."""
    head = " ".join(text.split("{", 1)[0].split())
    if len(head) > 48:
        head = head[:47] + "\u2026"
    return head if head == f"repeat {count}" else f"{head}  \u00d7{count}"


def _loop_attrs(loop) -> dict:
    text = loop.span.text() if loop.span is not None else "repeat"
    attrs = {"kind": text.split(None, 1)[0] if text.strip() else "repeat", "count": loop.count,
             "label": loop_label(text, loop.count), "scope": loop.scope.id}
    attrs.update(_location(loop.span))
    return attrs


def _scope_attrs(scope: Scope) -> dict:
    attrs = {
        "kind": scope.kind,
        "definition": scope.definition,
        "name": scope.name,
        "qualname": scope.qualname,
        "label": scope_label(scope),
        "parent": scope.parent.id if scope.parent is not None else None,
        "depth": scope.depth,
        "args": dict(scope.args),
        "in_shape": scope.in_shape,
        "out_shape": scope.out_shape,
    }
    attrs.update(_location(scope.span))
    return attrs


def to_networkx(g: Graph):
    """The IR graph `g` as a networkx.DiGraph (node keys are the IR's sequential node ids)."""
    import networkx as nx
    out = nx.DiGraph()
    out.graph.update(
        network=g.network, ok=g.ok, params=dict(g.params),
        input_shape=g.input_shape, output_shape=g.output_shape, output=g.output,
        total_params=g.total_params, total_macs=g.total_macs,
        scopes={s.id: _scope_attrs(s) for s in g.scopes() if s.parent is not None},
        diagnostics=list(g.diagnostics),
        loops={},
    )
    for node in g.nodes:
        out.add_node(node.id, **_node_attrs(node, g))
        for loop, _ in node.loops:
            if loop.id not in out.graph["loops"]:
                out.graph["loops"][loop.id] = _loop_attrs(loop)
    for node in g.nodes:
        for port, src in enumerate(node.inputs):
            if out.has_edge(src, node.id):     # the same tensor on two branches of a merge
                out.edges[src, node.id]["ports"] += (port,)
                continue
            shape = g.nodes[src].shape
            out.add_edge(src, node.id, shape=shape, label=shape_text(shape), ports=(port,))
    return out


def collapse(G, depth: int | None):
    """A copy of `G` where every scope nested deeper than `depth` is one node.

    Scope depth counts from 1 (a block used directly in the network). A collapsed
    scope becomes the node `("scope", id)` with kind "block" or "sequence", its
    in/out shapes, the sum of its parameters and the first error inside it.
    """
    import networkx as nx
    if depth is None:
        return G
    scopes = G.graph["scopes"]
    out = nx.DiGraph()
    out.graph.update(G.graph)
    where = {}
    for n, a in G.nodes(data=True):
        chain = a["scopes"]
        if len(chain) <= depth:
            where[n] = n
            out.add_node(n, **a)
            continue
        sid = chain[depth]
        key = ("scope", sid)
        where[n] = key
        if key not in out:
            s = scopes[sid]
            keep = {0, *chain[:depth]}      # loops outside the collapsed scope still enclose it
            out.add_node(key, kind=s["kind"], category=s["kind"], label=s["label"], name=s["name"],
                         qualname=s["qualname"], settings=dict(s["args"]), shape=s["out_shape"],
                         in_shapes=(s["in_shape"],), params=0, buffers=0, macs=0, merge=False,
                         scope=chain[depth - 1] if depth else 0, scopes=chain[:depth], error=None,
                         loops=tuple(f for f in a["loops"] if G.graph["loops"][f[0]]["scope"] in keep),
                         file=s["file"], line=s["line"], column=s["column"], first=n)
        c = out.nodes[key]
        c["params"] += a["params"]
        c["buffers"] += a["buffers"]
        c["macs"] += a["macs"]
        if c["error"] is None and a["error"] is not None:
            c["error"] = a["error"]
    for u, v, a in G.edges(data=True):
        mu, mv = where[u], where[v]
        if mu != mv and not out.has_edge(mu, mv):
            out.add_edge(mu, mv, **a)
    # A collapsed scope's output is whatever tensor leaves it: its out_shape can be
    # None when the scope failed, and then the edges leaving it already say "?".
    return out
