"""Moving and splitting axes: permute, transpose, reshape, channel_shuffle, chunk and mean.

Dims are per sample (0 is the channel axis), as everywhere in netdsl; torch's are
shifted by one for the batch. permute is a module (torchvision.ops.Permute, in
ConvNeXt's CNBlock: it takes an index in an nn.Sequential); the others are the
tensor methods torchvision calls in forward (ShuffleNetV2's chunk and channel
shuffle, MNASNet's and ShuffleNetV2's `x.mean([2, 3])`), so they are `forward`
expressions and hold no index.
"""
from __future__ import annotations

import math

from ..diagnostics.codes import E0215
from .spec import (
    INT,
    IntList,
    LayerSpec,
    Optional_,
    Param,
    keep_channels,
    keep_spatial,
    positive,
    require_groups_divide,
)

SLOTS = 8   # dims given one by one: d0, d1, ... (or all of them as a list in d0)


def _torch_dim(d: int) -> int:
    """A per-sample dim as torch counts it: the batch is dim 0."""
    return d + 1 if d >= 0 else d


def _dim_params(what: str) -> tuple:
    first = Param("d0", IntList(SLOTS, 1), doc=f"{what}: one by one (d0, d1, ...) or as one list",
                  per_sample_dim=True)
    rest = tuple(Param(f"d{i}", Optional_(INT), None, "the next dim, when they are given one by one",
                       per_sample_dim=True) for i in range(1, SLOTS))
    return (first, *rest)


def _listed(a) -> tuple:
    """The dims as written, without checks (for labels)."""
    return tuple(a.d0) + tuple(getattr(a, f"d{i}") for i in range(1, SLOTS) if getattr(a, f"d{i}") is not None)


def _gather(kind: str, a, ctx) -> tuple | None:
    """The dims of permute/mean: d0 as a list, or d0, d1, ... one by one."""
    rest = [(i, getattr(a, f"d{i}")) for i in range(1, SLOTS)]
    if len(a.d0) > 1 and any(v is not None for _, v in rest):
        ctx.error(E0215, f"{kind} takes its dims one by one or as one list, not both", "d1",
                  help=(f"write {kind}({', '.join(map(str, _listed(a)))})",))
        return None
    dims, missing = list(a.d0), None
    for i, v in rest:
        if v is None:
            missing = missing or i
            continue
        if missing is not None:
            ctx.error(E0215, f"d{i} is given but d{missing} is not", f"d{i}",
                      help=(f"give the dims in order: {kind}(d0, d1, ...)",))
            return None
        dims.append(v)
    return tuple(dims)


def _in_range(kind: str, dims: tuple, n: int, ctx, at: str = "d0") -> tuple | None:
    """The dims normalised to 0..n-1, or None after an E0215 for one out of range or repeated."""
    out = []
    for d in dims:
        if not -n <= d < n:
            ctx.error(E0215, f"dim {d} is out of range for a {n}-dimensional input", at,
                      notes=("dims count per sample: 0 is the channel (or feature) axis",),
                      help=(f"use dims between {-n} and {n - 1}",))
            return None
        d = d + n if d < 0 else d
        if d in out:
            ctx.error(E0215, f"{kind} lists dim {d} twice", at,
                      notes=(f"as written: {', '.join(map(str, dims))}",), help=("name each dim once",))
            return None
        out.append(d)
    return tuple(out)


# ---- permute -----------------------------------------------------------------
def _permute_shape(a, xs, ctx):
    x = xs[0]
    dims = _gather("permute", a, ctx)
    if dims is None:
        return None
    if len(dims) != len(x):
        ctx.error(E0215, f"permute lists {len(dims)} dim{'s' if len(dims) != 1 else ''}, but the input "
                  f"[{', '.join(map(str, x))}] has {len(x)}", "d0",
                  help=(f"list every per-sample dim once, e.g. permute({', '.join(map(str, range(len(x))[::-1]))})",))
        return None
    order = _in_range("permute", dims, len(x), ctx)
    if order is None:
        return None
    return tuple(x[d] for d in order)


def _permute_torch(a, xs):
    n = len(xs[0])
    return "Permute", dict(dims=(0, *((d + n if d < 0 else d) + 1 for d in _listed(a))))


def _permuted(a, xs) -> tuple:
    """The per-sample dims in their new order (for one class per block definition: the
    channels and sizes it follows may be stand-ins, which are only moved here)."""
    n = len(xs[0])
    return tuple(xs[0][d + n if d < 0 else d] for d in _listed(a))


PERMUTE = LayerSpec(
    out_channels=lambda a, xs: _permuted(a, xs)[0], out_spatial=lambda a, xs: _permuted(a, xs)[1:],
    name="permute", category="reshape",
    doc=("Reorders the per-sample dims (torchvision.ops.Permute, a module): permute(1, 2, 0) turns [C, H, W] "
         "into [H, W, C], as ConvNeXt's blocks do around their LayerNorm and linear layers."),
    params=_dim_params("the per-sample dims in their new order"), shape=_permute_shape,
    label=lambda a: "permute " + ", ".join(map(str, _listed(a))),
    torch=_permute_torch,
)


# ---- transpose ---------------------------------------------------------------
def _transpose_shape(a, xs, ctx):
    x = xs[0]
    n = len(x)
    for at in ("dim0", "dim1"):
        if _in_range("transpose", (getattr(a, at),), n, ctx, at) is None:
            return None
    i, j = (d + n if d < 0 else d for d in (a.dim0, a.dim1))
    out = list(x)
    out[i], out[j] = out[j], out[i]
    return tuple(out)


TRANSPOSE = LayerSpec(
    name="transpose", category="reshape",
    doc="Swaps two per-sample dims (x.transpose in forward).",
    params=(Param("dim0", INT, doc="a per-sample dim", per_sample_dim=True),
            Param("dim1", INT, doc="the per-sample dim to swap it with", per_sample_dim=True)),
    shape=_transpose_shape, label=lambda a: f"transpose {a.dim0}, {a.dim1}",
    forward=lambda a, xs: f"{xs[0]}.transpose({_torch_dim(a.dim0)}, {_torch_dim(a.dim1)})",
)


# ---- reshape -----------------------------------------------------------------
def _reshape_shape(a, xs, ctx):
    x = xs[0]
    shape = a.shape
    numel = math.prod(x)
    target = f"[{', '.join(map(str, shape))}]"
    if shape.count(-1) > 1:
        ctx.error(E0215, f"reshape to {target} infers more than one size", "shape",
                  notes=("torch infers at most one size (-1)",), help=("give every size but one",))
        return None
    bad = [d for d in shape if d < -1]
    if bad:
        ctx.error(E0215, f"reshape to {target}: {bad[0]} is not a size", "shape",
                  help=("sizes are positive; -1 (once) asks torch to infer that one",))
        return None
    known = math.prod(d for d in shape if d != -1)
    note = f"the input [{', '.join(map(str, x))}] has {' × '.join(map(str, x))} = {numel} elements per sample"
    if -1 in shape:
        if known == 0 or numel % known:
            ctx.error(E0215, f"cannot reshape {numel} elements per sample to {target}", "shape",
                      notes=(note, f"{numel} is not a multiple of {known}" if known else
                             "a size of 0 leaves nothing to infer -1 from"),
                      help=(f"make the other sizes multiply to a divisor of {numel}",))
            return None
        out = tuple(numel // known if d == -1 else d for d in shape)
        ctx.explain(f"-1 = {numel} / {known} = {numel // known}")
        return out
    if known != numel:
        ctx.error(E0215, f"cannot reshape {numel} elements per sample to {target} ({known} elements)", "shape",
                  notes=(note,), help=("use -1 for one size to have it inferred",))
        return None
    return tuple(shape)


RESHAPE = LayerSpec(
    name="reshape", category="reshape",
    doc=("Gives each sample a new shape with the same number of elements (x.reshape in forward, the batch "
         "kept); one size may be -1, inferred from the others."),
    params=(Param("shape", IntList(SLOTS, 1), doc="the per-sample shape, e.g. [4, -1]"),),
    shape=_reshape_shape, window=lambda a: "global",
    label=lambda a: "reshape \u2192 " + "\u00d7".join(map(str, a.shape)),
    forward=lambda a, xs: f"{xs[0]}.reshape({xs[0]}.shape[0], {', '.join(str(int(d)) for d in a.shape)})",
)


# ---- channel_shuffle -----------------------------------------------------------
def _shuffle_shape(a, xs, ctx):
    x = xs[0]
    if not require_groups_divide(ctx, a.groups, x[0], ": the shuffle views [C] as [groups, C / groups]"):
        return None
    return x


CHANNEL_SHUFFLE = LayerSpec(
    name="channel_shuffle", category="reshape",
    doc=("ShuffleNet's channel shuffle: views the channels as [groups, C / groups], swaps those two axes and "
         "flattens them back (in forward); the groups must divide the channels."),
    params=(Param("groups", INT, doc="number of groups", check=positive),),
    shape=_shuffle_shape, label=lambda a: f"channel shuffle, {a.groups}", out_channels=keep_channels,
    out_spatial=keep_spatial,
    forward=lambda a, xs: f"{xs[0]}.unflatten(1, ({int(a.groups)}, -1)).transpose(1, 2).flatten(1, 2)",
)


# ---- chunk -----------------------------------------------------------------------
def chunk_pieces(n: int, chunks: int) -> list[int]:
    """The sizes torch.chunk gives: pieces of ⌈n / chunks⌉, the last one shorter, and
    so possibly fewer than `chunks` of them (6 in 4 chunks is 2, 2, 2)."""
    size = -(-n // chunks)
    return [min(size, n - i) for i in range(0, n, size)]


def _chunk_shape(a, xs, ctx):
    x = xs[0]
    n = len(x)
    if _in_range("chunk", (a.dim,), n, ctx, "dim") is None:
        return None
    dim = a.dim + n if a.dim < 0 else a.dim
    pieces = chunk_pieces(x[dim], a.chunks)
    if not -len(pieces) <= a.index < len(pieces):
        size = pieces[0]
        ctx.error(E0215, f"chunk {a.index} does not exist: torch.chunk gives {len(pieces)} piece"
                  f"{'s' if len(pieces) != 1 else ''} here", "index",
                  notes=(f"a piece is \u2308{x[dim]}/{a.chunks}\u2309 = {size} long: "
                         f"{', '.join(map(str, pieces))}",),
                  help=(f"use an index from 0 to {len(pieces) - 1}" if len(pieces) > 1 else "use index 0",))
        return None
    out = list(x)
    out[dim] = pieces[a.index]
    ctx.explain(f"pieces along dim {dim}: {', '.join(map(str, pieces))}")
    return tuple(out)


def _chunk_channels(a, xs):
    """The channels of the piece, by arithmetic a block class can write (see LayerSpec.out_channels):
    those of the input when the split is along another dim; piece 0 is ⌈C / chunks⌉ long,
    and of two pieces the second ⌊C / 2⌋ (what is left); any other piece needs C's value."""
    x = xs[0]
    dim = a.dim + len(x) if a.dim < 0 else a.dim
    if dim != 0:
        return x[0]
    n, k, i = x[0], a.chunks, a.index
    if i == 0:
        return (n + (k - 1)) // k
    if k == 2 and i == 1:       # the piece exists (check said so): n - ⌈n / 2⌉ = ⌊n / 2⌋
        return n // 2
    return chunk_pieces(n, k)[i]


CHUNK = LayerSpec(
    name="chunk", category="reshape",
    doc=("One piece of torch.chunk(x, chunks, dim) (in forward), as ShuffleNetV2's `x.chunk(2, dim=1)`; pieces "
         "are ⌈size / chunks⌉ long, so there may be fewer than `chunks`."),
    params=(Param("chunks", INT, doc="how many pieces to ask for", check=positive),
            Param("index", INT, doc="which piece (negative counts from the end)"),
            Param("dim", INT, 0, "the per-sample dim to split", per_sample_dim=True)),
    shape=_chunk_shape, label=lambda a: f"chunk {a.index} of {a.chunks}", out_channels=_chunk_channels,
    forward=lambda a, xs: f"{xs[0]}.chunk({int(a.chunks)}, {_torch_dim(a.dim)})[{int(a.index)}]",
)


# ---- mean ------------------------------------------------------------------------
def _mean_shape(a, xs, ctx):
    x = xs[0]
    dims = _gather("mean", a, ctx)
    if dims is None:
        return None
    reduced = _in_range("mean", dims, len(x), ctx)
    if reduced is None:
        return None
    if len(reduced) == len(x):
        ctx.error(E0215, f"mean over every dim of [{', '.join(map(str, x))}] leaves no per-sample dim", "d0",
                  notes=("netdsl's per-sample shapes keep at least one dim",),
                  help=("average over the spatial dims only, e.g. mean(1, 2) for [C, H, W] \u2192 [C]",))
        return None
    return tuple(s for i, s in enumerate(x) if i not in reduced)


def _mean_kept(a, xs) -> tuple:
    """The sizes a mean keeps (a block class's channels and sizes after it: the first is
    the channels, C unless it averages over C)."""
    x = xs[0]
    reduced = {int(d) + len(x) if int(d) < 0 else int(d) for d in _listed(a)}
    return tuple(s for i, s in enumerate(x) if i not in reduced)


MEAN = LayerSpec(
    name="mean", category="pooling",
    doc=("Averages over per-sample dims and drops them (in forward): mean(1, 2) turns [C, H, W] into [C], "
         "MNASNet's and ShuffleNetV2's `x.mean([2, 3])`."),
    params=_dim_params("the per-sample dims to average over"), shape=_mean_shape, window=lambda a: "global",
    label=lambda a: "mean over " + ", ".join(map(str, _listed(a))),
    out_channels=lambda a, xs: _mean_kept(a, xs)[0], out_spatial=lambda a, xs: _mean_kept(a, xs)[1:],
    forward=lambda a, xs: f"{xs[0]}.mean([{', '.join(str(_torch_dim(int(d))) for d in _listed(a))}])",
)

LAYERS = (PERMUTE, TRANSPOSE, RESHAPE, CHANNEL_SHUFFLE, CHUNK, MEAN)
