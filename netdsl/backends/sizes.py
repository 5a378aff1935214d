"""`netdsl sizes`: which input sizes a network accepts, found by re-checking.

The program is parsed and loaded once; each candidate size re-runs only the
elaboration (the shape pass) with an input-shape override and `expect`
assertions switched off (they state the shapes at the declared size). A size is
accepted when no error fires and no lost-rows warning (W0401 stride leaves input
rows unused, W0402 ceil_mode drops a window) fires, after the spec's own
`# netdsl: allow` comments. This is what torchvision writes by hand as a
model's `min_size`.

Each scan stops at the first diagnostic that rejects the size (the reporter's
`stop_when` policy, elaborate/report.py): the rest of the network cannot change
the verdict, and most rejected sizes (odd sizes before a 2×2 pooling, say) fail
in the first few layers.
"""
from __future__ import annotations

from ..diagnostics.allow import Allowances
from ..diagnostics.codes import W0401, W0402
from ..ir import Graph
from ..limits import LIMITS
from ..pipeline import Diverged, Replay, elaborate_network, expand_with_guards
from ..program import Program
from ..record import Value

LOST_ROWS = frozenset({W0401, W0402})


class Rejection(Value):
    """Why one size is rejected: a code, its message, and the qualified module path
    of the layer that rejects it ("?" if none)."""
    _fields = ("code", "message", "layer")


class Scan(Value):
    """A scan's answers. axis: "square", "height" or "width"; fixed: the other axis
    when scanning one; declared: the declared (h, w); rejected: size -> Rejection;
    stopped: the budget ran out before this size; replayed: sizes answered by
    re-running the shape rules alone (elaborate/replay.py)."""
    _fields = ("network", "axis", "lo", "hi", "channels", "fixed", "declared", "accepted", "rejected", "stopped",
               "replayed")
    _defaults = {"accepted": list, "rejected": dict, "stopped": None, "replayed": 0}

    def shape(self, n: int) -> tuple:
        if self.axis == "height":
            return (self.channels, n, self.fixed)
        if self.axis == "width":
            return (self.channels, self.fixed, n)
        return (self.channels, n, n)

    @property
    def declared_size(self) -> int | None:
        if self.declared is None:
            return None
        return self.declared[1] if self.axis == "width" else self.declared[0]

    @property
    def declared_ok(self) -> bool | None:
        d = self.declared_size
        if d is None or (self.axis == "square" and self.declared[0] != self.declared[1]):
            return None
        return d in set(self.accepted)

    @property
    def smallest(self) -> int | None:
        return self.accepted[0] if self.accepted else None

    def nearest(self, n: int) -> int | None:
        if not self.accepted:
            return None
        return min(self.accepted, key=lambda a: (abs(a - n), a))

    # The Python API's view (netdsl.sizes): what `netdsl sizes` prints.
    def __repr__(self) -> str:
        from ..record import short
        return (f"<Scan {short(self.network)}: {self.axis} {self.lo}..{self.hi}, {len(self.accepted)} accepted, "
                f"smallest {self.smallest}>")

    def __str__(self) -> str:
        return to_text(self)

    def to_text(self) -> str:
        return to_text(self)

    def to_dict(self) -> dict:
        return to_json(self)

    def to_json(self) -> str:
        import json
        return json.dumps(to_json(self), indent=2)


def _layer_of(graph: Graph, diag) -> str:
    """The layer a diagnostic belongs to: the node it failed or warned about, else
    the first node whose call contains the diagnostic's location (a binding error)."""
    for node in graph.nodes:
        if node.failure is diag or diag in node.warnings:
            return node.qualname
    span = diag.primary
    if span is not None:
        for node in graph.nodes:
            ns = node.span
            if ns is not None and ns.source is span.source and ns.start <= span.start and span.end <= ns.end:
                return node.qualname if node.spec is not None else "input"
    return "?"


def _rejects(allowed: Allowances):
    def rejects(d) -> bool:
        return d.is_error or (d.code in LOST_ROWS and not allowed.suppresses(d))
    return rejects


def check_size(program: Program, network: str, params: dict | None, shape: tuple,
               rejects=None) -> tuple[Rejection | None, int]:
    """(None if the network accepts `shape`, else the first reason it does not; the
    layers expanded to find out). The walk stops at the first rejecting diagnostic."""
    rejects = rejects or _rejects(Allowances())
    graph = elaborate_network(program, network, params, shape, expects=False, stop_when=rejects)
    for d in graph.diagnostics:
        if rejects(d):
            return Rejection(d.code, d.message, _layer_of(graph, d)), len(graph.nodes)
    return None, len(graph.nodes)


class NoImageInput(Exception):
    """The network has no declared [C, H, W] input to vary."""

    def __init__(self, message: str, diagnostics=()):
        super().__init__(message)
        self.diagnostics = list(diagnostics)


def declared_input(program: Program, network: str, params: dict | None) -> tuple:
    graph = elaborate_network(program, network, params)
    shape = graph.input_shape
    if shape is None:
        errors = [d for d in graph.diagnostics if d.is_error]
        raise NoImageInput(f"`{network}` has no input shape to start from", errors)
    if len(shape) != 3:
        raise NoImageInput(f"`{network}` takes a {len(shape)}-dimensional input; sizes scans [C, H, W] inputs")
    return shape


# A layer expanded in full costs about as much as this many rule runs of a replay.
WALK_COST = 4


def scan(program: Program, network: str, params: dict | None = None, lo: int = 1, hi: int = 1024,
         height: int | None = None, width: int | None = None) -> Scan:
    """Scan square sizes lo..hi; with `height` fixed scan the width, and vice versa.

    Sizes are answered by a Replay of one expansion (pipeline.expand_with_guards)
    wherever the network expands the same way, else by expanding them in full. The
    whole scan may spend LIMITS.max_scan_work rule runs (a full expansion counts
    WALK_COST per layer); past that it stops, and `stopped` says where."""
    declared = declared_input(program, network, params)
    channels = declared[0]
    axis, fixed = "square", None
    if height is not None and width is None:
        axis, fixed = "width", height
    elif width is not None and height is None:
        axis, fixed = "height", width
    result = Scan(network, axis, lo, hi, channels, fixed, tuple(declared[1:]))
    rejects = _rejects(Allowances())
    reference, guards = expand_with_guards(program, network, params, declared)
    replay = Replay(reference, guards, rejects) if reference.ok else None
    spent = 0
    for n in range(lo, hi + 1):
        if spent + (replay.evaluated if replay else 0) > LIMITS.max_scan_work:
            result.stopped = n
            break
        shape = result.shape(n)
        try:
            if replay is None:
                raise Diverged()
            found = replay.run(shape)
            problem = Rejection(found[0].code, found[0].message, found[1].qualname) if found else None
            result.replayed += 1
        except Diverged:
            problem, layers = check_size(program, network, params, shape, rejects)
            spent += WALK_COST * layers
        if problem is None:
            result.accepted.append(n)
        else:
            result.rejected[n] = problem
    return result


# ---- compact description of a set of sizes ---------------------------------------

def runs(values: list) -> list[tuple]:
    """Split sorted integers into maximal arithmetic runs (start, stop, step);
    a run of one value has step 0. Greedy, preferring long runs."""
    out, i = [], 0
    while i < len(values):
        if i + 2 < len(values):
            step = values[i + 1] - values[i]
            j = i + 1
            while j + 1 < len(values) and values[j + 1] - values[j] == step:
                j += 1
            if j - i >= 2 or step == 1:
                out.append((values[i], values[j], step))
                i = j + 1
                continue
        if i + 1 < len(values) and values[i + 1] - values[i] == 1:
            out.append((values[i], values[i + 1], 1))
            i += 2
            continue
        out.append((values[i], values[i], 0))
        i += 1
    return out


def describe_run(start: int, stop: int, step: int) -> str:
    if step == 0:
        return str(start)
    if step == 1:
        return f"{start}–{stop}" if stop > start + 1 else f"{start}, {stop}"
    return f"every {step} from {start} to {stop}"


def compact(values: list) -> str:
    if not values:
        return "none"
    return ", ".join(describe_run(*r) for r in runs(values))


def rejection_groups(s: Scan, below: int | None = None) -> list[dict]:
    """Rejected sizes grouped by (layer, code), in order of first occurrence."""
    groups: dict = {}
    for n, r in sorted(s.rejected.items()):
        if below is not None and n >= below:
            continue
        key = (r.layer, r.code)
        g = groups.setdefault(key, {"layer": r.layer, "code": r.code, "message": r.message, "sizes": []})
        g["sizes"].append(n)
    return list(groups.values())


def below_smallest(s: Scan) -> list:
    """The sizes just below the smallest accepted one worth explaining: the one
    right below it, and the one a period below it when the accepted sizes are
    periodic (e.g. U-Net's every 16: 188 - 16 = 172 fails for another reason)."""
    out = []
    if s.smallest is None:
        return out
    if s.smallest - 1 in s.rejected:
        out.append(s.smallest - 1)
    if len(s.accepted) > 1:
        step = s.accepted[1] - s.accepted[0]
        if step > 1 and s.smallest - step in s.rejected:
            out.append(s.smallest - step)
    return out


def to_text(s: Scan) -> str:
    what = {"square": "square inputs H = W", "height": f"heights with width {s.fixed}",
            "width": f"widths with height {s.fixed}"}[s.axis]
    lines = [f"{s.network}: {what} from {s.lo} to {s.hi}, {s.channels} channel{'s' if s.channels != 1 else ''}"]
    lines.append(f"accepted ({len(s.accepted)}): {compact(s.accepted)}")
    if s.stopped is not None:
        lines.append(f"stopped before {s.stopped}: the scan's budget ({LIMITS.max_scan_work:,} layer evaluations) "
                     f"is spent; narrow the range with --min/--max")
    if s.smallest is not None:
        lines.append(f"smallest accepted: {s.smallest}")
        for n in below_smallest(s):
            r = s.rejected[n]
            lines.append(f"  {n} is rejected by {r.layer}: {r.code} {r.message}")
    groups = sorted(rejection_groups(s), key=lambda g: -len(g["sizes"]))
    for g in groups[:6]:
        lines.append(f"rejected by {g['layer']} ({g['code']}, {len(g['sizes'])}): {compact(g['sizes'])}")
    if len(groups) > 6:
        rest = sum(len(g["sizes"]) for g in groups[6:])
        lines.append(f"... and {rest} more rejected by {len(groups) - 6} other layers (--format json lists them)")
    if s.declared_size is not None:
        ok = s.declared_ok
        if ok is False:
            near = s.nearest(s.declared_size)
            r = s.rejected.get(s.declared_size)
            why = f" ({r.layer}: {r.code} {r.message})" if r else ""
            lines.append(f"the declared size {s.declared_size} is rejected{why}"
                         + (f"; nearest accepted size: {near}" if near is not None else ""))
        elif ok:
            lines.append(f"the declared size {s.declared_size} is accepted")
    return "\n".join(lines)


def to_json(s: Scan) -> dict:
    below_list = below_smallest(s)
    below = s.rejected[below_list[-1]] if below_list else None
    below_n = below_list[-1] if below_list else None
    return {
        "network": s.network, "axis": s.axis, "min": s.lo, "max": s.hi, "channels": s.channels,
        "fixed": s.fixed,
        "accepted": s.accepted, "accepted_compact": compact(s.accepted),
        "smallest": s.smallest,
        "smallest_rejected_by": ({"size": below_n, "layer": below.layer, "code": below.code,
                                  "message": below.message} if below else None),
        "declared": s.declared_size, "declared_ok": s.declared_ok,
        "nearest": s.nearest(s.declared_size) if s.declared_size is not None and s.declared_ok is False else None,
        "rejections": [{**g, "sizes": compact(g["sizes"]), "count": len(g["sizes"])} for g in rejection_groups(s)],
        "stopped_before": s.stopped,
    }
