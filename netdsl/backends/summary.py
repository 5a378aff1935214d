"""`netdsl summary`: a torchinfo-like table computed from the graph, no torch.

The table model (Summary, Row) is built once from a Graph; the formatters
(text, json, csv, markdown) only lay it out. Rows follow the graph's
topological order, with a header row for each block use and named sequence, so
the nesting matches the torch module tree; `depth` folds deeper rows into their
enclosing scope's row.
"""
from __future__ import annotations

import math

from ..record import Record
from ..values import show_shape
from .costs import DESCRIPTIONS, Field, layer_macs, receptive_fields, show_jump
from .digraph import node_label

BYTES = 4   # float32


class Row(Record):
    """One line of the table: a layer, or the header of a block use / named sequence
    (scope=True) carrying its totals. name: the qualified module path
    ("layer1.0.conv1"); display: its last part (merges: "(add)"); kind: the layer
    kind, or the block / "sequence" for scope rows; params, buffers, macs: None when
    unknown; rf: a costs.Field; label: the diagram label ("conv 3×3, 64, p1");
    known: False after a failure, when nothing is known."""
    __slots__ = _fields = ("name", "display", "kind", "depth", "scope", "shape", "params", "buffers", "macs", "rf",
                           "label", "explain", "error", "known")
    _defaults = {"scope": False, "shape": None, "params": 0, "buffers": 0, "macs": 0, "rf": None, "label": "",
                 "explain": (), "error": None, "known": True}

    @property
    def activations(self) -> int | None:
        return math.prod(self.shape) if self.shape is not None else None


class Summary(Record):
    """The table and its totals. activations: elements of every layer output, per
    sample; truncated: the walk stopped at an error, so later layers are unknown."""
    __slots__ = _fields = ("network", "input_shape", "output_shape", "rows", "convention", "batch", "flops", "ok",
                           "total_params", "buffers", "total_macs", "activations", "input_elements", "truncated",
                           "unused", "returns")
    _defaults = {"truncated": False, "unused": (), "returns": ()}
    # unused: the outermost modules no output depends on (built, never computed)
    # returns: ((name or None, shape), ...) when the network returns several tensors

    @property
    def output_text(self) -> str:
        """The output shape, or every returned tensor's (`out [21, 224, 224], aux [21, 224, 224]`)."""
        if len(self.returns) < 2:
            return show_shape(self.output_shape)
        if self.returns[0][0] is None:
            return "(" + ", ".join(show_shape(shape) for _, shape in self.returns) + ")"
        return ", ".join(f"{name} {show_shape(shape)}" for name, shape in self.returns)

    @property
    def param_bytes(self) -> int:
        return (self.total_params + self.buffers) * BYTES

    @property
    def activation_bytes(self) -> int:
        return self.activations * BYTES * self.batch

    @property
    def input_bytes(self) -> int:
        return self.input_elements * BYTES * self.batch

    def ops(self, macs: int | None) -> int | None:
        return None if macs is None else macs * (2 if self.flops else 1)

    # The Python API's view (netdsl.summary): the same texts `netdsl summary --format` prints.
    def __repr__(self) -> str:
        from ..record import short
        return (f"<Summary {short(self.network)}: {len(self.rows)} rows, {self.total_params:,} parameters, "
                f"{self.total_macs:,} MACs ({self.convention})>")

    def __str__(self) -> str:
        return to_text(self)

    def to_text(self) -> str:
        return to_text(self)

    def to_json(self) -> str:
        return to_json(self)

    def to_dict(self) -> dict:
        import json
        return json.loads(to_json(self))

    def to_csv(self) -> str:
        return to_csv(self)

    def to_markdown(self) -> str:
        return to_markdown(self)

    def _repr_html_(self) -> str:         # Jupyter
        import html
        return "<pre>" + html.escape(to_text(self)) + "</pre>"



def _scope_chain(scope) -> list:
    chain = []
    while scope is not None and scope.parent is not None:
        chain.append(scope)
        scope = scope.parent
    return chain[::-1]


def build(graph, convention: str = "torchvision", batch: int = 1, flops: bool = False,
          depth: int | None = None, explain: bool = False) -> Summary:
    fields = receptive_fields(graph)
    rows: list[Row] = []
    open_rows: dict[int, Row] = {}          # scope id -> its header row
    failed = False
    macs_all = []
    for node in graph.nodes:
        if node.spec is None:
            continue
        chain = _scope_chain(node.scope)
        for s in chain:
            if s.id not in open_rows:
                row = Row(s.qualname, s.name or "?", s.definition or "sequence", s.depth, scope=True,
                          label=", ".join(f"{k}={v}" for k, v in s.args.items()) if s.args else "")
                open_rows[s.id] = row
                rows.append(row)
        macs = layer_macs(graph, node, convention)
        macs_all.append(macs)
        known = node.shape is not None
        # A stand-in for what elaboration could not expand (an unknown layer) is shown
        # as the source written there, with the diagnostic's own words.
        stand_in = node.stand_in
        display = node.name or f"({node_label(node) if stand_in else node.kind})"
        failure = node.failure
        error = failure.message if failure is not None else None
        row = Row(node.qualname if node.name else ".".join([*(s.name or "?" for s in chain), display]),
                  display, "unknown" if stand_in else node.kind, len(chain) + 1, shape=node.shape,
                  params=node.params if known else None, buffers=node.buffers if known else None,
                  macs=macs, rf=fields.get(node.id), label="" if stand_in else node.describe(),
                  explain=_explain(node, macs, convention) if explain else [], error=error,
                  known=known or failure is not None)
        failed = failed or failure is not None
        rows.append(row)
        for s in chain:
            head = open_rows[s.id]
            head.shape = node.shape if node.shape is not None else None
            head.rf = row.rf
            for attr in ("params", "buffers", "macs"):
                v = getattr(row, attr)
                cur = getattr(head, attr)
                setattr(head, attr, None if v is None or cur is None else cur + v)
            if row.error and head.error is None:
                head.error = f"in {row.name}: {row.error}"      # still marked when --depth folds the row
            head.known = head.known and row.known
    if depth is not None:
        rows = [r for r in rows if r.depth <= depth]
    layer_rows = [n for n in graph.nodes if n.spec is not None and n.id not in graph.unused]
    total_macs = None if any(m is None for m in macs_all) or not graph.ok else sum(macs_all)
    acts = sum(math.prod(n.shape) for n in layer_rows if n.shape is not None)
    inp = math.prod(graph.input_shape) if graph.input_shape else 0
    return Summary(graph.network, graph.input_shape, graph.output_shape, rows, convention, batch, flops,
                   graph.ok, graph.total_params, sum(n.buffers for n in graph.nodes), total_macs, acts, inp,
                   truncated=failed or not graph.ok, unused=_unused_modules(graph),
                   returns=tuple(graph.returns) if graph.outputs is not None and len(graph.outputs) > 1 else ())


def _unused_modules(graph) -> tuple:
    """The qualnames of the outermost modules whose every layer no output depends on."""
    if not graph.unused:
        return ()
    live_scopes = set()
    for n in graph.nodes:
        if n.id not in graph.unused:
            s = n.scope
            while s is not None and s.id not in live_scopes:
                live_scopes.add(s.id)
                s = s.parent
    out = []
    for n in graph.nodes:
        if n.id not in graph.unused or n.spec is None:
            continue
        top, s = n, n.scope
        while s is not None and s.id not in live_scopes:
            top, s = s, s.parent
        name = top.qualname
        if name not in out:
            out.append(name)
    return tuple(out)


def _explain(node, macs, convention) -> list:
    """Per-layer arithmetic: the shape rule's formulas, then parameters and MACs."""
    lines = list(node.explain)
    if node.shape is None:
        return lines
    if node.params or node.buffers:
        extra = f" (+ {node.buffers:,} buffer elements: running statistics)" if node.buffers else ""
        lines.append(f"params = {node.params:,}{extra}")
    if macs:
        out = math.prod(node.shape)
        dims = "·".join(map(str, node.shape))
        if macs % out == 0 and macs // out > 1:
            lines.append(f"MACs = {dims} outputs × {macs // out:,} = {macs:,}")
        else:
            lines.append(f"MACs = {macs:,}")
    return lines


# ---- formatting helpers ---------------------------------------------------------

def _axes(pair, fmt=str) -> str:
    a, b = fmt(pair[0]), fmt(pair[1])
    return a if a == b else f"{a}×{b}"


def field_str(f: Field | None) -> tuple[str, str]:
    if f is None:
        return "", ""
    size = "all" if f.is_global else _axes(f.size, lambda s: str(math.ceil(s)))
    return size, _axes(f.jump, show_jump)


def human(n: float | None, unit: str = "") -> str:
    if n is None:
        return "?"
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.2f} {suffix}{unit}"
    return f"{n:g} {unit}".rstrip()


def mib(b: int) -> str:
    if b >= 2 ** 30:
        return f"{b / 2 ** 30:.2f} GiB"
    if b < 1024:
        return f"{b} B"
    return f"{b / 2 ** 20:.2f} MiB" if b >= 2 ** 20 else f"{b / 1024:.2f} KiB"


def _num(v: int | None) -> str:
    return "?" if v is None else (f"{v:,}" if v else "--")


# ---- text -------------------------------------------------------------------------

def to_text(s: Summary, width_name: int = 0) -> str:
    ops = "FLOPs" if s.flops else "MACs"
    header = ("Layer (kind)", "Output Shape", "Params", ops, "Act. mem", "RF", "Jump")
    table = []
    for r in s.rows:
        indent = "  " * (r.depth - 1)
        same = r.display in (r.kind, f"({r.kind})") or r.display.rstrip("_0123456789") == r.kind
        title = f"{indent}{r.display}" + ("" if same else f": {r.kind}")
        rf, jump = field_str(r.rf)
        if not r.known:
            table.append((title, "?", "?", "?", "?", "?", "?"))
            continue
        shape = "✗ error" if r.error and r.shape is None else show_shape(r.shape)
        table.append((title, shape, _num(r.params), _num(s.ops(r.macs)), _act(s, r), rf, jump))
    widths = [max([len(h)] + [len(t[i]) for t in table]) for i, h in enumerate(header)]
    widths[0] = max(widths[0], width_name)

    def line(cells):
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        rest[0] = cells[1].ljust(widths[1])
        return "  ".join([first, *rest]).rstrip()

    total_w = sum(widths) + 2 * (len(widths) - 1)
    title = (f"{s.network}: {show_shape(s.input_shape)} → {s.output_text}"
             f"   ({s.convention} convention{', ×2 = FLOPs' if s.flops else ''})")
    out = ["=" * total_w, title, "=" * total_w, line(header), "-" * total_w]
    for i, (r, cells) in enumerate(zip(s.rows, table)):
        out.append(line(cells))
        unfolded = r.scope and i + 1 < len(s.rows) and s.rows[i + 1].depth > r.depth
        if r.error and not unfolded:        # an open block's error is shown at the layer itself
            out.append(f"{'  ' * r.depth}^^^ error here: {r.error}")
        for e in r.explain:
            out.append(f"{'  ' * r.depth}    {e}")
    if s.truncated:
        out.append("... the rest is unknown: the spec has errors (see above)")
    out.append("=" * total_w)
    out.extend(_totals_lines(s))
    out.append("=" * total_w)
    return "\n".join(out)


def _totals_lines(s: Summary) -> list:
    ops = "FLOPs" if s.flops else "MACs"
    total = s.ops(s.total_macs)
    partial = " (layers before the error only)" if s.truncated else ""
    if total is None:
        macs_line = f"Total {ops} per sample: unknown (the spec has errors)"
    else:
        macs_line = (f"Total {ops} per sample: {total:,} ({human(total)}{ops})"
                     + (f"; batch {s.batch}: {human(total * s.batch)}{ops}" if s.batch != 1 else ""))
    lines = [
        f"Total params: {s.total_params:,}{partial}",
        f"Trainable params: {s.total_params:,}",
        "Non-trainable params: 0",
        f"Buffers (running statistics): {s.buffers:,} elements",
        macs_line,
        f"MAC convention: {s.convention}: {DESCRIPTIONS[s.convention]}" + (" (FLOPs = 2 × MACs)" if s.flops else ""),
        f"Input size (float32, batch {s.batch}): {mib(s.input_bytes)}",
        f"Activations (all layer outputs, float32, batch {s.batch}): {mib(s.activation_bytes)}{partial}",
        f"Params + buffers (float32): {mib(s.param_bytes)}",
        f"Estimated total: {mib(s.input_bytes + s.activation_bytes + s.param_bytes)}",
    ]
    if s.unused:
        shown = ", ".join(s.unused[:8]) + (f" and {len(s.unused) - 8} more" if len(s.unused) > 8 else "")
        lines.append(f"Built but not computed (no output uses them; MACs and activations not counted): {shown}")
    return lines


# ---- json / csv / markdown ----------------------------------------------------------

def _jump_json(j):
    text = show_jump(j)
    return int(text) if "/" not in text else text     # "1/2" after a transposed conv


def _row_json(s: Summary, r: Row) -> dict:
    rf = None
    if r.rf is not None:
        rf = None if r.rf.is_global else [math.ceil(x) for x in r.rf.size]
    d = {
        "name": r.name, "kind": r.kind, "depth": r.depth, "scope": r.scope,
        "output_shape": list(r.shape) if r.shape is not None else None,
        "params": r.params if r.known else None, "buffers": r.buffers if r.known else None,
        "macs": r.macs if r.known else None,
        "activations": r.activations if r.known else None,
        "activation_bytes": r.activations * BYTES * s.batch if r.known and r.shape is not None else None,
        "receptive_field": rf if r.rf is not None and not r.rf.is_global else
        ("global" if r.rf is not None else None),
        "jump": [_jump_json(j) for j in r.rf.jump] if r.rf is not None else None,
        "label": r.label,
    }
    if s.flops:
        d["flops"] = s.ops(r.macs) if r.known else None
    if r.error:
        d["error"] = r.error
    if r.explain:
        d["explain"] = r.explain
    return d


def to_json(s: Summary, diagnostics=()) -> str:
    out = {
        "network": s.network,
        "input_shape": list(s.input_shape) if s.input_shape else None,
        "output_shape": list(s.output_shape) if s.output_shape else None,
        "ok": s.ok,
        "total_params": s.total_params, "trainable_params": s.total_params, "non_trainable_params": 0,
        "buffers": s.buffers,
        "total_macs": s.total_macs, "convention": s.convention, "batch": s.batch,
        "param_bytes": s.param_bytes, "activation_bytes": s.activation_bytes, "input_bytes": s.input_bytes,
        "layers": [_row_json(s, r) for r in s.rows],
        "unused": list(s.unused),
    }
    if s.returns:       # several outputs: output_shape is the first; this lists them all
        out["outputs"] = [{"name": name, "shape": list(shape) if shape else None} for name, shape in s.returns]
    if s.flops:
        out["total_flops"] = s.ops(s.total_macs)
    if diagnostics:
        out["diagnostics"] = [d.to_json() for d in diagnostics]
    import json  # here, as csv and io below: only these formats need them (bench/README.md: start-up)
    return json.dumps(out, indent=2, ensure_ascii=False)


_CSV_COLS = ("name", "kind", "depth", "output_shape", "params", "buffers", "macs", "activations", "activation_bytes",
             "receptive_field", "jump")


def _flat(v) -> str:
    if v is None:
        return ""
    if isinstance(v, list):
        return "x".join(map(str, v))
    return str(v)


def to_csv(s: Summary) -> str:
    import csv
    import io
    buf = io.StringIO()
    cols = _CSV_COLS + (("flops",) if s.flops else ())
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in s.rows:
        d = _row_json(s, r)
        w.writerow([_flat(d.get(c)) for c in cols])
    return buf.getvalue().rstrip("\n")


def _act(s: Summary, r: Row) -> str:
    """Activation memory of the row's output tensor (float32, the chosen batch);
    a block's row shows its output too, not the sum of its insides."""
    if r.shape is None:
        return ""
    return mib(math.prod(r.shape) * BYTES * s.batch)


def to_markdown(s: Summary) -> str:
    ops = "FLOPs" if s.flops else "MACs"
    lines = [f"**{s.network}**: {show_shape(s.input_shape)} → {s.output_text}", "",
             f"| Layer | Kind | Output shape | Params | {ops} | Act. mem | RF | Jump |",
             "|---|---|---|--:|--:|--:|--:|--:|"]
    for r in s.rows:
        rf, jump = field_str(r.rf)
        name = "&nbsp;&nbsp;" * (r.depth - 1) + f"`{r.display}`"
        if not r.known:
            lines.append(f"| {name} | {r.kind} | ? | ? | ? | ? | ? | ? |")
            continue
        err = f" **error: {r.error}**" if r.error else ""
        lines.append(f"| {name} | {r.kind}{err} | {show_shape(r.shape)} | {_num(r.params)} | "
                     f"{_num(s.ops(r.macs))} | {_act(s, r)} | {rf} | {jump} |")
    lines.append("")
    lines.extend(f"- {t}" for t in _totals_lines(s))
    return "\n".join(lines)


FORMATS = {"text": to_text, "csv": to_csv, "markdown": to_markdown}
