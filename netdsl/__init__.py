"""netdsl: a language and compiler for convolutional networks.

    >>> import netdsl
    >>> result = netdsl.check("specs/lenet.net")      # shapes and diagnostics, no torch
    >>> result.graph().output_shape
    (10,)

Checking, summaries and diagrams never import torch; only the compile paths do.
"""
from __future__ import annotations

import gc


def _imports_done(collecting: bool) -> None:
    """End a burst of imports made with the collector paused. What they created (classes,
    functions, the catalogue) lives as long as the process: hand it to the oldest
    generation unscanned (freeze + unfreeze), instead of the young-generation pass that
    re-enabling would trigger at once (~0.7 ms here). Skipped when the program froze
    objects itself (e.g. before forking), as unfreeze would undo that."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
    if collecting:
        gc.enable()


# Importing netdsl creates some 6,000 long-lived objects; the collector would rescan
# them again and again while they are being created. Pause it for the imports.
_collecting = gc.isenabled()
gc.disable()
try:
    from .check import CheckResult, check_file, check_source, is_source_text
    from .diagnostics import Diagnostic, SpecError
finally:
    _imports_done(_collecting)

__version__ = "0.1.0"


def check(path_or_source, **kw) -> CheckResult:
    """Check a .net file (a str path or pathlib.Path) or spec source text (see
    check.is_source_text for how the two are told apart)."""
    if is_source_text(path_or_source):
        return check_source(path_or_source, **kw)
    return check_file(path_or_source, **kw)


# The torch-side API is imported on first use, so `import netdsl` never imports torch.
_LAZY = {"load": ("build", "load"), "build_source": ("build", "build_source"),
         "generate": ("codegen", "generate"), "CodegenError": ("codegen", "CodegenError"),
         # netdsl.graph(path) -> networkx.DiGraph; lazy so `import netdsl` skips networkx too.
         "graph": ("graph", "graph")}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'netdsl' has no attribute {name!r}")


__all__ = [
    "CheckResult",
    "Diagnostic",
    "SpecError",
    "__version__",
    "build_source",
    "check",
    "check_file",
    "check_source",
    "generate",
    "graph",
    "load",
]
