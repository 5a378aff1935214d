"""Normalisation, dropout and stochastic depth."""
from __future__ import annotations

import math

from ..diagnostics.codes import E0215, E0217, W0407
from ..limits import LIMITS
from ..record import short
from .spec import (
    ANY_RANK,
    BOOL,
    FLOAT,
    INT,
    Choice,
    LayerSpec,
    Optional_,
    Param,
    keep_channels,
    keep_spatial,
    positive,
    probability,
    require_groups_divide,
    require_rank,
)


def _same(a, xs, ctx):
    return xs[0]


def bn_params(a, xs, y):
    c = xs[0][0]
    return (2 * c if a.affine else 0), (2 * c + 1 if a.track_running_stats else 0)


_EPS = Param("eps", FLOAT, 1e-5, "added to the variance for stability", check=positive)
_MOMENTUM = Param("momentum", Optional_(FLOAT), 0.1,
                  "running-statistics momentum (none: a cumulative moving average)")
_AFFINE = Param("affine", BOOL, True, "learnable scale and shift")
_TRACK = Param("track_running_stats", BOOL, True, "keep running mean and variance (buffers, not parameters)")


def _bn_eps(a, ctx):
    """`batchnorm2d(64)`, torch's BatchNorm2d(num_features): netdsl's first argument is
    eps, and an eps of 64 trains nothing like a batch norm. (An eps is far below 1.)"""
    if a.eps >= 1 and ctx.positional("eps"):
        text = short(ctx.arg_spans["eps"].text(), 60)
        # The message names the argument as written, so a block's `batchnorm2d(c)` is one
        # warning for all its uses; this use's value is a note.
        ctx.warn(W0407, f"the first argument of a batch norm is its eps, and `{text}` is not a small number: "
                 "is it the number of channels?", "eps",
                 notes=(*((f"here eps = {a.eps:g}",) if text != f"{a.eps:g}" else ()),
                        "torch's BatchNorm2d takes the channels first; netdsl takes them from the input"),
                 help=(ctx.remove_argument("eps", f"remove `{text}`: the channels come from the input"),))


def _bn1d_shape(a, xs, ctx):
    x = xs[0]
    if not require_rank(ctx, "batchnorm1d", x, (1, 2), "a [C] or [C, L] input",
                        help=("use batchnorm2d for a [C, H, W] input" if len(x) == 3 else
                              "add `flatten` before it, or use layernorm or groupnorm, which take any rank",)):
        return None
    return x


def _bn(name, rank, cls, doc, shape=_same):
    return LayerSpec(
        name=name, category="normalization", rank=rank, doc=doc, out_channels=keep_channels, out_spatial=keep_spatial,
        params=(_EPS, _MOMENTUM, _AFFINE, _TRACK), shape=shape, count_params=bn_params, validate=_bn_eps,
        label=lambda a: "batch norm",
        torch=lambda a, xs: (cls, dict(num_features=xs[0][0], eps=a.eps, momentum=a.momentum,
                                       affine=a.affine, track_running_stats=a.track_running_stats)),
        infers=("num_features",),
    )


BATCHNORM2D = _bn("batchnorm2d", 3, "BatchNorm2d", "Batch normalisation over [C, H, W] (nn.BatchNorm2d).")
BATCHNORM1D = _bn("batchnorm1d", None, "BatchNorm1d",
                  "Batch normalisation of [C] or [C, L] (nn.BatchNorm1d), per channel.", _bn1d_shape)


def _ln_shape(a, xs, ctx):
    x = xs[0]
    if a.dims is not None and not 1 <= a.dims <= len(x):
        ctx.error(E0215, f"dims={a.dims} but the input has {len(x)} dimension{'s' if len(x) > 1 else ''}",
                  "dims", help=(f"use dims between 1 and {len(x)}",))
        return None
    return x


def _ln_normalized(a, x):
    return tuple(x[-a.dims:]) if a.dims else tuple(x)


LAYERNORM = LayerSpec(
    out_channels=keep_channels, out_spatial=keep_spatial,
    name="layernorm", category="normalization", doc=(
        "Layer normalisation (nn.LayerNorm) over the last `dims` dimensions (default: all of them)."),
    params=(Param("dims", Optional_(INT), None, "how many trailing dimensions to normalise", check=positive),
            _EPS, Param("elementwise_affine", BOOL, True, "learnable scale and shift"),
            Param("bias", BOOL, True, "learnable shift")),
    shape=_ln_shape,
    count_params=lambda a, xs, y: ((1 + a.bias) * math.prod(_ln_normalized(a, xs[0]))
                                   if a.elementwise_affine else 0, 0),
    label=lambda a: "layer norm",
    torch=lambda a, xs: ("LayerNorm", dict(normalized_shape=_ln_normalized(a, xs[0]), eps=a.eps,
                                           elementwise_affine=a.elementwise_affine, bias=a.bias)),
)


def _gn_shape(a, xs, ctx):
    c = xs[0][0]
    if not require_groups_divide(ctx, a.groups, c):
        return None
    per_group = c // a.groups * math.prod(xs[0][1:])
    if per_group == 1:      # torch normalises each group of each sample, and refuses a single value
        ctx.error(E0215, f"each of the {a.groups} groups holds one value of {list(xs[0])}", "groups",
                  notes=("torch's GroupNorm refuses this: \"Expected more than 1 value per channel\"",),
                  help=("use fewer groups" if a.groups > 1 else "normalise before `flatten` or pooling, "
                        "where each channel still has more than one value",))
        return None
    return xs[0]


GROUPNORM = LayerSpec(
    out_channels=keep_channels, out_spatial=keep_spatial,
    name="groupnorm", category="normalization",
    doc="Group normalisation (nn.GroupNorm) of [C, *], any rank; the groups must divide the channels.",
    params=(Param("groups", INT, doc="number of groups", aliases=("num_groups",), check=positive), _EPS, _AFFINE),
    shape=_gn_shape, count_params=lambda a, xs, y: (2 * xs[0][0] if a.affine else 0, 0),
    label=lambda a: f"group norm, {a.groups}",
    torch=lambda a, xs: ("GroupNorm", dict(num_groups=a.groups, num_channels=xs[0][0], eps=a.eps, affine=a.affine)),
    infers=("num_channels",),
)

def _lrn_shape(a, xs, ctx):
    x = xs[0]
    if not require_rank(ctx, "lrn", x, range(2, ANY_RANK.stop), "an input with channels and at least one more axis",
                        help=("torch's LocalResponseNorm needs [C, L], [C, H, W] or more: "
                              "move it before `flatten`",)):
        return None
    # torch pads the squared input by size - 1 channels: that tensor must fit in one storage
    padded = (x[0] + a.size - 1) * math.prod(x[1:])
    if 4 * padded > LIMITS.max_value:
        ctx.error(E0217, f"lrn size={a.size} is too large for torch: it pads the channels to {x[0] + a.size - 1}",
                  "size", notes=(f"{padded:,} float32 values per sample; torch refuses (\"Storage size calculation "
                                 "overflowed\")",),
                  help=(f"use a size up to the {x[0]} channels: neighbours beyond them are zero padding",))
        return None
    return x


LRN = LayerSpec(
    out_channels=keep_channels, out_spatial=keep_spatial,
    name="lrn", category="normalization",
    doc=("Local response normalisation across channels (nn.LocalResponseNorm), as in the original AlexNet; "
         "[C, L], [C, H, W] or more."),
    params=(Param("size", INT, doc="neighbouring channels", check=positive),
            Param("alpha", FLOAT, 1e-4), Param("beta", FLOAT, 0.75), Param("k", FLOAT, 1.0)),
    shape=_lrn_shape, label=lambda a: f"LRN, {a.size}",
    torch=lambda a, xs: ("LocalResponseNorm", dict(size=a.size, alpha=a.alpha, beta=a.beta, k=a.k)),
    aliases=("local_response_norm",),
)


def _dropout(name, cls, doc):
    return LayerSpec(
        name=name, category="regularization", doc=doc, out_channels=keep_channels, out_spatial=keep_spatial,
        params=(Param("p", FLOAT, 0.5, "probability of an element being zeroed", check=probability),),
        shape=_same, label=lambda a: f"dropout {a.p:g}",
        torch=lambda a, xs: (cls, dict(p=a.p)),
    )


DROPOUT = _dropout("dropout", "Dropout", "Dropout (nn.Dropout); no effect on shapes.")
DROPOUT2D = _dropout("dropout2d", "Dropout2d", (
    "Channel dropout (nn.Dropout2d): zeroes whole channels of [C, H, W]. Torch takes any rank "
    "([C] drops elements, [C, L] whole channels), with a deprecation warning but for [C, H, W]."))


STOCHASTIC_DEPTH = LayerSpec(
    out_channels=keep_channels, out_spatial=keep_spatial,
    name="stochastic_depth", category="regularization",
    doc=("Stochastic depth (torchvision.ops.StochasticDepth), on a residual branch: in training it zeroes the "
         "input of a sample (mode 'row') or of the whole batch ('batch') with probability p and scales the rest "
         "by 1/(1 - p); identity in eval. No effect on shapes."),
    params=(Param("p", FLOAT, doc="probability of zeroing", check=probability),
            Param("mode", Choice("row", "batch"), "row", "'row': per sample; 'batch': the whole batch at once")),
    shape=_same, label=lambda a: f"stochastic depth {a.p:g}" + (", batch" if a.mode == "batch" else ""),
    torch=lambda a, xs: ("StochasticDepth", dict(p=a.p, mode=a.mode)),
)

LAYERNORM2D = LayerSpec(
    out_channels=keep_channels, out_spatial=keep_spatial,
    name="layernorm2d", category="normalization", rank=3,
    doc=("Layer normalisation over the channels of [C, H, W] at each position (torchvision's LayerNorm2d, "
         "ConvNeXt's): an nn.LayerNorm(C) with weight and bias of shape (C,)."),
    params=(_EPS,), shape=_same,
    count_params=lambda a, xs, y: (2 * xs[0][0], 0),
    label=lambda a: "layer norm 2d",
    torch=lambda a, xs: ("LayerNorm2d", dict(normalized_shape=xs[0][0], eps=a.eps)),
)

LAYERS = (BATCHNORM2D, BATCHNORM1D, LAYERNORM, LAYERNORM2D, GROUPNORM, LRN, DROPOUT, DROPOUT2D, STOCHASTIC_DEPTH)
