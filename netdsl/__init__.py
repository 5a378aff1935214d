"""netdsl: a language and compiler for convolutional networks.

    >>> import netdsl
    >>> result = netdsl.check("specs/lenet.net")      # shapes and diagnostics, no torch
    >>> result.graph().output_shape
    (10,)

Checking, summaries and diagrams never import torch; only the compile paths do.
"""
from __future__ import annotations

from . import collector as _collector

# Importing netdsl creates some 6,000 long-lived objects (see netdsl/collector.py).
with _collector.paused(lasting=True):
    from .check import CheckResult, check_file, check_source, is_source_text
    from .diagnostics import Diagnostic, SpecError

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
