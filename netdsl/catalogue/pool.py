"""Pooling: max, average, adaptive and global."""
from __future__ import annotations

from types import SimpleNamespace

from ..diagnostics.codes import E0301, E0304, W0402
from .arith import fold_axes, unused_tail, warn_lost_rows, window_out, window_size
from .conv import AXES, _one, _x
from .spec import BOOL, INT, PAIR, LayerSpec, Optional_, Param, keep_channels, non_negative, positive, require_rank


def _stride(a):
    return a.stride if a.stride is not None else a.kernel


def pool_validate(a, ctx):
    # torch's pool2d_shape_check: pad <= kernel/2, on the kernel itself (not the
    # dilated extent) -- the rule max_pool2d_with_indices applies, which is the
    # path taken whenever autograd is on.
    over = [(axis, a.kernel[i], a.padding[i]) for i, axis in enumerate(AXES) if a.padding[i] > a.kernel[i] // 2]
    for axis, k, p in fold_axes(over):
        ctx.error(E0304, f"padding {p} is more than half the kernel ({k}) along the {axis}", "padding",
                  notes=(f"torch requires padding \u2264 \u230a{k}/2\u230b = {k // 2}",),
                  help=(f"use padding={k // 2} or less, or a kernel of at least {2 * p}",))


def pool_shape(a, xs, ctx):
    c, h, w = xs[0]
    stride = _stride(a)
    dilation = getattr(a, "dilation", (1, 1))
    ok = True
    out, losses, too_small, dropped_axes = [], [], [], []
    for i, (axis, n) in enumerate(zip(AXES, (h, w))):
        k, s, p, d = a.kernel[i], stride[i], a.padding[i], dilation[i]
        o, formula, dropped = window_out(n, k, s, p, d, a.ceil_mode)
        if o < 1:
            too_small.append((axis, n, p, d * (k - 1) + 1, formula))
            continue
        ctx.explain(f"{axis[0]} = {formula}")
        if dropped:
            dropped_axes.append((axis, formula))
        elif not a.ceil_mode:
            lost = unused_tail(n, k, s, p, d)
            if lost:
                losses.append((axis, n, k, s, p, d, lost))
        out.append(o)
    for axis, n, p, eff, formula in fold_axes(too_small):
        ctx.error(E0301, f"the pooling window ({eff}) is larger than the padded input {axis} ({n + 2 * p})",
                  "kernel", label=f"window spans {eff}", notes=(f"out = {formula}",),
                  help=(f"use a kernel of at most {n + 2 * p}, or remove this pooling for inputs this small",))
        ok = False
    if ok:
        for axis, formula in fold_axes(dropped_axes):
            ctx.warn(W0402, f"ceil_mode: the last window along the {axis} would start in the padding, "
                     "so torch drops it", "ceil_mode", notes=(f"out = {formula}",),
                     help=("the size is what torch computes; if you expected the extra window, "
                           "pad less or use a stride that fits the input",))
        warn_lost_rows(ctx, losses, "stride" if a.stride is not None else "kernel", "ceil_mode=true to keep them")
    return (c, *out) if ok else None


def pool_window(a):
    stride = _stride(a)
    dilation = getattr(a, "dilation", (1, 1))
    return tuple((d * (k - 1) + 1, s, p) for k, s, p, d in zip(a.kernel, stride, a.padding, dilation))


def pool_label(word):
    def label(a):
        parts = [f"{word} {_x(a.kernel)}"]
        if _stride(a) != a.kernel:
            parts.append(f"s{_one(_stride(a))}")
        if a.padding != (0, 0):
            parts.append(f"p{_one(a.padding)}")
        if a.ceil_mode:
            parts.append("ceil")
        return ", ".join(parts)
    return label


def pool_spatial(a, xs):
    """LayerSpec.out_spatial: torch's window formula on each axis (backends/blockclass.py)."""
    stride = _stride(a)
    dilation = getattr(a, "dilation", (1, 1))
    return tuple(window_size(n, a.kernel[i], stride[i], a.padding[i], dilation[i], a.ceil_mode)
                 for i, n in enumerate(xs[0][1:]))


def adaptive_spatial(a, xs):
    """The output size; none keeps that axis (on [C, D, H, W], the last two are pooled)."""
    x = xs[0]
    return (*x[1:-2], *(n if o is None else o for o, n in zip(a.output, x[-2:])))


_KERNEL = Param("kernel", PAIR, doc="window size", aliases=("kernel_size",), check=positive)
_STRIDE = Param("stride", Optional_(PAIR), None, "stride (default: the kernel size)", check=positive)
_PADDING = Param("padding", PAIR, 0, "implicit padding per side, at most half the kernel", check=non_negative)
_CEIL = Param("ceil_mode", BOOL, False, "use ceil instead of floor for the output size")

MAXPOOL2D = LayerSpec(
    out_channels=keep_channels,
    name="maxpool2d", category="pooling", rank=3,
    doc="2-D max pooling (nn.MaxPool2d). The stride defaults to the kernel size.",
    params=(_KERNEL, _STRIDE, _PADDING,
            Param("dilation", PAIR, 1, "spacing between window elements", check=positive), _CEIL),
    shape=pool_shape, validate=pool_validate, window=pool_window, label=pool_label("max pool"),
    out_spatial=pool_spatial,
    torch=lambda a, xs: ("MaxPool2d", dict(kernel_size=a.kernel, stride=_stride(a), padding=a.padding,
                                           dilation=a.dilation, ceil_mode=a.ceil_mode)),
    aliases=("max_pool2d",),
)

AVGPOOL2D = LayerSpec(
    out_channels=keep_channels,
    name="avgpool2d", category="pooling", rank=3,
    doc="2-D average pooling (nn.AvgPool2d). The stride defaults to the kernel size.",
    params=(_KERNEL, _STRIDE, _PADDING, _CEIL,
            Param("count_include_pad", BOOL, True, "include the zero padding in the average")),
    shape=pool_shape, validate=pool_validate, window=pool_window, label=pool_label("avg pool"),
    out_spatial=pool_spatial,
    torch=lambda a, xs: ("AvgPool2d", dict(kernel_size=a.kernel, stride=_stride(a), padding=a.padding,
                                           ceil_mode=a.ceil_mode, count_include_pad=a.count_include_pad)),
    aliases=("avg_pool2d",),
)


class _OptPair:
    """An int, none, or a pair whose entries may be none (keep that axis)."""
    describe = "an integer, or a pair of integers (an entry may be none)"

    def coerce(self, v):
        from .spec import TypeMismatch, _is_int
        if _is_int(v):
            return (v, v)
        if isinstance(v, tuple) and len(v) == 2 and all(x is None or _is_int(x) for x in v):
            return v
        raise TypeMismatch(self.describe)


def adaptive_shape(a, xs, ctx):
    c, h, w = xs[0]
    oh = a.output[0] if a.output[0] is not None else h
    ow = a.output[1] if a.output[1] is not None else w
    ctx.explain(f"h = {oh}, w = {ow} (adaptive)")
    return (c, oh, ow)


def _flat_help(x) -> tuple:
    if len(x) == 1:
        return ("a flat input has no height or width: move this layer before `flatten`",)
    return ("2-D pooling needs a per-sample [C, H, W] input",)


def _mean_shortcut(kind, a, xs, ctx):
    """Torch's adaptive_avg_pool2d to 1×1 (after none is resolved) is `x.mean((-2, -1), keepdim=True)`
    whatever the rank,
    so it also takes [C, D, H, W] (to [C, D, 1, 1]); other output sizes need [C, H, W]."""
    x = xs[0]
    resolved = tuple(n if o is None else o for o, n in zip(a.output, x[-2:]))   # none keeps that size
    if len(x) == 4 and resolved == (1, 1):
        ctx.explain("h = 1, w = 1 (the mean over the last two dims)")
        return (*x[:2], 1, 1)
    want = "a [C, H, W] or [C, D, H, W] input" if kind == "global_avgpool" else \
        "a [C, H, W] input (or [C, D, H, W] with an output of 1)"
    if not require_rank(ctx, kind, x, (3,), want, help=_flat_help(x)):
        return None
    return adaptive_shape(a, xs, ctx)


def adaptive_window(a):
    return None  # depends on the input size; netdsl/costs.py treats it as a global window


def _adaptive(name, word, cls, doc, rank=3, shape=adaptive_shape):
    return LayerSpec(
        name=name, category="pooling", rank=rank, doc=doc, out_channels=keep_channels, out_spatial=adaptive_spatial,
        params=(Param("output", _OptPair(), doc="output size (h, w)", aliases=("output_size",), check=positive),),
        shape=shape, window=adaptive_window,
        label=lambda a: f"{word} \u2192 {a.output[0]}\u00d7{a.output[1]}",
        torch=lambda a, xs: (cls, dict(output_size=a.output)),
    )


ADAPTIVE_AVGPOOL2D = _adaptive(
    "adaptive_avgpool2d", "adaptive avg pool", "AdaptiveAvgPool2d",
    "Adaptive average pooling of [C, H, W] to a fixed output size (nn.AdaptiveAvgPool2d); to 1×1, "
    "[C, D, H, W] too, as torch takes it.", None, lambda a, xs, ctx: _mean_shortcut("adaptive_avgpool2d", a, xs, ctx))
ADAPTIVE_MAXPOOL2D = _adaptive("adaptive_maxpool2d", "adaptive max pool", "AdaptiveMaxPool2d",
                               "Adaptive max pooling to a fixed output size (nn.AdaptiveMaxPool2d).")

_ONE = SimpleNamespace(output=(1, 1))

GLOBAL_AVGPOOL = LayerSpec(
    out_channels=keep_channels,
    out_spatial=lambda a, xs: adaptive_spatial(_ONE, xs),
    name="global_avgpool", category="pooling",
    doc=("Global average pooling: [C, H, W] -> [C, 1, 1] (nn.AdaptiveAvgPool2d(1)); follow it with flatten. "
         "Like torch, it takes [C, D, H, W] too (to [C, D, 1, 1])."),
    params=(), shape=lambda a, xs, ctx: _mean_shortcut("global_avgpool", _ONE, xs, ctx), window=adaptive_window,
    label=lambda a: "global avg pool",
    torch=lambda a, xs: ("AdaptiveAvgPool2d", dict(output_size=(1, 1))),
)

LAYERS = (MAXPOOL2D, AVGPOOL2D, ADAPTIVE_AVGPOOL2D, ADAPTIVE_MAXPOOL2D, GLOBAL_AVGPOOL)
_ = INT
