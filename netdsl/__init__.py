"""netdsl: a language and compiler for convolutional networks.

    >>> import netdsl
    >>> result = netdsl.check("specs/lenet.net")      # shapes and diagnostics, no torch
    >>> result.graph().output_shape
    (10,)

The public API is netdsl/api.py, re-exported here. Checking, summaries and
diagrams never import torch; only the compile paths do.
"""
from __future__ import annotations

from . import collector as _collector

# Importing netdsl creates some 6,000 long-lived objects (see netdsl/collector.py).
with _collector.paused(lasting=True):
    from .api import build_source, check, graph, load, render, sizes, summary
    from .diagnostics import Diagnostic
    from .errors import NetdslError, SpecError, SpecIOError
    from .pipeline import CheckResult, check_file, check_source
    from .version import __version__



# The code generator is imported on first use, so `import netdsl` stays light.
def __getattr__(name: str):
    if name in ("generate", "CodegenError"):
        from .backends import codegen
        value = getattr(codegen, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'netdsl' has no attribute {name!r}")


__all__ = [
    "CheckResult",
    "Diagnostic",
    "NetdslError",
    "SpecError",
    "SpecIOError",
    "__version__",
    "build_source",
    "check",
    "check_file",
    "check_source",
    "generate",
    "graph",
    "load",
    "render",
    "sizes",
    "summary",
]
