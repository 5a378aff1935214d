"""Fixes as data (diagnostics/fixes.py): a help line that proposes an edit carries it,
in JSON as `fixes: [{message, edits: [{file, line, column, end_line, end_column, text}]}]`;
a fix is offered only if applying it removes its diagnostic without a new error
anywhere in the file; `check --fix` applies the unambiguous ones atomically and
`--diff` prints them. tests/fix_corpus/ holds the mistakes, each with the edit a
person would make (written here by hand, not produced by netdsl)."""
from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

import netdsl
from netdsl.cli import cli

CORPUS = Path(__file__).resolve().parent / "fix_corpus"

# file -> [(text before, text after)]: the edits --fix must make, and nothing else.
EXPECTED = {
    "misspelt_layer": [("maxpol2d(2)", "maxpool2d(2)")],
    "misspelt_keyword": [("paddin=1", "padding=1")],
    "alias_suggests_canonical": [("conx(16, 3)", "conv2d(16, 3)")],
    "true_division_in_block": [("conv2d(c / 4, 1)", "conv2d(c // 4, 1)")],
    "forgotten_flatten": [("    linear(120) -> sigmoid", "    flatten -> linear(120) -> sigmoid")],
    "misspelt_norm_keyword": [("momentun=0.01", "momentum=0.01")],
    "misspelt_block": [("ConvBNRelu(32)", "ConvBNReLU(32)")],
    "several_at_once": [("strde=2", "stride=2"), ("-> rellu", "-> relu"), ("conv2d(64 / 2", "conv2d(64 // 2")],
    "fix_would_break": [],
    "batch_dimension_in_input": [("input [1, 1, 28, 28]", "input [1, 28, 28]")],
    "groups_divide_neither": [("groups=4", "groups=2")],
    "error_in_a_loop_names_the_iteration": [],
}


def test_every_corpus_file_has_its_expectation():
    assert sorted(p.stem for p in CORPUS.glob("*.net")) == sorted(EXPECTED)


def _codes(result, errors=True):
    return Counter(d.code for d in result.diagnostics if d.is_error == errors)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fix_applies_the_expected_edit_and_really_fixes(name, tmp_path):
    src = CORPUS / f"{name}.net"
    spec = tmp_path / src.name
    shutil.copy(src, spec)
    before = netdsl.check(str(spec))
    res = CliRunner().invoke(cli, ["check", str(spec), "--fix"])
    text = spec.read_text()
    want = src.read_text()
    for old, new in EXPECTED[name]:
        assert want.count(old) == 1, old
        want = want.replace(old, new)
    assert text == want, res.output
    after = netdsl.check(str(spec))
    if EXPECTED[name]:
        assert "fixed:" in res.output
        # requirement 2: the fixed diagnostics are gone and nothing new appeared
        assert all(after_n <= _codes(before)[c] for c, after_n in _codes(after).items())
        assert sum(_codes(after).values()) + sum(_codes(after, False).values()) < \
            sum(_codes(before).values()) + sum(_codes(before, False).values())
    else:
        assert "nothing to fix" in res.output


def test_json_carries_fixes_with_their_edits():
    res = CliRunner().invoke(cli, ["check", str(CORPUS / "misspelt_keyword.net"), "--format", "json"])
    d = json.loads(res.output)["diagnostics"][0]
    assert d["code"] == "E0210" and d["help"] == ["did you mean `padding`?"]
    assert d["fixes"] == [{"message": "did you mean `padding`?", "edits": [
        {"file": str(CORPUS / "misspelt_keyword.net"), "line": 4, "column": 19, "end_line": 4, "end_column": 25,
         "text": "padding"}]}]


def test_a_fix_that_would_leave_an_error_is_not_offered():
    result = netdsl.check(str(CORPUS / "fix_would_break.net"))
    (d,) = result.errors
    assert d.code == "E0201" and d.help == ["did you mean `conv2d`?"]     # the advice stays, as words
    assert d.fixes == []                    # conv2d(32) would lack its kernel: E0211


def test_diff_prints_the_edits_and_writes_nothing(tmp_path):
    spec = tmp_path / "several.net"
    shutil.copy(CORPUS / "several_at_once.net", spec)
    before = spec.read_text()
    res = CliRunner().invoke(cli, ["check", str(spec), "--diff"])
    assert spec.read_text() == before
    lines = res.output.splitlines()
    assert "-    conv2d(32, 3, strde=2, padding=1) -> rellu" in lines
    assert "+    conv2d(32, 3, stride=2, padding=1) -> relu" in lines
    assert "-    conv2d(64 / 2, 3, padding=1) -> relu" in lines
    assert "+    conv2d(64 // 2, 3, padding=1) -> relu" in lines


def test_fix_refuses_stdin():
    res = CliRunner().invoke(cli, ["check", "-", "--fix"], input=(CORPUS / "misspelt_layer.net").read_text())
    assert res.exit_code == 2 and "use --diff" in res.output


def test_one_warning_per_forgotten_flatten():
    result = netdsl.check(str(CORPUS / "forgotten_flatten.net"))
    assert [d.code for d in result.diagnostics] == ["W0404"]


def test_one_mistake_one_error_for_groups():
    (d,) = netdsl.check(str(CORPUS / "groups_divide_neither.net")).errors
    assert d.message == "groups=4 divides neither the 6 input channels nor the 10 output channels"
    assert d.notes == ["6 % 4 = 2", "10 % 4 = 2"]


def test_an_error_in_a_loop_says_which_iteration():
    (d,) = netdsl.check(str(CORPUS / "error_in_a_loop_names_the_iteration.net")).errors
    assert "in iteration 5 of 5 of the loop at line 7 (c = 1024)" in d.notes


def test_concat_help_names_the_odd_branch_and_torch_s_dim():
    text = ("network N {\n    input [3, 32, 32]\n    concat {\n        conv2d(8, 3, padding=1)\n"
            "        conv2d(8, 3, stride=2, padding=1)\n        conv2d(8, 1)\n        conv2d(8, 1)\n    }\n}\n")
    (d,) = netdsl.check(text).errors
    assert d.code == "E0306" and "concat along the channels (dim 0, torch.cat's dim=1)" in d.message
    assert "branch 2 is 8\u00d716\u00d716" in d.message
    assert d.notes == ["branch 1 gives 8\u00d732\u00d732, as do branches 3 and 4"]
    assert d.help == ["branch 2 makes the map 2\u00d7 smaller than the others: if that is a stray stride, remove it "
                      "there; if intended, downsample branches 1, 3 and 4 by 2 too"]
