"""`netdsl sizes`: which input sizes a network accepts, found by re-checking.

The program is parsed and loaded once; each candidate size re-runs only the
elaboration (the shape pass) with an input-shape override. A size is accepted
when no error fires: exactly when `netdsl check --input CxHxW` reports no error.
Warnings that depend on the size are reported beside it, not as rejections: the
lost-rows warnings (W0401 stride leaves input rows unused, W0402 ceil_mode drops
a window: torch runs, and ignores those rows) and W0406 (an `expect` written for
the declared input does not hold at this one), after the spec's own
`# netdsl: allow` comments. `expect` statements are checked at every size: one
whose sizes are written from the input (`in.h // 4`) rejects the sizes where it
fails, one that holds at the declared input with literal sizes only warns. This
is what torchvision writes by hand as a model's `min_size`.

Each scan stops at the first error that rejects the size (the reporter's
`stop_when` policy, elaborate/report.py): the rest of the network cannot change
the verdict, and most rejected sizes (a kernel larger than its input, say) fail
in the first few layers.
"""
from __future__ import annotations

from ..diagnostics.allow import Allowances
from ..diagnostics.codes import E0308, W0401, W0402, W0406
from ..ir import Graph
from ..limits import LIMITS
from ..pipeline import Diverged, Replay, elaborate_network, expand_with_guards
from ..program import Program
from ..record import Value

LOST_ROWS = frozenset({W0401, W0402})
# The warnings reported beside the sizes they fire at.
SIZE_WARNINGS = LOST_ROWS | {W0406}
EXPECTS = frozenset({E0308, W0406})         # what an `expect` reports: named by its line, not a layer


class Rejection(Value):
    """A diagnostic at one size: why it is rejected (an error), or a warning beside it;
    a code, its message, and the qualified module path of the layer it is about ("?"
    if none, "expect at line N" for an `expect`)."""
    _fields = ("code", "message", "layer")


class Scan(Value):
    """A scan's answers. axis: "square", "height" or "width"; fixed: the other axis
    when scanning one; declared: the declared (h, w); rejected: size -> Rejection;
    warned: accepted size -> its warnings (Rejections of warning codes, SIZE_WARNINGS);
    stopped: the budget ran out before this size; replayed: sizes answered by
    re-running the shape rules alone (elaborate/replay.py)."""
    _fields = ("network", "axis", "lo", "hi", "channels", "fixed", "declared", "accepted", "rejected", "stopped",
               "replayed", "warned")
    _defaults = {"accepted": list, "rejected": dict, "stopped": None, "replayed": 0, "warned": dict}

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
    place = _expect_place(diag)
    if place is not None:
        return place
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


def _expect_place(diag) -> str | None:
    span = diag.primary
    if diag.code in EXPECTS and span is not None:
        return f"expect at line {span.line}"
    return None


def _finding(diag, node) -> Rejection:
    return Rejection(diag.code, diag.message, _expect_place(diag) or node.qualname)


def _once(noted: list) -> list:
    """A replay's warnings as the walk reports them: once each (a block used twice
    warns once, elaborate/report.py), at the first node it is about."""
    seen, out = set(), []
    for d, node in noted:
        span = d.primary
        key = (d.code, d.message, span.source.name if span else None, span.start if span else None)
        if key not in seen:
            seen.add(key)
            out.append(_finding(d, node))
    return out


def _rejects(d) -> bool:
    return d.is_error


def _notes(allowed: Allowances):
    def notes(d) -> bool:
        return d.code in SIZE_WARNINGS and not allowed.suppresses(d)
    return notes


def check_size(program: Program, network: str, params: dict | None, shape: tuple,
               rejects=None, notes=None, declared=None) -> tuple[Rejection | None, list, int]:
    """(None if the network accepts `shape`, else the first reason it does not; the
    warnings worth reporting beside it; the layers expanded to find out). The walk
    stops at the first error. `declared`: what held at the declared input
    (pipeline.expand_with_guards), else found here."""
    rejects = rejects or _rejects
    notes = notes or _notes(Allowances())
    kw = {} if declared is None else {"declared": declared}
    graph = elaborate_network(program, network, params, shape, stop_when=rejects, **kw)
    warned = [Rejection(d.code, d.message, _layer_of(graph, d)) for d in graph.diagnostics
              if not rejects(d) and notes(d)]
    for d in graph.diagnostics:
        if rejects(d):
            return Rejection(d.code, d.message, _layer_of(graph, d)), warned, len(graph.nodes)
    return None, warned, len(graph.nodes)


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
    notes = _notes(Allowances())
    reference, guards, held = expand_with_guards(program, network, params, declared)
    replay = Replay(reference, guards, _rejects, notes, held) if reference.ok else None
    spent = 0
    for n in range(lo, hi + 1):
        if spent + (replay.evaluated if replay else 0) > LIMITS.max_scan_work:
            result.stopped = n
            break
        shape = result.shape(n)
        try:
            if replay is None:
                raise Diverged()
            noted: list = []
            found = replay.run(shape, notes=noted)
            problem = _finding(*found) if found else None
            warned = _once(noted)
            result.replayed += 1
        except Diverged:
            problem, warned, layers = check_size(program, network, params, shape, _rejects, notes, held)
            spent += WALK_COST * layers
        if problem is None:
            result.accepted.append(n)
            if warned:
                result.warned[n] = tuple(warned)
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


def compact(values: list, limit: int | None = None) -> str:
    """The sizes as runs; with `limit`, the runs that fit in about that many
    characters, then how many sizes are left out."""
    if not values:
        return "none"
    parts, length, shown = [], 0, 0
    for r in runs(values):
        text = describe_run(*r)
        if limit is not None and parts and length + len(text) > limit:
            return ", ".join(parts) + f", ... ({len(values) - shown} more)"
        parts.append(text)
        length += len(text) + 2
        shown += len(range(r[0], r[1] + 1, r[2] or 1))
    return ", ".join(parts)


def rejection_groups(s: Scan, below: int | None = None) -> list[dict]:
    """Rejected sizes grouped by (layer, code), in order of first occurrence."""
    return _groups(((n, r) for n, r in sorted(s.rejected.items()) if below is None or n < below))


def warning_groups(s: Scan) -> list[dict]:
    """Accepted sizes with warnings, grouped by (layer, code), in order of first occurrence."""
    return _groups((n, w) for n, ws in sorted(s.warned.items()) for w in ws)


def _groups(pairs) -> list[dict]:
    groups: dict = {}
    for n, r in pairs:
        key = (r.layer, r.code)
        g = groups.setdefault(key, {"layer": r.layer, "code": r.code, "message": r.message, "sizes": []})
        if not g["sizes"] or g["sizes"][-1] != n:
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
    groups = warning_groups(s)
    # A literal expect written for the declared input says nothing about other sizes:
    # one note for it, rather than a "warns" line that would mark nearly every size.
    declared = [g for g in groups if g["code"] == W0406]
    warned = sorted((g for g in groups if g["code"] != W0406), key=lambda g: -len(g["sizes"]))
    if warned:
        clean = [n for n in s.accepted if all(w.code == W0406 for w in s.warned.get(n, ()))]
        lines.append(f"  without warnings ({len(clean)}): {compact(clean, 120)}")
    for g in warned[:6]:
        lines.append(f"  runs, but {g['layer']} warns ({g['code']}, {len(g['sizes'])}): {compact(g['sizes'], 80)}: "
                     f"{g['message']}")
    if len(warned) > 6:
        rest = len({n for g in warned[6:] for n in g["sizes"]})
        lines.append(f"  ... and warnings at {rest} sizes from {len(warned) - 6} other places (--format json "
                     f"lists them)")
    for g in declared:
        lines.append(f"  note: {g['message']}, so at other sizes it is not checked ({g['layer']}; write it from "
                     f"the input, as `in.h // 4`, to check it at every size)")
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
        lines.append(f"rejected by {g['layer']} ({g['code']}, {len(g['sizes'])}): {compact(g['sizes'], 120)}")
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
            ws = s.warned.get(s.declared_size)
            lines.append(f"the declared size {s.declared_size} is accepted"
                         + (f", with {len(ws)} warning{'s' if len(ws) != 1 else ''}" if ws else ""))
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
        "warned": sorted(s.warned),
        "warnings": [{**g, "sizes": compact(g["sizes"]), "count": len(g["sizes"])} for g in warning_groups(s)],
        "stopped_before": s.stopped,
    }
