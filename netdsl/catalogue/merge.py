"""Merges: the layers that take branches, `add { ... }`, `mul { ... }` and `concat { ... }`."""
from __future__ import annotations

from ..diagnostics.codes import E0215, E0305, E0306
from ..values import shape_text
from .spec import INT, LayerSpec, Param


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
                          notes=(f"branch 1 gives {shape_text(xs[0])}",), help=_projection_help(xs[0], x, i))
                return None
            out = merged
        return out
    return rule


def _projection_help(first: tuple, x: tuple, i: int) -> tuple:
    """The residual fix: a 1x1 conv (strided if the sizes differ) on the branch with the
    larger feature map, to the other branch's channels."""
    if not (len(first) == 3 and len(x) == 3):
        return ()
    if x[1] > first[1] and x[1] % first[1] == 0 and x[2] == x[1] // first[1] * first[2]:
        big, small, s = i + 1, (1, first), x[1] // first[1]
    elif first[1] >= x[1] and first[1] % x[1] == 0 and first[2] == first[1] // x[1] * x[2]:
        big, small, s = 1, (i + 1, x), first[1] // x[1]
    else:
        return ()
    other, target = small
    stride = f", stride={s}" if s > 1 else ""
    return (f"put `conv2d({target[0]}, 1{stride})` on branch {big} (a 1\u00d71 projection, "
            f"as ResNet's downsample) so it matches branch {other}'s {shape_text(target)}",)


def _concat_shape(a, xs, ctx):
    rank = len(xs[0])
    dim = a.dim if a.dim >= 0 else rank + a.dim
    if not 0 <= dim < rank:
        ctx.error(E0215, f"dim={a.dim} is out of range for {rank}-dimensional branches", "dim")
        return None
    for i, x in enumerate(xs[1:], 1):
        if len(x) != rank or any(x[j] != xs[0][j] for j in range(rank) if j != dim):
            helps = ()
            if rank == 3 and len(x) == 3 and dim == 0:
                th, tw = min(x[1], xs[0][1]), min(x[2], xs[0][2])
                helps = (f"crop the larger branch with `center_crop(({th}, {tw}))`, or pad the smaller one",)
            ctx.error(E0306, f"concat along dim {a.dim} needs the other dimensions to match, "
                      f"but branch 1 is {shape_text(xs[0])} and branch {i + 1} is {shape_text(x)}",
                      f"branch{i + 1}", label=f"this branch gives {shape_text(x)}",
                      notes=(f"branch 1 gives {shape_text(xs[0])}",), help=helps)
            return None
    total = sum(x[dim] for x in xs)
    ctx.explain(f"concat: {' + '.join(str(x[dim]) for x in xs)} = {total}")
    return (*xs[0][:dim], total, *xs[0][dim + 1:])


ADD = LayerSpec(
    name="add", category="merge", inputs="many",
    doc="Elementwise sum of its branches (ResNet's residual add); shapes broadcast as in torch.",
    params=(), shape=_elementwise("add"), label=lambda a: "add",
    forward=lambda a, xs: " + ".join(xs), broadcasts=True,
)

MUL = LayerSpec(
    name="mul", category="merge", inputs="many",
    doc="Elementwise product of its branches, e.g. a squeeze-and-excitation gate; shapes broadcast as in torch.",
    params=(), shape=_elementwise("mul"), label=lambda a: "mul",
    forward=lambda a, xs: " * ".join(xs), broadcasts=True,
)

CONCAT = LayerSpec(
    name="concat", category="merge", inputs="many",
    doc="Concatenates its branches along a per-sample dim (default 0: channels), as Inception and DenseNet do.",
    params=(Param("dim", INT, 0, "per-sample dimension to join along", per_sample_dim=True),),
    shape=_concat_shape, label=lambda a: "concat",
    forward=lambda a, xs: f"torch.cat([{', '.join(xs)}], dim={a.dim + 1 if a.dim >= 0 else a.dim})",
    aliases=("cat",),
)

LAYERS = (ADD, MUL, CONCAT)
