"""Text as it arrives from editors and other tools: BOMs, CRLF, tabs, bad bytes,
NUL bytes, empty files and 1 MB lines. Locations must point at the right
character, and the caret in the rendering must sit under it."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from netdsl import check_file, check_source
from netdsl.cli import cli
from netdsl.diagnostics.render import render

SPEC = "network N {\n    input [3, 8, 8]\n    conv2d(0, 3)\n}\n"


def write(tmp_path, data: bytes, name="t.net"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def loc(result):
    assert result.diagnostics, "expected a diagnostic"
    d = result.diagnostics[0]
    return d.code, d.primary.line, d.primary.column, d.primary.text()


def caret_target(rendered: str) -> str:
    """The displayed source text above the first `^` run, as the user sees it."""
    lines = rendered.split("\n")
    for i, line in enumerate(lines):
        if "^" in line and " | " in line and i > 0:
            start = line.index("^")
            end = start
            while end < len(line) and line[end] == "^":
                end += 1
            src = lines[i - 1]
            return src[start:end]
    raise AssertionError(f"no caret in:\n{rendered}")


def test_plain_reference():
    assert loc(check_source(SPEC)) == ("E0215", 3, 12, "0")


@pytest.mark.parametrize("encode", [
    lambda s: s.encode(),
    lambda s: b"\xef\xbb\xbf" + s.encode(),
    lambda s: s.replace("\n", "\r\n").encode(),
    lambda s: b"\xef\xbb\xbf" + s.replace("\n", "\r\n").encode(),
    lambda s: s.replace("\n", "\r").encode(),
], ids=["lf", "bom", "crlf", "bom-crlf", "cr"])
def test_bom_and_line_endings_keep_locations(tmp_path, encode):
    result = check_file(str(write(tmp_path, encode(SPEC))))
    assert loc(result) == ("E0215", 3, 12, "0")
    text = render(result.diagnostics[0])
    assert "\r" not in text and "\ufeff" not in text
    assert caret_target(text) == "0"


def test_bom_in_source_text():
    assert loc(check_source("\ufeff" + SPEC)) == ("E0215", 3, 12, "0")


def test_clean_spec_with_bom_and_crlf(tmp_path):
    data = b"\xef\xbb\xbf" + "network N {\n\tinput [3, 8, 8]\n\trelu\n}\n".replace("\n", "\r\n").encode()
    result = check_file(str(write(tmp_path, data)))
    assert result.ok and result.graph().output_shape == (3, 8, 8)


@pytest.mark.parametrize("line,col,target", [
    ("\tconv2d(0, 3)", 9, "0"),
    ("\t\tconv2d(8,\t0)", 13, "0"),
    ("  \t conv2d(8, 3, stride=0)", 18, "stride=0"),
    ("\t \tconv2d(8, 3, padding=\t-1)", 17, "padding=\t-1"),
])
def test_tabs_count_as_one_column_and_the_caret_lands_on_the_character(line, col, target):
    text = f"network N {{\n\tinput [3, 8, 8]\n{line}\n}}\n"
    result = check_source(text)
    _, ln, c, spanned = loc(result)
    assert (ln, c, spanned) == (3, col, target)
    rendered = render(result.diagnostics[0])
    assert "\t" not in rendered
    under = caret_target(rendered)
    assert under[0] == target[0] and under.replace(" ", "") == target.replace("\t", "").replace(" ", "")


def test_tab_caret_exact_display():
    text = "network N {\n\tinput [3, 8, 8]\n\tconv2d(8,\t0)\n}\n"
    rendered = render(check_source(text).diagnostics[0])
    src = next(line for line in rendered.split("\n") if "conv2d" in line)
    caret = next(line for line in rendered.split("\n") if "^" in line)
    assert src.index("0)") == caret.index("^")


@pytest.mark.parametrize("data,offset,line,col", [
    (b"network N {\n  conv2d(8, 3) \xff\n}\n", 27, 2, 16),
    (b"\xef\xbb\xbfnetwork N {\r\n\xc3\r\n}\r\n", 16, 2, 1),
    (b"network \xe2\x82 N {}\n", 8, 1, 9),
    (b"\xed\xa0\x80", 0, 1, 1),                 # an encoded surrogate is not UTF-8
    (b"network N {}\n# caf\xe9\n", 18, 2, 6),   # latin-1 in a comment
])
def test_non_utf8_bytes_name_the_offset_and_the_place(tmp_path, data, offset, line, col):
    path = write(tmp_path, data)
    result = check_file(str(path))
    (d,) = result.diagnostics
    assert d.code == "E0100" and f"offset {offset}" in d.message
    assert (d.primary.line, d.primary.column) == (line, col)
    assert f"0x{data[offset]:02x}" in d.message
    res = CliRunner().invoke(cli, ["check", str(path)])
    assert res.exit_code == 1 and f"offset {offset}" in res.output and "E0100" in res.output


def test_non_utf8_in_an_imported_file(tmp_path):
    write(tmp_path, b"block B() { relu }\n# \xff\n", "lib.net")
    path = write(tmp_path, b'import "lib.net"\nnetwork N {\n    input [3, 8, 8]\n    B()\n}\n')
    (d,) = check_file(str(path)).diagnostics
    assert d.code == "E0100" and "lib.net" in d.message and "offset 21" in d.message
    assert d.primary.line == 2


def test_nul_byte(tmp_path):
    path = write(tmp_path, b"network N {\n    input [3, 8, 8]\x00\n}\n")
    (d,) = check_file(str(path)).diagnostics
    assert d.code == "E0101" and "NUL" in d.message
    assert (d.primary.line, d.primary.column) == (2, 20)
    assert CliRunner().invoke(cli, ["check", str(path)]).exit_code == 1


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n\n", b"   \t  \r\n", b"# only a comment\n",
                                  b"# no newline at the end"])
def test_empty_and_blank_files_are_fine(tmp_path, data):
    path = write(tmp_path, data)
    result = check_file(str(path))
    assert result.ok and result.graphs == [] and result.diagnostics == []
    res = CliRunner().invoke(cli, ["check", str(path)])
    assert res.exit_code == 0 and "no networks" in res.output


def test_one_megabyte_comment_line():
    text = "# " + "x" * 1_000_000 + "\n" + "network N {\n    input [3, 8, 8]\n    relu\n}\n"
    assert check_source(text).ok


def test_one_megabyte_line_with_an_error_at_the_end():
    text = "network N {\n    input [3, 8, 8]\n    let x = " + " " * 1_000_000 + "zzz\n}\n"
    result = check_source(text)
    code, line, col, spanned = loc(result)
    assert (code, line, col, spanned) == ("E0202", 3, 1_000_013, "zzz")
    rendered = render(result.diagnostics[0])
    assert len(rendered) < 2_000, "a long line is shown as a window around the label"
    assert caret_target(rendered) == "zzz" and "\u2026" in rendered


def test_long_line_window_keeps_the_caret_in_the_middle_of_a_line():
    items = ", ".join(["1"] * 5_000)
    text = f"network N {{\n    input [3, 8, 8]\n    let x = [{items}, zzz, {items}]\n}}\n"
    result = check_source(text)
    (d,) = result.diagnostics
    assert d.code == "E0202" and d.primary.column == 14 + 3 * 5_000
    rendered = render(d)
    assert len(rendered) < 2_000 and caret_target(rendered) == "zzz"
    assert rendered.count("\u2026") == 2


def test_non_ascii_identifier_points_at_the_character():
    (d,) = check_source("network Caf\u00e9 {\n}\n").diagnostics
    assert d.code == "E0101" and (d.primary.line, d.primary.column) == (1, 12)
    assert caret_target(render(d)) == "\u00e9"


def test_non_ascii_in_strings_and_comments_is_fine():
    text = (
        "# r\u00e9seau \u2192 \U0001f600\nnetwork N {\n    input [3, 8, 8]  # \u00e9\n    gelu(approximate='tanh')\n}\n"
    )
    assert check_source(text).ok


def test_stdin_with_bom_and_crlf():
    data = b"\xef\xbb\xbf" + SPEC.replace("\n", "\r\n").encode()
    res = CliRunner().invoke(cli, ["check", "-", "--format", "short"], input=data)
    assert res.exit_code == 1
    assert "<stdin>:3:12: error[E0215]" in res.output


# ---- escape sequences in a spec never reach the terminal ---------------------------------
HOSTILE = ('network Evil {\n'
           '    input [3, 8, 8]\n'
           '    relu   # \x1b]52;c;SGVsbG8=\x07\x1b[2K\x1b[1A all good\n'
           '    foo("\x1b[31mred\u202e")\n'
           '}\n')


@pytest.mark.parametrize("args", [["check"], ["check", "--format", "short"], ["summary"], ["summary", "--format", "markdown"],
                                  ["sizes", "--max", "9"], ["render", "--format", "dot", "-o", "-"]])
def test_control_characters_from_a_spec_are_shown_escaped(tmp_path, args):
    from click.testing import CliRunner

    from netdsl.cli import cli
    spec = tmp_path / "evil\x1b[2J.net"
    spec.write_text(HOSTILE, encoding="utf-8")
    if args[0] == "render":
        args = [args[0], str(spec), *args[1:]]
        target = tmp_path / "out.dot"
        args[args.index("-"):] = [str(target)]
    else:
        args = [*args, str(spec)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code in (0, 1), res.output
    shown = res.output              # stdout and stderr, as click 8.2+ records them
    if args[0] == "render":
        shown += target.read_text(encoding="utf-8")
    for bad in ("\x07", "\x1b]", "\x1b[2J", "\x1b[31m", "\u202e"):
        assert bad not in shown, (bad, shown[:400])
    if args[0] == "check" and "--format" not in args:
        assert "\\x1b[31mred\\u202e" in shown             # escaped, not dropped: the user sees what is there
