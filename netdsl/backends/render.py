"""Network diagrams: the networkx graph from graph.py -> DOT text -> `dot` -> svg/png/pdf.

The DOT is built with the `graphviz` package from the same DiGraph that
`netdsl.graph()` returns. DOT ids come from the IR's sequential ids (`n12`,
`cluster_s3`), and nodes and edges are written in id order, so one spec always
gives byte-identical DOT. Only svg/png/pdf need the system `dot` program.

This module never prints or exits; cli.py turns its exceptions into messages.
"""
from __future__ import annotations

import os
import re
import shutil
import textwrap

from ..diagnostics.render import terminal_safe
from ..errors import NetdslError
from ..limits import LIMITS
from ..values import shape_text
from .digraph import collapse, to_networkx

FORMATS = ("svg", "png", "pdf", "dot")
FONT = "Helvetica,Arial,sans-serif"

DOT_MISSING = (
    "error: the Graphviz `dot` program is not installed (or not on PATH); it draws svg, png and pdf.\n"
    "  install it:  apt-get install graphviz   (Debian/Ubuntu)\n"
    "               brew install graphviz      (macOS)\n"
    "  or write DOT text, which needs no Graphviz:  -o diagram.dot"
)

# Fill colours by layer category: a style table, not per-kind behaviour.
FILL = {
    "input": "#ffffff",
    "convolution": "#d6e6f5",
    "linear": "#e4dcf5",
    "pooling": "#fbe3c8",
    "normalization": "#ececec",
    "activation": "#dff0d8",
    "regularization": "#f3f3f3",
    "reshape": "#f3f3f3",
    "resize": "#f3f3f3",
    "merge": "#fff2b3",
    "block": "#eef3f8",
    "sequence": "#eef3f8",
}
ERROR_FILL, ERROR_LINE = "#ffd9d9", "#d62728"


class RenderError(NetdslError):
    """Rendering could not finish (bad output name, `dot` failed, cannot write)."""


class DotNotFound(RenderError):
    def __init__(self):
        super().__init__(DOT_MISSING)


def output_format(path: str, fmt: str | None) -> str:
    """The format named by --format, else by the output file's extension."""
    if fmt:
        return fmt.lower()
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext in FORMATS:
        return ext
    raise RenderError(f"cannot tell the format of {path!r} from its extension; "
                      f"use one of .{', .'.join(FORMATS)} or pass --format")


def have_dot() -> bool:
    return shutil.which("dot") is not None


def _esc(text: str) -> str:
    """User text inside a DOT string: invisible characters escaped (they would make
    the SVG invalid XML, or reach a terminal), and backslashes are escapes there."""
    return terminal_safe(str(text)).replace("\\", "\\\\")


def _clip(name: str, width: int = 80) -> str:
    """A name as a diagram shows it: Graphviz refuses very long IDs, and nobody reads them."""
    return name if len(name) <= width else name[:width - 1] + "\u2026"


def _wrap(text: str, width: int = 38) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=True) or [""]


def _dot_id(key) -> str:
    return f"s{key[1]}" if isinstance(key, tuple) else f"n{key}"


def _node_label(a: dict, show_params: bool) -> str:
    lines = [_clip(a["label"], 200)]
    if a["kind"] in ("block", "sequence"):
        lines = _wrap(_clip(a["label"], 200), 40)
        lines.append(f"{shape_text(a['in_shapes'][0])} \u2192 {shape_text(a['shape'])}")
    if show_params and a["params"]:
        lines.append(f"{a['params']:,} params")
    if a["error"]:
        lines.extend(_wrap(a["error"]))
    return "\\n".join(_esc(s) for s in lines)


def _tooltip(a: dict) -> str:
    where = f"{os.path.basename(a['file'])}:{a['line']}:{a['column']}" if a["file"] else ""
    name = _clip(a["qualname"], 200) if a["name"] else ""
    return _esc(" ".join(p for p in (name, where) if p))


def dot_source(G, *, depth: int | None = None, direction: str = "TB", show_params: bool = False) -> str:
    """DOT text for the networkx graph `G` (from graph.to_networkx)."""
    import graphviz
    H = collapse(G, depth)
    scopes = G.graph["scopes"]
    network = _clip(G.graph["network"])
    title = f"{network}  {shape_text(G.graph['input_shape'])} \u2192 {shape_text(G.graph['output_shape'])}"
    if show_params:
        title += f"  ({G.graph['total_params']:,} params)"
    dot = graphviz.Digraph(name=_esc(network))
    dot.attr("graph", rankdir=direction.upper(), fontname=FONT, fontsize="14", label=_esc(title),
             labelloc="t", nodesep="0.3", ranksep="0.32", newrank="true", outputorder="edgesfirst",
             bgcolor="white", pad="0.2")
    dot.attr("node", shape="box", style="rounded,filled", fontname=FONT, fontsize="11",
             height="0.32", margin="0.14,0.05", color="#555555", penwidth="1")
    dot.attr("edge", fontname=FONT, fontsize="9", color="#444444", arrowsize="0.6", fontcolor="#333333")

    # Clusters: block uses and named sequences ("s", id), and repeat/for runs ("l", id)
    # inside them. Each drawn node sits in the innermost cluster of its chain.
    loops = G.graph["loops"]
    home = _loop_homes(G)
    members: dict = {}
    children: dict = {}
    for key, a in sorted(H.nodes(data=True), key=lambda kv: _order(H, kv[0])):
        chain = _chain(a, home)
        members.setdefault(chain[-1] if chain else None, []).append(key)
        for parent, child in zip([None, *chain], chain):
            children.setdefault(parent, {})[child] = None     # an ordered set

    out_id = G.graph["output"]
    last = None if out_id is None else out_id if out_id in H else ("scope", G.nodes[out_id]["scopes"][depth])
    spine = _spine(H, last)
    firsts: dict = {}

    def emit(container, cluster):
        # Nodes and child clusters in first-node order (children lists are already in that order).
        items = [(_order(H, k), 0, k) for k in members.get(cluster, ())]
        items += [(_first(members, children, c, H, firsts), 1, c) for c in children.get(cluster, ())]
        for _, is_cluster, k in sorted(items, key=lambda t: (t[0], t[1])):
            if not is_cluster:
                _emit_node(container, k, H.nodes[k], show_params, k in spine)
                continue
            what, cid = k
            info = scopes[cid] if what == "s" else loops[cid]
            with container.subgraph(name=f"cluster_{what}{cid}") as sub:
                style = {"block": "rounded", "sequence": "rounded,dashed"}.get(info["kind"], "dotted")
                sub.attr(label=_esc(_clip(info["label"], 200)), labeljust="l", fontsize="10", fontcolor="#444444",
                         style=style, color="#8da0b6" if what == "s" else "#b07d3a", penwidth="1", margin="10")
                emit(sub, k)

    emit(dot, None)
    if last is not None:
        dot.node("output", "output", shape="plaintext", style="", fontsize="11", group="spine")
    for u, v, a in sorted(H.edges(data=True), key=lambda e: (_order(H, e[1]), _order(H, e[0]))):
        attrs = {"label": " " + _esc(a["label"])}
        if a["shape"] is None:
            attrs.update(style="dashed", color="#999999")
        for _ in a["ports"][:1] if isinstance(u, tuple) or isinstance(v, tuple) else a["ports"]:
            dot.edge(_dot_id(u), _dot_id(v), **attrs)
    if last is not None:
        shape = G.nodes[out_id]["shape"]
        attrs = {"label": " " + _esc(shape_text(shape))}
        if shape is None:
            attrs.update(style="dashed", color="#999999")
        dot.edge(_dot_id(last), "output", **attrs)
    return dot.source


def _spine(H, last) -> set:
    """The main path: back from the output, through each merge's longest branch.

    Drawn as one Graphviz `group`, so it runs straight down the page and the side
    branches (a residual's skip path or projection, Inception's shorter branches)
    sit beside it. Longest, not first: MobileNetV2 writes its identity branch first."""
    import networkx as nx
    longest: dict = {}
    for key in nx.topological_sort(H):
        longest[key] = 1 + max((longest[p] for p in H.predecessors(key)), default=0)
    spine, cur = set(), last
    while cur is not None and cur not in spine:
        spine.add(cur)
        preds = sorted(H.in_edges(cur, data=True), key=lambda e: (-longest[e[0]], min(e[2]["ports"]), _order(H, e[0])))
        cur = preds[0][0] if preds else None
    return spine


def _loop_homes(G) -> dict:
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


def _chain(a: dict, home: dict) -> list:
    """The clusters around a node, outermost first: each scope, then the loops at home in it."""
    chain = [("l", lid) for lid, _ in a["loops"] if home[lid] == 0]
    for sid in a["scopes"]:
        chain.append(("s", sid))
        chain.extend(("l", lid) for lid, _ in a["loops"] if home[lid] == sid)
    return chain


def _first(members, children, cluster, H, memo) -> int:
    """The earliest node drawn inside `cluster`: where the cluster goes among its siblings."""
    if cluster not in memo:
        vals = [_order(H, k) for k in members.get(cluster, ())]
        vals += [_first(members, children, c, H, memo) for c in children.get(cluster, ())]
        memo[cluster] = min(vals)
    return memo[cluster]


def _order(H, key) -> int:
    """Position of a node in the drawing: its IR id, or the first IR id inside a collapsed scope."""
    return H.nodes[key]["first"] if isinstance(key, tuple) else key


def _emit_node(container, key, a, show_params, on_spine):
    import graphviz
    attrs = {"fillcolor": FILL.get(a["category"], "#f3f3f3"), "tooltip": _tooltip(a)}
    if on_spine:
        attrs["group"] = "spine"
    if a["merge"]:
        attrs.update(shape="ellipse", margin="0.04,0.02", height="0.28")
    elif a["kind"] == "input":
        attrs.update(shape="plaintext", style="")
    elif a["kind"] in ("block", "sequence"):
        attrs.update(style="rounded,filled,bold")
    if a["error"]:
        # A box, whatever the kind: the diagnostic is several lines of text.
        attrs.update(shape="box", margin="0.14,0.05", height="0.32")
        attrs.update(fillcolor=ERROR_FILL, color=ERROR_LINE, penwidth="2.2", fontcolor="#7a0000")
    container.node(_dot_id(key), graphviz.nohtml(_node_label(a, show_params)), **attrs)


def _as_networkx(graph):
    """Accept an ir.Graph or a DiGraph from graph.to_networkx."""
    from ..ir import Graph
    return to_networkx(graph) if isinstance(graph, Graph) else graph


def run_dot(source: str, fmt: str, warnings: list | None = None) -> bytes:
    """Lay out DOT text with the system `dot` and return the svg/png/pdf bytes.

    Problems dot reports while still succeeding go to `warnings`, reworded where
    a user can act on them."""
    import subprocess
    exe = shutil.which("dot")
    if exe is None:
        raise DotNotFound()
    try:
        # PNG at 144 dpi: sharp on slides and high-density screens (vector formats ignore it).
        extra = ["-Gdpi=144"] if fmt == "png" else []
        proc = subprocess.run([exe, f"-T{fmt}", *extra], check=False, input=source.encode("utf-8"),
                              capture_output=True, timeout=LIMITS.dot_timeout)
    except subprocess.TimeoutExpired:
        raise RenderError(f"dot did not finish laying out the diagram within {LIMITS.dot_timeout:g} s; draw less "
                          "with --depth N, allow longer with --timeout, or write .dot and lay it out yourself") from None
    except OSError as e:
        raise RenderError(f"could not run dot: {e}") from None
    if proc.returncode != 0 or not proc.stdout:
        msg = proc.stderr.decode("utf-8", "replace").strip() or f"exit status {proc.returncode}"
        raise RenderError(f"dot failed: {msg}")
    if warnings is not None:
        m = re.search(r"Scaling by ([0-9.]+)", proc.stderr.decode("utf-8", "replace"))
        if m:
            warnings.append(f"the diagram is too large for a {fmt.upper()} (cairo's limit is 32,767 pixels a "
                            f"side), so dot scaled it to {float(m.group(1)):.0%}; use .svg or .pdf, or --depth N")
    return proc.stdout


def to_svg(graph, **kw) -> str:
    """SVG text for an ir.Graph or networkx graph (Jupyter's _repr_svg_ uses this)."""
    return run_dot(dot_source(_as_networkx(graph), **kw), "svg").decode("utf-8")


def render_bytes(graph, fmt: str, warnings: list | None = None, **kw) -> bytes:
    source = dot_source(_as_networkx(graph), **kw)
    return source.encode("utf-8") if fmt == "dot" else run_dot(source, fmt, warnings)


def render_file(graph, path: str, fmt: str, inputs=(), source: str = "<string>", **kw) -> list[str]:
    """Render and write `path` (netdsl/output.py: atomically, never over one of
    `inputs`, marked as generated from `source`); nothing is written if anything
    fails. Returns warnings (a PNG too large for cairo, scaled down)."""
    from ..output import OutputError, mark, refuse_inputs, write_file
    warnings: list[str] = []
    try:
        refuse_inputs(path, inputs, "a file the spec was read from")
        write_file(path, mark(render_bytes(graph, fmt, warnings, **kw), fmt, source), inputs)
    except OutputError as e:
        raise RenderError(str(e)) from None
    return warnings
