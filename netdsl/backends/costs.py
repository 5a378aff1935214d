"""Cost conventions (MACs per layer) and receptive fields, computed statically.

The MAC count of a layer is not a fact but a convention: every profiling tool
counts a different set of operations. netdsl's default is torchvision's (the
GFLOPS column of its model table): multiply-accumulates of convolutions and
linear layers, bias excluded; that number lives on each LayerSpec (`macs`).
The other tools register one counting rule per torch.nn module class, so their
conventions are written here the same way: a table from the module class the
catalogue builds (LayerSpec.torch) to a rule on the per-sample input and output
shapes. A class missing from a table costs 0 under that convention, exactly as
the tool skips modules it has no hook for. docs/costs.md documents each one.

Receptive fields come from LayerSpec.window: per spatial axis a (kernel extent,
stride, padding) triple, None for pointwise layers, "global" for layers that see
the whole input (flatten, linear; adaptive pools are treated the same way).
"""
from __future__ import annotations

import math
from collections.abc import Callable

from ..record import Record, Value

# ---- MAC conventions ----------------------------------------------------------


class Layer(Record):
    """What a cost rule sees: the layer's resolved arguments, the torch class (None
    for merges: add, concat) and the constructor arguments the catalogue gives it
    (kw), the per-sample input shapes xs and output shape y, and the catalogue's
    torchvision-convention MACs and parameter count."""
    __slots__ = _fields = ("args", "cls", "kw", "xs", "y", "macs", "params")


def _numel(shape) -> int:
    return math.prod(shape)


def _spatial(shape) -> int:
    return math.prod(shape[1:]) if len(shape) > 1 else 1


def _affine(l: Layer) -> bool:
    return bool(l.kw.get("affine", l.kw.get("elementwise_affine", False)))


def _bias(l: Layer) -> bool:
    return bool(l.kw.get("bias", False))


def _k(l: Layer) -> int:
    return _numel(l.kw["kernel_size"])


# fvcore.nn.FlopCountAnalysis (fvcore 0.1.5), model in eval mode. Counts one
# "flop" per multiply-add; conv and linear exclude the bias (transposed conv
# counts per input element, like torchvision); batch norm in eval mode costs 1
# per element, 2 with affine; layer/group norm 4 per element, 5 with affine;
# adaptive average pooling 1 per input element; upsampling 1 (nearest) or 4
# (bilinear) per output element. ReLU, pooling, add, concat ... are ignored.
FVCORE: dict[str, Callable[[Layer], int]] = {
    "Conv2d": lambda l: l.macs,
    "ConvTranspose2d": lambda l: l.macs,
    "Linear": lambda l: l.macs,
    "BatchNorm2d": lambda l: _numel(l.xs[0]) * (2 if _affine(l) else 1),
    "BatchNorm1d": lambda l: _numel(l.xs[0]) * (2 if _affine(l) else 1),
    "LayerNorm": lambda l: _numel(l.xs[0]) * (5 if _affine(l) else 4),
    "GroupNorm": lambda l: _numel(l.xs[0]) * (5 if _affine(l) else 4),
    "AdaptiveAvgPool2d": lambda l: _numel(l.xs[0]),
    "Upsample": lambda l: _numel(l.y) * {"nearest": 1, "bilinear": 4}.get(l.kw.get("mode"), 0),
}

# ptflops (0.7.5) module hooks, i.e. get_model_complexity_info(backend="pytorch",
# backend_specific_config={"count_functional": False}). Conv: kernel elements x
# C_in x C_out/groups per output position (per *input* position for transposed
# conv), plus one per output element for the bias; linear likewise with bias;
# ReLU-like activations 1 per output element; every pooling 1 per input element;
# norms 1 per element, 2 with an `affine` attribute (LayerNorm has none);
# upsampling 1 per output element.
def _ptflops_conv(l: Layer) -> int:
    c_in, c_out, g = l.kw["in_channels"], l.kw["out_channels"], l.kw["groups"]
    positions = _spatial(l.y)
    per = _k(l) * c_in * (c_out // g)
    return per * positions + (_numel(l.y) if _bias(l) else 0)


def _ptflops_convt(l: Layer) -> int:
    c_in, c_out, g = l.kw["in_channels"], l.kw["out_channels"], l.kw["groups"]
    per = _k(l) * c_in * (c_out // g)
    return per * _spatial(l.xs[0]) + (_numel(l.y) if _bias(l) else 0)


def _ptflops_linear(l: Layer) -> int:
    rows = _numel(l.xs[0][:-1])
    return (l.xs[0][-1] * l.y[-1] + (l.y[-1] if _bias(l) else 0)) * rows


def _out(l: Layer) -> int:
    return _numel(l.y)


def _in(l: Layer) -> int:
    return _numel(l.xs[0])


def _ptflops_norm(l: Layer) -> int:
    return _in(l) * (2 if l.kw.get("affine") else 1)


PTFLOPS: dict[str, Callable[[Layer], int]] = {
    "Conv2d": _ptflops_conv, "ConvTranspose2d": _ptflops_convt, "Linear": _ptflops_linear,
    **{c: _out for c in ("ReLU", "ReLU6", "LeakyReLU", "GELU", "PReLU", "ELU")},
    **{c: _in for c in ("MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d")},
    **{c: _ptflops_norm for c in ("BatchNorm1d", "BatchNorm2d", "GroupNorm", "LayerNorm")},
    "Upsample": _out,
}


# thop (0.1.1.post2209072238) profile() default hooks. Conv (and transposed
# conv): output elements x C_in/groups x kernel elements, bias excluded; linear:
# in_features per output element; batch/layer norm 2 per element, 4 with affine
# weights; average pooling 1 per output element; adaptive average pooling
# (H_in/H_out x W_in/W_out + 1) per output element; softmax 3n - 1 per row of n;
# upsampling 1 (nearest), 11 (bilinear) or 259 (bicubic) per output element.
# ReLU, max pooling, dropout, add and concat count 0.
def _thop_conv(l: Layer) -> int:
    return _numel(l.y) * (l.kw["in_channels"] // l.kw["groups"]) * _k(l)


def _thop_adaptive(l: Layer) -> int:
    # thop: (prod(input spatial / output spatial) + 1) * output elements, over every spatial dim
    kernel = math.prod(i / o for i, o in zip(l.xs[0][1:], l.y[1:]))
    return int((kernel + 1) * _numel(l.y))


def _thop_softmax(l: Layer) -> int:
    n = l.xs[0][l.args.dim]         # the spec's dim is per sample, negative ones counting from the end
    return (_numel(l.xs[0]) // n) * (3 * n - 1)


THOP: dict[str, Callable[[Layer], int]] = {
    "Conv2d": _thop_conv, "ConvTranspose2d": _thop_conv,
    "Linear": lambda l: l.xs[0][-1] * _numel(l.y),
    **{c: (lambda l: _in(l) * (4 if _affine(l) else 2)) for c in ("BatchNorm1d", "BatchNorm2d", "LayerNorm")},
    "AvgPool2d": _out,
    "AdaptiveAvgPool2d": _thop_adaptive,
    "Softmax": _thop_softmax,
    "Upsample": lambda l: _numel(l.y) * {"nearest": 1, "bilinear": 11, "bicubic": 259}.get(l.kw.get("mode"), 0),
}


# torchinfo (1.8) "Mult-Adds": every parameter of a layer (weight and bias) is
# used once per output position for convolutions, once per sample otherwise.
def _torchinfo(l: Layer) -> int:
    if l.cls is None or not l.params:
        return 0
    return l.params * (_spatial(l.y) if l.cls.startswith("Conv") else 1)


CONVENTIONS: dict[str, dict | None] = {
    "torchvision": None, "fvcore": FVCORE, "ptflops": PTFLOPS, "thop": THOP, "torchinfo": None,
}
DESCRIPTIONS = {
    "torchvision": "conv + linear multiply-adds, bias excluded (torchvision's GFLOPS column)",
    "fvcore": "fvcore FlopCountAnalysis (eval): conv/linear without bias, norms, adaptive avg pool, upsample",
    "ptflops": "ptflops module hooks: conv/linear with bias, activations, pooling, norms, upsample",
    "thop": "thop profile(): conv/linear without bias, norms, avg pools, softmax, upsample",
    "torchinfo": "torchinfo Mult-Adds: every parameter once per output position (conv) or per sample",
}


def layer_view(graph, node) -> Layer | None:
    """The Layer a cost rule sees, or None when the node has no known shape."""
    if node.spec is None or node.shape is None or node.args is None:
        return None
    xs = [graph.nodes[i].shape for i in node.inputs]
    if any(x is None for x in xs):
        return None
    cls, kw = (node.spec.torch(node.args, xs) if node.spec.torch is not None else (None, {}))
    return Layer(node.args, cls, kw, xs, node.shape, node.macs, node.params)


def layer_macs(graph, node, convention: str = "torchvision") -> int | None:
    """MACs of one node (per sample) under a convention; None if unknown; 0 for a node
    that no output depends on (the forward pass never computes it)."""
    if node.id in graph.unused and node.shape is not None:
        return 0
    if convention == "torchvision":
        return node.macs if node.shape is not None else None
    layer = layer_view(graph, node)
    if layer is None:
        return None
    if convention == "torchinfo":
        return _torchinfo(layer)
    rule = CONVENTIONS[convention].get(layer.cls) if layer.cls else None
    return rule(layer) if rule else 0


# ---- receptive field -----------------------------------------------------------

GLOBAL = "global"


class Field(Value):
    """Receptive field of one tensor, per spatial axis: size in input pixels and
    jump (the input distance between neighbouring outputs; an int, or a Fraction
    after transposed convolutions). size None = the whole input (global)."""
    __slots__ = _fields = ("size", "jump")

    @property
    def is_global(self) -> bool:
        return any(s is None for s in self.size)


def _window(node):
    """The node's window; adaptive pools (window() gives None: it depends on the
    input size) mix every position into a fixed grid, so they count as global.
    Layers without a window function are pointwise."""
    if node.spec is None or node.spec.window is None:
        return None
    w = node.spec.window(node.args)
    return GLOBAL if w is None else w


def receptive_fields(graph) -> dict:
    """Node id -> Field for every node whose shape is known and spatial."""
    out: dict[int, Field] = {}
    for node in graph.nodes:
        if node.shape is None:
            continue
        if node.spec is None:
            out[node.id] = Field((1, 1), (1, 1))
            continue
        # A layer's other inputs (`center_crop(@up)`) give it only their size: its field is its first input's.
        ins = [out.get(i) for i in (node.inputs if node.spec.inputs == "many" else node.inputs[:1])]
        if not ins or any(f is None for f in ins):
            continue
        if len(ins) > 1:     # merges: the widest field; the jump of the coarsest branch
            if any(f.is_global for f in ins):
                out[node.id] = Field((None, None), ins[0].jump)
                continue
            size = tuple(max(f.size[a] for f in ins) for a in range(2))
            jump = tuple(max(f.jump[a] for f in ins) for a in range(2))
            out[node.id] = Field(size, jump)
            continue
        f = ins[0]
        w = _window(node)
        if w is None:
            out[node.id] = f
        elif w == GLOBAL or f.is_global:
            out[node.id] = Field((None, None), f.jump)
        else:
            size = tuple(f.size[a] + (w[a][0] - 1) * f.jump[a] for a in range(2))
            jump = tuple(f.jump[a] * _stride(w[a][1]) for a in range(2))
            out[node.id] = Field(size, jump)
    return out


def _stride(s):
    # Integer strides stay ints (fast); a transposed conv's 1/s becomes exact.
    if isinstance(s, int) or float(s).is_integer():
        return int(s)
    from fractions import Fraction
    return Fraction(s).limit_denominator(1 << 16)


def show_jump(j) -> str:
    if isinstance(j, int) or float(j).is_integer():
        return str(int(j))
    from fractions import Fraction
    j = Fraction(j)
    return f"{j.numerator}/{j.denominator}"
