"""The public Python API: what `import netdsl` offers, one function per job.

Every function takes a spec as a path (str or pathlib.Path) or as spec text
(see pipeline.is_source_text for how the two are told apart). Checking and the
networkx view never import torch; `load`, `build_source` and `generate` import
it (and the code generator) on first use.
"""
from __future__ import annotations

from .pipeline import CheckResult, check_file, check_source, is_source_text


def check(spec, **kw) -> CheckResult:
    """Check a .net file or spec text: shapes and diagnostics, no torch.

    Keywords: network, params (dict), input_shape (tuple), include (directories
    imports may come from besides the spec's own; see docs/limits.md). Raises
    SpecIOError (an OSError) when a path cannot be read."""
    if is_source_text(spec):
        return check_source(spec, **kw)
    return check_file(spec, **kw)


def graph(spec, network: str | None = None, *, params: dict | None = None, input_shape: tuple | None = None,
          include=()):
    """One network of the spec as a networkx.DiGraph (docs/render.md lists its attributes).

    The graph is returned even when the spec has shape errors (the failing node's
    `error` attribute says why; downstream shapes are None). Raises SpecError when
    no graph could be built (a syntax error), LookupError when `network` is needed
    or unknown, and SpecIOError when the file cannot be read.
    """
    from .backends.digraph import to_networkx
    from .errors import SpecError
    result = check(spec, network=network, params=params, input_shape=input_shape, include=include)
    if not result.graphs:
        if not result.ok:
            raise SpecError(result.diagnostics)
        raise LookupError(f"{'the spec' if is_source_text(spec) else spec} defines no networks")
    return to_networkx(result.graph(network))


def load(spec, network: str | None = None, init: str | None = None, input_shape: tuple | None = None, include=(),
         **params):
    """Build a torch.nn.Module from a spec (see netdsl/backends/build.py)."""
    from .backends.build import load as _load
    return _load(spec, network=network, init=init, input_shape=input_shape, include=include, **params)


def build_source(spec, network: str | None = None, init: str | None = None, input_shape: tuple | None = None,
                 warnings: list | None = None, include=(), **params) -> str:
    """The Python source `netdsl compile` writes for a spec."""
    from .backends.build import build_source as _build_source
    return _build_source(spec, network=network, init=init, input_shape=input_shape, warnings=warnings,
                         include=include, **params)
