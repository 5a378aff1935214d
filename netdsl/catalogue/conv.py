"""Convolutions: conv2d and conv_transpose2d."""
from __future__ import annotations

from ..diagnostics.codes import E0301, E0302, E0303, E0310, E0312, W0403, W0407
from .arith import M, fold_axes, same_padding, transpose_out, unused_tail, warn_lost_rows, window_out, window_size
from .spec import BOOL, INT, PADDING, PAIR, LayerSpec, Param, non_negative, positive

AXES = ("height", "width")


def _x(pair) -> str:
    return f"{pair[0]}\u00d7{pair[1]}" if pair[0] != pair[1] else f"{pair[0]}\u00d7{pair[0]}"


def _one(pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]},{pair[1]}"


def check_groups(a, c_in, ctx) -> bool:
    """E0303 once, whether the groups fail to divide the input channels, the output
    channels or both (one mistake, one error), with the groups that would fit."""
    failing = [(what, n) for what, n in (("input", c_in), ("output", a.channels)) if n % a.groups]
    if not failing:
        return True
    if len(failing) == 2:
        message = (f"groups={a.groups} divides neither the {c_in} input channels nor the {a.channels} "
                   "output channels")
    else:
        message = f"groups={a.groups} does not divide the {failing[0][1]} {failing[0][0]} channels"
    divisors = [g for g in range(1, min(c_in, a.channels) + 1) if a.channels % g == 0 and c_in % g == 0]
    fits = ", ".join(map(str, divisors[-6:]))
    words = (f"use groups={divisors[-1]}: no larger value divides both {c_in} and {a.channels}"
             if len(divisors) == 1 else f"use one of groups={fits}, which divide both {c_in} and {a.channels}")
    best = max(g for g in divisors if g <= a.groups)
    fix = (f"use groups={best}, the largest value below {a.groups} that divides both {c_in} and {a.channels}"
           + (f" (also: {', '.join(map(str, [g for g in divisors if g != best][-5:]))})" if len(divisors) > 1 else ""))
    ctx.error(E0303, message, "groups", notes=tuple(f"{n} % {a.groups} = {n % a.groups}" for _, n in failing),
              help=(ctx.replace_argument("groups", f"groups={best}", fix) if best > 1 else words,))
    return False


def conv2d_validate(a, ctx):
    if a.padding == "same" and a.stride != (1, 1):
        ctx.error(E0302, "padding='same' is not supported for strided convolutions", "padding",
                  notes=(f"stride is {_one(a.stride)}; torch only pads to the same size at stride 1",),
                  help=(f"write padding={_one(tuple(((k - 1) * d) // 2 for k, d in zip(a.kernel, a.dilation)))} "
                        f"instead: the output is then about the input size divided by the stride",))


# Larger than any kernel of the classic CNNs (AlexNet's is 11): as the second argument
# it is an output channel count, written in torch's order.
_LARGEST_KERNEL = 11


def torch_order(a, c: int, ctx) -> None:
    """torch's Conv2d(3, 16, 3) written as conv2d(3, 16, 3): netdsl reads 3 output
    channels, a 16×16 kernel and stride 3, which often checks. Said when the first
    argument is the input's channel count and the kernel is larger than CNNs use."""
    if a.channels == c and ctx.positional("channels") and ctx.positional("kernel") \
            and max(a.kernel) > _LARGEST_KERNEL:
        ctx.warn(W0407, f"this reads as {a.channels} output channels and a {_x(a.kernel)} kernel: are the "
                 f"arguments in torch's order (in_channels, out_channels, kernel_size)?", "kernel",
                 notes=(f"{a.channels} is the input's channel count; netdsl takes it from the input, and "
                        "its arguments are (channels, kernel, stride, ...)",),
                 help=(ctx.remove_argument("channels", f"remove the first argument `{a.channels}`"),))


def conv2d_shape(a, xs, ctx):
    c, h, w = xs[0]
    torch_order(a, c, ctx)
    ok = check_groups(a, c, ctx)
    if a.padding == "same":
        uneven = [(axis, k, *same_padding(k, d)) for axis, k, d in zip(AXES, a.kernel, a.dilation)]
        for axis, k, left, right in fold_axes([u for u in uneven if u[2] != u[3]]):
            ctx.warn(W0403, f"padding='same' with an even kernel pads unevenly along the {axis}", "kernel",
                     notes=(f"torch pads {left} before and {right} after",),
                     help=(f"use an odd kernel ({k - 1} or {k + 1}) to pad symmetrically",))
        for axis, n in zip(AXES, (h, w)):
            ctx.explain(f"{axis[0]} = {n} (padding='same')")
        return (a.channels, h, w) if ok else None
    out, losses, too_small = [], [], []
    for i, (axis, n) in enumerate(zip(AXES, (h, w))):
        k, s, p, d = a.kernel[i], a.stride[i], a.padding[i], a.dilation[i]
        eff = d * (k - 1) + 1
        o, formula, _ = window_out(n, k, s, p, d)
        if n + 2 * p < eff:
            too_small.append((axis, n, p, eff, d, formula))
            continue
        ctx.explain(f"{axis[0]} = {formula}")
        lost = unused_tail(n, k, s, p, d)
        if lost:
            losses.append((axis, n, k, s, p, d, lost))
        out.append(o)
    for axis, n, p, eff, d, formula in fold_axes(too_small):
        need = -(-(eff - n) // 2)
        ctx.error(E0301, f"the kernel ({eff}) is larger than the padded input {axis} ({n + 2 * p})", "kernel",
                  label=f"kernel spans {eff}" if d == 1 else f"dilated kernel spans {eff}",
                  notes=(f"padded size is {n} + 2\u00b7{p} = {n + 2 * p}", f"out = {formula}"),
                  help=(f"use padding={need} or more, or a kernel of at most {n + 2 * p}",))
        ok = False
    if ok:
        warn_lost_rows(ctx, losses, "stride", "pad so that the windows reach the end")
    return (a.channels, *out) if ok else None


def conv2d_params(a, xs, y):
    c_in = xs[0][0]
    k = a.kernel[0] * a.kernel[1]
    return a.channels * (c_in // a.groups) * k + (a.channels if a.bias else 0), 0


def conv2d_macs(a, xs, y):
    return y[0] * y[1] * y[2] * (xs[0][0] // a.groups) * a.kernel[0] * a.kernel[1]


def conv_window(a):
    pads = a.padding if a.padding != "same" else tuple(
        same_padding(k, d)[0] for k, d in zip(a.kernel, a.dilation))
    return tuple((d * (k - 1) + 1, s, p) for k, s, p, d in zip(a.kernel, a.stride, pads, a.dilation))


def conv2d_label(a):
    parts = [f"conv {_x(a.kernel)}", str(a.channels)]
    if a.stride != (1, 1):
        parts.append(f"s{_one(a.stride)}")
    if a.padding == "same":
        parts.append("same")
    elif a.padding != (0, 0):
        parts.append(f"p{_one(a.padding)}")
    if a.dilation != (1, 1):
        parts.append(f"d{_one(a.dilation)}")
    if a.groups != 1:
        parts.append("depthwise" if a.groups == a.channels else f"g{a.groups}")
    return ", ".join(parts)


def conv2d_torch(a, xs):
    return "Conv2d", dict(in_channels=xs[0][0], out_channels=a.channels, kernel_size=a.kernel,
                          stride=a.stride, padding=a.padding, dilation=a.dilation,
                          groups=a.groups, bias=a.bias)


def conv2d_spatial(a, xs):
    """LayerSpec.out_spatial: torch's convolution output size on each axis."""
    if a.padding == "same":
        return tuple(xs[0][1:])
    return tuple(window_size(n, a.kernel[i], a.stride[i], a.padding[i], a.dilation[i])
                 for i, n in enumerate(xs[0][1:]))


_CHANNELS = Param("channels", INT, doc="output channels", aliases=("out_channels",), check=positive)
_KERNEL = Param("kernel", PAIR, doc="kernel size", aliases=("kernel_size",), check=positive)
_STRIDE = Param("stride", PAIR, 1, "stride", check=positive)
_DILATION = Param("dilation", PAIR, 1, "spacing between kernel elements", check=positive)
_GROUPS = Param("groups", INT, 1, "blocked connections; must divide both channel counts", check=positive)
_BIAS = Param("bias", BOOL, True, "learnable bias")

CONV2D = LayerSpec(
    out_channels=lambda a, xs: a.channels, out_spatial=conv2d_spatial,
    name="conv2d", category="convolution", rank=3,
    doc="2-D convolution (nn.Conv2d). Input channels come from the incoming shape.",
    params=(_CHANNELS, _KERNEL, _STRIDE,
            Param("padding", PADDING, 0, "zero padding per side, or 'same' / 'valid'", check=non_negative),
            _DILATION, _GROUPS, _BIAS),
    shape=conv2d_shape, validate=conv2d_validate, torch=conv2d_torch, count_params=conv2d_params, macs=conv2d_macs,
    window=conv_window, label=conv2d_label, aliases=("conv",), infers=("in_channels",),
)


def convt_validate(a, ctx):
    big_op = [(axis, op, s, d) for axis, op, s, d in zip(AXES, a.output_padding, a.stride, a.dilation)
              if not (op < s or op < d)]
    for axis, op, s, d in fold_axes(big_op):
        ctx.error(E0310, f"output_padding ({op}) must be smaller than the stride ({s}) or the dilation ({d})",
                  "output_padding", notes=(f"along the {axis}: torch requires output_padding < max(stride, dilation)",),
                  help=(f"use output_padding={max(s, d) - 1} or less",))


def convt_shape(a, xs, ctx):
    c, h, w = xs[0]
    torch_order(a, c, ctx)
    ok = check_groups(a, c, ctx)
    out, not_positive = [], []
    for i, (axis, n) in enumerate(zip(AXES, (h, w))):
        k, s, p, op, d = a.kernel[i], a.stride[i], a.padding[i], a.output_padding[i], a.dilation[i]
        o, formula = transpose_out(n, k, s, p, op, d)
        if o < 1:
            not_positive.append((axis, o, formula))
            continue
        ctx.explain(f"{axis[0]} = {formula}")
        out.append(o)
    for axis, o, formula in fold_axes(not_positive):
        ctx.error(E0312, f"transposed convolution gives a {axis} of {o}", "padding",
                  notes=(f"out = (in {M} 1)\u00b7stride {M} 2\u00b7padding + dilation\u00b7(kernel {M} 1) "
                         "+ output_padding + 1", f"out = {formula}"),
                  help=("reduce the padding or increase the kernel or stride",))
    return (a.channels, *out) if ok and not not_positive else None


def convt_params(a, xs, y):
    c_in = xs[0][0]
    return c_in * (a.channels // a.groups) * a.kernel[0] * a.kernel[1] + (a.channels if a.bias else 0), 0


def convt_macs(a, xs, y):
    c, h, w = xs[0]
    return c * h * w * (a.channels // a.groups) * a.kernel[0] * a.kernel[1]


def convt_label(a):
    parts = [f"convT {_x(a.kernel)}", str(a.channels)]
    if a.stride != (1, 1):
        parts.append(f"s{_one(a.stride)}")
    if a.padding != (0, 0):
        parts.append(f"p{_one(a.padding)}")
    if a.output_padding != (0, 0):
        parts.append(f"op{_one(a.output_padding)}")
    return ", ".join(parts)


def convt_torch(a, xs):
    return "ConvTranspose2d", dict(in_channels=xs[0][0], out_channels=a.channels, kernel_size=a.kernel,
                                   stride=a.stride, padding=a.padding, output_padding=a.output_padding,
                                   groups=a.groups, bias=a.bias, dilation=a.dilation)


def convt_window(a):
    # A transposed conv upsamples: each output sees ceil(k/s) inputs; model it as a
    # window of ceil(k/s) with fractional stride 1/s (see netdsl/costs.py).
    return tuple((-(-k // s), 1.0 / s, 0) for k, s in zip(a.kernel, a.stride))


CONV_TRANSPOSE2D = LayerSpec(
    out_channels=lambda a, xs: a.channels,
    name="conv_transpose2d", category="convolution", rank=3,
    doc="2-D transposed convolution (nn.ConvTranspose2d), e.g. U-Net's 2×2 up-convolution.",
    params=(_CHANNELS, _KERNEL, _STRIDE,
            Param("padding", PAIR, 0, "implicit zero padding removed from each side", check=non_negative),
            Param("output_padding", PAIR, 0, "extra size added to one side of the output", check=non_negative),
            _GROUPS, _BIAS, _DILATION),
    shape=convt_shape, validate=convt_validate, torch=convt_torch, count_params=convt_params, macs=convt_macs,
    window=convt_window, label=convt_label, aliases=("convtranspose2d", "deconv2d"), infers=("in_channels",),
)

LAYERS = (CONV2D, CONV_TRANSPOSE2D)
