"""Learnable tensors that are not layers: `parameter([c, 1, 1], init=1e-6)`.

ConvNeXt's layer_scale is an nn.Parameter of the block itself, multiplied with the
block's output; its state_dict key has no submodule (`features.1.0.layer_scale`).
In a spec it is an item that reads no tensor and yields the parameter, typically a
branch of a `mul`. Its shape is per sample like every shape (the batch broadcasts),
and generated code holds exactly that tensor.
"""
from __future__ import annotations

import math

from ..diagnostics.codes import E0215
from ..values import shape_text
from .spec import FLOAT, LayerSpec, Param, ParamType, TypeMismatch


class _Dims(ParamType):
    """A shape: a list of 1 to 4 positive integers."""
    describe = "a shape, a list of 1 to 4 positive integers like [64, 1, 1]"

    def coerce(self, v):
        if isinstance(v, tuple) and 1 <= len(v) <= 4 and all(type(x) is int for x in v):
            return v
        raise TypeMismatch(self.describe)


def _shape(a, xs, ctx):
    if any(x < 1 for x in a.shape):
        ctx.error(E0215, f"a parameter's sizes must be positive, got {list(a.shape)}", "shape")
        return None
    return a.shape


PARAMETER = LayerSpec(
    name="parameter", category="parameter", inputs="none",
    doc="A learnable tensor of the enclosing module (nn.Parameter), filled with `init`; reads no input.",
    params=(Param("shape", _Dims(), doc="its shape, e.g. [c, 1, 1]"),
            Param("init", FLOAT, 0.0, "the value every element starts at")),
    shape=_shape, state=lambda a: (a.shape, a.init),
    count_params=lambda a, xs, y: (math.prod(a.shape), 0),
    label=lambda a: "parameter " + shape_text(a.shape),
)

LAYERS = (PARAMETER,)
