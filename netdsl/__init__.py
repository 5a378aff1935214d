"""netdsl: a language and compiler for convolutional networks.

    >>> import netdsl
    >>> result = netdsl.check("specs/lenet.net")      # shapes and diagnostics, no torch
    >>> result.graph().output_shape
    (10,)

Checking, summaries and diagrams never import torch; only the compile paths do.
"""
from __future__ import annotations

from .check import CheckResult, check_file, check_source
from .diagnostics import Diagnostic, SpecError

__version__ = "0.1.0"


def check(path_or_source: str, **kw) -> CheckResult:
    """Check a path to a .net file, or spec source text (anything containing a newline or `{`)."""
    if "\n" in path_or_source or "{" in path_or_source:
        return check_source(path_or_source, **kw)
    return check_file(path_or_source, **kw)


__all__ = ["check", "check_file", "check_source", "CheckResult", "Diagnostic", "SpecError", "__version__"]
