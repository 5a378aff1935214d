"""The paper figure (`netdsl render --style blocks`): feature maps as 3-D boxes.

This is the figure CNN papers and course notes draw by hand (LeCun's LeNet,
NN-SVG, PlotNeuralNet): the main path from input to output, each feature map a
box in oblique projection, the kernel that made it a small square on the map
before with lines to the map after, sizes above (`96@55×55`), the layers below.

It reads only the IR (nodes, shapes, scopes) and writes SVG and PDF itself: a
figure is a few hundred polygons and labels, so there is no layout problem that
needs Graphviz, and PDF's path operators are as simple as SVG's. No torch, no
networkx.

Sizes are log-scaled: each edge is A + B·ln(n) for a dimension of n, so LeNet's
6@28×28 and AlexNet's 384@13×13 both read well, and the three edges of a box add
up to 3A + B·ln(C·H·W). The oblique axis is drawn at 45° and at 1/√2 of its
length, so a box's drawn width plus height is that same sum: bigger tensors
always look bigger.
"""
from __future__ import annotations

import math
import zlib

from ..diagnostics.render import terminal_safe
from ..ir import Graph, Node, Scope
from ..values import shape_text
from .digraph import node_failure, scope_label
from .render import ERROR_FILL, ERROR_LINE, FILL, RenderError

FORMATS = ("svg", "pdf")

# What a layer does to the figure, by catalogue category (a style table, as
# render.py's FILL is): pointwise layers change a map in place, so they are named
# under the map they act on; reshapes have no map of their own (the next map shows
# what they made); learned layers always make a new map, even at the same shape
# (AlexNet's conv4 and conv5 are both 256@13×13, and papers draw both); the rest
# make a new map when the shape changes (an `add` or a 6→6 adaptive pool does not).
POINTWISE = frozenset({"activation", "normalization", "regularization"})
RESHAPE = frozenset({"reshape"})
LEARNED = frozenset({"convolution", "linear"})

FIT_MAPS = 24       # the automatic depth is the deepest whose figure has at most this many maps
MAX_MAPS = 40       # no figure has more: runs of equal maps are folded, then the middle is left out
MAX_CAPTION = 4     # lines under a map
CAPTION_CHARS = 26  # characters in one line under a map

# Geometry, in points.
A, B = 4.0, 11.0                # an edge of n elements is A + B·ln(n)
OBLIQUE = 0.5                   # the depth axis: 45° at 1/√2 of its length, i.e. 0.5 across and 0.5 up
BAR = 6.0                       # thickness and depth of a dense layer's bar
GAP = 30.0                      # the least space between two boxes (the kernel's lines run there)
ROW_WIDTH = 1400.0              # a wider figure wraps into rows of about equal width
MARGIN = 16.0
FONT, SMALL, TITLE = 9.0, 8.0, 11.0
LINE = "#4d4d4d"
KERNEL = "#c0392b"


class Map:
    """One box of the figure: a feature map (or a dense layer's vector).

    shape: the per-sample shape (None: unknown); ops: what made it, one caption
    line each; kernel: (kh, kw, sh, sw) of the window that made it, or None;
    category: the fill's key; error: the diagnostic, where the shape pass failed;
    count: how many equal maps it stands for; omitted: a gap standing for that many
    maps left out."""
    __slots__ = ("shape", "ops", "kernel", "category", "error", "count", "omitted")

    def __init__(self, shape, ops=(), kernel=None, category="input", error=None, count=1, omitted=0):
        self.shape, self.ops, self.kernel, self.category = shape, list(ops), kernel, category
        self.error, self.count, self.omitted = error, count, omitted

    def __repr__(self) -> str:
        return f"<Map {map_label(self)}: {'; '.join(self.ops)}>"


# ---------------------------------------------------------------- the plan: which maps

def spine(g: Graph) -> list[int]:
    """The main path, input to output: back from the output through each merge's
    longest branch (a residual's conv path, not its skip; Inception's deepest
    branch), as render.py draws it straight."""
    if not g.nodes:
        return []
    longest: dict[int, int] = {}
    for n in g.nodes:
        longest[n.id] = 1 + max((longest[i] for i in n.inputs), default=0)
    cur = g.output if g.output is not None else g.nodes[-1].id
    path = []
    while cur is not None:
        path.append(cur)
        ins = g.nodes[cur].inputs
        # Longest first; on a tie, the first branch written.
        cur = max(ins, key=lambda i: (longest[i], -ins.index(i))) if ins else None
    return path[::-1]


def _unit(node: Node, depth: int | None):
    """What the figure shows the node as: itself, or the scope folded around it."""
    if depth is None or node.scope.depth <= depth:
        return node
    s: Scope = node.scope
    while s.depth > depth + 1:
        s = s.parent
    return s


def _kernel(node: Node):
    """(kh, kw, sh, sw) of a 2-D window, or None (adaptive and global windows, dense layers)."""
    spec = node.spec
    if spec is None or spec.window is None or node.args is None or node.stand_in:
        return None
    try:
        w = spec.window(node.args)
    except Exception:       # a window rule over arguments it did not expect: draw no kernel
        return None
    if not (isinstance(w, tuple) and len(w) == 2 and all(isinstance(a, tuple) and len(a) >= 2 for a in w)):
        return None
    (kh, sh, *_), (kw, sw, *_) = w
    if not all(isinstance(v, int) and v > 0 for v in (kh, kw, sh, sw)):
        return None
    return kh, kw, sh, sw


def _failure_text(g: Graph, upto: int) -> str:
    """The first error at or before node `upto`: what left its shape unknown."""
    for n in g.nodes[:upto + 1]:
        text = node_failure(n)
        if text:
            return " ".join(terminal_safe(text).split())
    return "the shape is unknown here"


def plan(g: Graph, depth: int | None = None) -> list[Map]:
    """The maps of the figure at `depth` (None: every layer), before any bound."""
    path = spine(g)
    if not path:
        # No layers at all (the spec's errors stopped them): one unknown map with the first error.
        first = next((d for d in g.diagnostics if d.is_error), None)
        why = terminal_safe(f"{first.code}: {first.message}") if first is not None else "the network has no layers"
        return [Map(None, ["nothing to draw"], error=why)]
    first = g.nodes[path[0]]
    cur = Map(first.shape, ["input"] if first.spec is None else [first.describe()],
              category="input" if first.spec is None else first.spec.category)
    maps = [cur]
    pending: list[str] = []     # reshapes since the last map: named on the next one
    i = 1
    while i < len(path):
        node = g.nodes[path[i]]
        unit = _unit(node, depth)
        if isinstance(unit, Scope):
            # A folded block or sequence: one map, its output, named after it.
            group = [node]
            while i + 1 < len(path) and _unit(g.nodes[path[i + 1]], depth) is unit:
                i += 1
                group.append(g.nodes[path[i]])
            i += 1
            last = group[-1]
            if any(n.shape is None for n in group):
                maps.append(Map(None, [_folded_label(unit)], category="block",
                                error=_failure_text(g, last.id)))
                break
            cur = Map(last.shape, [*pending, _folded_label(unit)], category=unit.kind)
            pending = []
            maps.append(cur)
            continue
        i += 1
        category = node.spec.category if node.spec is not None else "input"
        label = _clean(node.describe())
        if node.shape is None:
            maps.append(Map(None, [*pending, label], _kernel(node), category, error=_failure_text(g, node.id)))
            break
        if category in POINTWISE:
            # On the tensor it acts on: the last map, or what a reshape since made of it.
            (pending if pending else cur.ops).append(label)
        elif category in RESHAPE:
            pending.append(label)
        elif category in LEARNED or node.shape != cur.shape:
            cur = Map(node.shape, [*pending, label], _kernel(node), category)
            pending = []
            maps.append(cur)
        else:
            cur.ops.append(label)
    if maps[-1].error is None and g.output_shape is not None and maps[-1].shape != g.output_shape:
        maps.append(Map(g.output_shape, pending or ["output"], category="reshape"))
    return maps


def _folded_label(scope: Scope) -> str:
    """A folded scope's caption: the block as used (`3: InvertedResidual(24, 2, 6)`);
    a sequence inside a block is named with it (`... › conv`), since its name alone
    says little."""
    text = scope_label(scope)
    parent = scope.parent
    if scope.kind != "block" and parent is not None and parent.kind == "block":
        text = f"{scope_label(parent)} \u203a {text}"
    return _clean(text)


def _clean(text: str) -> str:
    """User text (names, labels) as one printable line, clipped."""
    text = " ".join(terminal_safe(str(text)).split())
    return text if len(text) <= 80 else text[:79] + "\u2026"


def _max_depth(g: Graph) -> int:
    return max((s.depth for s in g.scopes()), default=0)


def choose(g: Graph, depth: int | None = None) -> tuple[list[Map], list[str]]:
    """The maps to draw and notes on what was folded to fit.

    `depth` None: the deepest depth whose figure has at most FIT_MAPS maps. Then,
    whatever the depth, no figure has more than MAX_MAPS maps: runs of equal
    maps become one (×n), and if that is not enough the middle is left out."""
    notes = []
    if depth is not None:
        maps = plan(g, depth)
    else:
        maps = plan(g, None)
        for d in range(_max_depth(g) - 1, -1, -1):
            if len(maps) <= FIT_MAPS:
                break
            maps = plan(g, d)
            notes.append(f"drew blocks nested deeper than {d} as single maps so that the figure fits "
                         f"(--depth N draws another depth)")
        notes = notes[-1:]
    if len(maps) > MAX_MAPS:
        maps = fold_runs(maps)
    if len(maps) > MAX_MAPS:
        keep = MAX_MAPS - 1
        head, tail = maps[:keep // 2], maps[len(maps) - (keep - keep // 2):]
        left_out = len(maps) - len(head) - len(tail)
        maps = [*head, Map(None, [f"{left_out} maps not drawn"], category="gap", omitted=left_out), *tail]
        notes.append(f"the figure would have {len(head) + len(tail) + left_out} maps; {left_out} in the middle "
                     "are left out (use a smaller --depth)")
    return maps, notes


def fold_runs(maps: list[Map]) -> list[Map]:
    """Consecutive maps of one shape made the same way become one map ×n."""
    out: list[Map] = []
    for m in maps:
        prev = out[-1] if out else None
        if prev is not None and m.error is None and prev.error is None and m.shape == prev.shape and \
                prev.category == m.category and _strip_index(prev.ops) == _strip_index(m.ops) and len(out) > 1:
            prev.count += m.count
            continue
        out.append(m)
    return out


def _strip_index(ops):
    """`3: BasicBlock(64)` and `4: BasicBlock(64)` are made the same way."""
    return [op.split(": ", 1)[-1] if op[:1].isdigit() else op for op in ops]


# ---------------------------------------------------------------- labels

def map_label(m: Map) -> str:
    """`6@28×28` for a C×H×W map, `120` for a vector, the shape otherwise."""
    if m.omitted:
        return "\u22ef"
    s = m.shape
    if s is None:
        return "?"
    if len(s) == 3:
        text = f"{s[0]}@{s[1]}\u00d7{s[2]}"
    elif len(s) == 1:
        text = f"{s[0]}"
    else:
        text = shape_text(s)
    return text + (f"  \u00d7{m.count}" if m.count > 1 else "")


def kernel_label(kernel) -> str:
    """`11×11, /4`: the window and, when it is not 1, the stride."""
    kh, kw, sh, sw = kernel
    text = f"{kh}\u00d7{kw}"
    if (sh, sw) != (1, 1):
        text += f", /{sh}" if sh == sw else f", /{sh}\u00d7{sw}"
    return text


def _caption(m: Map) -> list[str]:
    lines = []
    for op in m.ops:
        lines.extend(_wrap(op, CAPTION_CHARS))
    if len(lines) > MAX_CAPTION:
        lines = [*lines[:MAX_CAPTION - 1], f"+ {len(lines) - MAX_CAPTION + 1} more"]
    return lines


def _wrap(text: str, width: int) -> list[str]:
    import textwrap
    return textwrap.wrap(text, width, break_long_words=True) or [""]


# ---------------------------------------------------------------- geometry

def edge(n) -> float:
    """The drawn length of a dimension of n elements."""
    return A + B * math.log(max(int(n), 1))


def box_dims(m: Map) -> tuple[float, float, float]:
    """(thickness along the page, height, depth into the page) of a map's box."""
    s = m.shape
    if s is None or m.omitted:
        return 3 * A, edge(16), 3 * A
    if len(s) == 1:
        return BAR, edge(s[0]), BAR
    if len(s) == 2:
        return A, edge(s[0]), edge(s[1])
    if len(s) == 3:
        return edge(s[0]), edge(s[1]), edge(s[2])
    return edge(s[0]), edge(math.prod(s[1:-1])), edge(s[-1])


_WIDTHS = {"\u203a": 333, " ": 278, "!": 278, '"': 355, "#": 556, "$": 556, "%": 889, "&": 667, "'": 191, "(": 333, ")": 333,
           "*": 389, "+": 584, ",": 278, "-": 333, ".": 278, "/": 278, ":": 278, ";": 278, "<": 584, "=": 584,
           ">": 584, "?": 556, "@": 1015, "[": 278, "\\": 278, "]": 278, "^": 469, "_": 556, "`": 333, "{": 334,
           "|": 260, "}": 334, "~": 584, "\u00d7": 584, "\u00b7": 278, "\u2026": 1000, "\u22ef": 1000,
           "\u2192": 1000, "I": 278, "J": 500, "M": 833, "W": 944, "m": 833, "w": 722, "f": 278, "i": 222,
           "j": 222, "l": 222, "r": 333, "t": 278, "c": 500, "k": 500, "s": 500, "v": 500, "x": 500, "y": 500,
           "z": 500, "C": 722, "D": 722, "G": 778, "H": 722, "N": 722, "O": 778, "Q": 778, "R": 722, "U": 722,
           "F": 611, "T": 611, "Z": 611, "L": 556}


def text_width(text: str, size: float) -> float:
    """Helvetica's advance widths (the PDF's font; SVG viewers substitute Arial, which has the same)."""
    return size * sum(_WIDTHS.get(ch, 667 if ch.isupper() else 556) for ch in text) / 1000


class Scene:
    """Drawing primitives in page coordinates (y down), shared by the SVG and PDF writers."""

    def __init__(self, width: float, height: float, title: str):
        self.width, self.height, self.title = width, height, title
        self.items: list[tuple] = []

    def group(self, attrs: dict):
        self.items.append(("group", attrs))

    def end(self):
        self.items.append(("end",))

    def poly(self, points, fill, stroke=LINE, width=0.8, dash=False, role=""):
        self.items.append(("poly", tuple(points), fill, stroke, width, dash, role))

    def line(self, p, q, stroke=LINE, width=0.6, dash=False):
        self.items.append(("line", p, q, stroke, width, dash))

    def text(self, x, y, text, size=FONT, anchor="middle", color="#222222", bold=False, role=""):
        self.items.append(("text", x, y, text, size, anchor, color, bold, role))


def _shade(hex_colour: str, factor: float) -> str:
    """The colour lightened (factor > 1) or darkened (< 1): the three faces of a box."""
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    if factor >= 1:
        r, g, b = (int(v + (255 - v) * (factor - 1)) for v in (r, g, b))
    else:
        r, g, b = (int(v * factor) for v in (r, g, b))
    return f"#{r:02x}{g:02x}{b:02x}"


def rows_of(columns: list[float], limit: float = ROW_WIDTH) -> list[range]:
    """Maps per row: one row when it fits in `limit`, else rows of about equal width
    (a 22-map ResNet-18 is two rows of 11, not a 2,200 pt strip)."""
    total = sum(columns) + GAP * max(len(columns) - 1, 0)
    if total <= limit:
        return [range(len(columns))]
    target = total / math.ceil(total / limit)
    rows, start, width = [], 0, 0.0
    for i, col in enumerate(columns):
        if i > start and width + GAP + col > target * 1.08:
            rows.append(range(start, i))
            start, width = i, 0.0
        width += col if i == start else GAP + col
    rows.append(range(start, len(columns)))
    return rows


def layout(g: Graph, maps: list[Map]) -> Scene:
    """Place the maps left to right in rows, each row centred on one line, and draw them."""
    dims = [box_dims(m) for m in maps]
    captions = [_caption(m) for m in maps]
    errors = [_wrap(m.error, 34)[:4] if m.error else [] for m in maps]
    columns = []
    for m, (t, _h, d), cap, err in zip(maps, dims, captions, errors):
        texts = [text_width(map_label(m), FONT)] + [text_width(c, SMALL) for c in cap + err]
        columns.append(max([t + OBLIQUE * d, *texts]))
    title = _clean(f"{g.network} \u00b7 {shape_text(g.input_shape)} \u2192 {shape_text(g.output_shape)}"
                   f" \u00b7 {g.total_params:,} parameters")
    rows = rows_of(columns)
    indent = GAP if len(rows) > 1 else 0.0         # room for the arrow that continues a row
    width = max([MARGIN * 2 + indent * 2 + sum(columns[i] for i in r) + GAP * (len(r) - 1) for r in rows]
                + [MARGIN * 2 + text_width(title, TITLE)])
    placed = []     # per row: (mid line, caption top)
    y = MARGIN + TITLE + 12
    for r in rows:
        tallest = max(dims[i][1] + OBLIQUE * dims[i][2] for i in r)
        top = y + FONT + 6                         # the size labels sit above the boxes
        lines = max(len(captions[i]) + len(errors[i]) for i in r)
        placed.append((top + tallest / 2, top + tallest + 14))
        y = top + tallest + 14 + lines * (SMALL + 3) + 10
    scene = Scene(round(width, 1), round(y + MARGIN - 10, 1), title)
    scene.text(MARGIN, MARGIN + TITLE, title, TITLE, anchor="start", bold=True, role="title")

    boxes: list = [None] * len(maps)       # per map: (x0, y0, t, h, d) of its box, None for a gap
    for r, (mid, cap_top) in zip(rows, placed):
        x = MARGIN + indent
        for i in r:
            m, (t, h, d), col = maps[i], dims[i], columns[i]
            cx = x + col / 2
            bw, bh = t + OBLIQUE * d, h + OBLIQUE * d
            x0, y0 = cx - bw / 2, mid + bh / 2          # front face, bottom left
            scene.group({"class": "gap" if m.omitted else "map", "data-shape": "x".join(map(str, m.shape or ()))})
            if m.omitted:
                scene.text(cx, mid + FONT / 2, "\u22ef", 16, role="gap")
            else:
                _draw_box(scene, m, x0, y0, t, h, d)
                boxes[i] = (x0, y0, t, h, d)
            if not m.omitted:
                scene.text(cx, mid - bh / 2 - 6, map_label(m), FONT, bold=m.error is None, role="size")
            yy = cap_top
            for c in captions[i]:
                scene.text(cx, yy, c, SMALL, color="#333333", role="caption")
                yy += SMALL + 3
            for e in errors[i]:
                scene.text(cx, yy, e, SMALL, color="#a00000", role="error")
                yy += SMALL + 3
            scene.end()
            x += col + GAP

    starts = {r.start for r in rows}
    for i in range(1, len(maps)):
        a, b = boxes[i - 1], boxes[i]
        if i in starts:         # a new row: the path leaves one row on the right, enters the next on the left
            if a:
                _draw_arrow(scene, a[0] + a[2] + OBLIQUE * a[4] + 3, a[1] - a[3] / 2, width - MARGIN)
            if b:
                _draw_arrow(scene, MARGIN, b[1] - b[3] / 2, b[0] - 3, maps[i].kernel)
        elif maps[i].kernel and a and b and maps[i - 1].shape and len(maps[i - 1].shape) == 3:
            _draw_kernel(scene, maps[i - 1], a, b, maps[i].kernel)
        elif a and b:
            _draw_arrow(scene, a[0] + a[2] + OBLIQUE * a[4] + 3, (a[1] - a[3] / 2 + b[1] - b[3] / 2) / 2, b[0] - 3,
                        maps[i].kernel)
    return scene


def _draw_box(scene: Scene, m: Map, x0, y0, t, h, d):
    if m.error:
        fill, stroke, dash = ERROR_FILL, ERROR_LINE, False
    elif m.shape is None:
        fill, stroke, dash = "#f3f3f3", "#999999", True
    else:
        fill, stroke, dash = FILL.get(m.category, "#f3f3f3"), LINE, False
        if fill == "#ffffff":
            fill = "#f0f0f0"
    o = OBLIQUE * d
    front = [(x0, y0), (x0 + t, y0), (x0 + t, y0 - h), (x0, y0 - h)]
    top = [(x0, y0 - h), (x0 + t, y0 - h), (x0 + t + o, y0 - h - o), (x0 + o, y0 - h - o)]
    side = [(x0 + t, y0), (x0 + t + o, y0 - o), (x0 + t + o, y0 - h - o), (x0 + t, y0 - h)]
    scene.poly(front, fill, stroke, 0.8, dash, role="front")
    scene.poly(top, _shade(fill, 1.45), stroke, 0.8, dash, role="top")
    scene.poly(side, _shade(fill, 0.82), stroke, 0.8, dash, role="side")


def _face_point(box, u: float, v: float, x_at: float):
    """A point on a box's plane x = x_at (its right face if x_at = t): u up the height, v into the depth."""
    x0, y0, t, h, d = box
    return x0 + x_at + OBLIQUE * v, y0 - u - OBLIQUE * v


def _draw_kernel(scene: Scene, src: Map, a, b, kernel):
    """The window on the source map's right face, with lines to the point it makes on the next map."""
    kh, kw, _, _ = kernel
    _, H, W = src.shape
    _, _, t, h, d = a
    ku = max(3.0, min(h, h * kh / max(H, 1)))
    kv = max(3.0, min(d, d * kw / max(W, 1)))
    u0, v0 = (h - ku) * 0.6, (d - kv) * 0.4        # a little above the middle, as papers place it
    corners = [_face_point(a, u0 + du, v0 + dv, t) for du, dv in ((0, 0), (0, kv), (ku, kv), (ku, 0))]
    _, _, t2, h2, d2 = b
    apex = _face_point(b, h2 * 0.6, d2 * 0.4, 0)
    scene.group({"class": "kernel"})
    scene.poly(corners, _shade(KERNEL, 1.6), KERNEL, 0.8)
    for c in corners:
        scene.line(c, apex, KERNEL, 0.5)
    tx = (corners[2][0] + apex[0]) / 2
    ty = min(corners[2][1], apex[1]) - 4
    scene.text(tx, ty, kernel_label(kernel), SMALL - 0.5, color=KERNEL, role="kernel")
    scene.end()


def _draw_arrow(scene: Scene, x1, y, x2, kernel=None):
    """A plain connection (no window: dense layers, folded blocks, a row's end), at height y."""
    if x2 - x1 < 6:
        return
    scene.group({"class": "arrow"})
    scene.line((x1, y), (x2, y), "#777777", 0.8)
    scene.poly([(x2, y), (x2 - 5, y - 2.5), (x2 - 5, y + 2.5)], "#777777", "#777777", 0.5)
    if kernel:
        scene.text((x1 + x2) / 2, y - 4, kernel_label(kernel), SMALL - 0.5, color=KERNEL, role="kernel")
    scene.end()


# ---------------------------------------------------------------- writers

def _num(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _xml(text: str) -> str:
    text = "".join(ch for ch in text if ch in "\t\n\r" or (ord(ch) >= 0x20 and not 0xD800 <= ord(ch) <= 0xDFFF
                                                         and ord(ch) not in (0xFFFE, 0xFFFF)))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def to_svg_text(scene: Scene) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(scene.width)}pt" height="{_num(scene.height)}pt" '
           f'viewBox="0 0 {_num(scene.width)} {_num(scene.height)}" font-family="Helvetica, Arial, sans-serif">',
           f"<title>{_xml(scene.title)}</title>",
           f'<rect width="{_num(scene.width)}" height="{_num(scene.height)}" fill="white"/>']
    anchors = {"start": "start", "middle": "middle", "end": "end"}
    for item in scene.items:
        what = item[0]
        if what == "group":
            attrs = " ".join(f'{k}="{_xml(v)}"' for k, v in item[1].items() if v != "")
            out.append(f"<g {attrs}>")
        elif what == "end":
            out.append("</g>")
        elif what == "poly":
            _, pts, fill, stroke, w, dash, role = item
            points = " ".join(f"{_num(x)},{_num(y)}" for x, y in pts)
            extra = ' stroke-dasharray="3,2"' if dash else ""
            cls = f' class="{role}"' if role else ""
            out.append(f'<polygon{cls} points="{points}" fill="{fill}" stroke="{stroke}" '
                       f'stroke-width="{_num(w)}" stroke-linejoin="round"{extra}/>')
        elif what == "line":
            _, p, q, stroke, w, dash = item
            extra = ' stroke-dasharray="3,2"' if dash else ""
            out.append(f'<line x1="{_num(p[0])}" y1="{_num(p[1])}" x2="{_num(q[0])}" y2="{_num(q[1])}" '
                       f'stroke="{stroke}" stroke-width="{_num(w)}"{extra}/>')
        else:
            _, x, y, text, size, anchor, color, bold, role = item
            cls = f' class="{role}"' if role else ""
            weight = ' font-weight="bold"' if bold else ""
            out.append(f'<text{cls} x="{_num(x)}" y="{_num(y)}" font-size="{_num(size)}" '
                       f'text-anchor="{anchors[anchor]}" fill="{color}"{weight}>{_xml(text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _rgb(hex_colour: str) -> str:
    return " ".join(_num(int(hex_colour[i:i + 2], 16) / 255) for i in (1, 3, 5))


# Characters the standard fonts' WinAnsi encoding lacks, as PDF viewers will show them.
_PDF_TEXT = {"\u2192": "->", "\u22ef": "...", "\u2026": "..."}


def _pdf_string(text: str) -> str:
    text = "".join(_PDF_TEXT.get(ch, ch) for ch in text)
    data = text.encode("cp1252", "replace")
    out = []
    for byte in data:
        ch = chr(byte)
        if ch in "()\\":
            out.append("\\" + ch)
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return "(" + "".join(out) + ")"


def to_pdf_bytes(scene: Scene) -> bytes:
    """A one-page PDF 1.4 drawing the scene with path and text operators (fonts:
    the standard Helvetica and Helvetica-Bold, which every viewer has; nothing embedded)."""
    H = scene.height
    ops = ["1 1 1 rg", f"0 0 {_num(scene.width)} {_num(H)} re f", "1 J 1 j"]
    for item in scene.items:
        what = item[0]
        if what == "poly":
            _, pts, fill, stroke, w, dash, _ = item
            ops.append(f"{_rgb(fill)} rg {_rgb(stroke)} RG {_num(w)} w {'[3 2] 0 d' if dash else '[] 0 d'}")
            path = [f"{_num(pts[0][0])} {_num(H - pts[0][1])} m"]
            path += [f"{_num(x)} {_num(H - y)} l" for x, y in pts[1:]]
            ops.append(" ".join(path) + " h B")
        elif what == "line":
            _, p, q, stroke, w, dash = item
            ops.append(f"{_rgb(stroke)} RG {_num(w)} w {'[3 2] 0 d' if dash else '[] 0 d'} "
                       f"{_num(p[0])} {_num(H - p[1])} m {_num(q[0])} {_num(H - q[1])} l S")
        elif what == "text":
            _, x, y, text, size, anchor, color, bold, _ = item
            w = text_width(text, size)
            x = x - w / 2 if anchor == "middle" else x - w if anchor == "end" else x
            ops.append(f"BT /{'F2' if bold else 'F1'} {_num(size)} Tf {_rgb(color)} rg "
                       f"{_num(x)} {_num(H - y)} Td {_pdf_string(text)} Tj ET")
    content = zlib.compress("\n".join(ops).encode("latin-1"))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {_num(scene.width)} {_num(H)}] "
         "/Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> /Contents 4 0 R >>").encode("ascii"),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Title " + _pdf_string(scene.title).encode("latin-1") + b" /Producer (netdsl) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, len(objects), xref)
    return bytes(out)


# ---------------------------------------------------------------- entry points

def figure(g: Graph, depth: int | None = None, notes: list | None = None) -> Scene:
    maps, said = choose(g, depth)
    if notes is not None:
        notes.extend(said)
    return layout(g, maps)


def render_bytes(g: Graph, fmt: str = "svg", depth: int | None = None, notes: list | None = None) -> bytes:
    """The figure as SVG (UTF-8) or PDF bytes."""
    if fmt not in FORMATS:
        raise RenderError(f"the blocks figure is drawn as svg or pdf, not {fmt}")
    scene = figure(g, depth, notes)
    return to_svg_text(scene).encode("utf-8") if fmt == "svg" else to_pdf_bytes(scene)


def render_file(g: Graph, path: str, fmt: str, inputs=(), depth: int | None = None,
                source: str = "<string>") -> list[str]:
    """Write the figure to `path` atomically, never over one of `inputs`, marked as
    generated from `source` (netdsl/output.py); returns notes on what was folded to fit."""
    from ..output import OutputError, mark, refuse_inputs, write_file
    notes: list[str] = []
    try:
        refuse_inputs(path, inputs, "a file the spec was read from")
        write_file(path, mark(render_bytes(g, fmt, depth, notes), fmt, source), inputs)
    except OutputError as e:
        raise RenderError(str(e)) from None
    return notes
