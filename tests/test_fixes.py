"""Fixes as data (diagnostics/fixes.py): a help line that proposes an edit carries it,
in JSON as `fixes: [{message, edits: [{file, line, column, end_line, end_column, text}]}]`;
a fix is offered only if applying it removes its diagnostic without a new error
anywhere in the file; `check --fix` applies the unambiguous ones atomically and
`--diff` prints them. tests/fix_corpus/ holds the mistakes, each with the edit a
person would make (written here by hand, not produced by netdsl)."""
from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

import netdsl
from netdsl.cli import cli

CORPUS = Path(__file__).resolve().parent / "fix_corpus"
CASES = sorted(CORPUS.glob("*.net"))

# Each corpus file states, in comments at its top, written by hand (never produced by netdsl):
#   # error[E0210] 4:19          every diagnostic (any order): severity, code, line:column of its caret
#   # fix: paddin=1 => padding=1 an edit `check --fix` must make (the text before occurs once in the
#                                body; `\n` is a newline); several lines for several edits
#   # fix: none                  no fix may be offered: the help stays in words
#   # fix: imported              the one fix edits an imported file: --fix lists it, writes nothing
#   # input: 3x32x32             check with this input shape (`check --input`)
#   # help: smallest             some help line contains this text
#   # label: 1:17                some secondary label starts there
# Files it imports live in fix_corpus/lib/.
EXPECT = re.compile(r"^# (error|warning)\[([EW]\d{4})\] (\d+):(\d+)$")


class Case:
    def __init__(self, path: Path):
        self.path, self.name = path, path.stem
        self.text = path.read_text()
        self.diagnostics, self.edits, self.helps, self.labels = [], [], [], []
        self.no_fix, self.imported, self.input = False, False, None
        lines = self.text.split("\n")
        n = 0
        while n < len(lines) and lines[n].startswith("#"):
            line = lines[n]
            m = EXPECT.match(line)
            if m:
                self.diagnostics.append((m[1], m[2], int(m[3]), int(m[4])))
            elif line == "# fix: none":
                self.no_fix = True
            elif line == "# fix: imported":
                self.imported = True
            elif line.startswith("# fix: "):
                old, new = line[len("# fix: "):].replace("\\n", "\n").split(" => ")
                self.edits.append((old, new))
            elif line.startswith("# input: "):
                self.input = tuple(int(x) for x in line[len("# input: "):].split("x"))
            elif line.startswith("# help: "):
                self.helps.append(line[len("# help: "):])
            elif line.startswith("# label: "):
                ln, col = line[len("# label: "):].split(":")
                self.labels.append((int(ln), int(col)))
            n += 1
        self.header, self.body = "\n".join(lines[:n]) + "\n", "\n".join(lines[n:])

    def fixed_text(self) -> str:
        body = self.body
        for old, new in self.edits:
            assert body.count(old) == 1, f"{self.name}: `{old}` must occur once"
            body = body.replace(old, new)
        return self.header + body

    def check(self, path: Path):
        return netdsl.check(str(path), input_shape=self.input)


def _copy(tmp_path: Path, case: Case) -> Path:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    return tmp_path / "corpus" / case.path.name


def _codes(result, errors=True):
    return Counter(d.code for d in result.diagnostics if d.is_error == errors)


def test_the_corpus_is_large_and_every_case_states_its_expectations():
    assert len(CASES) >= 100
    for path in CASES:
        case = Case(path)
        assert case.diagnostics, f"{case.name} states no diagnostics"
        assert [case.no_fix, case.imported, bool(case.edits)].count(True) == 1, \
            f"{case.name}: say `# fix: none`, `# fix: imported` or give the edits"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_diagnostics_are_located_as_expected(path):
    case = Case(path)
    result = case.check(path)
    got = [(d.severity, str(d.code), *d.location()[1:3]) for d in result.diagnostics]
    assert sorted(got) == sorted(case.diagnostics)        # as a multiset: the order is not the point
    helps = [h for d in result.diagnostics for h in d.help]
    for words in case.helps:
        assert any(words in h for h in helps), (words, helps)
    secondary = {(lb.span.line, lb.span.column) for d in result.diagnostics for lb in d.labels if not lb.primary}
    for at in case.labels:
        assert at in secondary, (at, secondary)
    fixes = [f for d in result.diagnostics for f in d.fixes]
    if case.no_fix:
        assert not fixes
    if case.imported:
        assert fixes and all(e.span.source is not result.program.root for f in fixes for e in f.edits)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_every_offered_fix_works(path, tmp_path):
    """Requirement 2, checked from outside: each fix offered, applied on disk (in whichever
    file it edits) and the spec checked afresh, removes its diagnostic and adds no error."""
    case = Case(path)
    spec = _copy(tmp_path, case)
    before = case.check(spec)
    for d in before.diagnostics:
        for fix in d.fixes:
            files = {e.span.source.name for e in fix.edits}
            originals = {name: Path(name).read_text() for name in files}
            try:
                for name in files:
                    text = originals[name]
                    for e in sorted((e for e in fix.edits if e.span.source.name == name),
                                    key=lambda e: -e.span.start):
                        text = text[:e.span.start] + e.text + text[e.span.end:]
                    Path(name).write_text(text)
                after = case.check(spec)
            finally:
                for name, text in originals.items():
                    Path(name).write_text(text)
            counts_before, counts_after = _codes(before, d.is_error), _codes(after, d.is_error)
            assert counts_after[d.code] < counts_before[d.code], (fix.message, after.diagnostics)
            assert all(n <= _codes(before)[c] for c, n in _codes(after).items()), (fix.message, after.diagnostics)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_fix_applies_the_expected_edit_and_really_fixes(path, tmp_path):
    case = Case(path)
    spec = _copy(tmp_path, case)
    before = case.check(spec)
    args = ["check", str(spec), "--fix"] + (["--input", "x".join(map(str, case.input))] if case.input else [])
    res = CliRunner().invoke(cli, args)
    assert spec.read_text() == case.fixed_text(), res.output
    if case.edits:
        assert "fixed:" in res.output
        after = case.check(spec)
        # requirement 2: the fixed diagnostics are gone and nothing new appeared
        assert all(n <= _codes(before)[c] for c, n in _codes(after).items())
        assert sum(_codes(after).values()) + sum(_codes(after, False).values()) < \
            sum(_codes(before).values()) + sum(_codes(before, False).values())
    else:
        assert "nothing to fix" in res.output
        assert ("not written (an imported file)" in res.output) == case.imported


def test_json_carries_fixes_with_their_edits():
    res = CliRunner().invoke(cli, ["check", str(CORPUS / "misspelt_keyword.net"), "--format", "json"])
    d = json.loads(res.output)["diagnostics"][0]
    assert d["code"] == "E0210" and d["help"] == ["did you mean `padding`?"]
    assert d["fixes"] == [{"message": "did you mean `padding`?", "edits": [
        {"file": str(CORPUS / "misspelt_keyword.net"), "line": 6, "column": 19, "end_line": 6, "end_column": 25,
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


@pytest.mark.parametrize("body, warned", [
    ("linear(10)", True),                                        # [8, 4, 4]: a forgotten flatten
    ("channel_shuffle(2)\n    linear(10)", True),               # the axes as they were
    ("permute(1, 2, 0)\n    layernorm(1)\n    linear(10)", False),  # channels-last on purpose (ConvNeXt)
    ("transpose(0, 2)\n    relu\n    linear(10)", False),
    ("flatten(start=1)\n    linear(10)", False),                # [8, 16]: a partial flatten, then per row
])
def test_a_linear_after_the_axes_were_rearranged_is_no_forgotten_flatten(body, warned):
    result = netdsl.check(f"network N {{\n    input [8, 4, 4]\n    {body}\n}}\n")
    assert [d.code for d in result.diagnostics] == (["W0404"] if warned else [])


def test_one_mistake_one_error_for_groups():
    (d,) = netdsl.check(str(CORPUS / "groups_divide_neither.net")).errors
    assert d.message == "groups=4 divides neither the 6 input channels nor the 10 output channels"
    assert d.notes == ["6 % 4 = 2", "10 % 4 = 2"]


def test_an_error_in_a_loop_says_which_iteration():
    (d,) = netdsl.check(str(CORPUS / "error_in_a_loop_names_the_iteration.net")).errors
    assert "in iteration 5 of 5 of the loop at line 9 (c = 1024)" in d.notes


def test_concat_help_names_the_odd_branch_and_torch_s_dim():
    text = ("network N {\n    input [3, 32, 32]\n    concat {\n        conv2d(8, 3, padding=1)\n"
            "        conv2d(8, 3, stride=2, padding=1)\n        conv2d(8, 1)\n        conv2d(8, 1)\n    }\n}\n")
    (d,) = netdsl.check(text).errors
    assert d.code == "E0306" and "concat along the channels (dim 0, torch.cat's dim=1)" in d.message
    assert "branch 2 is 8\u00d716\u00d716" in d.message
    assert d.notes == ["branch 1 gives 8\u00d732\u00d732, as do branches 3 and 4"]
    assert d.help == ["branch 2 makes the map 2\u00d7 smaller than the others: if that is a stray stride, remove it "
                      "there; if intended, downsample branches 1, 3 and 4 by 2 too"]


def test_diff_shows_a_fix_in_an_imported_file_and_fix_does_not_write_it(tmp_path):
    spec = _copy(tmp_path, Case(CORPUS / "import_misspelt_keyword.net"))
    lib = spec.parent / "lib" / "stem.net"
    before = lib.read_text()
    res = CliRunner().invoke(cli, ["check", str(spec), "--diff"])
    assert "-    conv2d(c, 3, paddin=1) -> relu" in res.output.splitlines()
    assert "+    conv2d(c, 3, padding=1) -> relu" in res.output.splitlines()
    res = CliRunner().invoke(cli, ["check", str(spec), "--fix"])
    assert "not written (an imported file): did you mean `padding`?" in res.output
    assert lib.read_text() == before


def test_a_fix_in_an_imported_file_that_would_break_is_not_offered(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "b.net").write_text("block B {\n    conv2dd(8)\n}\n")
    (tmp_path / "main.net").write_text('import "lib/b.net"\nnetwork N {\n    input [3, 8, 8]\n    B\n}\n')
    (d,) = netdsl.check(str(tmp_path / "main.net")).errors
    assert d.help == ["did you mean `conv2d`?"] and d.fixes == []      # conv2d(8) would lack its kernel


def test_help_inside_a_block_holds_for_every_use():
    """Following the projection help of a BasicBlock used at three widths fixes all three
    (the help is in the block's names, not one use's numbers)."""
    text = ("block Basic(c: int, stride: int = 1) {\n    add {\n"
            "        [conv2d(c, 3, stride=stride, padding=1) -> relu -> conv2d(c, 3, padding=1)]\n"
            "        identity\n    }\n}\n\nnetwork N {\n    input [64, 32, 32]\n"
            "    Basic(64)\n    Basic(128, stride=2)\n    Basic(256, stride=2)\n}\n")
    (d,) = netdsl.check(text).errors
    assert d.help[0].startswith("put `conv2d(c, 1, stride=stride)` on branch 2")
    fixed = text.replace("        identity\n", "        conv2d(c, 1, stride=stride)\n")
    assert netdsl.check(fixed).ok
