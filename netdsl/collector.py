"""When netdsl pauses CPython's cyclic garbage collector, and why.

netdsl makes many objects and few reference cycles: imports create thousands of
lasting classes and functions, and a check builds tokens, AST, nodes and graphs
that live until it returns. The collector would rescan that growing heap again and
again while it is built (check time grew faster than the spec), so it is paused
for these bursts and restored after, as it was found.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def paused(lasting: bool = False):
    """Pause the collector for the block. `lasting`: what the block creates lives as
    long as the process (imports), so it is handed to the oldest generation unscanned
    (freeze + unfreeze) instead of the young-generation pass that re-enabling would
    trigger at once; skipped when the program has frozen objects itself (e.g. before
    forking), as unfreeze would undo that."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if lasting and gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()
