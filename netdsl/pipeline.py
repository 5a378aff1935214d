"""The checking API: source text or a path in, graphs and diagnostics out."""
from __future__ import annotations

import os

from .collector import paused
from .diagnostics import Diagnostic, error
from .diagnostics.allow import Allowances
from .diagnostics.codes import E0104, E0208
from .diagnostics.fixes import keep_working
from .elaborate import AUTO, Declared, elaborate
from .elaborate.replay import Diverged, Replay  # noqa: F401  (for backends/sizes.py)
from .frontend.source import Source
from .ir import Graph
from .program import Program, load, load_path
from .record import Value
from .values import ExpectRelation, record_guards


class CheckResult(Value):
    """Everything `netdsl check` knows about one file."""
    _fields = ("program", "graphs", "diagnostics")
    _defaults = {"graphs": list, "diagnostics": list}

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def graph(self, network: str | None = None) -> Graph:
        if network is None:
            if len(self.graphs) != 1:
                raise LookupError(f"the file has {len(self.graphs)} networks; name one of "
                                  f"{[g.network for g in self.graphs]}")
            return self.graphs[0]
        for g in self.graphs:
            if g.network == network:
                return g
        raise LookupError(f"no network named {network!r}; the file has {[g.network for g in self.graphs]}")

    def __repr__(self) -> str:
        from .record import short
        name = self.program.root.name if self.program is not None and self.program.root is not None else "?"
        nets = ", ".join(short(g.network, 40) for g in self.graphs[:3]) + (", ..." if len(self.graphs) > 3 else "")
        errors = len(self.errors)
        warnings = len(self.diagnostics) - errors
        return (f"<CheckResult {short(name, 60)}: {nets or 'no networks'}; {errors} error{'s' if errors != 1 else ''}, "
                f"{warnings} warning{'s' if warnings != 1 else ''}>")

    def _repr_html_(self):      # Jupyter: the summary table (or the diagnostics)
        import html
        if not self.ok or len(self.graphs) != 1:
            from .diagnostics.render import render_all
            return "<pre>" + html.escape(render_all(self.diagnostics)) + "</pre>"
        from .backends import summary
        return "<pre>" + html.escape(summary.to_text(summary.build(self.graphs[0]))) + "</pre>"

    def _repr_svg_(self):       # Jupyter: show the diagram
        return _graph_svg(self.graph()) if len(self.graphs) == 1 else None


def _graph_svg(graph) -> str:
    from .backends.render import to_svg
    return to_svg(graph)


# The IR's notebook display, given here with CheckResult's: the one place that may reach
# up to the backends (the renderer, when a notebook asks), so the IR itself never does.
Graph._repr_svg_ = _graph_svg


def elaborate_network(program: Program, network: str, params: dict | None = None,
                      input_shape: tuple | None = None, expects: bool = True, stop_when=None,
                      declared=AUTO) -> Graph:
    """One network of a loaded program, expanded and shape-checked (see netdsl/elaborate/).
    `declared`: what held at the declared input (elaborate.Declared); by default found
    when `input_shape` replaces the declared input."""
    return elaborate(program, network, params, input_shape, expects=expects, stop_when=stop_when,
                     declared=declared)


def expand_with_guards(program: Program, network: str, params: dict | None, input_shape: tuple) -> tuple:
    """(graph, guards, declared): one expansion at the declared `input_shape`, noting
    every value read from a shape and every `expect` (values.ExpectRelation), for a
    Replay at other input sizes (elaborate/replay.py); `declared` is what held there,
    for the expansions at other sizes (elaborate.Declared)."""
    record_guards(True)
    try:
        graph = elaborate(program, network, params, input_shape, declared=None)
    finally:
        guards = record_guards(False)
    held = frozenset(g.key for g in guards if isinstance(g, ExpectRelation) and g.held)
    return graph, guards, Declared(tuple(input_shape), held)


def check_program(program: Program, network: str | None = None, params: dict | None = None,
                  input_shape: tuple | None = None, verify_fixes: bool = True) -> CheckResult:
    result = _check_program(program, network, params, input_shape)
    if verify_fixes and any(d.fixes for d in result.diagnostics):
        def recheck(source, text):
            if source is not program.root:      # an edit in an imported file: not re-checked here
                return None
            edited = load(Source.from_text(source.name, text), program.include)
            return check_program(edited, network, params, input_shape, verify_fixes=False).diagnostics
        keep_working(result.diagnostics, recheck)
    return result


def _check_program(program: Program, network: str | None, params: dict | None,
                   input_shape: tuple | None) -> CheckResult:
    result = CheckResult(program, diagnostics=list(program.diagnostics))
    if not program.ok:
        return result
    names = program.own_networks
    allowed = Allowances()
    if network is not None:
        if network not in program.networks:
            from .diagnostics.suggest import suggest
            result.diagnostics.append(error(E0208, f"no network named `{network}`", None,
                                            help=list(suggest(network, program.networks,
                                                              f"networks: {', '.join(program.own_networks) or 'none'}")),
                                            file=program.root.name if program.root else None))
            return result
        names = [network]
    for name in names:
        try:
            g = elaborate_network(program, name, params, input_shape)
        except RecursionError:
            d = error(E0104, f"network `{name}` is nested too deeply to expand", program.networks[name].ast.name_span)
            result.diagnostics.append(d)
            continue
        g.diagnostics = [d for d in g.diagnostics if not allowed.suppresses(d)]
        result.graphs.append(g)
        result.diagnostics.extend(g.diagnostics)
    return result


def check_source(text: str, name: str = "<string>", include=(), **kw) -> CheckResult:
    """Check spec text; its imports resolve against the working directory and `include`."""
    with paused():         # see netdsl/collector.py
        return check_program(load(Source.from_text(name, text), include), **kw)


def check_file(path: str, include=(), **kw) -> CheckResult:
    """Check a file ("-" reads stdin); `include`: more directories imports may come from
    (program/imports.py). Raises SpecIOError if the file cannot be read."""
    with paused():         # see netdsl/collector.py
        return check_program(load_path(path, include), **kw)


def is_source_text(spec) -> bool:
    """Whether an API argument is spec text rather than the path of a .net file.

    A path-like object (pathlib.Path) is a path. A str is text when it holds a
    newline, or a `{` and names no existing file (every spec has a `{`; a file name
    rarely does, and one that exists is taken as the file).
    """
    if isinstance(spec, os.PathLike):
        return False
    if not isinstance(spec, str):
        raise TypeError(f"expected a path or spec text, not {type(spec).__name__}")
    return "\n" in spec or ("{" in spec and not os.path.exists(spec))
