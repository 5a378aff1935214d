"""Merges: the layers that take branches, `add { ... }`, `mul { ... }` and `concat { ... }`."""
from __future__ import annotations

from ..diagnostics.codes import E0215, E0305, E0306
from ..record import short
from ..values import shape_text
from .spec import INT, LayerSpec, Param, keep_channels


def _broadcast(a: tuple, b: tuple) -> tuple | None:
    """torch's broadcasting of two per-sample shapes of one rank, or None. (Of
    different ranks, the batch dim of one would meet a dim of the other: the result
    would depend on the batch size, so netdsl refuses that.)"""
    if len(a) != len(b):
        return None
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            return None
        out.append(y if x == 1 else x)
    return tuple(out)


def _elementwise(op: str):
    """The shape rule of `add` and `mul`: the branches' shapes broadcast as torch's do."""
    def rule(a, xs, ctx):
        out = xs[0]
        for i, x in enumerate(xs[1:], 1):
            merged = _broadcast(out, x)
            if merged is None:
                ctx.error(E0305, f"{op} needs shapes that broadcast (each size equal, or 1), "
                          f"but branch 1 is {shape_text(xs[0])} and branch {i + 1} is {shape_text(x)}",
                          f"branch{i + 1}", label=f"this branch gives {shape_text(x)}",
                          notes=(f"branch 1 gives {shape_text(xs[0])}",), help=_projection_help(ctx, xs[0], x, i))
                return None
            out = merged
        return out
    return rule


def _projection_help(ctx, first: tuple, x: tuple, i: int) -> tuple:
    """The residual fix: a 1x1 conv (strided if the sizes differ) on the branch with the
    larger feature map, to the other branch's channels. Inside a block it is written in
    the block's names (`conv2d(c, 1, stride=stride)`), so that it fits every use."""
    if not (len(first) == 3 and len(x) == 3):
        return ()
    gates = [(k, y) for k, y in ((0, first), (i, x)) if y[1:] == (1, 1)]
    if len(gates) == 1:
        # A [C, 1, 1] branch broadcasts over the map (squeeze-and-excitation): only its
        # channels are wrong, and its last convolution sets them.
        g, gate = gates[0]
        k, other = (i, x) if g == 0 else (0, first)
        channels = ctx.written(other[0], 0) if ctx.in_block else str(other[0])
        return (f"branch {g + 1} is a [C, 1, 1] gate that broadcasts over the map, but it has {gate[0]} channels "
                f"and branch {k + 1} has {other[0]}: end the gate with `conv2d({channels}, 1)`",)
    if x[1] > first[1] and x[1] % first[1] == 0 and x[2] == x[1] // first[1] * first[2]:
        big, small, s = i + 1, (1, first), x[1] // first[1]
    elif first[1] >= x[1] and first[1] % x[1] == 0 and first[2] == first[1] // x[1] * x[2]:
        big, small, s = 1, (i + 1, x), first[1] // x[1]
    else:
        return ()
    a, b = ctx.producer(0), ctx.producer(i)
    if s == 1 and a is not None and b is not None:
        # Only the channels differ: the projection belongs on the shortcut, a branch that
        # passes on (without parameters) a tensor from before the other branch.
        if b.params == 0 and b.inputs and b.inputs[0] < a.id:
            big, small = i + 1, (1, first)
        elif a.params == 0 and a.inputs and a.inputs[0] < b.id:
            big, small = 1, (i + 1, x)
    other, target = small
    stride = f", stride={_as_written(ctx, other - 1, big - 1, 'stride', s)}" if s > 1 else ""
    channels = _as_written(ctx, other - 1, big - 1, "channels", target[0])
    return (f"put `conv2d({channels}, 1{stride})` on branch {big} (a 1\u00d71 projection, "
            f"as ResNet's downsample) so it matches branch {other}'s {shape_text(target)}",)


def _chain(ctx, i: int, limit: int = 64) -> list:
    """Branch `i`'s output and the layers it comes from, one input each, newest first."""
    out, n = [], ctx.producer(i)
    while n is not None and len(out) < limit:
        out.append(n)
        if n.spec is None or len(n.inputs) != 1 or ctx.nodes is None:
            break
        n = ctx.nodes[n.inputs[0]]
    return out


def _as_written(ctx, i: int, other: int, arg: str, value: int) -> str:
    """`value` as branch `i` itself writes it: the text of the `arg` argument of its
    nearest layer with that value (`stride=stride` gives `stride`, `conv2d(c * 4, 1)`
    gives `c * 4`), which holds in every use of a block; else ctx.written(value).
    Only the branch's own layers count: the walk stops where branch `other` joins it."""
    import re
    if ctx.in_block:
        shared = {n.id for n in _chain(ctx, other)}
        for n in _chain(ctx, i):
            if n.id in shared or n.origin != ctx.node.origin:
                break
            span = (n.arg_spans or {}).get(arg)
            got = getattr(n.args, arg, None) if n.args is not None else None
            if span is not None and got in (value, (value, value)):
                text = span.text()
                keyword = re.match(r"[A-Za-z_][A-Za-z0-9_]*\s*=(?!=)\s*", text)
                return short(text[keyword.end():] if keyword else text, 60)
    return ctx.written(value)


def _numbers(indices: list) -> str:
    names = [str(i + 1) for i in indices]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


def _ratio(big: tuple, small: tuple) -> int | None:
    """s when `big`'s map is exactly s times `small`'s along both axes (s > 1)."""
    if small[1] and small[2] and big[1] % small[1] == 0 and big[2] % small[2] == 0:
        s = big[1] // small[1]
        if s > 1 and big[2] // small[2] == s:
            return s
    return None


def _concat_help(ctx, xs: list, odd: int, ref: int) -> tuple:
    """What to change so that branch `odd` of a channel concat matches the others."""
    x, y = xs[odd], xs[ref]
    others = [i for i in range(len(xs)) if i != odd]
    plural = "es" if len(others) > 1 else ""
    s = _ratio(y, x)
    if s:
        return (f"branch {odd + 1} makes the map {s}× smaller than the others: if that is a stray stride, "
                f"remove it there; if intended, downsample branch{plural} {_numbers(others)} by {s} too",)
    s = _ratio(x, y)
    if s:
        return (f"branch {odd + 1}'s map is {s}× larger than branch{plural} {_numbers(others)}'s: upsample "
                f"branch{plural} {_numbers(others)} by {s} more (`upsample(scale={ctx.written(s)})`), or downsample "
                f"branch {odd + 1} by {s}",)
    th, tw = min(x[1], y[1]), min(x[2], y[2])
    if x[1] >= y[1] and x[2] >= y[2]:
        crop, pad = f"branch {odd + 1}", f"the other{'s' if len(others) > 1 else ''}"
    else:
        crop, pad = f"branch{plural} {_numbers(others)}", f"branch {odd + 1}"
    if ctx.in_block:        # sizes differ between uses: crop to a tensor, not to numbers
        return (f"crop {crop} to the size of the smaller branch with `center_crop(@name)`, naming that "
                f"branch `name: ...`, or pad {pad}",)
    return (f"crop {crop} with `center_crop(({th}, {tw}))`, or pad {pad}",)


def _concat_shape(a, xs, ctx):
    rank = len(xs[0])
    dim = a.dim if a.dim >= 0 else rank + a.dim
    if not 0 <= dim < rank:
        ctx.error(E0215, f"dim={a.dim} is out of range for {rank}-dimensional branches", "dim")
        return None
    # The branch that differs from the others (the majority), not merely from branch 1.
    keys = [tuple(x[j] for j in range(rank) if j != dim) if len(x) == rank else None for x in xs]
    common = max(set(keys), key=lambda k: (keys.count(k), -keys.index(k)))
    ref = keys.index(common) if keys.count(common) > 1 else 0
    odd = next((i for i, k in enumerate(keys) if k != keys[ref]), None)
    if odd is not None:
        x, y = xs[odd], xs[ref]
        what = "the channels (dim 0, torch.cat's dim=1)" if dim == 0 else f"dim {dim} (torch.cat's dim={dim + 1})"
        ctx.error(E0306, f"concat along {what} needs the other dimensions to match, "
                  f"but branch {ref + 1} is {shape_text(y)} and branch {odd + 1} is {shape_text(x)}",
                  f"branch{odd + 1}", label=f"this branch gives {shape_text(x)}",
                  notes=(f"branch {ref + 1} gives {shape_text(y)}"
                         + (f", as do branches {_numbers([i for i, k in enumerate(keys) if k == common and i != ref])}"
                            if keys.count(common) > 2 else ""),),
                  help=_concat_help(ctx, xs, odd, ref) if rank == 3 and len(x) == 3 and dim == 0 else ())
        return None
    total = sum(x[dim] for x in xs)
    ctx.explain(f"concat: {' + '.join(str(x[dim]) for x in xs)} = {total}")
    return (*xs[0][:dim], total, *xs[0][dim + 1:])



def _concat_channels(a, xs):
    """Joined along the channels (dim 0, or its negative spelling), the channels add up."""
    if a.dim not in (0, -len(xs[0])):
        return xs[0][0]
    total = xs[0][0]
    for x in xs[1:]:
        total = total + x[0]
    return total


def _broadcast_spatial(a, xs):
    """The sizes after axis 0 of an add or mul, broadcast as torch does (a size 1 stretches)."""
    if len({len(x) for x in xs}) != 1:
        raise ValueError("branches of different ranks")
    out = []
    for dims in zip(*(x[1:] for x in xs)):
        rest = [d for d in dims if not (type(d) is int and d == 1)]
        # the same size (a branch that passes its input on), else torch's broadcast of
        # ints; a symbolic size refuses max()'s comparison
        out.append(1 if not rest else rest[0] if all(d is rest[0] for d in rest) else max(rest))
    return tuple(out)


def _concat_spatial(a, xs):
    """Joined along the channels, the sizes are the branches' (equal, as the shape rule checks)."""
    n = len(xs[0])
    dim = a.dim if a.dim >= 0 else n + a.dim
    if dim == 0:
        return tuple(xs[0][1:])
    out = list(xs[0][1:])
    for x in xs[1:]:
        out[dim - 1] = out[dim - 1] + x[dim]
    return tuple(out)


ADD = LayerSpec(
    out_channels=keep_channels, out_spatial=_broadcast_spatial,
    name="add", category="merge", inputs="many",
    doc="Elementwise sum of its branches (ResNet's residual add); shapes broadcast as in torch.",
    params=(), shape=_elementwise("add"), label=lambda a: "add",
    forward=lambda a, xs: " + ".join(xs), broadcasts=True,
)

MUL = LayerSpec(
    out_channels=keep_channels, out_spatial=_broadcast_spatial,
    name="mul", category="merge", inputs="many",
    doc="Elementwise product of its branches, e.g. a squeeze-and-excitation gate; shapes broadcast as in torch.",
    params=(), shape=_elementwise("mul"), label=lambda a: "mul",
    forward=lambda a, xs: " * ".join(xs), broadcasts=True,
)

CONCAT = LayerSpec(
    out_channels=_concat_channels, out_spatial=_concat_spatial,
    name="concat", category="merge", inputs="many",
    doc="Concatenates its branches along a per-sample dim (default 0: channels), as Inception and DenseNet do.",
    params=(Param("dim", INT, 0, "per-sample dimension to join along", per_sample_dim=True),),
    shape=_concat_shape, label=lambda a: "concat",
    forward=lambda a, xs: f"torch.cat([{', '.join(xs)}], dim={a.dim + 1 if a.dim >= 0 else a.dim})",
    aliases=("cat",),
)

LAYERS = (ADD, MUL, CONCAT)
