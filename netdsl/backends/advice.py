"""Help that needs a backend: an input too small for the network names the smallest
square input it accepts, as `netdsl sizes` finds it (backends/sizes.py's scan),
instead of proposing to shrink the layer where the map ran out."""
from __future__ import annotations

from ..diagnostics.codes import E0301, E0312

# Errors that say the feature map ran out: at a larger input they may go away.
RAN_OUT = frozenset({E0301, E0312})


def input_too_small(result, input_shape: tuple | None, params: dict | None = None) -> None:
    """With an input size given (`check --input 3x32x32`) that a network rejects because
    its map runs out, replace that error's help by the smallest square size the network
    accepts (in place). Nothing changes when the size is not square, the network's
    declared input is not [C, H, W], or no larger size is accepted up to 1024."""
    if input_shape is None or len(input_shape) != 3 or input_shape[1] != input_shape[2]:
        return
    from .sizes import NoImageInput, scan
    n = input_shape[1]
    for g in result.graphs:
        first = next((d for d in g.diagnostics if d.is_error and d.code in RAN_OUT), None)
        if first is None or n >= 1024:
            continue
        try:
            found = scan(result.program, g.network, params, n + 1, 1024)
        except NoImageInput:
            continue
        if found.smallest is None:
            continue
        m = found.smallest
        first.help[:] = [f"the input {'×'.join(map(str, input_shape))} is too small for `{g.network}`: the smallest "
                         f"square input it accepts is {input_shape[0]}×{m}×{m} (`netdsl sizes` lists them all)"]
