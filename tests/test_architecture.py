"""The package's structure holds: no import cycle anywhere in netdsl/ (counting imports
inside functions too), and the rooms import only downwards (docs/architecture.md)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "netdsl"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports() -> dict[str, set[str]]:
    """Module -> the netdsl modules it imports, wherever the import statement stands."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # `from . import x` may name a submodule
                targets = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in modules else prefix for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != mod:
                    graph[mod].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    graph = imports()
    assert len(graph) > 30 and graph["netdsl.cli"], "the scan found the package's modules"
    assert cycles(graph) == []


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# Rooms, lowest first: a module may import its own room and the rooms below it.
ROOMS = [
    ("support", {"netdsl.record", "netdsl.limits", "netdsl.collector", "netdsl.version", "netdsl.output",
                 "netdsl.cache",
                 "netdsl.frontend.source"}),        # source text and spans: what diagnostics point at
    ("diagnostics", {"netdsl.diagnostics", "netdsl.errors"}),
    ("frontend", {"netdsl.frontend"}),
    ("values", {"netdsl.values", "netdsl.pysource"}),
    ("catalogue", {"netdsl.catalogue"}),
    ("ir", {"netdsl.ir", "netdsl.namespace"}),
    ("program", {"netdsl.program"}),
    ("elaboration", {"netdsl.elaborate"}),
    ("pipeline", {"netdsl.pipeline"}),
    ("backends", {"netdsl.backends"}),
    ("api", {"netdsl.api", "netdsl.hook", "netdsl.cli", "netdsl", "netdsl.__main__"}),
]


def room(module: str) -> int:
    best = None
    for rank, (_, prefixes) in enumerate(ROOMS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (rank, len(prefix))
    assert best is not None, f"{module} belongs to no room: add it to ROOMS and docs/architecture.md"
    return best[0]


def test_rooms_import_only_downwards():
    upward = []
    for mod, targets in imports().items():
        for target in targets:
            if room(target) > room(mod):
                upward.append(f"{mod} -> {target}")
    # The one sanctioned exception: notebook displays. A check result (and a graph)
    # shows itself as a diagram and a summary table (_repr_svg_, _repr_html_),
    # importing the renderer or the summary when a notebook asks.
    assert sorted(upward) == ["netdsl.pipeline -> netdsl.backends.render", "netdsl.pipeline -> netdsl.backends.summary"]


def test_no_backend_reads_the_elaborator_or_the_syntax_tree():
    for mod, targets in imports().items():
        if mod.startswith("netdsl.backends."):
            assert not {t for t in targets if t.startswith(("netdsl.elaborate", "netdsl.frontend"))}, mod
