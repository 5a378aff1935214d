"""Layers that change the layout: flatten, linear, upsample, crop and padding."""
from __future__ import annotations

import math

from ..diagnostics.codes import E0215, E0311, E0312, W0404
from ..values import shape_text
from .arith import M, fold_axes
from .conv import AXES
from .spec import BOOL, FLOAT, INT, PAIR, SIZE_OR_SHAPE, Choice, Ints, LayerSpec, Optional_, Param, positive


def _flatten_shape(a, xs, ctx):
    x = xs[0]
    n = len(x)
    start = a.start if a.start >= 0 else n + a.start
    end = a.end if a.end >= 0 else n + a.end
    if not (0 <= start < n and 0 <= end < n) or start > end:
        ctx.error(E0215, f"flatten(start={a.start}, end={a.end}) does not fit a {n}-dimensional input", "start",
                  help=("dims count per sample: 0 is the channel axis",))
        return None
    ctx.explain(f"features = {' × '.join(map(str, x[start:end + 1]))} = {math.prod(x[start:end + 1])}")
    return (*x[:start], math.prod(x[start:end + 1]), *x[end + 1:])


FLATTEN = LayerSpec(
    name="flatten", category="reshape",
    doc="Flattens per-sample dimensions (nn.Flatten): [C, H, W] -> [C·H·W] by default.",
    params=(Param("start", INT, 0, "first per-sample dim to flatten", aliases=("start_dim",), per_sample_dim=True),
            Param("end", INT, -1, "last per-sample dim to flatten", aliases=("end_dim",), per_sample_dim=True)),
    shape=_flatten_shape, label=lambda a: "flatten", window=lambda a: "global",
    torch=lambda a, xs: ("Flatten", dict(start_dim=a.start + 1 if a.start >= 0 else a.start,
                                         end_dim=a.end + 1 if a.end >= 0 else a.end)),
)


def _linear_shape(a, xs, ctx):
    x = xs[0]
    if len(x) > 1:
        ctx.warn(W0404, f"linear acts on the last axis only, but its input is {shape_text(x)}",
                 notes=(f"torch applies it to each of the {math.prod(x[:-1])} rows of length {x[-1]}",),
                 help=("add `flatten` before it to use every feature",))
    return (*x[:-1], a.features)


LINEAR = LayerSpec(
    name="linear", category="linear",
    doc="Fully connected layer (nn.Linear). Input features come from the incoming shape.",
    params=(Param("features", INT, doc="output features", aliases=("out_features",), check=positive),
            Param("bias", BOOL, True, "learnable bias")),
    shape=_linear_shape,
    count_params=lambda a, xs, y: (xs[0][-1] * a.features + (a.features if a.bias else 0), 0),
    macs=lambda a, xs, y: math.prod(y) * xs[0][-1],
    window=lambda a: "global",
    label=lambda a: f"linear {a.features}",
    torch=lambda a, xs: ("Linear", dict(in_features=xs[0][-1], out_features=a.features, bias=a.bias)),
    aliases=("fc", "dense"),
)


def _upsample_shape(a, xs, ctx):
    c, h, w = xs[0]
    if (a.scale is None) == (a.size is None):
        ctx.error(E0215, "upsample takes exactly one of `scale` and `size`", None,
                  help=("write upsample(scale=2) or upsample(size=(h, w))",))
        return None
    if a.size is not None:
        return (c, *a.size)
    out = []
    for axis, n in zip(AXES, (h, w)):
        o = math.floor(n * a.scale)
        if o < 1:
            ctx.error(E0312, f"upsample gives a {axis} of {o}", "scale",
                      notes=(f"\u230a{n} \u00b7 {a.scale:g}\u230b = {o}",), help=("use a larger scale",))
            return None
        ctx.explain(f"{axis[0]} = \u230a{n} \u00b7 {a.scale:g}\u230b = {o}")
        out.append(o)
    return (c, *out)


UPSAMPLE = LayerSpec(
    name="upsample", category="resize", rank=3,
    doc="Resize by a scale factor or to a size (nn.Upsample).",
    params=(Param("scale", Optional_(FLOAT), None, "scale factor", aliases=("scale_factor",), check=positive),
            Param("size", Optional_(PAIR), None, "output size (h, w)", check=positive),
            Param("mode", Choice("nearest", "bilinear", "bicubic"), "nearest", "interpolation")),
    shape=_upsample_shape,
    label=lambda a: f"upsample \u00d7{a.scale:g}" if a.scale else f"upsample \u2192 {a.size[0]}\u00d7{a.size[1]}",
    torch=lambda a, xs: ("Upsample", dict(size=a.size, scale_factor=a.scale, mode=a.mode)),
)


def _crop_shape(a, xs, ctx):
    c, h, w = xs[0]
    th, tw = a.size
    over = [(axis, n, t) for axis, n, t in zip(AXES, (h, w), (th, tw)) if t > n]
    for axis, n, t in fold_axes(over):
        ctx.error(E0311, f"cannot crop a {axis} of {n} to {t}", "size",
                  notes=(f"center_crop only removes rows and columns; {t} > {n}",),
                  help=(f"crop to at most {h}\u00d7{w} here, or crop the larger tensor instead "
                        "(or pad this one)",))
    for axis, n, t in zip(AXES, (h, w), (th, tw)):
        if t <= n and (n - t) % 2:
            ctx.explain(f"{axis[0]}: {n} \u2192 {t} (one more removed after than before)")
    return None if over else (c, th, tw)


CENTER_CROP = LayerSpec(
    name="center_crop", category="resize", rank=3,
    doc="Crops H and W around the centre (U-Net's crop-and-concat). `size` may be `@name` to match that tensor.",
    params=(Param("size", SIZE_OR_SHAPE, doc="output size (h, w), or a reference to match", check=positive),),
    shape=_crop_shape, label=lambda a: f"center crop \u2192 {a.size[0]}\u00d7{a.size[1]}",
    torch=lambda a, xs: ("CenterCrop", dict(size=a.size)),
)


def _pad_shape(a, xs, ctx):
    c, h, w = xs[0]
    left, right, top, bottom = a.padding
    ok = True
    # Torch crops (negative padding) before it pads: each side is a narrow() of
    # what is left, so the crops alone must not remove more than the input has,
    # even when the other side's padding would make up for it.
    for axis, n, before, after in (("height", h, top, bottom), ("width", w, left, right)):
        crop = -min(before, 0) - min(after, 0)
        if crop > n:
            ctx.error(E0312, f"negative padding crops {crop} from a {axis} of {n}", "padding",
                      notes=(f"torch crops first: {n} {M} {crop} = {n - crop} before padding",),
                      help=(f"crop at most {n} along the {axis}",))
            ok = False
    oh, ow = h + top + bottom, w + left + right
    if ok and (oh < 1 or ow < 1):
        ctx.error(E0312, f"padding leaves a {oh}\u00d7{ow} output", "padding",
                  notes=(f"h = {h} + {top} + {bottom} = {oh}, w = {w} + {left} + {right} = {ow}",),
                  help=("negative padding crops; crop less",))
        return None
    if not ok:
        return None
    ctx.explain(f"h = {h} + {top} + {bottom} = {oh}, w = {w} + {left} + {right} = {ow}")
    return (c, oh, ow)


ZEROPAD2D = LayerSpec(
    name="zeropad2d", category="resize", rank=3,
    doc="Zero padding (nn.ZeroPad2d): an int, or (left, right, top, bottom). Negative values crop.",
    params=(Param("padding", Ints(4), doc="padding per side"),),
    shape=_pad_shape, label=lambda a: f"zero pad {a.padding}",
    torch=lambda a, xs: ("ZeroPad2d", dict(padding=a.padding)),
    aliases=("zero_pad2d", "pad"),
)

LAYERS = (FLATTEN, LINEAR, UPSAMPLE, CENTER_CROP, ZEROPAD2D)
_ = (BOOL, PAIR)
