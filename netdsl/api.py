"""The public Python API: what `import netdsl` offers, one function per job.

Every function takes a spec as a path (str or pathlib.Path) or as spec text
(see pipeline.is_source_text for how the two are told apart). Checking and the
networkx view never import torch; `load`, `build_source` and `generate` import
it (and the code generator) on first use.
"""
from __future__ import annotations

import sys

from .pipeline import CheckResult, check_file, check_source, is_source_text


def check(spec, **kw) -> CheckResult:
    """Check a .net file or spec text: shapes and diagnostics, no torch.

    Keywords: network, params (dict), input_shape (tuple), include (directories
    imports may come from besides the spec's own; see docs/limits.md). Raises
    SpecIOError (an OSError) when a path cannot be read."""
    result = check_source(spec, **kw) if is_source_text(spec) else check_file(spec, **kw)
    if kw.get("input_shape") is not None and not result.ok:      # an input size tried: is it too small?
        from .backends.advice import input_too_small
        input_too_small(result, tuple(kw["input_shape"]), kw.get("params"))
    return result


def graph(spec, network: str | None = None, *, params: dict | None = None, input_shape: tuple | None = None,
          include=()):
    """One network of the spec as a networkx.DiGraph (docs/render.md lists its attributes).

    The graph is returned even when the spec has shape errors (the failing node's
    `error` attribute says why; downstream shapes are None). Raises SpecError when
    no graph could be built (a syntax error), LookupError when `network` is needed
    or unknown, and SpecIOError when the file cannot be read.
    """
    from .backends.digraph import to_networkx
    return to_networkx(_one_graph(spec, network, params, input_shape, include)[1])


def _one_graph(spec, network, params, input_shape, include):
    """The checked graph of one network (with its errors, if any), as `graph` documents."""
    from .errors import SpecError
    result = check(spec, network=network, params=params, input_shape=input_shape, include=include)
    if not result.graphs:
        if not result.ok:
            raise SpecError(result.diagnostics)
        raise LookupError(f"{'the spec' if is_source_text(spec) else spec} defines no networks")
    return result, result.graph(network)


def summary(spec, network: str | None = None, *, convention: str = "torchvision", batch: int = 1,
            flops: bool = False, depth: int | None = None, explain: bool = False, params: dict | None = None,
            input_shape: tuple | None = None, include=()):
    """`netdsl summary` as an object: `.rows`, `.total_params`, `.total_macs`, ...;
    `str()` is the table; `.to_dict()`, `.to_json()`, `.to_markdown()`, `.to_csv()`.
    A spec with shape errors is summarised up to them (`.ok` is False, `.truncated`
    says whether rows are missing); no graph at all raises SpecError. No torch."""
    from .backends import summary as S
    _, g = _one_graph(spec, network, params, input_shape, include)
    from .backends.costs import CONVENTIONS
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; choose from {', '.join(CONVENTIONS)}")
    return S.build(g, convention=convention, batch=batch, flops=flops, depth=depth, explain=explain)


def sizes(spec, network: str | None = None, *, min: int = 1, max: int = 1024, height: int | None = None,  # noqa: A002
          width: int | None = None, params: dict | None = None, include=()):
    """`netdsl sizes` as an object: which square input sizes from `min` to `max` the
    network accepts, exactly those `check(..., input_shape=...)` finds no error at
    (`.accepted`, `.rejected` size -> reason, `.warned` accepted size -> its warnings,
    such as lost rows, `.smallest`); with
    `height` fixed the width is scanned, and vice versa. `str()` is the CLI's text,
    `.to_dict()` its JSON. Raises SpecError for a spec with errors before any shape."""
    from .backends import sizes as Z
    from .errors import SpecError
    from .frontend.source import Source
    from .program import load, load_path
    if min > max:
        raise ValueError(f"min {min} is larger than max {max}")
    program = load(Source.from_text("<string>", spec), include) if is_source_text(spec) else load_path(spec, include)
    if not program.ok:
        raise SpecError(program.diagnostics)
    names = [network] if network else program.own_networks
    if not names or (network and network not in program.networks):
        raise LookupError(f"no network named {network!r}" if network else "the spec defines no networks")
    if len(names) > 1:
        raise LookupError(f"the spec has several networks ({', '.join(names)}); name one")
    try:
        return Z.scan(program, names[0], params or None, min, max, height=height, width=width)
    except Z.NoImageInput as e:
        if e.diagnostics:
            raise SpecError(list(e.diagnostics)) from None
        raise ValueError(str(e)) from None


def render(spec, path=None, format: str | None = None, *, network: str | None = None,  # noqa: A002
           depth: int | str | None = None, direction: str = "TB", show_params: bool = False,
           params: dict | None = None, input_shape: tuple | None = None, include=(), style: str = "graph"):
    """`netdsl render` as a function: the diagram as text (svg, dot) or bytes (png, pdf)
    when no `path` is given; else written to `path` (atomically, never over the spec
    or a file it imports) and `path` is returned. `format` defaults to the path's
    extension, else svg. A spec with shape errors is drawn with the failing layer in
    red. `depth`: levels of blocks, sequences and loops to draw, "full" (every layer),
    or None: every layer if that fits a page, else the deepest depth that does
    (docs/render.md). Raises RenderError (a NetdslError) when Graphviz is missing or
    fails, or `depth` is neither.

    style="blocks": the paper figure (docs/figure.md), svg or pdf, drawn without
    Graphviz; `depth` folds as for the graph, and None picks the deepest that fits."""
    from .backends import render as R
    if style not in ("graph", "blocks"):
        raise ValueError(f"unknown style {style!r}: graph or blocks")
    result, g = _one_graph(spec, network, params, input_shape, include)
    fmt = R.output_format(str(path), format) if path is not None else (format or "svg").lower()
    source = "<string>" if is_source_text(spec) else str(spec)
    if style == "blocks":
        return _render_figure(result, g, path, fmt, sys.maxsize if R.parse_depth(depth) == "full" else depth, source)
    if fmt not in ("svg", "png", "pdf", "dot"):
        raise ValueError(f"unknown format {format!r}: svg, png, pdf or dot")
    kw = {"depth": depth, "direction": direction, "show_params": show_params}
    if path is None:
        data = R.render_bytes(g, fmt, **kw)
        return data.decode("utf-8") if fmt in ("svg", "dot") else data
    R.render_file(g, str(path), fmt, inputs=list(result.program.files), source=source, **kw)
    return path


def _render_figure(result, g, path, fmt, depth, source):
    from .backends import figure as F
    if fmt not in F.FORMATS:
        raise ValueError(f"unknown format {fmt!r} for the blocks figure: svg or pdf")
    if path is None:
        data = F.render_bytes(g, fmt, depth)
        return data.decode("utf-8") if fmt == "svg" else data
    F.render_file(g, str(path), fmt, inputs=list(result.program.files), depth=depth, source=source)
    return path


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
