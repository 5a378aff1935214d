"""Every graph netdsl builds is a valid IR (netdsl/ir/validate.py): on the zoo, on
every case of both corpora, on the docs' examples and on checks at other input sizes."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from netdsl import check_file, check_source
from netdsl.ir import validate

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.net"))
CORPUS = sorted((ROOT / "tests" / "diagnostics").glob("*.net")) + sorted((ROOT / "tests" / "fuzz_corpus").glob("*"))
_FENCE = re.compile(r"^```netdsl([^\n]*)\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)
EXAMPLES = [m.group(2) for m in _FENCE.finditer((ROOT / "docs" / "language.md").read_text(encoding="utf-8"))]


def assert_valid(result):
    for g in result.graphs:
        assert validate.problems(g) == [], g.network


@pytest.mark.parametrize("path", SPECS + CORPUS, ids=lambda p: p.name)
def test_every_graph_is_valid(path):
    assert_valid(check_file(str(path)))


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_graphs_at_other_input_sizes_are_valid(path):
    # other sizes make shape errors in the middle of real networks, and stand-ins after them
    for size in ((3, 17, 17), (1, 64, 64), (3, 5, 5)):
        assert_valid(check_file(str(path), input_shape=size))


def test_docs_examples_give_valid_graphs():
    assert len(EXAMPLES) >= 20
    for source in EXAMPLES:
        assert_valid(check_source(source))


def test_the_validator_finds_what_it_is_for():
    # The control: break a real graph in each way the validator names.
    g = check_source("network N {\n    input [3, 8, 8]\n    conv2d(4, 3) -> relu\n}\n").graph()
    assert validate.problems(g) == []
    conv, relu = g.nodes[1], g.nodes[2]
    relu.inputs = (5,)
    conv.shape = (4, 0, 6)
    conv.name = None
    found = " | ".join(validate.problems(g))
    for words in ("not all of them earlier", "not a tuple of positive ints", "without a name"):
        assert words in found, found
    bad = check_source("network N {\n    input [3, 8, 8]\n    conv2d(4, 30)\n}\n").graph()
    bad.nodes[1].failure = None
    assert "no shape, no failure" in " ".join(validate.problems(bad))
