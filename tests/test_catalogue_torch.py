"""Every layer kind against torch, at every per-sample rank from 1 to 4.

For each kind in the catalogue that takes one input (the merges, which take
branches, and `parameter`, which takes none, have their own tests), Hypothesis
draws a per-sample rank, sizes and arguments, valid and invalid, writes a
one-layer spec and runs `check_source`; the same layer is built in torch, from
torch's own classes and functions as torchvision uses them (not from the
catalogue), and run on batches of 2 and of 3. The two must agree: the same
per-sample output shape, and a netdsl error exactly where torch refuses.

"Torch refuses" means, besides raising (at construction or in forward):
* an output with a zero-sized dimension (an empty tensor), as in
  tests/test_shapes_torch.py;
* an output whose first dim is not the batch, or whose per-sample shape differs
  between the two batch sizes: torch read the batch as something else;
* an input rank that torch's implementation reads as unbatched (Conv2d, MaxPool2d
  ... take (C, H, W) as one unbatched sample, so a batch of [C, L] samples is seen
  as one sample with N channels). netdsl's tensors always have a batch, so for
  those layers that rank is refused, as the issue asks ("the per-sample rank for
  Conv2d is 3"); see UNBATCHED;
* an output with no per-sample dims (`x.mean([1, 2])` of [N, C, L] is [N]):
  netdsl's shapes have at least one dim;
* a per-sample dim below -rank, which torch would count into the batch;
* an output sample that depends on other samples than its own (each sample run
  alone must give the same values): `zeropad2d((0, 0, 1, -1))` on [N, L] keeps
  the batch size but shifts the samples. Batch norm is exempt (without running
  statistics it normalises with the batch's, also in eval).

The first few valid cases of every kind are also compiled with `netdsl.load`
and run: the output shape must be the static one, and the values must be the
torch reference's (with the module's weights copied into the reference).

Derandomized for CI. NETDSL_HYPOTHESIS_SEED=<int> and NETDSL_HYPOTHESIS_EXAMPLES=<n>
explore further.
"""
from __future__ import annotations

import math
import os
import warnings

import pytest

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from netdsl_literals import lit  # noqa: E402  (tests/ is on sys.path under pytest)
from torch import nn  # noqa: E402

import netdsl  # noqa: E402
from netdsl import check_source  # noqa: E402
from netdsl.catalogue import LAYERS  # noqa: E402
from netdsl.diagnostics.codes import E0307  # noqa: E402

# torch warns when it builds a module with zero-sized weights (channels=0, which netdsl refuses)
pytestmark = pytest.mark.filterwarnings("ignore:Initializing zero-element tensors:UserWarning")

_SEED = os.environ.get("NETDSL_HYPOTHESIS_SEED")
_EXAMPLES = int(os.environ.get("NETDSL_HYPOTHESIS_EXAMPLES", "0"))

# Kinds taking one input; every one of them must have a case below.
KINDS = sorted(k for k, s in LAYERS.items() if s.inputs == "one")

# Input ranks (batch included) that torch's implementation reads as one unbatched sample.
UNBATCHED = {nn.Conv2d: 3, nn.ConvTranspose2d: 3, nn.MaxPool2d: 3, nn.AvgPool2d: 3,
             nn.AdaptiveAvgPool2d: 3, nn.AdaptiveMaxPool2d: 3}
BATCHES = (2, 3)
COMPILED_PER_KIND = 6


class Refused(Exception):
    """A reference callable refusing a case by the policies in the module docstring."""


class _Omit:
    def __repr__(self):
        return "<omitted>"


OMIT = _Omit()


class Case:
    """One drawn case: netdsl arguments [(keyword or None, value)], the per-sample input
    shape, and `make()` -> the torch callable that takes a batched tensor."""

    def __init__(self, args, shape, make, independent=True):
        self.args, self.shape, self.make = [(k, v) for k, v in args if v is not OMIT], tuple(shape), make
        self.independent = independent      # each output sample depends on its own input only


def spec_text(kind: str, case: Case) -> str:
    call = ", ".join(lit(v) if k is None else f"{k}={lit(v)}" for k, v in case.args)
    layer = f"{kind}({call})" if call else kind
    shape = case.shape
    if len(shape) <= 3:
        head = f"input {list(shape)}"
    else:           # `input` takes 1 to 3 dims: reach rank 4 through a reshape
        head = f"input [{math.prod(shape)}]\n    reshape({list(shape)})"
    return f"network T {{\n    {head}\n    {layer}\n}}\n"


def netdsl_outcome(text: str):
    result = check_source(text, "diff.net")       # must never raise
    errors = [d for d in result.diagnostics if d.is_error]
    if errors:
        return "error", [f"{d.code} {d.message}" for d in errors]
    return "ok", result.graph().output_shape


def _run(make, x, f=None):
    """(the callable, its output on x); `f`: an instance made before, whose weights to keep."""
    if f is None:
        f = make()
        if isinstance(f, nn.Module):
            f.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            return f, f(x)


def torch_outcome(case: Case):
    shapes = []
    for n in BATCHES:
        x = torch.randn(n, *case.shape)
        try:
            f, y = _run(case.make, x)
        except Refused as e:
            return "error", f"policy: {e}"
        except (RuntimeError, ValueError, TypeError, IndexError, ZeroDivisionError, NotImplementedError) as e:
            return "error", f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
        if UNBATCHED.get(type(f)) == x.ndim:
            return "error", f"policy: {type(f).__name__} reads a {x.ndim}-D input as unbatched"
        if y.ndim == 0 or y.shape[0] != n:
            return "error", f"policy: output {tuple(y.shape)} does not keep the batch of {n}"
        if y.ndim == 1:
            return "error", "policy: no per-sample dims left"
        if 0 in y.shape:
            return "error", f"empty output {tuple(y.shape)}"
        shapes.append(tuple(y.shape[1:]))
        if case.independent:
            try:
                alone = torch.cat([_run(case.make, x[i:i + 1], f)[1] for i in range(n)])
            except Exception as e:
                return "error", f"policy: a sample alone fails: {type(e).__name__}"
            if alone.shape != y.shape or not torch.allclose(alone, y, rtol=1e-4, atol=1e-5):
                return "error", "policy: the output of a sample depends on the others"
    if shapes[0] != shapes[1]:
        return "error", f"policy: the per-sample shape depends on the batch: {shapes}"
    return "ok", shapes[0]


_compiled: dict[str, int] = {}


def compiled_agrees(kind: str, case: Case, text: str, shape: tuple):
    """netdsl.load's module on the same input: the static shape, and torch's values."""
    model = netdsl.load(text).eval()
    x = torch.randn(2, *case.shape)
    ref = case.make()
    layer = [m for m in model.modules() if m is not model and not isinstance(m, nn.Sequential)]
    if isinstance(ref, nn.Module):
        ref.eval()
        if len(layer) == 1:
            ref.load_state_dict(layer[0].state_dict())
        else:
            assert not list(ref.parameters()), (kind, layer)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = model(x.reshape(2, -1) if len(case.shape) > 3 else x)
        expected = ref(x)
    assert tuple(y.shape) == (2, *shape), text
    torch.testing.assert_close(y, expected, msg=lambda m: f"{m}\n{text}")


def agree(kind: str, case: Case):
    text = spec_text(kind, case)
    ours, detail = netdsl_outcome(text)
    theirs, reference = torch_outcome(case)
    msg = f"\nspec:\n{text}torch: {theirs} {reference}\nnetdsl: {ours} {detail}"
    assert ours == theirs, msg
    if ours == "ok":
        assert detail == reference, msg
        if _compiled.get(kind, 0) < COMPILED_PER_KIND:
            _compiled[kind] = _compiled.get(kind, 0) + 1
            compiled_agrees(kind, case, text, detail)


# ---- drawing shapes and values ---------------------------------------------------------
RANK = st.integers(1, 4)


CHANNELS, SIZES = st.integers(1, 6), st.integers(1, 7)


@st.composite
def shapes(draw, rank=None, channels=CHANNELS, sizes=SIZES):
    r = draw(RANK) if rank is None else rank
    return (draw(channels), *(draw(sizes) for _ in range(r - 1)))


def pick(valid: list, invalid: list = ()):
    """Mostly a valid value, sometimes an invalid one (valid ones first: shrinking heads for them)."""
    if not invalid:
        return st.sampled_from(list(valid))
    return st.one_of(*[st.sampled_from(list(valid))] * 4, st.sampled_from(list(invalid)))


def int_or_pair(values):
    return st.one_of(values, st.tuples(values, values))


def as_pair(v):
    return v if isinstance(v, tuple) else (v, v)


def dim_of(rank_of_shape: int, d: int) -> int:
    """A per-sample dim as torch counts it; below -rank it would reach the batch."""
    if d < -rank_of_shape:
        raise Refused(f"dim {d} reaches the batch")
    return d + 1 if d >= 0 else d


def dims_draw(rank: int):
    return st.integers(-rank - 1, rank)


CASES: dict = {}


def case(*kinds):
    def register(fn):
        for k in kinds:
            CASES[k] = fn
        return fn
    return register


# ---- convolutions and pooling -----------------------------------------------------------
# Windowed layers have many arguments: a case is either all valid or may hold invalid ones (`bad`).
def KERNEL(bad):
    return pick([1, 2, 3, 5], [0] if bad else [])


def STRIDE(bad):
    return pick([1, 2, 3], [0] if bad else [])


def PAD(bad):
    return pick([0, 1, 2], [-1] if bad else [])


def DILATION(bad):
    return pick([1, 2], [0] if bad else [])


def GROUPS(bad):
    return pick([1, 2, 3], [0] if bad else [])


@case("conv2d")
@st.composite
def _conv2d(draw, kind):
    x, bad = draw(shapes()), draw(st.booleans())
    out = draw(pick([1, 2, 3, 4, 6], [0] if bad else []))
    kernel, stride, dilation, groups = (draw(int_or_pair(KERNEL(bad))), draw(int_or_pair(STRIDE(bad))),
                                        draw(int_or_pair(DILATION(bad))), draw(GROUPS(bad)))
    padding = draw(st.one_of(int_or_pair(PAD(bad)), st.sampled_from(["same", "valid"])))
    bias = draw(st.booleans())
    args = [(None, out), (None, kernel), ("stride", stride), ("padding", padding), ("dilation", dilation),
            ("groups", groups), ("bias", bias)]
    return Case(args, x, lambda: nn.Conv2d(x[0], out, kernel, stride=stride, padding=padding, dilation=dilation,
                                           groups=groups, bias=bias))


@case("conv_transpose2d")
@st.composite
def _conv_t(draw, kind):
    x, bad = draw(shapes()), draw(st.booleans())
    out = draw(pick([1, 2, 3, 4, 6], [0] if bad else []))
    kernel, stride, padding = (draw(int_or_pair(KERNEL(bad))), draw(int_or_pair(STRIDE(bad))),
                               draw(int_or_pair(PAD(bad))))
    output_padding = draw(int_or_pair(pick([0, 1, 2])))
    groups = draw(GROUPS(bad))
    # torch's oneDNN path skips the dilation check with groups > 1 (see test_shapes_torch.py)
    dilation = draw(int_or_pair(DILATION(bad and groups == 1)))
    args = [(None, out), (None, kernel), ("stride", stride), ("padding", padding),
            ("output_padding", output_padding), ("dilation", dilation), ("groups", groups)]
    return Case(args, x, lambda: nn.ConvTranspose2d(x[0], out, kernel, stride=stride, padding=padding,
                                                    output_padding=output_padding, dilation=dilation,
                                                    groups=groups))


def POOL_STRIDE(bad):
    return st.one_of(st.just(OMIT), st.just(None), int_or_pair(STRIDE(bad)))


def _pool_kwargs(args):
    rename = {"kernel": "kernel_size"}
    return {rename.get(k, k): v for k, v in args}


@case("maxpool2d")
@st.composite
def _maxpool(draw, kind):
    x, bad = draw(shapes()), draw(st.booleans())
    args = [("kernel", draw(int_or_pair(KERNEL(bad)))), ("stride", draw(POOL_STRIDE(bad))),
            ("padding", draw(int_or_pair(PAD(bad)))),
            ("dilation", draw(st.one_of(st.just(OMIT), int_or_pair(DILATION(bad))))),
            ("ceil_mode", draw(st.booleans()))]
    c = Case(args, x, None)
    c.make = lambda: nn.MaxPool2d(**_pool_kwargs(c.args))
    return c


@case("avgpool2d")
@st.composite
def _avgpool(draw, kind):
    x, bad = draw(shapes()), draw(st.booleans())
    args = [("kernel", draw(int_or_pair(KERNEL(bad)))), ("stride", draw(POOL_STRIDE(bad))),
            ("padding", draw(int_or_pair(PAD(bad)))), ("ceil_mode", draw(st.booleans())),
            ("count_include_pad", draw(st.booleans()))]
    c = Case(args, x, None)
    c.make = lambda: nn.AvgPool2d(**_pool_kwargs(c.args))
    return c


ADAPTIVE = pick([1, 2, 3, 5], [0])


@case("adaptive_avgpool2d", "adaptive_maxpool2d")
@st.composite
def _adaptive(draw, kind):
    x = draw(shapes())
    output = draw(st.one_of(ADAPTIVE, st.tuples(st.one_of(st.none(), ADAPTIVE), st.one_of(st.none(), ADAPTIVE))))
    cls = nn.AdaptiveAvgPool2d if kind == "adaptive_avgpool2d" else nn.AdaptiveMaxPool2d
    return Case([(None, output)], x, lambda: cls(output))


@case("global_avgpool")
@st.composite
def _global(draw, kind):
    return Case([], draw(shapes()), lambda: nn.AdaptiveAvgPool2d(1))


@case("mean")
@st.composite
def _mean(draw, kind):
    x = draw(shapes())
    r = len(x)
    dims = draw(st.lists(dims_draw(r), min_size=1, max_size=r + 1))
    as_list = draw(st.booleans())
    args = [(None, dims)] if as_list else [(None, d) for d in dims]
    return Case(args, x, lambda: (lambda t: t.mean([dim_of(r, d) for d in dims])))


# ---- normalisation and regularisation ----------------------------------------------------
@case("batchnorm2d", "batchnorm1d")
@st.composite
def _batchnorm(draw, kind):
    x = draw(shapes())
    eps, momentum = draw(pick([1e-5, 1e-3])), draw(pick([0.1, 0.01, None]))
    affine, track = draw(st.booleans()), draw(st.booleans())
    cls = nn.BatchNorm2d if kind == "batchnorm2d" else nn.BatchNorm1d
    args = [("eps", eps), ("momentum", momentum), ("affine", affine), ("track_running_stats", track)]
    # without running statistics, eval mode still normalises with the batch's: samples are not independent
    return Case(args, x, lambda: cls(x[0], eps=eps, momentum=momentum, affine=affine, track_running_stats=track),
                independent=False)


@case("layernorm")
@st.composite
def _layernorm(draw, kind):
    x = draw(shapes())
    dims = draw(st.one_of(st.just(OMIT), pick([1, 2, 3, 4, 5])))
    affine, bias = draw(st.booleans()), draw(st.booleans())
    if dims is OMIT:
        normalized = x
    elif dims <= len(x):
        normalized = x[-dims:]
    else:       # over the batch as well: no module normalises that for every batch size
        normalized = (7,) * (dims - len(x)) + x
    args = [(None, dims), ("eps", 1e-6), ("elementwise_affine", affine), ("bias", bias)]
    return Case(args, x, lambda: nn.LayerNorm(normalized, eps=1e-6, elementwise_affine=affine, bias=bias))


class LayerNorm2d(nn.LayerNorm):
    """torchvision.models.convnext.LayerNorm2d, as in torchvision 0.29."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


@case("layernorm2d")
@st.composite
def _layernorm2d(draw, kind):
    x = draw(shapes())
    return Case([("eps", 1e-6)], x, lambda: LayerNorm2d(x[0], eps=1e-6))


@case("groupnorm")
@st.composite
def _groupnorm(draw, kind):
    x = draw(shapes(channels=st.integers(1, 12)))
    groups, affine = draw(pick([1, 2, 3, 4, 6], [5, 0, -1])), draw(st.booleans())
    return Case([(None, groups), ("affine", affine)], x, lambda: nn.GroupNorm(groups, x[0], affine=affine))


@case("lrn")
@st.composite
def _lrn(draw, kind):
    x = draw(shapes())
    size = draw(pick([1, 2, 3, 5]))
    return Case([(None, size)], x, lambda: nn.LocalResponseNorm(size))


@case("dropout", "dropout2d")
@st.composite
def _dropout(draw, kind):
    x = draw(shapes())
    p = draw(pick([0.0, 0.5, 1.0], [1.5, -0.25]))
    cls = nn.Dropout if kind == "dropout" else nn.Dropout2d
    return Case([(None, p)], x, lambda: cls(p))


def stochastic_depth(input, p: float, mode: str, training: bool = True):
    """torchvision.ops.stochastic_depth, as in torchvision 0.29 (ops/stochastic_depth.py)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ["batch", "row"]:
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return input
    survival_rate = 1.0 - p
    if mode == "row":
        size = [input.shape[0]] + [1] * (input.ndim - 1)
    else:
        size = [1] * input.ndim
    noise = torch.empty(size, dtype=input.dtype, device=input.device)
    noise = noise.bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return input * noise


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth, as in torchvision 0.29."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, input):
        return stochastic_depth(input, self.p, self.mode, self.training)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p}, mode={self.mode})"


@case("stochastic_depth")
@st.composite
def _stochastic_depth(draw, kind):
    x = draw(shapes())
    p, mode = draw(pick([0.0, 0.2, 1.0], [1.5, -0.1])), draw(pick(["row", "batch"], ["col"]))
    return Case([(None, p), ("mode", mode)], x, lambda: StochasticDepth(p, mode))


# ---- activations ------------------------------------------------------------------------
_PLAIN = {"relu": nn.ReLU, "relu6": nn.ReLU6, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "silu": nn.SiLU,
          "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid, "identity": nn.Identity}


@case(*_PLAIN)
@st.composite
def _plain(draw, kind):
    return Case([], draw(shapes()), _PLAIN[kind])


@case("leaky_relu")
@st.composite
def _leaky(draw, kind):
    slope = draw(pick([0.01, 0.2, 0.0]))
    return Case([(None, slope)], draw(shapes()), lambda: nn.LeakyReLU(slope))


@case("gelu")
@st.composite
def _gelu(draw, kind):
    approximate = draw(st.sampled_from(["none", "tanh"]))
    return Case([("approximate", approximate)], draw(shapes()), lambda: nn.GELU(approximate=approximate))


@case("softmax")
@st.composite
def _softmax(draw, kind):
    x = draw(shapes())
    d = draw(dims_draw(len(x)))
    return Case([(None, d)], x, lambda: nn.Softmax(dim_of(len(x), d)))


# ---- layout ----------------------------------------------------------------------------
@case("flatten")
@st.composite
def _flatten(draw, kind):
    x = draw(shapes())
    r = len(x)
    start, end = draw(dims_draw(r)), draw(dims_draw(r))
    return Case([("start", start), ("end", end)], x, lambda: nn.Flatten(dim_of(r, start), dim_of(r, end)))


@case("linear")
@st.composite
def _linear(draw, kind):
    x = draw(shapes())
    out, bias = draw(pick([1, 3, 5], [0])), draw(st.booleans())
    return Case([(None, out), ("bias", bias)], x, lambda: nn.Linear(x[-1], out, bias=bias))


@case("upsample")
@st.composite
def _upsample(draw, kind):
    x = draw(shapes())
    scale = draw(st.one_of(st.just(OMIT), pick([0.5, 1.0, 1.5, 2.0, 3.0], [0.1])))
    size = draw(st.one_of(st.just(OMIT), pick([1, 2, 5], [0]),
                          st.lists(pick([1, 2, 5]), min_size=1, max_size=3).map(tuple)))
    mode = draw(st.sampled_from(["nearest", "linear", "bilinear", "bicubic", "trilinear"]))
    args = [("scale", scale), ("size", size), ("mode", mode)]
    kw = {"scale_factor": scale, "size": size}
    return Case(args, x, lambda: nn.Upsample(**{k: v for k, v in kw.items() if v is not OMIT}, mode=mode))


def _center_crop(size):
    th, tw = as_pair(size)

    def crop(t):
        h, w = t.shape[-2:]
        if th > h or tw > w:
            raise ValueError(f"cannot crop {h}x{w} to {th}x{tw}")
        top, left = (h - th) // 2, (w - tw) // 2
        return t[..., top:top + th, left:left + tw]
    return crop


@case("center_crop")
@st.composite
def _crop(draw, kind):
    x = draw(shapes())
    size = draw(int_or_pair(pick([1, 2, 3, 5, 8])))
    return Case([(None, size)], x, lambda: _center_crop(size))


@case("zeropad2d")
@st.composite
def _zeropad(draw, kind):
    x = draw(shapes())
    padding = draw(st.one_of(st.integers(-2, 2), st.tuples(*[st.integers(-3, 2)] * 4),
                             st.tuples(st.integers(-3, 2), st.integers(-3, 2), st.just(0), st.just(0))))
    return Case([(None, padding)], x, lambda: nn.ZeroPad2d(padding))


class Permute(nn.Module):
    """torchvision.ops.Permute, as in torchvision 0.29."""

    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.permute(x, self.dims)


@case("permute")
@st.composite
def _permute(draw, kind):
    x = draw(shapes())
    r = len(x)
    dims = draw(st.permutations(range(r)))
    how = draw(st.sampled_from(["as is", "negative", "drop", "repeat", "extra"]))
    if how == "negative":
        dims = [d - r if draw(st.booleans()) else d for d in dims]
    elif how == "drop":
        dims = dims[:-1] or [0, 0]
    elif how == "repeat":
        dims = [*dims[:-1], dims[0]] if r > 1 else [0, 0]
    elif how == "extra":
        dims = [*dims, draw(st.integers(-r - 1, r))]
    args = [(None, list(dims))] if draw(st.booleans()) else [(None, d) for d in dims]
    return Case(args, x, lambda: Permute([0, *(dim_of(r, d) for d in dims)]))


@case("transpose")
@st.composite
def _transpose(draw, kind):
    x = draw(shapes())
    r = len(x)
    a, b = draw(dims_draw(r)), draw(dims_draw(r))
    return Case([(None, a), (None, b)], x, lambda: (lambda t: t.transpose(dim_of(r, a), dim_of(r, b))))


def _factorings(n: int, parts: int) -> list:
    if parts == 1:
        return [(n,)]
    return [(d, *rest) for d in range(1, n + 1) if n % d == 0 for rest in _factorings(n // d, parts - 1)]


@case("reshape")
@st.composite
def _reshape(draw, kind):
    x = draw(shapes(sizes=st.integers(1, 4)))
    numel = math.prod(x)
    parts = draw(st.integers(1, 4))
    target = list(draw(st.sampled_from(_factorings(numel, parts))))
    if draw(st.booleans()):
        target[draw(st.integers(0, parts - 1))] = -1
    how = draw(st.sampled_from(["as is", "as is", "bump", "zero", "two", "negative"]))
    i = draw(st.integers(0, parts - 1))
    if how == "bump":
        target[i] += 1
    elif how == "zero":
        target[i] = 0
    elif how == "two":
        target = [-1, -1, *target[2:]] if parts > 1 else [-1, -1]
    elif how == "negative":
        target[i] = -2
    return Case([(None, list(target))], x, lambda: (lambda t: t.reshape(t.shape[0], *target)))


def channel_shuffle(x, groups: int):
    """torchvision.models.shufflenetv2.channel_shuffle, for any rank."""
    batchsize, num_channels, *rest = x.size()
    channels_per_group = num_channels // groups
    x = x.view(batchsize, groups, channels_per_group, *rest)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batchsize, num_channels, *rest)


@case("channel_shuffle")
@st.composite
def _shuffle(draw, kind):
    x = draw(shapes(channels=st.integers(1, 12)))
    groups = draw(pick([1, 2, 3, 4, 6], [5, 0, -1]))
    return Case([(None, groups)], x, lambda: (lambda t: channel_shuffle(t, groups)))


@case("chunk")
@st.composite
def _chunk(draw, kind):
    x = draw(shapes(channels=st.integers(1, 8)))
    r = len(x)
    chunks, index, d = draw(pick([1, 2, 3, 4, 5], [0, -1])), draw(st.integers(-3, 4)), draw(dims_draw(r))
    args = [(None, chunks), (None, index), ("dim", d)]
    return Case(args, x, lambda: (lambda t: t.chunk(chunks, dim_of(r, d))[index]))


# ---- the tests -------------------------------------------------------------------------
def _settings(examples):
    def wrap(test):
        s = settings(max_examples=_EXAMPLES or examples, deadline=None, derandomize=_SEED is None, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors])
        test = s(test)
        return seed(int(_SEED))(test) if _SEED is not None else test
    return wrap


# Kinds with many arguments get more examples.
EXAMPLES = {"conv2d": 300, "conv_transpose2d": 300, "maxpool2d": 250, "avgpool2d": 250, "upsample": 250,
            "zeropad2d": 150, "reshape": 150, "permute": 120, "chunk": 120, "mean": 120, "flatten": 100}


@pytest.mark.parametrize("kind", KINDS)
def test_kind_matches_torch_at_every_rank(kind):
    if kind not in CASES:
        pytest.fail(f"layer kind {kind!r} has no differential case in tests/test_catalogue_torch.py")
    strategy = CASES[kind](kind)

    @_settings(EXAMPLES.get(kind, 60))
    @given(strategy)
    def run(c):
        agree(kind, c)
    run()


def test_every_case_is_a_kind():
    assert set(CASES) - set(KINDS) == set()


def test_the_cases_reach_every_rank_and_compile():
    # The draws above cover ranks 1-4 for every kind (RANK), and every kind with a
    # valid case at some rank was compiled and run (COMPILED_PER_KIND).
    missing = [k for k in KINDS if _compiled.get(k, 0) == 0]
    if len(_compiled) < len(KINDS):
        pytest.skip("run with the differential tests to check this")
    assert missing == []


# ---- the rank table: the ranks each kind accepts, as the issue lists them ------------------
RANKS = {
    "conv2d": {3}, "conv_transpose2d": {3}, "maxpool2d": {3}, "avgpool2d": {3}, "adaptive_maxpool2d": {3},
    "adaptive_avgpool2d": {3, 4}, "global_avgpool": {3, 4},     # to 1x1, torch takes the mean of the last two dims
    "batchnorm2d": {3}, "layernorm2d": {3},
    "batchnorm1d": {1, 2}, "lrn": {2, 3, 4}, "upsample": {2, 3, 4}, "center_crop": {2, 3, 4},
}
_ONE_CALL = {"conv2d": "conv2d(2, 1)", "conv_transpose2d": "conv_transpose2d(2, 1)", "maxpool2d": "maxpool2d(1)",
             "avgpool2d": "avgpool2d(1)", "adaptive_avgpool2d": "adaptive_avgpool2d(1)",
             "adaptive_maxpool2d": "adaptive_maxpool2d(1)", "groupnorm": "groupnorm(1)", "lrn": "lrn(2)",
             "dropout": "dropout(0.5)", "dropout2d": "dropout2d(0.5)", "leaky_relu": "leaky_relu(0.1)",
             "linear": "linear(3)", "upsample": "upsample(scale=2)", "center_crop": "center_crop(1)",
             "zeropad2d": "zeropad2d((1, 1, 0, 0))", "stochastic_depth": "stochastic_depth(0.1)",
             "channel_shuffle": "channel_shuffle(1)", "chunk": "chunk(1, 0)", "transpose": "transpose(0, -1)",
             "reshape": "reshape(-1)", "softmax": "softmax(0)", "mean": "mean(-1)", "flatten": "flatten"}


def accepted_ranks(kind: str) -> set:
    out = set()
    for r in range(1, 5):
        shape = (2,) * r
        if kind == "permute":
            call = f"permute({list(range(r))[::-1]})"
        else:
            call = _ONE_CALL.get(kind, kind)
        head = f"input {list(shape)}" if r <= 3 else f"input [{math.prod(shape)}]\n    reshape({list(shape)})"
        result = check_source(f"network T {{\n    {head}\n    {call}\n}}\n")
        if kind == "mean" and r == 1:
            continue        # mean over the only dim leaves none: not a rank question
        wrong_rank = [d for d in result.diagnostics if d.is_error and d.code is E0307]
        others = [d for d in result.diagnostics if d.is_error and d.code is not E0307]
        assert not others, (kind, r, [d.message for d in others])
        if not wrong_rank:
            out.add(r)
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_rank_table(kind):
    expected = RANKS.get(kind, {2, 3, 4} if kind == "mean" else {1, 2, 3, 4})
    assert accepted_ranks(kind) == expected


@pytest.mark.parametrize("text,message", [
    ("input [4, 5]\n    batchnorm2d", "`batchnorm2d` needs a [C, H, W] input"),
    ("input [4, 5, 5]\n    batchnorm1d", "`batchnorm1d` needs a [C] or [C, L] input"),
    ("input [4]\n    lrn(2)", "`lrn` needs an input with channels and at least one more axis"),
    ("input [4, 5]\n    upsample(scale=2, mode='bilinear')", "`upsample` needs a [C, H, W] input with mode='bili"),
    ("input [4]\n    center_crop(1)", "`center_crop` needs an input with at least two dims"),
    ("input [4, 5]\n    layernorm2d", "`layernorm2d` needs a [C, H, W] input"),
])
def test_wrong_ranks_are_located_e0307_with_help(text, message):
    result = check_source(f"network T {{\n    {text}\n}}\n")
    errors = [d for d in result.diagnostics if d.is_error]
    assert [d.code for d in errors] == [E0307], [d.message for d in errors]
    assert errors[0].message.startswith(message), errors[0].message
    assert errors[0].help and errors[0].primary.line == 3


def test_zeropad2d_on_features_pads_only_left_and_right():
    ok = check_source("network T {\n    input [5]\n    zeropad2d((1, 2, 0, 0))\n}\n")
    assert ok.ok and ok.graph().output_shape == (8,)
    bad = check_source("network T {\n    input [5]\n    zeropad2d(1)\n}\n")
    assert [d.code for d in bad.diagnostics if d.is_error] == [E0307]


# ---- the new and changed kinds through every command ----------------------------------------
SMALL = {
    "hardsigmoid": ("[4, 5, 5]", "hardsigmoid"),
    "stochastic_depth": ("[4, 5, 5]", "stochastic_depth(0.2, mode='batch')"),
    "permute": ("[4, 5, 6]", "permute(1, 2, 0) -> linear(3) -> permute([2, 0, 1])"),
    "transpose": ("[4, 5, 6]", "transpose(0, -1)"),
    "reshape": ("[4, 5, 6]", "reshape([2, -1, 6])"),
    "channel_shuffle": ("[6, 5, 5]", "channel_shuffle(3)"),
    "chunk": ("[6, 5, 5]", "chunk(4, -1)"),
    "mean": ("[4, 5, 6]", "mean([1, 2]) -> linear(2)"),
    "layernorm2d": ("[4, 5, 5]", "layernorm2d(eps=1e-6)"),
    "upsample-linear": ("[4, 5]", "upsample(scale=2, mode='linear')"),
    "upsample-trilinear": ("[24]", "reshape([2, 3, 2, 2]) -> upsample(size=(4, 4, 4), mode='trilinear')"),
    "batchnorm1d-cl": ("[4, 5]", "batchnorm1d(eps=1e-3, momentum=0.01)"),
    "groupnorm-c": ("[4]", "groupnorm(2)"),
    "lrn-cl": ("[4, 5]", "lrn(2)"),
    "zeropad2d-features": ("[5]", "zeropad2d((1, 2, 0, 0))"),
    "center_crop-4d": ("[2, 3, 5, 5]", "center_crop(3)"),
    "global_avgpool-4d": ("[2, 3, 5, 5]", "global_avgpool"),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_new_kinds_check_summarise_render_compile_and_run(name, tmp_path):
    from click.testing import CliRunner

    from netdsl.cli import cli
    shape, line = SMALL[name]
    dims = eval(shape)
    if len(dims) > 3:       # `input` takes 1 to 3 dims
        shape, line = f"[{math.prod(dims)}]", f"reshape({list(dims)}) -> {line}"
    spec = tmp_path / "small.net"
    spec.write_text(f"# netdsl: allow W0404\nnetwork Small {{\n    input {shape}\n    {line}\n}}\n")
    runner = CliRunner()

    def ok(*args):
        res = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
        assert res.exit_code == 0, (args, res.output)
        return res.output

    assert "Small" in ok("check", spec)
    ok("render", spec, "-o", tmp_path / "small.dot")
    ok("compile", spec, "-o", tmp_path / "small.py")
    graph = netdsl.check(str(spec)).graph()
    model = netdsl.load(str(spec))
    x = torch.randn(2, *graph.input_shape)
    for mode in (model.train, model.eval):
        mode()
        assert tuple(model(x).shape) == (2, *graph.output_shape)
    assert sum(p.numel() for p in model.parameters()) == graph.total_params
    ok("summary", spec, "--format", "json", "--explain")
    for convention in ("torchvision", "fvcore", "ptflops", "torchinfo", "thop"):
        ok("summary", spec, "--convention", convention)


# ---- StochasticDepth: the generated helper against torchvision's --------------------------
def _helper_stochastic_depth(p, mode):
    model = netdsl.load(f"network S {{\n    input [3, 4, 4]\n    sd: stochastic_depth({p}, mode='{mode}')\n}}\n")
    return model.sd


@pytest.mark.parametrize("mode", ["row", "batch"])
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_stochastic_depth_helper_is_torchvision_s(p, mode):
    ours, theirs = _helper_stochastic_depth(p, mode), StochasticDepth(p, mode)
    assert repr(ours) == repr(theirs) == f"StochasticDepth(p={p}, mode={mode})"
    assert list(ours.state_dict()) == [] and list(ours.parameters()) == []
    for shape in [(8, 3), (8, 3, 4), (8, 3, 4, 4), (8, 2, 3, 4, 4)]:
        x = torch.randn(*shape)
        ours.eval(), theirs.eval()
        assert ours(x) is x and theirs(x) is x          # the identity in eval
        ours.train(), theirs.train()
        for s in range(5):
            torch.manual_seed(s)
            a = ours(x)
            torch.manual_seed(s)
            b = theirs(x)
            torch.testing.assert_close(a, b, rtol=0, atol=0)
            kept = (a != 0).flatten(1).any(1) if mode == "row" else (a != 0).any().reshape(1)
            # each row (or the whole batch) is either dropped, or kept and scaled by 1/(1 - p)
            for i, keep in enumerate(kept):
                part = (a[i], x[i]) if mode == "row" else (a, x)
                if keep:
                    torch.testing.assert_close(part[0], part[1] / (1 - p))
                else:
                    assert (part[0] == 0).all()
            if p == 0.0:
                assert a is x


def test_stochastic_depth_helper_refuses_what_torchvision_refuses():
    ours = _helper_stochastic_depth(0.5, "row")
    for attr, value in (("p", 1.5), ("p", -0.1), ("mode", "col")):
        setattr(ours, attr, value)
        theirs = StochasticDepth(ours.p, ours.mode)
        for m in (ours.eval(), theirs.eval()):
            with pytest.raises(ValueError):
                m(torch.zeros(2, 3))
        setattr(ours, attr, 0.5 if attr == "p" else "row")
