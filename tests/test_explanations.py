"""`netdsl explain CODE`: every code is explained, and every explanation's example
really produces its code (rustc's compile_fail doctests)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from netdsl import check_file
from netdsl.cli import cli
from netdsl.diagnostics.codes import CODES, explanation
from netdsl.limits import LIMITS

PACKAGE = Path(__file__).parent.parent / "netdsl"
SECTIONS = ("## What", "## Why", "## Example", "## Fix")

# Examples that need more than `netdsl check FILE` to show their code: a command
# line option, or a resource limit lowered so the example stays short (the
# explanation says so in the example's first comment).
OPTIONS = {"E0208": {"network": "Resnet18"}}
LOWERED = {"E0104": ("max_nesting", 3), "E0108": ("max_tokens", 20), "E0321": ("max_block_depth", 2)}


def example(code: str) -> str:
    text = explanation(code)
    section = text[text.index("## Example"):text.index("## Fix")]
    match = re.search(r"```netdsl\n(.*?)```", section, re.S)
    assert match, f"{code}: the Example section has no ```netdsl block"
    return match.group(1)


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_has_an_explanation_with_all_sections(code):
    text = explanation(code)
    assert text is not None, f"netdsl/explanations/{code}.md is missing"
    assert text.startswith(f"# {code}: ")
    positions = [text.find(s) for s in SECTIONS]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), f"{code}: sections {SECTIONS}"


def test_no_explanation_for_an_unregistered_code():
    files = {p.stem for p in (PACKAGE / "explanations").glob("*.md")}
    assert files - set(CODES) == set()


@pytest.mark.parametrize("code", sorted(CODES))
def test_example_emits_exactly_its_code(code, tmp_path, monkeypatch):
    source = example(code)
    path = tmp_path / f"{code}.net"
    # E0100's example is about the file's encoding: store it as Latin-1.
    path.write_bytes(source.encode("latin-1" if code == "E0100" else "utf-8"))
    if code in LOWERED:
        monkeypatch.setattr(LIMITS, *LOWERED[code])
    result = check_file(str(path), **OPTIONS.get(code, {}))
    codes = [d.code for d in result.diagnostics]
    assert codes and set(codes) == {code}, codes


def test_explain_prints_the_explanation():
    result = CliRunner().invoke(cli, ["explain", "E0301"])
    assert result.exit_code == 0
    assert result.output.startswith("# E0301: ")
    assert "## Fix" in result.output


def test_explain_accepts_lower_case():
    result = CliRunner().invoke(cli, ["explain", "w0401"])
    assert result.exit_code == 0 and "W0401" in result.output


def test_explain_unknown_code_is_a_usage_error():
    result = CliRunner().invoke(cli, ["explain", "E9999"])
    assert result.exit_code == 2


def test_explain_without_a_code_lists_them_all():
    result = CliRunner().invoke(cli, ["explain"])
    assert result.exit_code == 0
    assert all(code in result.output for code in CODES)


def test_every_code_used_in_the_source_is_registered():
    used = set()
    for path in PACKAGE.rglob("*.py"):
        used |= set(re.findall(r"[\"']([EW]0\d{3})[\"']", path.read_text(encoding="utf-8")))
    assert used, "the scan found no codes at all"
    assert used - set(CODES) == set()
