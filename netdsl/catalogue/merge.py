"""Merges: the layers that take branches, `add { ... }` and `concat { ... }`."""
from __future__ import annotations

from .spec import INT, LayerSpec, Param


def _dims(x) -> str:
    return "\u00d7".join(map(str, x))


def _add_shape(a, xs, ctx):
    first = xs[0]
    for i, x in enumerate(xs[1:], 1):
        if x != first:
            helps = []
            if len(x) == 3 and len(first) == 3 and x[1:] != first[1:] or x[0] != first[0]:
                if len(first) == 3 and len(x) == 3:
                    s = first[1] // x[1] if x[1] and first[1] % x[1] == 0 else None
                    s2 = x[1] // first[1] if first[1] and x[1] % first[1] == 0 else None
                    if s2 and s2 > 1:
                        helps.append(f"put `conv2d({x[0]}, 1, stride={s2})` on branch 1 to match {_dims(x)}")
                    elif s and s >= 1:
                        helps.append(f"put `conv2d({first[0]}, 1{', stride=' + str(s) if s > 1 else ''})` "
                                     f"on branch {i + 1} to match {_dims(first)}")
            ctx.error("E0305", f"add needs equal shapes, but branch 1 is {_dims(first)} and branch {i + 1} is {_dims(x)}",
                      None, label="branches differ here", help=tuple(helps))
            return None
    return first


def _concat_shape(a, xs, ctx):
    rank = len(xs[0])
    dim = a.dim if a.dim >= 0 else rank + a.dim
    if not 0 <= dim < rank:
        ctx.error("E0215", f"dim={a.dim} is out of range for {rank}-dimensional branches", "dim")
        return None
    for i, x in enumerate(xs[1:], 1):
        if len(x) != rank or any(x[j] != xs[0][j] for j in range(rank) if j != dim):
            helps = ()
            if rank == 3 and len(x) == 3 and dim == 0:
                th, tw = min(x[1], xs[0][1]), min(x[2], xs[0][2])
                helps = (f"crop the larger branch with `center_crop(({th}, {tw}))`, or pad the smaller one",)
            ctx.error("E0306", f"concat along dim {a.dim} needs the other dimensions to match, "
                      f"but branch 1 is {_dims(xs[0])} and branch {i + 1} is {_dims(x)}",
                      None, label="branches differ here", help=helps)
            return None
    total = sum(x[dim] for x in xs)
    ctx.explain(f"concat: {' + '.join(str(x[dim]) for x in xs)} = {total}")
    return (*xs[0][:dim], total, *xs[0][dim + 1:])


ADD = LayerSpec(
    name="add", category="merge", inputs="many",
    doc="Elementwise sum of its branches (ResNet's residual add). All branches must have the same shape.",
    params=(), shape=_add_shape, label=lambda a: "add",
    forward=lambda a, xs: " + ".join(xs),
)

CONCAT = LayerSpec(
    name="concat", category="merge", inputs="many",
    doc="Concatenates its branches along a per-sample dim (default 0: channels), as Inception and DenseNet do.",
    params=(Param("dim", INT, 0, "per-sample dimension to join along"),),
    shape=_concat_shape, label=lambda a: "concat",
    forward=lambda a, xs: f"torch.cat([{', '.join(xs)}], dim={a.dim + 1 if a.dim >= 0 else a.dim})",
    aliases=("cat",),
)

LAYERS = (ADD, CONCAT)
