"""Layers that change the layout: flatten, linear, upsample, crop and padding."""
from __future__ import annotations

import math

from ..diagnostics.codes import E0215, E0307, E0311, E0312, W0404
from ..pysource import string_literal
from ..values import shape_text
from .arith import M, fold_axes
from .conv import AXES
from .spec import (
    ANY_RANK,
    BOOL,
    FLOAT,
    INT,
    PAIR,
    SIZE,
    SIZE_OR_SHAPE,
    Choice,
    Ints,
    LayerSpec,
    Optional_,
    Param,
    TensorRef,
    keep_channels,
    positive,
    require_rank,
)


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


def _flattened(a, x) -> tuple:
    """The flattened shape, by arithmetic alone (for out_channels and out_spatial)."""
    n = len(x)
    start = a.start if a.start >= 0 else n + a.start
    end = a.end if a.end >= 0 else n + a.end
    joined = x[start]
    for d in x[start + 1:end + 1]:      # not math.prod: a symbolic size reads `c * h * w`, not `1 * c * h * w`
        joined = joined * d
    return (*x[:start], joined, *x[end + 1:])


FLATTEN = LayerSpec(
    out_channels=lambda a, xs: _flattened(a, xs[0])[0], out_spatial=lambda a, xs: _flattened(a, xs[0])[1:],
    name="flatten", category="reshape",
    doc="Flattens per-sample dimensions (nn.Flatten): [C, H, W] -> [C·H·W] by default.",
    params=(Param("start", INT, 0, "first per-sample dim to flatten", aliases=("start_dim",), per_sample_dim=True),
            Param("end", INT, -1, "last per-sample dim to flatten", aliases=("end_dim",), per_sample_dim=True)),
    shape=_flatten_shape, label=lambda a: "flatten", window=lambda a: "global",
    torch=lambda a, xs: ("Flatten", dict(start_dim=a.start + 1 if a.start >= 0 else a.start,
                                         end_dim=a.end + 1 if a.end >= 0 else a.end)),
)


def _rows_chosen(ctx, rows: tuple) -> bool:
    """Whether the rows a linear maps come from a choice rather than a forgotten flatten:
    walking up through layers that keep them (activations, norms, dropout), it meets
    another linear on the same rows (the forgotten flatten, if any, was before that one:
    one warning), or a layer that rearranged the axes (a permute to channels-last, as
    ConvNeXt's block does, a reshape, a partial flatten)."""
    n, steps = ctx.producer(0), 0
    while n is not None and n.spec is not None and n.shape is not None and steps < 16:
        if tuple(n.shape[:-1]) != rows:
            return False
        if n.spec is LINEAR:
            return True
        if len(n.inputs) != 1 or ctx.nodes is None:
            return False
        before = ctx.nodes[n.inputs[0]]
        if n.spec.category == "reshape" and before.shape is not None and tuple(before.shape) != tuple(n.shape):
            return True
        n, steps = before, steps + 1
    return False


def _linear_shape(a, xs, ctx):
    x = xs[0]
    if len(x) > 1 and not _rows_chosen(ctx, tuple(x[:-1])):     # one warning per forgotten flatten
        ctx.warn(W0404, f"linear acts on the last axis only, but its input is {shape_text(x)}",
                 notes=(f"torch applies it to each of the {math.prod(x[:-1])} rows of length {x[-1]}",),
                 help=(ctx.insert_before("flatten -> ", "add `flatten` before it to use every feature"),))
    return (*x[:-1], a.features)


LINEAR = LayerSpec(
    # on [F] the features are the channels; on [C, L] it maps L and keeps C
    out_channels=lambda a, xs: a.features if len(xs[0]) == 1 else xs[0][0],
    out_spatial=lambda a, xs: (*xs[0][1:-1], a.features) if len(xs[0]) > 1 else (),
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
    aliases=("fc", "dense"), infers=("in_features",),
)


# Which per-sample ranks each interpolation mode takes ([C, L], [C, H, W], [C, D, H, W]).
_UP_RANKS = {"nearest": (2, 3, 4), "linear": (2,), "bilinear": (3,), "bicubic": (3,), "trilinear": (4,)}
_UP_WANT = {2: "[C, L]", 3: "[C, H, W]", 4: "[C, D, H, W]"}
_UP_MODE_FOR = {2: "linear", 3: "bilinear", 4: "trilinear"}
_SPATIAL = {2: ("length",), 3: AXES, 4: ("depth", *AXES)}


# The modes whose align_corners torch asks for; False is what None means, written out as torchvision does.
_CORNERS = ("linear", "bilinear", "bicubic", "trilinear")


def _upsample_shape(a, xs, ctx):
    x = xs[0]
    ranks = _UP_RANKS[a.mode]
    want = " or ".join(_UP_WANT[r] for r in ranks)
    if len(x) not in ranks:
        helps = (("a flat input has nothing to resize: move this layer before `flatten`",) if len(x) == 1 else
                 (f"mode='nearest' or mode='{_UP_MODE_FOR[len(x)]}' resizes a {_UP_WANT[len(x)]} input",)
                 if len(x) in _UP_MODE_FOR else ())
        require_rank(ctx, "upsample", x, ranks, f"a {want} input with mode='{a.mode}'", help=helps)
        return None
    if (a.scale is None) == (a.size is None):
        ctx.error(E0215, "upsample takes exactly one of `scale` and `size`", None,
                  help=("write upsample(scale=2) or upsample(size=(h, w))",))
        return None
    axes = _SPATIAL[len(x)]
    if isinstance(a.size, TensorRef):      # the size of another tensor, at run time
        like = xs[a.size.index]
        if len(like) != len(x):
            ctx.error(E0215, f"size={a.size.text} is {shape_text(like)}, but the input {shape_text(x)} has "
                      f"{len(x) - 1} spatial ax{'is' if len(x) == 2 else 'es'}", "size",
                      help=("resize to a tensor of the same rank",))
            return None
        ctx.explain(f"{', '.join(axes)} of {a.size.text}: {shape_text(like[1:])}")
        return (x[0], *like[1:])
    if a.size is not None:
        size = a.size if isinstance(a.size, tuple) else (a.size,) * len(axes)
        if len(size) != len(axes):
            ctx.error(E0215, f"size has {len(size)} entr{'y' if len(size) == 1 else 'ies'}, but the input "
                      f"{shape_text(x)} has {len(axes)} spatial ax{'is' if len(axes) == 1 else 'es'}", "size",
                      help=(f"give one size per axis ({', '.join(axes)}), or a single integer for all",))
            return None
        return (x[0], *size)
    out = []
    for axis, n in zip(axes, x[1:]):
        o = math.floor(n * a.scale)
        if o < 1:
            ctx.error(E0312, f"upsample gives a {axis} of {o}", "scale",
                      notes=(f"\u230a{n} \u00b7 {a.scale:g}\u230b = {o}",), help=("use a larger scale",))
            return None
        ctx.explain(f"{axis[0]} = \u230a{n} \u00b7 {a.scale:g}\u230b = {o}")
        out.append(o)
    return (x[0], *out)


def _upsample_label(a):
    if a.scale is not None:
        return f"upsample \u00d7{a.scale:g}"
    if a.size is None:
        return "upsample"
    if isinstance(a.size, TensorRef):
        return f"upsample \u2192 size of {a.size.text}"
    return "upsample \u2192 " + ("\u00d7".join(map(str, a.size)) if isinstance(a.size, tuple) else str(a.size))


UPSAMPLE = LayerSpec(
    out_channels=keep_channels,
    name="upsample", category="resize",
    doc=("Resize by a scale factor or to a size (nn.Upsample): [C, L], [C, H, W] or [C, D, H, W] with 'nearest', "
         "[C, L] with 'linear', [C, H, W] with 'bilinear' or 'bicubic', [C, D, H, W] with 'trilinear'."),
    params=(Param("scale", Optional_(FLOAT), None, "scale factor", aliases=("scale_factor",), check=positive),
            Param("size", Optional_(SIZE), None, "output size: one per spatial axis, or one for all", check=positive),
            Param("mode", Choice(*_UP_RANKS), "nearest", "interpolation")),
    shape=_upsample_shape, label=_upsample_label,
    torch=lambda a, xs: ("Upsample", dict(size=a.size, scale_factor=a.scale, mode=a.mode)),
    # upsample(size=@x): x's size is only known at run time, which nn.Upsample cannot take
    functional=lambda a: isinstance(a.size, TensorRef),
    forward=lambda a, xs: (f"nn.functional.interpolate({xs[0]}, size={xs[a.size.index]}.shape[2:], "
                           f"mode={string_literal(a.mode)}" + (", align_corners=False)" if a.mode in _CORNERS else ")")),
)

# center_crop and zeropad2d act on the last two dims, whatever the rank ([C, H, W],
# but also [C, L] or [C, D, H, W]); torch's F.pad does, and so does the CenterCrop helper.
_LAST_TWO = range(2, ANY_RANK.stop)


def _crop_shape(a, xs, ctx):
    x = xs[0]
    if not require_rank(ctx, "center_crop", x, _LAST_TWO, "an input with at least two dims (it crops the last two)",
                        help=("a flat input has no height or width: move this layer before `flatten`",)):
        return None
    h, w = x[-2:]
    if isinstance(a.size, TensorRef):      # the size of another tensor, at run time
        like = xs[a.size.index]
        if len(like) < 2:
            ctx.error(E0215, f"size={a.size.text} is {shape_text(like)}, which has no height and width", "size",
                      help=("crop to a tensor with at least two dims",))
            return None
        th, tw = like[-2:]
    else:
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
    return None if over else (*x[:-2], th, tw)


def _crop_label(a):
    if isinstance(a.size, TensorRef):
        return f"center crop \u2192 size of {a.size.text}"
    return f"center crop \u2192 {a.size[0]}\u00d7{a.size[1]}"


CENTER_CROP = LayerSpec(
    out_channels=keep_channels,
    name="center_crop", category="resize",
    doc=("Crops the last two dims (H and W) around the centre (U-Net's crop-and-concat). "
         "`size` may be `@name` to match that tensor."),
    params=(Param("size", SIZE_OR_SHAPE, doc="output size (h, w), or a reference to match", check=positive),),
    shape=_crop_shape, label=_crop_label,
    # with a reference, the module crops to that tensor's size at run time: forward(x, like)
    torch=lambda a, xs: ("CenterCropLike", {}) if isinstance(a.size, TensorRef) else ("CenterCrop", dict(size=a.size)),
)


def _pad_shape(a, xs, ctx):
    x = xs[0]
    left, right, top, bottom = a.padding
    if len(x) == 1 and (top or bottom):
        ctx.error(E0307, "zeropad2d pads the last two dims, but a [features] input has one: "
                  "its top and bottom padding would pad the batch", "padding",
                  help=(f"pad the features only: zeropad2d(({left}, {right}, 0, 0))",))
        return None
    h = x[-2] if len(x) >= 2 else None
    w = x[-1]
    ok = True
    # Torch crops (negative padding) before it pads: each side is a narrow() of
    # what is left, so the crops alone must not remove more than the input has,
    # even when the other side's padding would make up for it.
    sides = (("height", h, top, bottom), ("width", w, left, right)) if h is not None else (("width", w, left, right),)
    for axis, n, before, after in sides:
        crop = -min(before, 0) - min(after, 0)
        if crop > n:
            ctx.error(E0312, f"negative padding crops {crop} from a {axis} of {n}", "padding",
                      notes=(f"torch crops first: {n} {M} {crop} = {n - crop} before padding",),
                      help=(f"crop at most {n} along the {axis}",))
            ok = False
    if not ok:
        return None
    ow = w + left + right
    if h is None:
        if ow < 1:
            ctx.error(E0312, f"padding leaves {ow} features", "padding",
                      notes=(f"{w} + {left} + {right} = {ow}",), help=("negative padding crops; crop less",))
            return None
        ctx.explain(f"features = {w} + {left} + {right} = {ow}")
        return (ow,)
    oh = h + top + bottom
    if oh < 1 or ow < 1:
        ctx.error(E0312, f"padding leaves a {oh}\u00d7{ow} output", "padding",
                  notes=(f"h = {h} + {top} + {bottom} = {oh}, w = {w} + {left} + {right} = {ow}",),
                  help=("negative padding crops; crop less",))
        return None
    ctx.explain(f"h = {h} + {top} + {bottom} = {oh}, w = {w} + {left} + {right} = {ow}")
    return (*x[:-2], oh, ow)


ZEROPAD2D = LayerSpec(
    out_channels=keep_channels,
    name="zeropad2d", category="resize",
    doc=("Zero padding of the last two dims (nn.ZeroPad2d): an int, or (left, right, top, bottom). "
         "Negative values crop."),
    params=(Param("padding", Ints(4), doc="padding per side"),),
    shape=_pad_shape, label=lambda a: f"zero pad {a.padding}",
    torch=lambda a, xs: ("ZeroPad2d", dict(padding=a.padding)),
    aliases=("zero_pad2d", "pad"),
)

LAYERS = (FLATTEN, LINEAR, UPSAMPLE, CENTER_CROP, ZEROPAD2D)
_ = (BOOL, PAIR)
