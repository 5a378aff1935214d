"""The graph IR as a `networkx.DiGraph`: the public, documented view of a network.

`netdsl render` draws exactly this graph (render.py reads nothing else), so what a
user gets from `netdsl.graph(spec)` is what the diagram shows. docs/render.md lists
the attributes; keep it in step with `_node_attrs` and `_scope_attrs`.

networkx is imported inside the functions, so `import netdsl` stays light.
"""
from __future__ import annotations

import re

from ..catalogue.spec import TensorRef
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
        "passthrough": spec is not None and spec.passthrough,
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
    """A value in a label. A float computed by the spec (EfficientNet's stochastic depth
    0.2 * 3 / 16) shows 6 significant digits, not 0.037500000000000006."""
    from ..values import show
    if isinstance(v, float) and len(repr(v)) > 8:
        return f"{v:.6g}"
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
        sizes = size_ports(node)
        for port, src in enumerate(node.inputs):
            role = "size" if port in sizes else "data"
            if out.has_edge(src, node.id):     # the same tensor on two branches of a merge
                e = out.edges[src, node.id]
                e["ports"] += (port,)
                if role == "data":
                    e["role"] = "data"
                continue
            shape = g.nodes[src].shape
            out.add_edge(src, node.id, shape=shape, label=shape_text(shape), ports=(port,), role=role)
    return out


def size_ports(node: Node) -> set:
    """The inputs of `node` that it reads only for their shape: the tensors passed to
    parameters that take one (`upsample(size=@in)`, `center_crop(@up)`; the catalogue's
    ParamType.tensor), which the layer's arguments hold as TensorRefs to their port."""
    args = vars(node.args) if node.args is not None else {}
    return {v.index for v in args.values() if isinstance(v, TensorRef)}


def loop_homes(G) -> dict:
    """loop id -> the scope whose cluster holds the loop's cluster (0: the network).

    The scope the loop runs in, unless all its iterations land in one scope that
    also holds other nodes (a `for` line in a named merge: its branches share the
    merge's ModuleList with the branches written out): then that scope. A cluster
    drawn under two parents makes Graphviz crash, so each loop has one home."""
    loops = G.graph["loops"]
    common: dict = {}           # loop id -> the scopes every node of the loop is in, outermost first
    all_in: dict = {}           # scope id -> the loops every node of the scope runs in
    for _, a in G.nodes(data=True):
        mine = {lid for lid, _ in a.get("loops", ())}
        scopes = list(a.get("scopes", ()))
        for sid in scopes:
            all_in[sid] = all_in[sid] & mine if sid in all_in else set(mine)
        for lid in mine:
            prev = common.get(lid)
            n = len(scopes) if prev is None else 0
            if prev is not None:
                while n < min(len(prev), len(scopes)) and prev[n] == scopes[n]:
                    n += 1
            common[lid] = scopes[:n]
    home = {}
    for lid, scopes in common.items():
        at = loops[lid]["scope"]
        rest = scopes if at == 0 else scopes[scopes.index(at) + 1:] if at in scopes else []
        for sid in rest:
            if lid in all_in.get(sid, ()):      # made by the loop (an iteration's scope): stop outside it
                break
            at = sid
        home[lid] = at
    return home


def nesting(a: dict, home: dict) -> tuple:
    """The groups around a node, outermost first: ("s", scope id) for each block use or
    named sequence, ("l", loop id) for each repeat/for run, each loop right inside
    the scope that is its home. `--depth N` keeps the first N of them."""
    chain = [("l", lid) for lid, _ in a["loops"] if home[lid] == 0]
    for sid in a["scopes"]:
        chain.append(("s", sid))
        chain.extend(("l", lid) for lid, _ in a["loops"] if home[lid] == sid)
    return tuple(chain)


def full_depth(G) -> int:
    """The deepest nesting of blocks, named sequences and loops: `--depth` at or above
    this draws every layer."""
    home = loop_homes(G)
    return max((len(nesting(a, home)) for _, a in G.nodes(data=True)), default=0)


def skip_passthrough(G):
    """A copy of `G` without the merge branches that are only a pass-through layer
    (`identity`, the catalogue's `passthrough`): the merge reads the tensor itself,
    which a diagram draws as a skip edge, as generated code has no module there."""
    drop = [n for n, a in G.nodes(data=True)
            if a.get("passthrough") and not a["error"] and G.in_degree(n) == 1 and G.out_degree(n) > 0
            and all(G.nodes[v]["merge"] for v in G.successors(n))]
    if not drop:
        return G
    H = G.copy()
    for n in drop:
        (src,) = H.predecessors(n)
        for v in list(H.successors(n)):
            ports = H.edges[n, v]["ports"]
            if H.has_edge(src, v):
                H.edges[src, v]["ports"] = tuple(sorted(H.edges[src, v]["ports"] + ports))
            else:
                H.add_edge(src, v, **{**H.edges[src, n], "ports": ports})
        H.remove_node(n)
    return H


def _folded_loop_label(G, lid: int, members: list, depth: int, chains: dict) -> str:
    """`conv 3×3, 64, p1 → relu  ×2`, `DenseLayer(32, 4)  ×6` when every iteration is
    the same short body; else the loop's head (`for (c, s) in [...]  ×4`)."""
    info = G.graph["loops"][lid]
    scopes = G.graph["scopes"]
    bodies: dict = {}
    for n in members:
        a = G.nodes[n]
        it = next(i for x, i in a["loops"] if x == lid)
        chain = chains[n]
        if len(chain) > depth + 1:
            what, cid = chain[depth + 1]
            text = (scopes[cid]["label"].split(": ", 1)[-1] if what == "s"
                    else G.graph["loops"][cid]["label"])
        else:
            text = a["label"]
        body = bodies.setdefault(it, [])
        if not body or body[-1] != text:
            body.append(text)
    first = next(iter(bodies.values()), [])
    count = info["count"]
    times = f"  ×{count}" if count != 1 else ""
    if all(b == first for b in bodies.values()) and len(first) <= 3:
        text = " → ".join(first)
        if len(text) <= 44:
            return text + times
    head = info["label"]
    return head.replace(f"repeat {count}", "repeat") + times if "×" not in head else head


def collapse(G, depth: int | None):
    """The `--depth` view of `G`: nodes nested deeper than `depth` are drawn as one node
    per group, where blocks, named sequences and repeat/for runs each count one level.

    A folded block or sequence becomes the node `("scope", id)` (kind "block" or
    "sequence"), a folded loop `("loop", id)` (kind "repeat" or "for", labelled with
    its ×count), with the group's in/out shapes, the sum of its parameters and the
    first error inside it. Every node of the result has `clusters`: the groups still
    drawn around it, outermost first (see `nesting`), and `G.graph["where"]` maps
    each node of `G` to the node drawn for it. Merge branches that are only a
    pass-through are skip edges (`skip_passthrough`)."""
    import networkx as nx
    G = skip_passthrough(G)
    home = loop_homes(G)
    chains = {n: nesting(a, home) for n, a in G.nodes(data=True)}
    scopes, loops = G.graph["scopes"], G.graph["loops"]
    out = nx.DiGraph()
    out.graph.update(G.graph)
    where: dict = {}
    members: dict = {}
    for n, a in G.nodes(data=True):
        chain = chains[n]
        if depth is None or len(chain) <= depth:
            where[n] = n
            out.add_node(n, **a, clusters=chain, folded=False)
            continue
        what, gid = chain[depth]
        key = ("scope" if what == "s" else "loop", gid)
        where[n] = key
        members.setdefault(key, []).append(n)
        if key not in out:
            kept = chain[:depth]
            inner = [cid for w, cid in kept if w == "s"]
            common = dict(file=None, line=None, column=None, params=0, buffers=0, macs=0, merge=False,
                          passthrough=False, error=None, first=n, clusters=kept, folded=True,
                          scope=inner[-1] if inner else 0, scopes=tuple(inner),
                          loops=tuple(f for f in a["loops"] if ("l", f[0]) in kept))
            if what == "s":
                s = scopes[gid]
                out.add_node(key, **{**common, **dict(
                    kind=s["kind"], category=s["kind"], label=s["label"], name=s["name"], qualname=s["qualname"],
                    settings=dict(s["args"]), shape=s["out_shape"], in_shapes=(s["in_shape"],),
                    file=s["file"], line=s["line"], column=s["column"])})
            else:
                lp = loops[gid]
                out.add_node(key, **{**common, **dict(
                    kind=lp["kind"], category="loop", label=lp["label"], name="", qualname="", settings={},
                    count=lp["count"], shape=None, in_shapes=(None,),
                    file=lp["file"], line=lp["line"], column=lp["column"])})
        c = out.nodes[key]
        c["params"] += a["params"]
        c["buffers"] += a["buffers"]
        c["macs"] += a["macs"]
        if c["error"] is None and a["error"] is not None:
            c["error"] = a["error"]
    for u, v, a in G.edges(data=True):
        mu, mv = where[u], where[v]
        if mu == mv:
            continue
        if not out.has_edge(mu, mv):
            out.add_edge(mu, mv, **a)
        elif a.get("role") == "data":          # one drawn edge: data if any edge it stands for is
            out.edges[mu, mv]["role"] = "data"
    out.graph["where"] = where
    # A folded loop has no shapes of its own: what enters and what leaves it (one
    # tensor each, except a `for` line of merge branches). A collapsed scope's
    # out_shape can be None when it failed; then the edges leaving it say "?".
    for key, inside in members.items():
        if key[0] != "loop":
            continue
        a = out.nodes[key]
        a["label"] = _folded_loop_label(G, key[1], inside, depth, chains)
        ins = {G.nodes[u]["shape"] for n in inside for u in G.predecessors(n) if where[u] != key}
        outs = {G.nodes[n]["shape"] for n in inside for v in G.successors(n) if where[v] != key}
        a["in_shapes"] = (ins.pop() if len(ins) == 1 else None,)
        a["shape"] = outs.pop() if len(outs) == 1 else None
    return out
