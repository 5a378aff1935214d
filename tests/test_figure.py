"""`netdsl render --style blocks`: the paper figure, checked against the course notes.

The expected sizes are written by hand from the notes' figures (fig. 7.6.1, LeNet's
data flow: 6@28×28, 6@14×14, 16@10×10, 16@5×5, then 120, 84, 10; fig. 8.1.2,
AlexNet as the notes build it) and from the window arithmetic, not taken from the
code under test. The SVG is read back with xml.etree and the PDF with a small
parser written here (and pypdf, where it is installed).
"""
from __future__ import annotations

import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

import netdsl
from netdsl.backends import figure as F
from netdsl.cli import cli

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
NOTES_ALEXNET = ROOT / "docs" / "figure" / "alexnet_notes.net"
SVG = "{http://www.w3.org/2000/svg}"

from broken_spec import BROKEN  # noqa: E402  (tests/ is on sys.path under pytest)


def svg_of(spec, **kw) -> ET.Element:
    return ET.fromstring(netdsl.render(str(spec), style="blocks", **kw))


def maps(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") in ("map", "gap")]


def texts(el: ET.Element, role: str) -> list[str]:
    return [t.text for t in el.iter(f"{SVG}text") if t.get("class") == role]


def sizes(root):
    return [(texts(m, "size") or ["\u22ef"])[0] for m in maps(root)]


def kernels(root):
    return [t for g in root.iter(f"{SVG}g") if g.get("class") == "kernel" for t in texts(g, "kernel")]


def captions(root):
    return [texts(m, "caption") for m in maps(root)]


def bbox(g: ET.Element):
    pts = [tuple(map(float, p.split(","))) for poly in g.iter(f"{SVG}polygon") for p in poly.get("points").split()]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return min(xs), min(ys), max(xs), max(ys)


# ---------------------------------------------------------------- the notes' figures

def test_lenet_is_the_notes_data_flow():
    root = svg_of(SPECS / "lenet.net")
    # Fig. 7.6.1: one box per feature map, then the three dense layers.
    assert sizes(root) == ["1@28\u00d728", "6@28\u00d728", "6@14\u00d714", "16@10\u00d710", "16@5\u00d75",
                           "120", "84", "10"]
    # 5×5 convolutions (the first padded by 2), 2×2 average pools of stride 2.
    assert kernels(root) == ["5\u00d75", "2\u00d72, /2", "5\u00d75", "2\u00d72, /2"]
    caps = captions(root)
    assert caps[1] == ["conv 5\u00d75, 6, p2", "sigmoid"]
    assert caps[2] == ["avg pool 2\u00d72"]
    assert caps[5] == ["flatten", "linear 120", "sigmoid"]
    assert caps[7] == ["linear 10"]
    # Maps are boxes (three faces); dense layers are bars thinner than any map.
    widths = [bbox(m)[2] - bbox(m)[0] for m in maps(root)]
    assert all(len(list(m.iter(f"{SVG}polygon"))) == 3 for m in maps(root))
    assert max(widths[5:]) < min(widths[1:5])


def test_alexnet_as_the_notes_build_it():
    root = svg_of(NOTES_ALEXNET)
    # Fig. 8.1.2 (right): 11×11 conv (96), stride 4; 3×3 max pool, stride 2; 5×5 conv (256), pad 2;
    # max pool; three 3×3 convs (384, 384, 256), pad 1; max pool; FC 4096, FC 4096, FC 10.
    # Sizes by hand: (224 + 2 - 11) // 4 + 1 = 54; (54 - 3) // 2 + 1 = 26; (26 - 3) // 2 + 1 = 12; then 5.
    assert sizes(root) == ["1@224\u00d7224", "96@54\u00d754", "96@26\u00d726", "256@26\u00d726", "256@12\u00d712",
                           "384@12\u00d712", "384@12\u00d712", "256@12\u00d712", "256@5\u00d75", "4096", "4096", "10"]
    assert kernels(root) == ["11\u00d711, /4", "3\u00d73, /2", "5\u00d75", "3\u00d73, /2", "3\u00d73", "3\u00d73",
                             "3\u00d73", "3\u00d73, /2"]
    assert [c[0] for c in captions(root)[1:]] == [
        "conv 11\u00d711, 96, s4, p1", "max pool 3\u00d73, s2", "conv 5\u00d75, 256, p2", "max pool 3\u00d73, s2",
        "conv 3\u00d73, 384, p1", "conv 3\u00d73, 384, p1", "conv 3\u00d73, 256, p1", "max pool 3\u00d73, s2",
        "flatten", "linear 4096", "linear 10"]


def test_kernels_are_squares_on_the_map_they_read_with_lines_to_the_map_they_make():
    root = svg_of(SPECS / "lenet.net")
    boxes = [bbox(m) for m in maps(root)]
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "kernel"]
    assert len(groups) == 4
    for k, g in enumerate(groups):
        src, dst = boxes[k], boxes[k + 1]         # maps 0..4 are each made by a window from the one before
        (square,) = g.iter(f"{SVG}polygon")
        corners = [tuple(map(float, p.split(","))) for p in square.get("points").split()]
        assert len(corners) == 4
        assert all(src[0] - 0.01 <= x <= src[2] + 0.01 and src[1] - 0.01 <= y <= src[3] + 0.01 for x, y in corners)
        lines = list(g.iter(f"{SVG}line"))
        assert len(lines) == 4
        ends = {(float(ln.get("x2")), float(ln.get("y2"))) for ln in lines}
        assert len(ends) == 1                       # a pyramid: one apex
        (x, y), = ends
        assert dst[0] - 0.01 <= x <= dst[2] and dst[1] <= y <= dst[3]
    # Windows are drawn to scale on the face they read: conv1's 5×5 on a 28×28 face is larger
    # than pool1's 2×2 on a 28×28 face.
    side = [bbox(g)[3] - bbox(g)[1] for g in groups]
    assert side[0] > side[1]


def test_zoo_alexnet_draws_conv4_and_conv5_and_skips_the_6x6_adaptive_pool():
    root = svg_of(SPECS / "alexnet.net")
    # torchvision's channels: (224 + 4 - 11) // 4 + 1 = 55, 27, 27, 13; conv4 and conv5 are both
    # 256@13×13 but two maps; adaptive_avgpool2d(6) on 6×6 makes no new map.
    assert sizes(root) == ["3@224\u00d7224", "64@55\u00d755", "64@27\u00d727", "192@27\u00d727", "192@13\u00d713",
                           "384@13\u00d713", "256@13\u00d713", "256@13\u00d713", "256@6\u00d76", "4096", "4096", "1000"]
    assert "adaptive avg pool \u2192 6\u00d76" in captions(root)[8]


def test_box_size_grows_with_log_of_the_tensor_size():
    # Every C×H×W map of three networks: a bigger tensor is never drawn smaller, and
    # drawn width + height is affine in ln(C·H·W) (the module's stated scaling).
    points = []
    for spec in (SPECS / "lenet.net", NOTES_ALEXNET, SPECS / "alexnet.net", SPECS / "resnet18.net"):
        for m in maps(svg_of(spec)):
            shape = tuple(map(int, m.get("data-shape").split("x")))
            if len(shape) == 3:
                x0, y0, x1, y1 = bbox(m)
                points.append((math.log(math.prod(shape)), (x1 - x0) + (y1 - y0)))
    points.sort()
    assert len(points) > 30
    for (la, sa), (lb, sb) in zip(points, points[1:]):
        if lb > la + 1e-9:
            assert sb > sa, (la, sa, lb, sb)
        else:
            assert sb == pytest.approx(sa, abs=0.05)
    (l0, s0), (l1, s1) = points[0], points[-1]
    slope = (s1 - s0) / (l1 - l0)
    for lv, sv in points:
        assert sv == pytest.approx(s0 + slope * (lv - l0), abs=0.1)
    # LeNet's 1@28×28 and AlexNet's 3@224×224 both fit on a page: log scaling keeps them within 4x.
    assert s1 / s0 < 4


# ---------------------------------------------------------------- branches, depth, bounds

def test_resnet18_follows_the_residual_path_and_marks_the_add():
    root = svg_of(SPECS / "resnet18.net")
    got = sizes(root)
    assert got[:3] == ["3@224\u00d7224", "64@112\u00d7112", "64@56\u00d756"]
    # Two 3×3 convs per BasicBlock, eight blocks; downsample 1×1s are side branches, not drawn.
    assert got.count("128@28\u00d728") == 4 and got.count("512@7\u00d77") == 4
    assert got[-2:] == ["512@1\u00d71", "1000"]
    assert sum("add" in c for c in captions(root)) == 8


def test_depth_folds_blocks_into_one_map_each():
    root = svg_of(SPECS / "resnet18.net", depth=0)
    assert sizes(root) == ["3@224\u00d7224", "64@112\u00d7112", "64@56\u00d756", "64@56\u00d756", "128@28\u00d728",
                           "256@14\u00d714", "512@7\u00d77", "512@1\u00d71", "1000"]
    assert [c[0] for c in captions(root)[3:7]] == ["layer1", "layer2", "layer3", "layer4"]


def test_googlenet_fits_by_folding_its_inception_blocks():
    notes: list = []
    g = netdsl.check(str(SPECS / "googlenet.net")).graph()
    root = ET.fromstring(F.render_bytes(g, "svg", None, notes))
    assert len(maps(root)) <= F.FIT_MAPS
    # Captions wrap at word boundaries: join a map's lines to read its label.
    assert any(" ".join(c).startswith("inception4a: Inception(192, 96, 208,") for c in captions(root))
    assert notes and "--depth" in notes[0]


def test_densenet121_is_bounded_at_any_depth():
    g = netdsl.check(str(SPECS / "densenet121.net")).graph()
    for depth in (None, 0, 1, 2, 3):
        notes: list = []
        svg = F.render_bytes(g, "svg", depth, notes)
        root = ET.fromstring(svg)
        n = len(maps(root))
        assert n <= F.MAX_MAPS
        assert float(root.get("viewBox").split()[2]) < 8000
        assert len(svg) < 200_000
        if depth is None:
            assert n <= F.FIT_MAPS
    # Full depth has 120 convolutions on the main path: equal runs are folded, the middle left out.
    notes = []
    root = ET.fromstring(F.render_bytes(g, "svg", 3, notes))
    assert any(m.get("class") == "gap" for m in maps(root))
    assert any("left out" in n for n in notes)


def test_every_zoo_spec_draws_a_bounded_well_formed_figure():
    for spec in sorted(SPECS.glob("*.net")):
        root = svg_of(spec)
        assert root.tag == f"{SVG}svg", spec.name
        assert 3 <= len(maps(root)) <= F.FIT_MAPS, spec.name
        width, height = map(float, root.get("viewBox").split()[2:])
        assert width < 5000 and height < 600, spec.name


# ---------------------------------------------------------------- errors

def test_broken_net_draws_the_diagnostic_in_red_and_reports_it(tmp_path):
    spec = tmp_path / "broken.net"
    spec.write_text(BROKEN)
    out = tmp_path / "broken.svg"
    r = CliRunner().invoke(cli, ["render", str(spec), "--style", "blocks", "-o", str(out)])
    assert r.exit_code == 1, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert "error[E0305]" in r.output and "Traceback" not in r.output
    root = ET.fromstring(out.read_text(encoding="utf-8"))
    # Drawn up to the failure: input, the stem, the block's first conv; then the add, in red.
    assert sizes(root) == ["3@32\u00d732", "16@32\u00d732", "16@32\u00d732", "?"]
    last = maps(root)[-1]
    assert " ".join(texts(last, "error")).startswith("E0305: add needs shapes that broadcast")
    assert {p.get("stroke") for p in last.iter(f"{SVG}polygon")} == {"#d62728"}


def test_syntax_error_writes_nothing(tmp_path):
    spec = tmp_path / "bad.net"
    spec.write_text("network N {\n    input [3, 8, 8]\n    conv2d(16, 3\n}\n")
    out = tmp_path / "bad.svg"
    r = CliRunner().invoke(cli, ["render", str(spec), "--style", "blocks", "-o", str(out)])
    assert r.exit_code == 1 and "error[" in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_every_diagnostics_case_draws_without_a_traceback():
    # The golden diagnostics corpus: one broken spec per code. Each network draws, as
    # far as its shapes go; one whose errors left no layers draws the first error.
    drawn = 0
    for spec in sorted((ROOT / "tests" / "diagnostics").glob("*.net")):
        for g in netdsl.check(str(spec)).graphs:
            root = ET.fromstring(F.render_bytes(g, "svg"))
            parse_pdf(F.render_bytes(g, "pdf"))
            if not g.ok:
                assert any(texts(m, "error") for m in maps(root)) or g.output_shape is not None, spec.name
            drawn += 1
    assert drawn > 40


def test_a_network_without_layers_shows_its_first_error():
    text = "network Late {\n    conv2d(4, 3)\n    input [3, 8, 8]\n}\n"
    g = netdsl.check(text).graph()
    assert not g.nodes
    root = ET.fromstring(F.render_bytes(g, "svg"))
    assert " ".join(texts(maps(root)[0], "error")).startswith("E0314")


def test_hostile_names_stay_well_formed_xml_and_pdf():
    text = 'network N {\n    input [3, 8, 8]\n    s: [conv2d(4, 3) -> relu]\n}\n'
    g = netdsl.check(text).graph()
    g.network = 'N<&"\x1b\u202e)(\\'          # as if a name could carry anything
    root = ET.fromstring(F.render_bytes(g, "svg"))
    assert root.find(f"{SVG}title").text.startswith("N<&")
    pdf = parse_pdf(F.render_bytes(g, "pdf"))
    assert pdf["texts"][0].startswith("N<&")


# ---------------------------------------------------------------- PDF

def _unescape(s: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i]
        if c == 0x5C:
            nxt = s[i + 1:i + 4]
            if nxt[:1].isdigit():
                digits = re.match(rb"[0-7]{1,3}", nxt).group()
                out.append(int(digits, 8))
                i += 1 + len(digits)
                continue
            out.append(s[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def parse_pdf(data: bytes) -> dict:
    """Enough of a PDF reader to hold the writer to the format: the header, the
    xref table's offsets (each must land on its object), the trailer, one page
    with a MediaBox, and the content stream (Length exact, Flate), whose text
    operators give the strings drawn."""
    assert data.startswith(b"%PDF-1.")
    assert data.rstrip().endswith(b"%%EOF")
    start = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data).group(1))
    assert data[start:start + 4] == b"xref"
    m = re.match(rb"xref\s+0 (\d+)\s+", data[start:])
    count = int(m.group(1))
    table = data[start + m.end():].split(b"trailer")[0].split(b"\n")
    entries = [e for e in table if e.strip()]
    assert len(entries) == count and entries[0].startswith(b"0000000000 65535 f")
    objects = {}
    for n, e in enumerate(entries[1:], 1):
        offset = int(e[:10])
        head = re.match(rb"(\d+) 0 obj\s", data[offset:])
        assert head and int(head.group(1)) == n, f"xref entry {n} points at {data[offset:offset + 20]!r}"
        end = data.index(b"endobj", offset)
        objects[n] = data[offset + head.end():end]
    trailer = data[data.index(b"trailer", start):]
    assert int(re.search(rb"/Size (\d+)", trailer).group(1)) == count
    root = int(re.search(rb"/Root (\d+) 0 R", trailer).group(1))
    pages = int(re.search(rb"/Pages (\d+) 0 R", objects[root]).group(1))
    kids = re.findall(rb"(\d+) 0 R", re.search(rb"/Kids \[(.*?)\]", objects[pages]).group(1))
    assert len(kids) == 1
    page = objects[int(kids[0])]
    box = [float(v) for v in re.search(rb"/MediaBox \[([^\]]*)\]", page).group(1).split()]
    contents = objects[int(re.search(rb"/Contents (\d+) 0 R", page).group(1))]
    length = int(re.search(rb"/Length (\d+)", contents).group(1))
    body = contents[contents.index(b"stream\n") + 7:]
    assert body[length:].strip() == b"endstream"
    ops = zlib.decompress(body[:length])
    strings = [_unescape(s).decode("cp1252") for s in re.findall(rb"\(((?:[^()\\]|\\.)*)\) Tj", ops)]
    return {"box": box, "ops": ops, "texts": strings}


def test_pdf_is_a_valid_one_page_document_with_the_labels(tmp_path):
    out = tmp_path / "lenet.pdf"
    r = CliRunner().invoke(cli, ["render", str(SPECS / "lenet.net"), "--style", "blocks", "-o", str(out)])
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    pdf = parse_pdf(data)
    for label in ("6@28\u00d728", "16@5\u00d75", "120", "5\u00d75", "2\u00d72, /2", "conv 5\u00d75, 6, p2"):
        assert label in pdf["texts"]
    # The same page as the SVG: one box (three filled paths) per map.
    svg = ET.fromstring(netdsl.render(str(SPECS / "lenet.net"), style="blocks"))
    assert pdf["box"][2:] == [float(v) for v in svg.get("viewBox").split()[2:]]
    assert pdf["ops"].count(b" h B") == sum(1 for _ in svg.iter(f"{SVG}polygon"))


def test_pdf_text_with_parentheses_is_escaped():
    g = netdsl.check(str(SPECS / "googlenet.net")).graph()
    pdf = parse_pdf(F.render_bytes(g, "pdf", 0))
    assert "inception4a: Inception(192, 96, 208, 16, 48, 64)" in " ".join(pdf["texts"])


def test_pdf_reads_with_pypdf_where_installed():
    pypdf = pytest.importorskip("pypdf")
    import io
    g = netdsl.check(str(SPECS / "alexnet.net")).graph()
    reader = pypdf.PdfReader(io.BytesIO(F.render_bytes(g, "pdf")), strict=True)
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "64@55\u00d755" in text and "11\u00d711, /4" in text


# ---------------------------------------------------------------- CLI and API

def test_cli_svg_on_stdout_and_formats(tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["render", str(SPECS / "lenet.net"), "--style", "blocks", "-o", "-"])
    assert r.exit_code == 0 and ET.fromstring(r.output).tag == f"{SVG}svg"
    r = runner.invoke(cli, ["render", str(SPECS / "lenet.net"), "--style", "blocks", "-o", str(tmp_path / "x.png")])
    assert r.exit_code == 2 and "svg or pdf" in r.output and not (tmp_path / "x.png").exists()
    r = runner.invoke(cli, ["render", str(SPECS / "lenet.net"), "--style", "blocks", "--format", "pdf", "-o", "-"])
    assert r.exit_code == 2 and "binary" in r.output


def test_cli_says_which_depth_it_chose_and_obeys_depth(tmp_path):
    runner = CliRunner()
    out = tmp_path / "r50.svg"
    r = runner.invoke(cli, ["render", str(SPECS / "resnet50.net"), "--style", "blocks", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "note: drew blocks nested deeper than 1 as single maps" in r.output
    assert len(maps(ET.fromstring(out.read_text(encoding="utf-8")))) <= F.FIT_MAPS
    r = runner.invoke(cli, ["render", str(SPECS / "resnet18.net"), "--style", "blocks", "--depth", "0", "-o", "-"])
    assert r.exit_code == 0 and "note:" not in r.output
    assert [c[0] for c in captions(ET.fromstring(r.output))[3:7]] == ["layer1", "layer2", "layer3", "layer4"]


def test_cli_never_writes_over_the_spec(tmp_path):
    spec = tmp_path / "n.net"
    spec.write_text("network N {\n    input [3, 8, 8]\n    conv2d(4, 3)\n}\n")
    r = CliRunner().invoke(cli, ["render", str(spec), "--style", "blocks", "--format", "svg", "-o", str(spec)])
    assert r.exit_code == 2
    assert spec.read_text().startswith("network N")


def test_blocks_need_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))       # no `dot` anywhere
    out = tmp_path / "lenet.svg"
    r = CliRunner().invoke(cli, ["render", str(SPECS / "lenet.net"), "--style", "blocks", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "6@28\u00d728" in out.read_text(encoding="utf-8")


def test_api_returns_text_or_bytes_and_writes_paths(tmp_path):
    svg = netdsl.render(str(SPECS / "lenet.net"), style="blocks")
    assert isinstance(svg, str) and "16@10\u00d710" in svg
    pdf = netdsl.render(str(SPECS / "lenet.net"), style="blocks", format="pdf")
    assert isinstance(pdf, bytes) and pdf.startswith(b"%PDF")
    path = netdsl.render(str(SPECS / "lenet.net"), tmp_path / "l.pdf", style="blocks")
    assert Path(path).read_bytes().startswith(b"%PDF")
    with pytest.raises(ValueError, match="svg or pdf"):
        netdsl.render(str(SPECS / "lenet.net"), style="blocks", format="png")
    with pytest.raises(ValueError, match="style"):
        netdsl.render(str(SPECS / "lenet.net"), style="nope")


def test_blocks_import_neither_torch_nor_graphviz_nor_networkx():
    code = ("import sys, netdsl; netdsl.render('specs/resnet18.net', style='blocks'); "
            "netdsl.render('specs/resnet18.net', style='blocks', format='pdf'); "
            "print(sorted(m for m in ('torch', 'graphviz', 'networkx') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.stdout.strip() == "[]"


# ---------------------------------------------------------------- docs/figure.md

DOC_FIGURES = {"lenet": SPECS / "lenet.net", "alexnet": SPECS / "alexnet.net", "resnet18": SPECS / "resnet18.net",
               "googlenet": SPECS / "googlenet.net", "alexnet_notes": NOTES_ALEXNET}


@pytest.mark.parametrize("name", sorted(DOC_FIGURES))
def test_docs_figures_are_what_netdsl_draws(name):
    # The committed SVGs were looked at by hand; NETDSL_UPDATE_GOLDEN=1 rewrites them.
    import os
    page = (ROOT / "docs" / "figure.md").read_text(encoding="utf-8")
    assert f"(figure/{name}.svg)" in page
    path = ROOT / "docs" / "figure" / f"{name}.svg"
    now = netdsl.render(str(DOC_FIGURES[name]), style="blocks")
    if os.environ.get("NETDSL_UPDATE_GOLDEN"):
        path.write_text(now, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == now


def test_cli_default_output_is_beside_the_spec_and_marked(tmp_path):
    spec = tmp_path / "lenet.net"
    spec.write_text((SPECS / "lenet.net").read_text())
    runner = CliRunner()
    r = runner.invoke(cli, ["render", str(spec), "--style", "blocks"])
    assert r.exit_code == 0, r.output
    written = tmp_path / "lenet.svg"
    assert "<!-- Generated by netdsl from" in written.read_text() and ET.parse(written).getroot().tag == f"{SVG}svg"
    assert runner.invoke(cli, ["render", str(spec), "--style", "blocks"]).exit_code == 0     # its own: replaced
    r = runner.invoke(cli, ["render", str(spec), "--style", "blocks", "--format", "pdf"])
    assert r.exit_code == 0 and (tmp_path / "lenet.pdf").read_bytes().startswith(b"%PDF")
    written.write_text("<svg>hand-made</svg>")
    r = runner.invoke(cli, ["render", str(spec), "--style", "blocks"])
    assert r.exit_code == 2 and "netdsl did not write it" in r.output
    assert written.read_text() == "<svg>hand-made</svg>"
