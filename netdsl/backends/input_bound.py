"""Is a compiled network bound to the input size it was checked at?

Most CNNs are not: convolutions, pools and adaptive pools build the same modules
at any size, and torch runs them on any size the layers accept. A `linear` after
`flatten` is: its in_features are C*H*W, so another size fails deep inside with
torch's "mat1 and mat2 shapes cannot be multiplied". For those networks the
generated forward checks the input first and says what to do instead. (This is
the check of a class written for its compiled values; a network class that takes
`input_size` checks the size it was built for: backends/blockclass.py.)

The test replays the shape rules (elaborate/replay.py) at other sizes and compares
every module's constructor arguments with those at the declared size. The replay
runs without guards, so a spec that branches on `in.h` is judged by the structure
it has at the declared size; this only decides whether forward checks its input.
"""
from __future__ import annotations

from ..ir import Graph
from ..pipeline import Replay

# Offsets tried on every spatial dim at once, each one replay (ResNet-18: ~0.4 ms, on
# the path of every netdsl.load). Floor division hides small ones (LeNet runs at 28 to
# 31; a VGG without its adaptive pool at 224 to 255), so a large one comes first: 64
# changes the map after any downsampling by up to 64; 1 and -1 cover the rest. Two
# accepted sizes with the same modules decide "not bound".
_OFFSETS = (64, 1, -1)


class Bound:
    """The sizes per spatial axis at which the built modules fit: (lo, hi) ranges."""
    __slots__ = ("shape", "ranges")

    def __init__(self, shape: tuple, ranges: list):
        self.shape, self.ranges = shape, ranges


def _fits(graph: Graph, nodes: list, replay: Replay, shape: tuple) -> bool | None:
    """True if the modules built at the declared size are the ones `shape` needs;
    None if the network rejects `shape` anyway."""
    shapes: list = [None] * len(graph.nodes)
    if replay.run(shape, shapes) is not None:
        return None
    for n in nodes:
        ins = [shapes[i] for i in n.inputs]
        if any(s is None for s in ins):
            return False
        if n.spec.torch(n.args, ins) != n.spec.torch(n.args, [graph.nodes[i].shape for i in n.inputs]):
            return False
    return True


def bound_input(graph: Graph) -> Bound | None:
    """None if the modules built for the declared input fit other sizes too (as far as
    the rules say); else, per spatial axis, the range of sizes they fit with the other
    axes as declared. Inputs without spatial dims ([features]) are never bound: their
    one dim is the channel count, which torch's own errors already name."""
    shape = graph.input_shape
    if shape is None or len(shape) < 2 or graph.input is None:
        return None
    nodes = [n for n in graph.nodes if n.has_module and n.spec is not None and n.spec.torch is not None]
    replay = Replay(graph, [], lambda d: d.is_error)
    bound, accepted = False, 0
    for d in _OFFSETS:
        other = (shape[0], *(x + d for x in shape[1:]))
        fits = _fits(graph, nodes, replay, other) if min(other) >= 1 else None
        if fits is False:
            bound = True
            break
        accepted += fits is True
        if accepted == 2:       # the same modules at +64 and +1: not bound
            break
    if not bound:
        return None
    ranges = []
    for axis in range(1, len(shape)):
        def fits(n, axis=axis):
            return _fits(graph, nodes, replay, (*shape[:axis], n, *shape[axis + 1:])) is True
        lo = hi = shape[axis]
        while lo > 1 and lo > shape[axis] - 64 and fits(lo - 1):
            lo -= 1
        while hi < shape[axis] + 64 and fits(hi + 1):
            hi += 1
        ranges.append((lo, hi))
    return Bound(tuple(shape), ranges)
