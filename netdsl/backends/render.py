"""Network diagrams: the networkx graph from graph.py -> DOT text -> `dot` -> svg/png/pdf.

The DOT is built with the `graphviz` package from the same DiGraph that
`netdsl.graph()` returns. DOT ids come from the IR's sequential ids (`n12`,
`cluster_s3`), and nodes and edges are written in id order, so one spec always
gives byte-identical DOT. Only svg/png/pdf need the system `dot` program.

This module never prints or exits; cli.py turns its exceptions into messages.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import textwrap

from ..diagnostics.render import terminal_safe
from ..errors import NetdslError
from ..limits import LIMITS
from ..values import shape_text
from .digraph import collapse, full_depth, to_networkx

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
    "loop": "#f6efe4",
}
ERROR_FILL, ERROR_LINE = "#ffd9d9", "#d62728"
# A cluster's label is one line; past this many characters it is cut (the graph API
# keeps the whole text). EfficientNet's `features` block takes its whole
# configuration table as an argument.
CLUSTER_LABEL = 64
# Diagrams with more nodes than this get no pads keeping edges off cluster labels (the
# zoo's largest, EfficientNetV2-S at full depth, has 617).
PAD_NODES = 800


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


def _cluster_label(text: str) -> str:
    """A cluster's one-line label: a block use whose arguments run past CLUSTER_LABEL
    characters keeps its name and block, `features: MobileNetV3Features(…)`."""
    if len(text) <= CLUSTER_LABEL:
        return text
    head = text.split("(", 1)[0]
    if text.endswith(")") and len(head) < CLUSTER_LABEL - 3:
        return head + "(\u2026)"
    return _clip(text, CLUSTER_LABEL)


def _wrap(text: str, width: int = 38) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=True) or [""]


def _dot_id(key) -> str:
    if isinstance(key, tuple):
        return ("s" if key[0] == "scope" else "l") + str(key[1])
    return f"n{key}"


def _node_label(a: dict, show_params: bool) -> str:
    lines = [_clip(a["label"], 200)]
    if a.get("folded"):
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


def dot_source(G, *, depth: int | None = None, direction: str = "TB", show_params: bool = False,
               rows: int | None = None, flip: frozenset = frozenset(), beside: dict | None = None) -> str:
    """DOT text for the networkx graph `G` (from graph.to_networkx), `depth` levels deep
    (None: every layer; digraph.collapse says what a level is).

    Left to right, the diagram wraps into `rows` rows (None: as many as make it about
    3:2). Top to bottom, an encoder-decoder with nested long skips is drawn as a U.
    `flip`: DOT names of clusters whose label goes on the right (an edge crossed it on
    the left; see `label_crossings`). `beside`: cluster DOT name -> DOT ids of nodes in
    it that get a pad as wide as its label on the label's side, because an edge into
    them crossed the label on both sides (`_placement`)."""
    import graphviz
    H = collapse(G, depth)
    lr = direction.upper() == "LR"
    network = _clip(G.graph["network"])
    title = f"{network}  {shape_text(G.graph['input_shape'])} \u2192 {shape_text(G.graph['output_shape'])}"
    if show_params:
        title += f"  ({G.graph['total_params']:,} params)"
    dot = graphviz.Digraph(name=_esc(network))
    dot.attr("graph", rankdir="LR" if lr else "TB", fontname=FONT, fontsize="14", label=_esc(title),
             labelloc="t", nodesep="0.3", ranksep="0.32", newrank="true", outputorder="edgesfirst",
             bgcolor="white", pad="0.2")
    dot.attr("node", shape="box", style="rounded,filled", fontname=FONT, fontsize="11",
             height="0.32", margin="0.14,0.05", color="#555555", penwidth="1")
    dot.attr("edge", fontname=FONT, fontsize="9", color="#444444", arrowsize="0.6", fontcolor="#333333")

    order = sorted(H.nodes, key=lambda k: _order(H, k))
    out_id = G.graph["output"]
    last = None if out_id is None else H.graph["where"][out_id]
    spine = _spine(H, last)
    # An encoder-decoder is a U either way: top to bottom, encoder down the left and decoder
    # up the right; left to right, encoder along the top and decoder back along the bottom,
    # which is also the two rows a long LR strip should wrap into.
    side = _u_sides(H, spine, order, last)
    row = _rows(H, order, rows) if lr and side is None else dict.fromkeys(order, 0)
    junctions = _junctions(H, row)
    view = _View(H, G, row, spine, side, junctions, show_params, lr, flip, beside or {})
    if lr:
        for r in sorted(set(row.values())):
            with dot.subgraph(name=f"cluster_row{r}") as sub:
                sub.attr(label="", peripheries="0", margin="4")
                view.emit(sub, (None, r))
    else:
        view.emit(dot, (None, 0))
    if last is not None:
        dot.node("output", "output", shape="plaintext", style="", fontsize="11",
                 **view.group(last, for_output=True))
    view.edges(dot, last)
    return dot.source


class _View:
    """What dot_source draws: nodes and junctions in their clusters, row by row, and the edges."""

    def __init__(self, H, G, row, spine, side, junctions, show_params, lr, flip, beside):
        self.H, self.G, self.row, self.spine, self.side = H, G, row, spine, side
        self.junctions, self.show_params = junctions, show_params
        self.on_spine = set(spine)
        self.wrapped = any(row.values())
        # Pads are flat edges, which cost dot most on long graphs (a 2,000-layer chain
        # lays out 2x slower with one): past PAD_NODES nodes, labels may be crossed.
        self.pad_labels = not lr and H.number_of_nodes() <= PAD_NODES
        self.flip = flip
        self.members: dict = {}
        self.children: dict = {}
        for key in sorted(H.nodes, key=lambda k: _order(H, k)):
            r = row[key]
            chain = [(c, r) for c in H.nodes[key]["clusters"]]
            self.members.setdefault(chain[-1] if chain else (None, r), []).append(key)
            for parent, child in zip([(None, r), *chain], chain):
                self.children.setdefault(parent, {})[child] = None     # an ordered set
        for u, at in junctions.items():
            self.members.setdefault(at, []).append(("j", u))
        self.firsts: dict = {}
        self.seen: set = set()
        self.pads = self._pads()
        # node DOT id -> (pad width, on the right): the pads `beside` asks for.
        self.beside: dict = {}
        keys = {self._id(k): k for ks in self.members.values() for k in ks}
        for cname, ids in beside.items() if self.pad_labels else ():
            label = self._label_of(cname)
            if label is None:
                continue
            for nid in ids:
                key = keys.get(nid)
                if key is None:
                    continue
                half = 2.0 if isinstance(key, tuple) and key[0] == "j" else \
                    _text_width(_node_label(H.nodes[key], show_params)) / 2
                width = max(5.6 * len(_cluster_label(label)) + 6 - half, self.beside.get(nid, (0, 0))[0])
                self.beside[nid] = (width, cname in flip)

    def order(self, k) -> float:
        if isinstance(k, tuple) and k[0] == "j":
            return _order(self.H, k[1]) + 0.5
        return _order(self.H, k)

    def first(self, c) -> float:
        if c not in self.firsts:
            self.firsts[c] = min([self.order(k) for k in self.members.get(c, ())]
                                 + [self.first(x) for x in self.children.get(c, ())])
        return self.firsts[c]

    def group(self, key, for_output=False) -> dict:
        """The main path is one Graphviz group, so it runs straight; a U has one per side,
        and wrapped rows one per row."""
        if not for_output and key not in self.on_spine:
            return {}
        if self.side is not None:
            return {"group": f"spine_{self.side[key]}"}
        return {"group": f"spine{self.row[key]}" if self.wrapped else "spine"}

    def emit(self, container, cluster):
        """Nodes and child clusters in first-node order."""
        H = self.H
        items = [(self.order(k), 0, k) for k in self.members.get(cluster, ())]
        items += [(self.first(c), 1, c) for c in self.children.get(cluster, ())]
        for _, is_cluster, k in sorted(items, key=lambda t: (t[0], t[1])):
            if not is_cluster:
                if isinstance(k, tuple) and k[0] == "j":
                    container.node(f"j{_dot_id(k[1])}", "", shape="point", width="0.06", height="0.06",
                                   style="filled", fillcolor="#444444", color="#444444",
                                   **self.group(k[1]))
                else:
                    _emit_node(container, k, H.nodes[k], self.show_params, self.group(k))
                nid = self._id(k)
                if nid in self.beside:
                    width, right = self.beside[nid]
                    _pad(container, f"{nid}_beside", nid, width, right)
                continue
            (what, cid), r = k
            info = self.G.graph["scopes"][cid] if what == "s" else self.G.graph["loops"][cid]
            again = (what, cid) in self.seen
            self.seen.add((what, cid))
            name = f"{what}{cid}" + (f"_r{r}" if again else "")
            label = _esc(_cluster_label(info["label"]) + ("  (continued)" if again else ""))
            with container.subgraph(name=f"cluster_{name}") as sub:
                style = {"block": "rounded", "sequence": "rounded,dashed"}.get(info["kind"], "dotted")
                sub.attr(label=label, labeljust="l", fontsize="10", fontcolor="#444444", style=style,
                         color="#8da0b6" if what == "s" else "#b07d3a", penwidth="1", margin="10",
                         **({"peripheries": "1"} if self.wrapped else {}))   # the rows have none
                head = self._head(k)
                right = f"cluster_{name}" in self.flip
                if right:
                    sub.attr(labeljust="r")
                if head in self.pads:
                    # An edge enters here from above. An invisible box as wide as the
                    # label, beside the first node on its rank (left, or right with the
                    # label on the right): the edge passes beside this label and the labels
                    # of the clusters around that start here too. The fork's edge on along
                    # the main path is heavy, so the path stays straight.
                    _pad(sub, f"{name}_pad", head, self.pads[head], right)
                self.emit(sub, k)

    def _head(self, cluster) -> str | None:
        """The DOT id of the cluster's top item, if that is a node or fork right in it: its
        first item, or its last on the decoder side of a U (drawn upwards)."""
        items = [(self.order(k), 0, k) for k in self.members.get(cluster, ())]
        items += [(self.first(c), 1, c) for c in self.children.get(cluster, ())]
        if not items:
            return None
        up = self.side is not None and any(self.side.get(k) == "r" for k in self.members.get(cluster, ()))
        _, is_cluster, k = (max if up else min)(items, key=lambda t: (t[0], t[1]))
        return None if is_cluster else self._id(k)

    def _pads(self) -> dict:
        """head DOT id -> pad width (emit()), for the clusters whose first item is on the
        main path: as wide as the widest label of that cluster and of the clusters
        around it that start at the same place (their labels are stacked above)."""
        pads: dict = {}
        if not self.pad_labels:
            return pads
        parent = {c: p for p, ks in self.children.items() for c in ks}
        for c in parent:
            head = self._head(c)
            k = head and next((m for m in self.members[c] if self._id(m) == head), None)
            if k is None:
                continue
            width, outer = 0.0, c
            while outer[0] is not None:
                what, cid = outer[0]
                info = self.G.graph["scopes"][cid] if what == "s" else self.G.graph["loops"][cid]
                width = max(width, 5.6 * len(_cluster_label(info["label"])) + 6)
                up = parent.get(outer)
                if up is None or up[0] is None or self.first(up) != self.first(outer):
                    break
                outer = up
            # The edge enters the head at its middle: a wide head clears the label itself.
            if not (isinstance(k, tuple) and k[0] == "j"):
                width -= _text_width(_node_label(self.H.nodes[k], self.show_params)) / 2
            if width > 8:
                pads[head] = width
        return pads

    def _id(self, k) -> str:
        return f"j{_dot_id(k[1])}" if isinstance(k, tuple) and k[0] == "j" else _dot_id(k)

    def _label_of(self, cname: str) -> str | None:
        """The label of the cluster named `cname` in DOT (`cluster_s12`, `cluster_l3_r1`)."""
        m = re.fullmatch(r"cluster_([sl])(\d+)(_r\d+)?", cname)
        if m is None:
            return None
        table = self.G.graph["scopes"] if m.group(1) == "s" else self.G.graph["loops"]
        info = table.get(int(m.group(2)))
        return None if info is None else info["label"]

    def edges(self, dot, last):
        H, row, side = self.H, self.row, self.side
        out_id = self.G.graph["output"]

        def attrs_for(shape, label=True, role="data"):
            a = {"label": " " + _esc(shape_text(shape))} if label else {}
            if shape is None:
                a.update(style="dashed", color="#999999")
            if role == "size":
                # Read only for its size (`upsample(size=@in)`, `center_crop(@up)`): light, so
                # the tensors that flow stand out. Over LR rows it places nothing (put).
                a.update(style="dashed", color="#aaaaaa", fontcolor="#888888")
            return a

        def put(u_id, v_id, a, u, v, size=False):
            # A U: the decoder side is written upwards (dir=back), the skips across.
            if side is not None and u is not None and v is not None:
                su, sv = side[u], side[v]
                if su == "r" and sv == "r":
                    dot.edge(v_id, u_id, dir="back", **a)
                    return
                if su != sv:
                    dot.edge(u_id, v_id, constraint="false", **a)
                    return
            if size and u is not None and v is not None and row[u] != row[v]:
                # A size over rows: straight to where it is read, placing nothing.
                dot.edge(u_id, v_id, constraint="false", **a)
                return
            if u is not None and v is not None and row[u] != row[v]:
                # A row break: back to the left under the row, then down into the next one.
                turn = f"w{u_id}_{v_id}"
                dot.node(turn, "", shape="point", width="0.01", height="0.01", style="invis", weight="0")
                dot.edge(u_id, turn, **{**a, "constraint": "false", "arrowhead": "none"})
                u_id = turn
                a = {}
            dot.edge(u_id, v_id, **a)

        along = set(zip(self.spine, self.spine[1:]))
        for u, v, a in sorted(H.edges(data=True), key=lambda e: (_order(H, e[1]), _order(H, e[0]))):
            times = a["ports"][:1] if H.nodes[u]["folded"] or H.nodes[v]["folded"] else a["ports"]
            # A skip between two nodes of the main path must not pull like the path
            # itself (the group makes those edges heavy).
            extra = {"weight": "0"} if u in self.on_spine and v in self.on_spine and (u, v) not in along else {}
            if u in self.junctions:
                if (u, v) in along:
                    extra = {"weight": "100"}       # straight on from the fork, whatever pads its rank
                for _ in times:
                    put(f"j{_dot_id(u)}", _dot_id(v), {**attrs_for(a["shape"], False, a.get("role")), **extra}, v, v)
                continue
            for _ in times:
                put(_dot_id(u), _dot_id(v), {**attrs_for(a["shape"], role=a.get("role")), **extra}, u, v,
                    size=a.get("role") == "size")
        for u in self.junctions:
            shape = H.nodes[u]["shape"]
            put(_dot_id(u), f"j{_dot_id(u)}", {**attrs_for(shape), "arrowhead": "none"}, u,
                next(iter(H.successors(u))))
        if last is not None:
            shape = self.G.nodes[out_id]["shape"]
            put(_dot_id(last), "output", attrs_for(shape), last, last)
        if side is not None:
            # Each skip: its two ends on one rank, so it runs straight across.
            for u, v in H.edges():
                if side[u] == "l" and side[v] == "r" and (u, v) not in along:     # the turn finds its own rank
                    with dot.subgraph() as same:
                        same.attr(rank="same")
                        same.node(_dot_id(u))
                        same.node(_dot_id(v))


def _spine(H, last) -> set:
    """The main path: back from the output, through each merge's longest branch.

    Drawn as one Graphviz `group`, so it runs straight down the page and the side
    branches (a residual's skip path or projection, Inception's shorter branches)
    sit beside it. Longest, not first: MobileNetV2 writes its identity branch first."""
    import networkx as nx
    longest: dict = {}
    for key in nx.topological_sort(H):
        longest[key] = 1 + max((longest[p] for p in H.predecessors(key)), default=0)
    spine, cur = [], last
    while cur is not None and cur not in spine:
        spine.append(cur)
        preds = sorted(H.in_edges(cur, data=True), key=lambda e: (-longest[e[0]], min(e[2]["ports"]), _order(H, e[0])))
        cur = preds[0][0] if preds else None
    return spine[::-1]


def _junctions(H, row) -> dict:
    """node -> (the cluster, the row) where its output forks: where a tensor from outside a block
    feeds several layers inside it (a residual's main path and its skip), one edge
    enters the block and forks at a dot inside, so the skip stays in the block's box."""
    out = {}
    for u in H.nodes:
        uses = [v for v in H.successors(u) for _ in H.edges[u, v]["ports"]]
        if len(uses) < 2 or H.nodes[u]["folded"] and len(set(uses)) < 2:
            continue
        if len({row[v] for v in uses}) > 1:
            continue
        chains = [H.nodes[v]["clusters"] for v in uses]
        common = chains[0]
        for c in chains[1:]:
            n = 0
            while n < min(len(common), len(c)) and common[n] == c[n]:
                n += 1
            common = common[:n]
        mine = H.nodes[u]["clusters"]
        if common and mine[:len(common)] != common:
            out[u] = (common[-1], row[uses[0]])
    return out


def _rows(H, order, rows) -> dict:
    """node -> row, for a left-to-right diagram wrapped into rows. A row breaks only
    where one tensor flows (no skip crosses the break), as close as it can to equal
    widths; a width is estimated from the labels on the longest path, not laid out."""
    width: dict = {}
    x: dict = {}
    for k in order:
        a = H.nodes[k]
        w = max(_text_width(_node_label(a, False)), 70) + 60      # the node, and the shape on the edge after it
        x[k] = max((x[p] + width[p] for p in H.predecessors(k)), default=0.0)
        width[k] = w
    total = max((x[k] + width[k] for k in order), default=0.0)
    breadth = _breadth(H, order, x)
    if rows is None:
        rows = max(1, round(math.sqrt(total / (1.5 * (60 * breadth + 50)))))
    if rows <= 1 or len(order) < 4:
        return dict.fromkeys(order, 0)
    pos = {k: i for i, k in enumerate(order)}
    # Only tensors that flow count: an edge that carries a size (`upsample(size=@in)`, a
    # role "size" edge) may cross a break; it is drawn light and dashed over the rows.
    data = [(u, v) for u, v, a in H.edges(data=True) if a.get("role") != "size"]
    after: dict = {}
    for u, v in data:
        after.setdefault(u, []).append(v)
    crossing = [0] * (len(order) + 1)
    for u, v in data:
        crossing[pos[u] + 1] += 1
        crossing[pos[v] + 1] -= 1
    cuts, run = [], 0
    for i in range(1, len(order)):
        run += crossing[i]
        leaving = after.get(order[i - 1], ())
        reach = max((pos[v] for v in leaving), default=i)
        if run == len(leaving) and reach - i < len(order) / rows:
            cuts.append(i)          # the edges over the break all carry order[i-1]'s output, into the next row
    chosen = []
    for r in range(1, rows):
        target = total * r / rows
        # Near the target, and cutting as few clusters as it can (between blocks, not in one).
        best = min(cuts, key=lambda i: abs(x[order[i]] - target) + 0.3 * total / rows * _shared(H, order, i),
                   default=None)
        if best is not None and best not in chosen and (not chosen or best > chosen[-1]):
            chosen.append(best)
    out, r = {}, 0
    for i, k in enumerate(order):
        if r < len(chosen) and i == chosen[r]:
            r += 1
        out[k] = r
    return out


def _pad(container, name: str, head: str, width: float, right: bool):
    """An invisible box `width` points wide on `head`'s rank, left of it (right of it with
    the label on the right): the cluster's label sits above the box, and the edge into
    `head` passes beside the label."""
    with container.subgraph() as same:
        same.attr(rank="same")
        same.node(name, "", shape="box", style="invis", fixedsize="true", height="0.02", width=f"{width / 72:.2f}")
        same.edge(*((head, name) if right else (name, head)), style="invis")


def _text_width(label: str) -> float:
    """About how wide dot draws a node with this DOT label, in points (11 pt Helvetica)."""
    return 6.5 * max(len(line) for line in label.split("\\n")) + 20


def _shared(H, order, i) -> int:
    """How many clusters a row break before order[i] cuts."""
    a, b = H.nodes[order[i - 1]]["clusters"], H.nodes[order[i]]["clusters"]
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _breadth(H, order, x) -> int:
    """The most nodes side by side at one position of the longest path."""
    at: dict = {}
    for k in order:
        at[x[k]] = at.get(x[k], 0) + 1
    return max(at.values(), default=1)


def _u_sides(H, spine, order, last) -> dict | None:
    """node -> "l" (encoder) or "r" (decoder) when the network is an encoder-decoder:
    at least two long skips of data along the main path, nested (U-Net's crop and
    concat), the outermost spanning half the path. None for every other network."""
    if last is None:
        return None
    pos = {k: i for i, k in enumerate(spine)}
    skips = []
    for v in spine:
        for u in H.predecessors(v):
            if H.edges[u, v].get("role") == "size":     # read for its size: not a skip (DeepLabV3's upsample)
                continue
            src = u
            while src not in pos and H.in_degree(src):     # back along the skip, to where it leaves
                src = min(H.predecessors(src), key=lambda k: _order(H, k))
            if src in pos and pos[v] - pos[src] >= 8:
                skips.append((pos[src], pos[v]))
    skips.sort()
    nested = [s for i, s in enumerate(skips) if all(s[0] > o[0] and s[1] < o[1] for o in skips[:i])]
    if len(nested) < 2 or nested[0][1] - nested[0][0] < len(spine) / 2:
        return None
    at = (nested[-1][0] + nested[-1][1]) // 2
    top = H.nodes[spine[at]]["clusters"][:1]
    while top and at + 1 < nested[-1][1] and H.nodes[spine[at + 1]]["clusters"][:1] == top:
        at += 1                 # the turn is never inside a block: the bottom block stays whole
    turn = spine[at]
    return {k: "l" if _order(H, k) <= _order(H, turn) else "r" for k in order}


def _order(H, key) -> int:
    """Position of a node in the drawing: its IR id, or the first IR id inside a collapsed scope."""
    return H.nodes[key]["first"] if H.nodes[key].get("folded") else key


def _emit_node(container, key, a, show_params, group: dict):
    import graphviz
    attrs = {"fillcolor": FILL.get(a["category"], "#f3f3f3"), "tooltip": _tooltip(a), **group}
    if a["merge"]:
        attrs.update(shape="ellipse", margin="0.04,0.02", height="0.28")
    elif a["kind"] == "input":
        attrs.update(shape="plaintext", style="")
    elif a.get("folded"):
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
            warnings.append(f"warning: the diagram is too large for a {fmt.upper()} (cairo's limit is 32,767 pixels a "
                            f"side), so dot scaled it to {float(m.group(1)):.0%}; use .svg or .pdf, or --depth N")
    return proc.stdout


# A diagram that fits a page (or a slide) by default: longer than this on its
# longer side, and the default draws fewer levels (fit_depth).
PAGE_PT = 4000


def parse_depth(text):
    """`--depth`: a level count, `full` (every layer), or None (the deepest that fits a page)."""
    if text is None or isinstance(text, int):
        return text
    if str(text).strip().lower() == "full":
        return "full"
    try:
        value = int(str(text))
    except ValueError:
        value = -1
    if value < 0:
        raise RenderError(f"--depth takes a number of levels (0, 1, ...) or `full`, not {text!r}")
    return value


def layout(source: str) -> tuple[float, float, dict]:
    """(width, height) in points of the layout dot makes of `source`, and the clusters
    whose label an edge crosses there, with the nodes those edges enter (`crossings`)."""
    import json
    data = json.loads(run_dot(source, "json"))
    w, h = (float(v) for v in data["bb"].split(",")[2:4])
    return w, h, crossings(data)


def label_crossings(data: dict) -> frozenset:
    """DOT names of the clusters whose label an edge runs through, in dot's JSON layout."""
    return frozenset(crossings(data))


def crossings(data: dict) -> dict:
    """cluster DOT name -> the DOT names of the nodes entered by the edges that run
    through its label, in dot's JSON layout; None among them for an edge that enters
    no node inside the cluster (it passes over a corner on its way elsewhere)."""
    objects = data.get("objects", ())
    boxes = []
    for o in objects:
        if o.get("name", "").startswith("cluster_") and o.get("lp") and o.get("label"):
            x, y = (float(v) for v in o["lp"].split(","))
            half = 2.5 * len(o["label"])          # 10 pt Helvetica: about 5 pt a character
            bb = tuple(float(v) for v in o["bb"].split(",")) if o.get("bb") else (x, y, x, y)
            boxes.append((o["name"], x - half, x + half, y - 5, y + 5, bb))
    crossed: dict = {}
    for e in data.get("edges", ()) if boxes else ():
        pts = [tuple(float(v) for v in p.split(",")) for p in e.get("pos", "").split() if p[:2] not in ("e,", "s,")]
        hit = set()
        for i in range(0, len(pts) - 3, 3):
            p0, p1, p2, p3 = pts[i:i + 4]
            for k in range(17):
                t = k / 16
                x = (1 - t) ** 3 * p0[0] + 3 * (1 - t) ** 2 * t * p1[0] + 3 * (1 - t) * t * t * p2[0] + t ** 3 * p3[0]
                y = (1 - t) ** 3 * p0[1] + 3 * (1 - t) ** 2 * t * p1[1] + 3 * (1 - t) * t * t * p2[1] + t ** 3 * p3[1]
                hit.update(b for b in boxes if b[1] < x < b[2] and b[3] < y < b[4])
        head = objects[e["head"]] if isinstance(e.get("head"), int) and e["head"] < len(objects) else {}
        at = tuple(float(v) for v in head["pos"].split(",")) if head.get("pos") else None
        for b in hit:
            x0, y0, x1, y1 = b[5]
            inside = at is not None and x0 < at[0] < x1 and y0 < at[1] < y1
            crossed.setdefault(b[0], set()).add(head["name"] if inside else None)
    return {c: frozenset(v) for c, v in crossed.items()}


def fit_depth(G, notes: list | None = None, *, direction: str = "TB", show_params: bool = False, **kw):
    """(depth, crossed): the deepest `--depth` whose diagram fits PAGE_PT on its longer
    side (None: every layer), with a note in `notes` when that is not every layer, and
    the clusters whose labels an edge crosses at that depth. A depth whose longest path
    alone is far past the page is not laid out at all."""
    import networkx as nx
    deepest = full_depth(G)
    for d in range(deepest, -1, -1):
        H = collapse(G, d)
        if direction.upper() != "LR" and nx.dag_longest_path_length(H) * 40 > 1.5 * PAGE_PT and d > 0:
            continue
        w, h, crossed = layout(dot_source(G, depth=d, direction=direction, show_params=show_params, **kw))
        if max(w, h) <= PAGE_PT or d == 0:
            break
    if d == deepest:
        return None, crossed
    if notes is not None:
        notes.append(f"note: drawn to --depth {d} of {deepest} so that it fits a page ({max(w, h):,.0f} pt on its "
                     f"longer side; every layer: over {PAGE_PT:,} pt); --depth full draws every layer")
    return d, crossed


def _source(graph, depth, fmt, notes, kw) -> str:
    """The DOT to draw: `depth` levels ("full": every layer; None: what fits a page), and
    for svg/png/pdf laid out once first, so that labels an edge crosses move right."""
    G = _as_networkx(graph)
    depth = parse_depth(depth)
    if fmt == "dot":                # DOT text: no layout, no `dot` needed; None is every layer
        return dot_source(G, depth=None if depth == "full" else depth, **kw)
    if depth is None:
        depth, crossed = fit_depth(G, notes, **kw)
    else:
        depth = None if depth == "full" else depth
        crossed = {}
        if collapse(G, depth).number_of_nodes() <= PAD_NODES:      # past that, labels are not looked after
            crossed = layout(dot_source(G, depth=depth, **kw))[2]
    flip, beside = _placement(G, depth, crossed, kw)
    return dot_source(G, depth=depth, flip=flip, beside=beside, **kw)


def _placement(G, depth, crossed: dict, kw) -> tuple[frozenset, dict]:
    """(flip, beside) for dot_source, from `crossed`, the labels edges cross in the plain
    layout (`crossings`). Each such label moves right; laid out again, a label still
    crossed (an edge over it on the left, another into the cluster on the right, as where
    Inception-v3's Mixed_7a starts beside the AuxLogits) keeps the side where the edges
    that cross it enter nodes inside the cluster, and those nodes get a pad as wide as
    the label on that side, so each edge arrives beside the label."""
    flip = frozenset(crossed)
    if not flip or str(kw.get("direction", "TB")).upper() == "LR" or \
            collapse(G, depth).number_of_nodes() > PAD_NODES:         # no pads there (_View.pad_labels)
        return flip, {}
    again = layout(dot_source(G, depth=depth, flip=flip, **kw))[2]
    beside: dict = {}
    for c, heads in again.items():
        if None not in heads:
            beside[c] = heads
        elif c in flip and None not in crossed[c]:
            flip -= {c}
            beside[c] = crossed[c]
    return flip, beside


def to_svg(graph, depth=None, **kw) -> str:
    """SVG text for an ir.Graph or networkx graph (Jupyter's _repr_svg_ uses this)."""
    return run_dot(_source(graph, depth, "svg", None, kw), "svg").decode("utf-8")


def render_bytes(graph, fmt: str, warnings: list | None = None, depth=None, **kw) -> bytes:
    """The diagram in `fmt`. `depth`: levels to draw, "full", or None (what fits a page;
    the note saying so goes to `warnings`)."""
    source = _source(graph, depth, fmt, warnings, kw)
    return source.encode("utf-8") if fmt == "dot" else run_dot(source, fmt, warnings)


def render_file(graph, path: str, fmt: str, inputs=(), source: str = "<string>", **kw) -> list[str]:
    """Render and write `path` (netdsl/output.py: atomically, never over one of
    `inputs`, marked as generated from `source`); nothing is written if anything
    fails. Returns what to tell the user: `note: ...` (fewer levels drawn to fit a
    page) and `warning: ...` lines (a PNG too large for cairo, scaled down)."""
    from ..output import OutputError, mark, refuse_inputs, write_file
    warnings: list[str] = []
    try:
        refuse_inputs(path, inputs, "a file the spec was read from")
        write_file(path, mark(render_bytes(graph, fmt, warnings, **kw), fmt, source), inputs)
    except OutputError as e:
        raise RenderError(str(e)) from None
    return warnings
