"""`netdsl render x.net` and `netdsl compile x.net` without -o: x.svg / x.py beside the spec,
replacing only a file netdsl wrote (it carries netdsl/output.py's mark), never the spec
or a hand-written file, unless --force says so; `-o -` prints."""
from __future__ import annotations

import os
import re
import shutil
import struct
import threading
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from netdsl.cli import cli
from netdsl.output import generated_by_netdsl, mark

ROOT = Path(__file__).resolve().parent.parent
TINY = "network Tiny {\n    input [4]\n    linear(3)\n}\n"
HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz `dot` is not installed")
HAND_WRITTEN = "# my own training script\nprint('hello')\n"


def run(*args, stdin=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=stdin)


@pytest.fixture
def spec(tmp_path, monkeypatch):
    """tiny.net in its own directory; the command runs from another one."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    path = tmp_path / "specs" / "tiny.net"
    path.write_text(TINY)
    return path


def test_compile_writes_beside_the_spec_and_says_so(spec):
    res = run("compile", spec)
    assert res.exit_code == 0, res.output
    target = spec.with_name("tiny.py")
    assert target.read_text().startswith('"""Tiny: PyTorch modules compiled by netdsl from ')
    assert res.stdout == ""                                  # the message is on stderr
    assert res.stderr == f"wrote {target}\n"
    assert os.listdir(Path.cwd()) == []
    assert sorted(os.listdir(spec.parent)) == ["tiny.net", "tiny.py"]      # no temporary file left
    again = run("compile", spec)                             # its own earlier output is replaced
    assert again.exit_code == 0 and again.stderr == f"wrote {target}\n"


def test_compile_leaves_a_hand_written_file_alone_unless_forced(spec):
    target = spec.with_name("tiny.py")
    target.write_text(HAND_WRITTEN)
    res = run("compile", spec)
    assert res.exit_code == 2
    assert res.stderr == (f"error: {target} exists and netdsl did not write it, so it is left alone; "
                          "--force replaces it, -o names another file\n")
    assert target.read_text() == HAND_WRITTEN
    elsewhere = spec.with_name("model.py")
    assert run("compile", spec, "-o", elsewhere).exit_code == 0          # -o is the way out
    assert target.read_text() == HAND_WRITTEN and elsewhere.read_text().startswith('"""Tiny: ')
    forced = run("compile", spec, "--force")
    assert forced.exit_code == 0, forced.output
    assert target.read_text().startswith('"""Tiny: PyTorch modules compiled by netdsl from ')


def test_a_missing_spec_is_reported_as_missing_even_beside_a_hand_written_file(spec):
    spec.with_name("gone.py").write_text(HAND_WRITTEN)
    res = run("compile", spec.with_name("gone.net"))
    assert res.exit_code == 2 and "gone.net" in res.stderr and "did not write" not in res.stderr, res.output
    assert spec.with_name("gone.py").read_text() == HAND_WRITTEN


def test_a_file_mentioning_netdsl_below_its_first_line_is_not_netdsls(spec):
    target = spec.with_name("tiny.py")
    target.write_text('"""My notes.\nPyTorch modules compiled by netdsl from tiny.net, then edited by hand."""\n')
    assert run("compile", spec).exit_code == 2
    assert target.read_text().startswith('"""My notes.')


def test_a_link_to_a_hand_written_file_or_a_fifo_is_left_alone(spec, tmp_path):
    mine = tmp_path / "mine.py"
    mine.write_text(HAND_WRITTEN)
    target = spec.with_name("tiny.py")
    target.symlink_to(mine)
    assert run("compile", spec).exit_code == 2
    assert mine.read_text() == HAND_WRITTEN and target.is_symlink()
    target.unlink()
    os.mkfifo(target)
    done = []
    worker = threading.Thread(target=lambda: done.append(run("compile", spec)), daemon=True)
    worker.start()
    worker.join(60)
    assert done and done[0].exit_code == 2, "reading a FIFO to look for the mark would block"


def test_the_default_name_is_never_the_spec_even_forced(spec):
    odd = spec.with_name("model.py")                         # a spec whose name ends in .py
    odd.write_text(TINY)
    for extra in ([], ["--force"]):
        res = run("compile", odd, *extra)
        assert res.exit_code == 2
        assert res.stderr == f"error: refusing to write {odd}: it is the spec ({odd}); name the output with -o\n"
        assert odd.read_text() == TINY


def test_dash_and_standard_input_print(spec):
    res = run("compile", spec, "-o", "-")
    assert res.exit_code == 0 and res.stdout.startswith('"""Tiny: PyTorch modules compiled by netdsl from ')
    assert not spec.with_name("tiny.py").exists()
    piped = run("compile", "-", stdin=TINY)                  # no name to derive one from: a filter
    assert piped.exit_code == 0 and piped.stdout.startswith('"""Tiny: ')
    dot = run("render", spec, "--format", "dot", "-o", "-")
    assert dot.exit_code == 0 and dot.stdout.startswith("digraph Tiny {")
    assert dot.stdout.endswith("}\n// Generated by netdsl from tiny.net\n")
    assert sorted(os.listdir(spec.parent)) == ["tiny.net"]


def test_render_dot_by_default_name(spec):
    res = run("render", spec, "--format", "dot")
    target = spec.with_name("tiny.dot")
    assert res.exit_code == 0 and res.stderr == f"wrote {target}\n", res.output
    assert target.read_text().endswith("}\n// Generated by netdsl from tiny.net\n")
    assert run("render", spec, "--format", "dot").exit_code == 0
    target.write_text("digraph mine { a -> b }\n")
    assert run("render", spec, "--format", "dot").exit_code == 2
    assert target.read_text() == "digraph mine { a -> b }\n"


@needs_dot
@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_render_by_default_name_follows_the_format(spec, fmt):
    args = ["render", spec] if fmt == "svg" else ["render", spec, "--format", fmt]
    res = run(*args)
    target = spec.with_name(f"tiny.{fmt}")
    assert res.exit_code == 0 and res.stderr == f"wrote {target}\n", res.output
    assert generated_by_netdsl(str(target), fmt)
    first = target.read_bytes()
    assert run(*args).exit_code == 0                         # its own output is replaced
    target.write_bytes(b"a figure someone drew")
    res = run(*args)
    assert res.exit_code == 2 and "netdsl did not write it" in res.stderr
    assert target.read_bytes() == b"a figure someone drew"
    assert run(*args, "--force").exit_code == 0 and target.read_bytes()[:8] == first[:8]


@needs_dot
def test_a_zoo_spec_is_rendered_into_the_current_directory(spec):
    res = run("render", "zoo:lenet")
    assert res.exit_code == 0, res.output
    assert res.stderr == "wrote lenet.svg\n"
    assert os.listdir(Path.cwd()) == ["lenet.svg"]
    assert "<!-- Generated by netdsl from zoo:lenet -->" in Path("lenet.svg").read_text()


# ---- the mark itself keeps each format valid ----------------------------------------------
def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    chunks, at = [], 8
    while at < len(data):
        size, = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + size]
        assert struct.unpack(">I", data[at + 8 + size:at + 12 + size])[0] == zlib.crc32(kind + body), kind
        chunks.append((kind, body))
        at += 12 + size
    return chunks


def test_png_mark_is_a_valid_text_chunk_after_the_header():
    # The smallest PNG: 1x1 grey, one IDAT, as the PNG specification lays it out.
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b""))
    kinds = png_chunks(mark(png, "png", "/x/my net.net"))
    assert kinds[0][0] == b"IHDR"
    assert kinds[1] == (b"tEXt", b"Comment\x00Generated by netdsl from my_net.net")
    assert [k for k, _ in kinds[2:]] == [b"IDAT", b"IEND"]


def test_pdf_mark_moves_no_offset_the_cross_reference_table_records():
    body = b"%PDF-1.5\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    xref_at = len(body)
    pdf = body + (b"xref\n0 2\n0000000000 65535 f \n%010d 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\n"
                  b"startxref\n%d\n%%%%EOF\n" % (9, xref_at))
    marked = mark(pdf, "pdf", "lenet.net")
    assert marked.count(b"\n%Generated by netdsl from lenet.net\n") == 1
    offset = int(re.search(rb"(\d{10}) 00000 n", marked).group(1))
    assert marked[offset:].startswith(b"1 0 obj")
    start = int(re.search(rb"startxref\n(\d+)", marked).group(1))
    assert marked[start:].startswith(b"xref\n")
    assert marked.index(b"%Generated") > marked.index(b"trailer") and marked.endswith(b"%%EOF\n")


def test_svg_mark_is_a_comment_before_the_root_element_whatever_the_file_name():
    svg = b'<?xml version="1.0"?>\n<!-- Title: G -->\n<svg width="1pt"></svg>\n'
    marked = mark(svg, "svg", "a--b-->\n<c>.net")
    assert marked == (b'<?xml version="1.0"?>\n<!-- Title: G -->\n<!-- Generated by netdsl from a-b-___c_.net -->\n'
                      b'<svg width="1pt"></svg>\n')
