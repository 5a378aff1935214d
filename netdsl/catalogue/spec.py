"""LayerSpec: everything netdsl knows about one kind of layer, in one place.

Modelled on ONNX operator schemas: parameters with types, defaults and
validation; the shape rule; the torch constructor; the cost model; the diagram
label.  No code outside the catalogue branches on a layer's kind.
"""
from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, Protocol

from ..diagnostics.codes import E0303, E0307
from ..record import Frozen

Shape = tuple  # per-sample shape, e.g. (3, 224, 224) or (4096,)


class REQUIRED:  # sentinel for parameters without a default
    pass


class TypeMismatch(Exception):
    def __init__(self, expected: str):
        super().__init__(expected)
        self.expected = expected


class ParamType:
    """Checks and normalises one argument value. `describe` is shown to users.
    `tensor`: the parameter may also be a tensor reference (`@name`, `in`), read at run
    time: the layer then takes that tensor as one more input, and the argument
    is a TensorRef to it (the shape rule finds its shape among the input shapes)."""

    describe = "a value"
    tensor = False

    def coerce(self, value: Any) -> Any:
        raise NotImplementedError


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class _Int(ParamType):
    describe = "an integer"

    def coerce(self, v):
        if _is_int(v):
            return v
        raise TypeMismatch(self.describe)


class _Float(ParamType):
    describe = "a number"

    def coerce(self, v):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        raise TypeMismatch(self.describe)


class _Bool(ParamType):
    describe = "`true` or `false`"

    def coerce(self, v):
        if isinstance(v, bool):
            return v
        raise TypeMismatch(self.describe)


class _Pair(ParamType):
    """An int, or a pair (h, w) of ints; always normalised to a pair."""
    describe = "an integer or a pair of integers"

    def coerce(self, v):
        if _is_int(v):
            return (v, v)
        if isinstance(v, tuple) and len(v) == 2 and all(_is_int(x) for x in v):
            return v
        raise TypeMismatch(self.describe)


class _Padding(_Pair):
    describe = "an integer, a pair of integers, 'same' or 'valid'"

    def coerce(self, v):
        if v == "valid":
            return (0, 0)
        if v == "same":
            return "same"
        try:
            return super().coerce(v)
        except TypeMismatch:
            raise TypeMismatch(self.describe) from None


class _Choice(ParamType):
    def __init__(self, *options: str):
        self.options = options
        self.describe = "one of " + ", ".join(f"'{o}'" for o in options)

    def coerce(self, v):
        if v in self.options and isinstance(v, str):
            return v
        raise TypeMismatch(self.describe)


class _Optional(ParamType):
    def __init__(self, inner: ParamType):
        self.inner = inner
        self.describe = f"{inner.describe} or none"
        self.tensor = inner.tensor

    def coerce(self, v):
        return None if v is None else self.inner.coerce(v)


class _Ints(ParamType):
    """An int or a tuple of n ints (used for 4-sided padding)."""

    def __init__(self, n: int):
        self.n = n
        self.describe = f"an integer or {n} integers"

    def coerce(self, v):
        if _is_int(v):
            return (v,) * self.n
        if isinstance(v, tuple) and len(v) == self.n and all(_is_int(x) for x in v):
            return v
        raise TypeMismatch(self.describe)


class TensorRef(Frozen):
    """An argument that is another tensor, read at run time (`center_crop(@up)`): the
    layer's input number `index` (0 is the tensor flowing in); `text`: as written."""
    __slots__ = _fields = ("index", "text")


class _SizeOrShape(ParamType):
    """A size (int or pair), or a tensor reference `@name` whose H and W are used."""
    describe = "an integer, a pair of integers or a reference like `@name`"
    tensor = True

    def coerce(self, v):
        if isinstance(v, TensorRef):
            return v
        return PAIR.coerce(v)


class _IntList(ParamType):
    """A list of integers (a shape, or dims), at most `most` of them; a single int is a
    list of one, and a reference `@name` (or `in`) gives that tensor's shape."""

    def __init__(self, most: int, least: int = 0):
        self.most, self.least = most, least
        self.describe = f"an integer or a list of {least} to {most} integers"

    def coerce(self, v):
        from ..values import ShapeValue
        if isinstance(v, ShapeValue):
            v = tuple(v.dims)
        if _is_int(v):
            v = (v,)
        if isinstance(v, tuple) and self.least <= len(v) <= self.most and all(_is_int(x) for x in v):
            return v
        raise TypeMismatch(self.describe)


class _Size(ParamType):
    """An output size: an int (every spatial axis, kept an int as torch takes it), a
    tuple of 1 to 3 ints, one per spatial axis, or a tensor reference to match."""
    describe = "an integer, a list of 1 to 3 integers or a reference like `@name`"
    tensor = True

    def coerce(self, v):
        if isinstance(v, TensorRef) or _is_int(v):
            return v
        if isinstance(v, tuple) and 1 <= len(v) <= 3 and all(_is_int(x) for x in v):
            return v
        raise TypeMismatch(self.describe)


INT, FLOAT, BOOL, PAIR, PADDING = _Int(), _Float(), _Bool(), _Pair(), _Padding()
SIZE_OR_SHAPE, SIZE = _SizeOrShape(), _Size()
Choice, Optional_, Ints, IntList = _Choice, _Optional, _Ints, _IntList


# ---- validation helpers: return an error text or None ------------------------
def positive(v):
    vals = v if isinstance(v, tuple) else (v,)
    return None if all(x is None or x > 0 for x in vals) else "must be positive"


def non_negative(v):
    if isinstance(v, str):
        return None
    vals = v if isinstance(v, tuple) else (v,)
    return None if all(x >= 0 for x in vals) else "must not be negative"


def probability(v):
    return None if 0.0 <= v <= 1.0 else "must be between 0 and 1"


class Param(Frozen):
    """One parameter of a layer kind: its type, default, documentation and check."""
    __slots__ = _fields = ("name", "type", "default", "doc", "aliases", "check", "per_sample_dim")
    _defaults = {"default": REQUIRED, "doc": "", "aliases": (), "check": None, "per_sample_dim": False}
    # per_sample_dim: a dim index counted per sample (torch's is shifted by one: the batch)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def __repr__(self) -> str:
        return f"<Param {self.name}>"


class RuleContext(Protocol):
    """What a shape rule may do besides returning a shape."""

    def error(self, code: str, message: str, at: str | None = None, *,
              notes: tuple = (), help: tuple = (), label: str = "") -> None: ...

    def warn(self, code: str, message: str, at: str | None = None, *,
             notes: tuple = (), help: tuple = (), label: str = "") -> None: ...

    def explain(self, text: str) -> None: ...

    def insert_before(self, text: str, message: str):
        """A help line that carries its edit: insert `text` before this layer's call."""

    def replace_argument(self, at: str, text: str, message: str):
        """A help line carrying the edit that rewrites a literal keyword argument."""

    def remove_argument(self, at: str, message: str):
        """A help line carrying the edit that removes a positional argument."""

    def positional(self, at: str) -> bool:
        """Was argument `at` written without its name?"""

    def producer(self, i: int = 0):
        """The IR node input `i` comes from, or None when the rule runs without a graph."""

    @property
    def in_block(self) -> bool:
        """The layer is inside a block use: help must hold for every use."""

    def written(self, value: int, dim: int = 0) -> str:
        """`value` as help should write it: inside a block, the name that holds it."""


ShapeRule = Callable[[SimpleNamespace, list, RuleContext], Shape | None]


def _no_params(a, xs, y):
    return 0, 0


def _no_macs(a, xs, y):
    return 0


def _no_label(a) -> str:
    return ""


class LayerSpec(Frozen):
    """Everything about one layer kind (see the module docstring). Fields:

    name, doc, params (Params, in positional order), shape (the ShapeRule), category
    (a style and initialisation class: "convolution", "pooling", ...);
    rank: the per-sample rank the input(s) must have, None for any;
    inputs: "one", "many" for merges that take branches, or "none";
    torch: (args, input shapes) -> (class name in torch.nn or a codegen helper,
      constructor kwargs); None for ops that are plain expressions in forward;
    forward: (args, input variable names) -> a Python expression, for those;
    count_params: -> (trainable parameters, buffer elements); macs: MACs in
      torchvision's convention (conv/linear only; the others are backends/costs.py);
    validate: checks between arguments that need no input shape (pool padding <=
      kernel/2); run before `shape`, also when the input shape is unknown;
    window: per spatial axis (kernel extent, stride, padding) for receptive
      fields; None for pointwise layers;
    label: the short diagram label; aliases: other DSL names for the kind;
    state: for a learnable tensor that is no layer (ConvNeXt's layer_scale), args ->
      (shape, fill value): generated code holds it as an nn.Parameter of the module
      around it and uses it as a value. `inputs` is then "none";
    functional: args -> whether this use is a `forward` expression rather than a
      module (upsample to another tensor's run-time size is F.interpolate, as
      torchvision writes it: nn.Upsample only takes a fixed size);
    broadcasts: a merge whose branches broadcast as torch's do (add, mul): a
      `parameter` branch needs no batch dimension there;
    infers: torch's names for what netdsl takes from the incoming shape
      (conv2d's in_channels): written as arguments, they are a torch habit, and the
      fix removes them;
    out_channels: (args, input shapes) -> the output's channels (axis 0), computed by
      arithmetic alone, so that code generation can run it on the symbolic channels
      of a block class's constructor (backends/blockclass.py); None when they are
      no such function of the arguments and input channels (flatten, reshape):
      a block using the kind then gets a class per specialisation;
    out_spatial: (args, input shapes) -> the output's sizes after axis 0 (height and
      width), by arithmetic alone as out_channels, so that a network class computes
      them from its `input_size` (a linear after flatten); None when a kind keeps
      the rank but its sizes are no such function (the class then does not know them);
    passthrough: the output is the input itself (identity): a merge branch that
      is only this is drawn as a skip edge, not a node."""
    __slots__ = _fields = ("name", "doc", "params", "shape", "category", "rank", "inputs", "torch", "forward",
                           "count_params", "macs", "validate", "window", "label", "aliases", "state", "functional",
                           "broadcasts", "infers", "out_channels", "out_spatial", "passthrough")
    _defaults = {"rank": None, "inputs": "one", "torch": None, "forward": None, "count_params": _no_params,
                 "macs": _no_macs, "validate": None, "window": None, "label": _no_label, "aliases": (),
                 "state": None, "functional": None, "broadcasts": False, "infers": (), "out_channels": None,
                 "out_spatial": None, "passthrough": False}

    def __repr__(self) -> str:
        return f"<LayerSpec {self.name}>"

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name or name in p.aliases:
                return p
        return None


def keep_channels(a, xs):
    """LayerSpec.out_channels of a kind that keeps its input's channels."""
    return xs[0][0]


def keep_spatial(a, xs):
    """LayerSpec.out_spatial of a kind that keeps its input's sizes."""
    return tuple(xs[0][1:])


def require_groups_divide(ctx, groups: int, c: int, why: str = "") -> bool:
    """E0303 unless `groups` divides the `c` channels (groupnorm, channel_shuffle; a
    convolution checks both of its channel counts itself), with the groups that would."""
    if c % groups == 0:
        return True
    fits = [g for g in range(1, c + 1) if c % g == 0]
    ctx.error(E0303, f"groups={groups} does not divide the {c} channels", "groups",
              notes=(f"{c} % {groups} = {c % groups}{why}",), help=(f"use groups from {fits[-6:]}",))
    return False


def require_rank(ctx, kind: str, x: tuple, ranks, want: str, help: tuple = ()) -> bool:
    """The rank check of a kind that accepts several per-sample ranks (LayerSpec.rank
    takes one): E0307 unless len(x) is in `ranks` (a tuple, or a range for "r and up").
    `want` says what is accepted, e.g. "a [C] or [C, L] input"."""
    if len(x) in ranks:
        return True
    if isinstance(ranks, range):
        takes = f"ranks {ranks.start} and up"
    else:
        takes = f"rank {ranks[0]} only" if len(ranks) == 1 else "ranks " + " and ".join(map(str, ranks))
    ctx.error(E0307, f"`{kind}` needs {want}, but its input is [{', '.join(map(str, x))}]", None,
              notes=(f"it takes per-sample {takes}; this input has rank {len(x)}",), help=help)
    return False


ANY_RANK = range(1, 1 << 30)      # every per-sample rank netdsl has (shapes have at least one dim)
