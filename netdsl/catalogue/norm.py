"""Normalisation and dropout."""
from __future__ import annotations

import math

from ..diagnostics.codes import E0215, E0303
from .spec import BOOL, FLOAT, INT, LayerSpec, Optional_, Param, positive, probability


def _same(a, xs, ctx):
    return xs[0]


def bn_params(a, xs, y):
    c = xs[0][0]
    return (2 * c if a.affine else 0), (2 * c + 1 if a.track_running_stats else 0)


_EPS = Param("eps", FLOAT, 1e-5, "added to the variance for stability", check=positive)
_MOMENTUM = Param("momentum", FLOAT, 0.1, "running-statistics momentum")
_AFFINE = Param("affine", BOOL, True, "learnable scale and shift")
_TRACK = Param("track_running_stats", BOOL, True, "keep running mean and variance (buffers, not parameters)")


def _bn(name, rank, cls, doc):
    return LayerSpec(
        name=name, category="normalization", rank=rank, doc=doc,
        params=(_EPS, _MOMENTUM, _AFFINE, _TRACK), shape=_same, count_params=bn_params,
        label=lambda a: "batch norm",
        torch=lambda a, xs: (cls, dict(num_features=xs[0][0], eps=a.eps, momentum=a.momentum,
                                       affine=a.affine, track_running_stats=a.track_running_stats)),
    )


BATCHNORM2D = _bn("batchnorm2d", 3, "BatchNorm2d", "Batch normalisation over [C, H, W] (nn.BatchNorm2d).")
BATCHNORM1D = _bn("batchnorm1d", 1, "BatchNorm1d", "Batch normalisation over [features] (nn.BatchNorm1d).")


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
    if c % a.groups:
        divisors = [g for g in range(1, c + 1) if c % g == 0]
        ctx.error(E0303, f"groups={a.groups} does not divide the {c} channels", "groups",
                  notes=(f"{c} % {a.groups} = {c % a.groups}",),
                  help=(f"use groups from {divisors[-6:]}",))
        return None
    return xs[0]


GROUPNORM = LayerSpec(
    name="groupnorm", category="normalization", rank=3,
    doc="Group normalisation (nn.GroupNorm); the groups must divide the channels.",
    params=(Param("groups", INT, doc="number of groups", aliases=("num_groups",), check=positive), _EPS, _AFFINE),
    shape=_gn_shape, count_params=lambda a, xs, y: (2 * xs[0][0] if a.affine else 0, 0),
    label=lambda a: f"group norm, {a.groups}",
    torch=lambda a, xs: ("GroupNorm", dict(num_groups=a.groups, num_channels=xs[0][0], eps=a.eps, affine=a.affine)),
)

LRN = LayerSpec(
    name="lrn", category="normalization", rank=3,
    doc="Local response normalisation across channels (nn.LocalResponseNorm), as in the original AlexNet.",
    params=(Param("size", INT, doc="neighbouring channels", check=positive),
            Param("alpha", FLOAT, 1e-4), Param("beta", FLOAT, 0.75), Param("k", FLOAT, 1.0)),
    shape=_same, label=lambda a: f"LRN, {a.size}",
    torch=lambda a, xs: ("LocalResponseNorm", dict(size=a.size, alpha=a.alpha, beta=a.beta, k=a.k)),
    aliases=("local_response_norm",),
)


def _dropout(name, cls, doc):
    return LayerSpec(
        name=name, category="regularization", doc=doc,
        params=(Param("p", FLOAT, 0.5, "probability of an element being zeroed", check=probability),),
        shape=_same, label=lambda a: f"dropout {a.p:g}",
        torch=lambda a, xs: (cls, dict(p=a.p)),
    )


DROPOUT = _dropout("dropout", "Dropout", "Dropout (nn.Dropout); no effect on shapes.")
DROPOUT2D = _dropout("dropout2d", "Dropout2d", "Channel dropout (nn.Dropout2d).")

LAYERS = (BATCHNORM2D, BATCHNORM1D, LAYERNORM, GROUPNORM, LRN, DROPOUT, DROPOUT2D)
