"""Every public object's repr is one short line, whatever the network's size (a
notebook prints the repr of whatever a cell returns: ResNet-18's used to be 7.6 MB).
Rich displays: the diagram (_repr_svg_) and the summary table (_repr_html_)."""
from __future__ import annotations

from pathlib import Path

import pytest

import netdsl

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.net"))
LIMIT = 200


def _one_short_line(obj):
    text = repr(obj)
    assert "\n" not in text and len(text) <= LIMIT, text[:500]
    return text


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_public_repr_is_one_short_line_on_the_zoo(spec):
    result = netdsl.check(str(spec))
    _one_short_line(result)
    _one_short_line(result.program)
    for g in result.graphs:
        assert _one_short_line(g).startswith(f"<Graph {g.network}: ")
        for node in g.nodes:
            _one_short_line(node)
            if node.spec is not None:
                _one_short_line(node.spec)
                for p in node.spec.params:
                    _one_short_line(p)
        for scope in g.scopes():
            _one_short_line(scope)


def test_reprs_say_what_matters():
    result = netdsl.check(str(SPECS[0].parent / "resnet18.net"))
    g = result.graph()
    assert repr(result) == "<CheckResult " + str(SPECS[0].parent / "resnet18.net") + \
        ": ResNet18; 0 errors, 0 warnings>"
    assert repr(g) == "<Graph ResNet18: 3\u00d7224\u00d7224 -> 1000, 69 layers, 11,689,512 parameters>"
    assert repr(g.scopes()[2]) == "<Scope layer1.0: block BasicBlock, 64\u00d756\u00d756 -> 64\u00d756\u00d756, 6 children>"


def test_a_broken_spec_and_its_diagnostics_have_short_reprs():
    long_name = "n" * 5000
    text = f"network N {{\n    input [3, 8, 8]\n    {long_name}: conv2d(4, 30)\n}}\n"
    result = netdsl.check(text)
    _one_short_line(result)
    assert result.diagnostics
    for d in result.diagnostics:
        assert _one_short_line(d).startswith(f"<Diagnostic error {d.code} ")


def test_rich_displays_for_notebooks():
    result = netdsl.check(str(SPECS[0].parent / "lenet.net"))
    html = result._repr_html_()
    assert html.startswith("<pre>") and "LeNet" in html and "61,706" in html
    svg = result.graph()._repr_svg_()
    assert svg.lstrip().startswith(("<?xml", "<svg")) or "<svg" in svg[:500]
    broken = netdsl.check("network N {\n    input [3, 8, 8]\n    conv2d(4, 30)\n}\n")
    assert "E0301" in broken._repr_html_()
