"""`netdsl explain CODE`: every code is explained, and every explanation's example
really produces its code (rustc's compile_fail doctests)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from netdsl import check_file
from netdsl.cli import cli
from netdsl.diagnostics.codes import REGISTRY as CODES
from netdsl.errors import SpecError
from netdsl.limits import LIMITS

PACKAGE = Path(__file__).parent.parent / "netdsl"
EXPLANATIONS = PACKAGE / "diagnostics" / "explanations"
SECTIONS = ("## What", "## Why", "## Example", "## Fix")

# Examples that need more than `netdsl check FILE` to show their code: a command
# line option, or a resource limit lowered so the example stays short (the
# explanation says so in the example's first comment).
OPTIONS = {"E0208": {"network": "Resnet18"}, "W0406": {"input_shape": (3, 64, 64)}}
# Codes that compiling reports (netdsl compile / netdsl.load), not checking.
COMPILED = {"E0209", "E0220"}
LOWERED = {"E0104": ("max_nesting", 3), "E0108": ("max_tokens", 20), "E0321": ("max_block_depth", 2)}


def explanation(code: str) -> str | None:
    return CODES[code].explanation()


def example(code: str) -> str:
    text = explanation(code)
    section = text[text.index("## Example"):text.index("## Fix")]
    match = re.search(r"```netdsl\n(.*?)```", section, re.S)
    assert match, f"{code}: the Example section has no ```netdsl block"
    return match.group(1)


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_has_an_explanation_with_all_sections(code):
    text = explanation(code)
    assert text is not None, f"netdsl/diagnostics/explanations/{code}.md is missing"
    # the title line is the registry's title: `netdsl explain` and the list agree
    assert text.split("\n", 1)[0] == f"# {code}: {CODES[code].title}"
    positions = [text.find(s) for s in SECTIONS]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), f"{code}: sections {SECTIONS}"


def test_no_explanation_for_an_unregistered_code():
    files = {p.stem for p in EXPLANATIONS.glob("*.md")}
    assert files, f"no explanations found in {EXPLANATIONS}"
    assert files - set(CODES) == set()


@pytest.mark.parametrize("code", sorted(CODES))
def test_example_emits_exactly_its_code(code, tmp_path, monkeypatch):
    source = example(code)
    path = tmp_path / f"{code}.net"
    # E0100's example is about the file's encoding: store it as Latin-1.
    path.write_bytes(source.encode("latin-1" if code == "E0100" else "utf-8"))
    if code in LOWERED:
        monkeypatch.setattr(LIMITS, *LOWERED[code])
    if code in COMPILED:
        import netdsl  # load refuses before it would import torch
        with pytest.raises(SpecError) as info:
            netdsl.load(str(path))
        diagnostics = info.value.diagnostics
    else:
        diagnostics = check_file(str(path), **OPTIONS.get(code, {})).diagnostics
    codes = [d.code for d in diagnostics]
    assert codes and set(codes) == {code}, codes


def test_explain_prints_the_explanation_for_a_terminal():
    result = CliRunner().invoke(cli, ["explain", "E0301"])
    assert result.exit_code == 0
    title = "E0301: kernel or window larger than the padded input"
    assert result.output.startswith(f"{title}\n{'=' * len(title)}\n")
    assert "\nFix\n---\n" in result.output and "```" not in result.output and "#" not in result.output
    assert "\n    network Small {\n" in result.output          # the example, indented
    raw = CliRunner().invoke(cli, ["explain", "E0301", "--markdown"])
    assert raw.output.startswith("# E0301: ") and "## Fix" in raw.output


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


def test_codes_are_named_never_spelt_as_strings():
    # Call sites pass Code objects (a typo is an ImportError); a quoted "E0301" in the
    # package would be a code outside the registry, which Diagnostic refuses.
    spelt = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "codes.py":
            continue
        found = re.findall(r"[\"']([EW]0\d{3})[\"']", path.read_text(encoding="utf-8"))
        if found:
            spelt[str(path.relative_to(PACKAGE))] = found
    assert spelt == {}


def test_a_diagnostic_takes_only_registered_code_objects():
    from netdsl.diagnostics import Diagnostic
    from netdsl.diagnostics.codes import E0301, W0401
    with pytest.raises(TypeError):
        Diagnostic("error", "E0301", "a bare string")
    with pytest.raises(ValueError):
        Diagnostic("warning", E0301, "an error code as a warning")
    assert Diagnostic("warning", W0401, "ok").code == "W0401"


def test_code_ids_are_unique_and_well_formed():
    assert all(re.fullmatch(r"[EW]0\d{3}", c) and CODES[c] == c for c in CODES)
    assert len({c.title for c in CODES.values()}) == len(CODES)


def test_e0220_points_at_the_use_it_cannot_write(tmp_path):
    """A refusal of the code generator is located at the block use it was writing, with
    the language's words for the value (not the interpreter's type name)."""
    import netdsl
    path = tmp_path / "project.net"
    path.write_text(example("E0220"))
    with pytest.raises(SpecError) as info:
        netdsl.load(str(path))
    (d,) = info.value.diagnostics
    assert d.code == "E0220" and "a shape" in d.message and "ShapeValue" not in d.message
    (label,) = d.labels
    line = example("E0220").splitlines().index("    Project(in)") + 1
    assert (label.span.line, label.span.column, label.span.text()) == (line, 5, "Project(in)")
