"""Start-up: what `netdsl check` / `summary` import, how netdsl treats the garbage
collector, and the record classes that replaced dataclasses (netdsl/record.py)
behaving as the dataclasses did. Speed itself is measured in bench/, not here."""
from __future__ import annotations

import copy
import gc
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from netdsl import check_source
from netdsl.catalogue import lookup
from netdsl.catalogue.spec import INT, Param
from netdsl.diagnostics import Diagnostic, Label, error
from netdsl.diagnostics.codes import E0101
from netdsl.frontend import ast as A
from netdsl.frontend.source import Source, Span

ROOT = Path(__file__).resolve().parent.parent
RESNET18 = ROOT / "specs" / "resnet18.net"
RESNET50 = ROOT / "specs" / "resnet50.net"


def imported_by(*args) -> set[str]:
    """Every module a `python -m netdsl ARGS` process imported (from -X importtime)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "netdsl", *map(str, args)],
                          capture_output=True, text=True, timeout=60, check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    mods = {ln.rsplit("|", 1)[-1].strip() for ln in proc.stderr.splitlines() if ln.startswith("import time:")}
    assert "netdsl.pipeline" in mods           # importtime really recorded the run
    return mods


HEAVY = {"torch", "torchinfo", "numpy", "lark", "networkx", "graphviz"}


@pytest.mark.parametrize("args", [("check", RESNET18), ("summary", RESNET50)])
def test_text_output_imports_no_json_csv_or_heavy_packages(args):
    mods = imported_by(*args)
    top = {m.split(".")[0] for m in mods}
    assert not top & HEAVY, top & HEAVY
    assert "json" not in mods and "csv" not in mods


@pytest.mark.parametrize("args", [("check", "--format", "json", RESNET18), ("summary", "--format", "json", RESNET50)])
def test_json_output_does_import_json(args):
    assert "json" in imported_by(*args)        # the probe above can see json when it is imported


def run_python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


def test_importing_netdsl_leaves_the_collector_as_it_was():
    out = run_python("import gc\n"
                     "gc.disable(); import netdsl.cli; print(gc.isenabled())")
    assert out == "False"
    # A program's own gc.freeze() (e.g. before fork) is kept: importing netdsl never
    # unfreezes it. (Not an exact freeze count: a dependency's import may free frozen
    # objects of its own, as click 8.4 does.)
    out = run_python("import gc\n"
                     "calls = []\n"
                     "real = gc.unfreeze\n"
                     "gc.unfreeze = lambda: (calls.append(1), real())[1]\n"
                     "keep = [[i] for i in range(1000)]\n"
                     "gc.freeze()\n"
                     "import netdsl.cli\n"
                     "print(gc.isenabled(), calls == [] and gc.get_freeze_count() > 0)")
    assert out == "True True"


def test_main_freezes_only_as_the_program():
    # With argv (a caller embedding the CLI) main leaves the collector alone; run as
    # the program (argv None: console script, python -m) it freezes import-time objects.
    out = run_python("import gc, sys\n"
                     "from netdsl.cli import main\n"
                     "try:\n    main(['check', 'specs/lenet.net'])\nexcept SystemExit:\n    pass\n"
                     "print('after main(argv):', gc.get_freeze_count())\n"
                     "sys.argv = ['netdsl', 'check', 'specs/lenet.net']\n"
                     "try:\n    main()\nexcept SystemExit:\n    pass\n"
                     "print('after main():', gc.isenabled(), gc.get_freeze_count() > 0)")
    assert [ln for ln in out.splitlines() if ln.startswith("after")] == ["after main(argv): 0",
                                                                          "after main(): True True"]


def test_gc_state_after_check_source():
    was = gc.isenabled()
    check_source("network N {\n    input [3, 8, 8]\n    relu\n}\n")
    assert gc.isenabled() == was


# ---- records: the dataclass behaviour they replaced ------------------------------
SRC = Source("x.net", "network N {\n}\n")


def test_ast_nodes_are_immutable_and_compared_by_identity():
    span = Span(SRC, 0, 1)
    a = A.BinOp("+", A.Const(1, span), A.Const(2, span), span)
    with pytest.raises(AttributeError):
        a.op = "-"
    with pytest.raises(AttributeError):
        del a.left
    assert a.op == "+"
    b = A.BinOp(op="+", left=a.left, right=a.right, span=span)          # keywords work too
    assert a != b and a == a and len({a, b}) == 2
    assert A.TupleExpr((), span).brackets == "()" and A.TupleExpr((), span, "[]").brackets == "[]"
    assert repr(A.Var("x", span)) == "Var(name='x', span=x.net:1:1)"
    with pytest.raises(TypeError):
        A.Var("x")                                                      # a missing field is an error
    assert not hasattr(a, "__dict__")


def test_spans_are_values():
    s, t = Span(SRC, 0, 3), Span(SRC, 0, 3)
    assert s == t and hash(s) == hash(t) and len({s, t}) == 1
    assert s != Span(SRC, 0, 4) and s != Span(Source("x.net", SRC.text), 0, 3)   # sources by identity
    with pytest.raises(AttributeError):
        s.start = 1
    assert (s.line, s.column, s.text()) == (1, 1, "net")


def test_labels_and_diagnostics_compare_by_value():
    span = Span(SRC, 0, 3)
    assert Label(span) == Label(span, "", True) and hash(Label(span)) == hash(Label(span, ""))
    assert Label(span) != Label(span, primary=False)
    with pytest.raises(AttributeError):
        Label(span).message = "x"
    d1, d2 = error(E0101, "m", span, "here"), error(E0101, "m", span, "here")
    assert d1 == d2 and d1 is not d2
    d2.notes.append("more")                                             # mutable, each with its own lists
    assert d1 != d2 and d1.notes == []
    with pytest.raises(TypeError):
        hash(d1)
    assert Diagnostic("error", E0101, "m").labels == [] and repr(d1) == "<Diagnostic error E0101 x.net:1:1: m>"


def test_catalogue_records_are_frozen_values():
    conv = lookup("conv2d")
    with pytest.raises(AttributeError):
        conv.name = "x"
    assert conv == lookup("conv") and hash(conv) == hash(lookup("conv2d"))
    assert Param("n", INT) == Param("n", INT) and Param("n", INT).required
    assert Param("n", INT, 3) != Param("n", INT)


def test_graph_records():
    g = check_source("network N {\n    input [3, 8, 8]\n    conv2d(4, 3) -> relu\n}\n").graph()
    node = g.nodes[1]
    assert not hasattr(node, "__dict__")                               # slots: a million nodes stay small
    assert node.explain is not g.nodes[2].explain                      # a fresh list per node
    # one short line each (tests/test_reprs.py), however the scope <-> children cycle runs
    assert repr(g.root) == "<Scope (root): network N, 3\u00d78\u00d78 -> 4\u00d76\u00d76, 2 children>"
    assert repr(g.nodes[1]) == "<Node 1 conv2d: conv2d -> 4\u00d76\u00d76>"
    assert g.root.args == {} and g.root.children[0] is node


def test_frozen_records_copy_and_pickle():
    # As the frozen dataclasses could: the __setattr__ guard must not stop copy or pickle.
    src = Source("x.net", "network N {\n}\n")
    span = Span(src, 0, 7)
    node = A.TupleExpr((A.Const(1, span),), span, "[]")
    for clone in (copy.copy, copy.deepcopy, lambda v: pickle.loads(pickle.dumps(v))):
        s2, l2, n2 = clone(span), clone(Label(span, "m")), clone(node)
        assert (s2.start, s2.end, s2.source.text, s2.text()) == (0, 7, src.text, "network")
        assert l2.message == "m" and l2.span.text() == "network"
        assert n2.brackets == "[]" and n2.items[0].value == 1 and n2.span.text() == "network"
    assert copy.copy(span) == span and copy.copy(lookup("relu")) == lookup("relu")
