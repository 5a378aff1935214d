"""Elementwise activations: shape-preserving, parameter-free, any rank."""
from __future__ import annotations

from ..diagnostics.codes import E0215
from .spec import FLOAT, INT, Choice, LayerSpec, Param, keep_channels, keep_spatial


def _same(a, xs, ctx):
    return xs[0]


def _act(name, cls, doc, params=(), kwargs=lambda a, xs: {}, label=None, rank=None):
    return LayerSpec(name=name, category="activation", out_channels=keep_channels, out_spatial=keep_spatial,
                     doc=doc, params=params, shape=_same,
                     label=label or (lambda a: name), torch=lambda a, xs: (cls, kwargs(a, xs)), rank=rank)


def _softmax_shape(a, xs, ctx):
    x = xs[0]
    if not -len(x) <= a.dim < len(x):
        ctx.error(E0215, f"dim={a.dim} is out of range for a {len(x)}-dimensional input", "dim",
                  notes=("dims count per sample: 0 is the channel (or feature) axis",),
                  help=(f"use a dim between {-len(x)} and {len(x) - 1}",))
        return None
    return x


def _per_sample_dim(d):
    # Spec dims are per sample; torch's include the batch axis.
    return d + 1 if d >= 0 else d


SOFTMAX = LayerSpec(
    out_channels=keep_channels, out_spatial=keep_spatial,
    name="softmax", category="activation",
    doc="Softmax along a per-sample dimension (default 0: channels or features).",
    params=(Param("dim", INT, 0, "per-sample dimension", per_sample_dim=True),), shape=_softmax_shape,
    label=lambda a: "softmax", torch=lambda a, xs: ("Softmax", dict(dim=_per_sample_dim(a.dim))))

LAYERS = (
    _act("relu", "ReLU", "Rectified linear unit (nn.ReLU)."),
    _act("relu6", "ReLU6", "ReLU clipped at 6 (nn.ReLU6), as in MobileNet."),
    _act("leaky_relu", "LeakyReLU", "Leaky ReLU (nn.LeakyReLU).",
         (Param("slope", FLOAT, 0.01, "slope for negative inputs", aliases=("negative_slope",)),),
         lambda a, xs: dict(negative_slope=a.slope)),
    _act("sigmoid", "Sigmoid", "Logistic sigmoid (nn.Sigmoid)."),
    _act("tanh", "Tanh", "Hyperbolic tangent (nn.Tanh)."),
    _act("gelu", "GELU", "Gaussian error linear unit (nn.GELU).",
         (Param("approximate", Choice("none", "tanh"), "none", "approximation"),),
         lambda a, xs: dict(approximate=a.approximate)),
    _act("silu", "SiLU", "Sigmoid linear unit, a.k.a. swish (nn.SiLU).", label=lambda a: "silu"),
    _act("hardswish", "Hardswish", "Hard swish (nn.Hardswish)."),
    _act("hardsigmoid", "Hardsigmoid", "Hard sigmoid (nn.Hardsigmoid), MobileNetV3's squeeze-and-excitation gate."),
    # No module: an identity branch (a residual's skip, a concat's pass-through) is the
    # tensor itself in forward, as hand-written torch code has it, not an nn.Identity.
    LayerSpec(name="identity", category="activation", doc="Passes its input through unchanged (no module).",
              out_channels=keep_channels, out_spatial=keep_spatial, params=(), shape=_same, label=lambda a: "identity",
              forward=lambda a, xs: xs[0], passthrough=True),
    SOFTMAX,
)
