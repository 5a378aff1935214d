"""Every zoo spec's generated module, structurally (issue 13, requirements 1 and 5):

(a) exactly one class per block definition used, written for any values of its
    parameters, except the blocks listed in EXCEPTIONS, which still get a class per
    use today: the test fails when a new exception appears and when a listed one is
    fixed (then remove it from the list);
(b) it imports only torch, `from torch import nn`, `from collections import
    OrderedDict` and `import math` (what a spec's `ceil` or `log` needs), each exactly
    when the file uses it, and defines nothing it does not use;
(c) it compiles, and `netdsl.load` builds it (on the meta device: only the structure
    is wanted here; tests/test_torch_build.py runs the modules).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import netdsl
from netdsl.backends.codegen import generate

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.net"))

# spec -> {block: why it has a class per use today}: none now. A block that falls back
# again must be listed here, with its reason, for this test to pass.
EXCEPTIONS: dict = {}

# The imports a generated file may have, and the name each one binds.
IMPORTS = {"import torch": "torch", "from torch import nn": "nn",
           "from collections import OrderedDict": "OrderedDict", "import math": "math"}


def _generated(path: Path):
    graphs = list(netdsl.check(str(path)).graphs)
    return graphs, generate(graphs, str(path))


def _classes_of(tree: ast.Module, definition: str) -> tuple[list, list]:
    """(classes written for any values of `definition`'s parameters, classes for one use)."""
    docs = {n.name: ast.get_docstring(n) or "" for n in tree.body if isinstance(n, ast.ClassDef)}
    one = [c for c, doc in docs.items() if doc.startswith(f"The block {definition} for any values")]
    per_use = [c for c, doc in docs.items() if doc.startswith(f"{definition}(")]
    return one, per_use


def test_the_exceptions_name_zoo_specs():
    assert set(EXCEPTIONS) <= {p.stem for p in SPECS}


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_one_class_per_block_definition(path):
    graphs, source = _generated(path)
    tree = ast.parse(source)
    used = sorted({s.definition for g in graphs for s in g.scopes() if s.kind == "block"})
    expected = EXCEPTIONS.get(path.stem, {})
    assert set(expected) <= set(used), f"listed but not used: {sorted(set(expected) - set(used))}"
    for definition in used:
        one, per_use = _classes_of(tree, definition)
        if definition in expected:
            # still true: no class of its own, a class per use instead, with the comment saying why
            assert not one and per_use, f"{definition} has its class now: remove it from EXCEPTIONS"
            assert re.search(rf"^# {re.escape(definition)}: a class per use, because .+\.$", source, re.M)
        else:
            assert one == [definition] and not per_use, (definition, one, per_use)


def _names_used(tree: ast.Module) -> set:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


@pytest.mark.parametrize("block_classes", [True, False], ids=["block_classes", "per_use"])
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_imports_and_definitions_are_exactly_those_used(path, block_classes):
    graphs = list(netdsl.check(str(path)).graphs)
    tree = ast.parse(generate(graphs, str(path), block_classes=block_classes))
    imports = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body[1:1 + len(imports)])   # at the top
    assert set(imports) <= set(IMPORTS) and len(imports) == len(set(imports)), imports
    used = _names_used(tree)
    for statement, name in IMPORTS.items():
        assert (statement in imports) == (name in used), (statement, name in used)
    # every function and class is used, but the networks `__all__` exports
    exported = {g.network for g in graphs}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name not in exported:
            assert node.name in used, f"{node.name} is defined but not used"


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_it_compiles_and_load_builds_it(path):
    torch = pytest.importorskip("torch")
    graphs, source = _generated(path)
    compile(source, str(path), "exec")
    with torch.device("meta"):
        model = netdsl.load(str(path))
    assert type(model).__name__ == graphs[0].network
    assert sum(p.numel() for p in model.parameters()) == graphs[0].total_params
