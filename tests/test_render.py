"""`netdsl render` and `netdsl.graph`: the diagram is the checker's graph, drawn faithfully.

The DOT is parsed back here (one statement per line, as render.py writes it) and
compared with the IR the checker built, so a wrong edge, shape or cluster fails.
Golden files were inspected by hand; regenerate with NETDSL_UPDATE_GOLDEN=1.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

import netdsl
from netdsl import check_file
from netdsl.backends.render import ERROR_FILL, dot_source, render_bytes
from netdsl.cli import cli

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.net"))
GOLDEN = Path(__file__).parent / "golden" / "render"
HAVE_DOT = subprocess.run(["which", "dot"], capture_output=True, check=False).returncode == 0
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz `dot` is not installed")

# The add's branches disagree (16x32x32 vs 16x16x16): the add is where it breaks.
BROKEN = """\
block Res(c: int) {
    add {
        [conv2d(c, 3, padding=1) -> relu]
        conv2d(c, 1, stride=2)
    }
}

network Broken {
    input [3, 32, 32]
    stem: conv2d(16, 3, padding=1)
    r: Res(16)
    flatten -> linear(10)
}
"""

LOOPS = """\
block Unit(c: int) {
    add {
        [conv2d(c, 3, padding=1) -> relu]
        if false { }
    }
}

network Loopy(n = 3) {
    input [3, 16, 16]
    conv2d(8, 3, padding=1)
    repeat n {
        Unit(8)
    }
    stage: [
        for (c, s) in [(16, 2), (32, 2)] {
            conv2d(c, 3, stride=s, padding=1) -> relu
        }
    ]
    repeat 2 {
        relu
    }
    flatten -> linear(10)
}
"""


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def netdsl_proc(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120, check=False)


# ---- reading DOT back -------------------------------------------------------------
NODE = re.compile(r"^\s*(\w+) \[(.*)\]$")
EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$")
ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s\]]+)')


def attrs(text: str) -> dict:
    return {k: v[1:-1] if v.startswith('"') else v for k, v in ATTR.findall(text)}


def parse_dot(text: str):
    """nodes {id: attrs + cluster}, edges [(u, v, attrs)], clusters {id: (parent, attrs)}.

    Pads (invisible boxes that keep edges off cluster labels) are layout, not content:
    left out, as are the subgraphs that put them on a rank."""
    nodes, edges, clusters, stack = {}, [], {}, []

    def cluster():
        return next((c for c in reversed(stack) if c is not None), None)
    for line in text.splitlines():
        m = re.match(r"^\s*subgraph (cluster_[sl]\d+) \{$", line)
        if m:
            clusters[m.group(1)] = (cluster(), {})
            stack.append(m.group(1))
            continue
        if line.strip().endswith("{") and not line.startswith("digraph"):
            stack.append(None)
            continue
        if line.strip() == "}":
            if stack:
                stack.pop()
            continue
        if stack and stack[-1] and line.strip().startswith(("color=", "label=")) and "->" not in line:
            clusters[stack[-1]][1].update(attrs(line))
            continue
        m = EDGE.match(line)
        if m:
            a = attrs(m.group(3) or "")
            if m.group(1).endswith("_pad"):
                continue
            # dir=back: written upwards (a U's decoder), read as drawn, tail to head.
            edges.append((m.group(2), m.group(1), a) if a.get("dir") == "back" else (m.group(1), m.group(2), a))
            continue
        m = NODE.match(line)
        if m and m.group(1) not in ("graph", "node", "edge") and not m.group(1).endswith("_pad"):
            nodes[m.group(1)] = {**attrs(m.group(2)), "cluster": cluster()}
    return nodes, edges, clusters


def contract_junctions(nodes, edges):
    """The edges a reader sees: u -> (fork dot) -> v is u -> v, labelled as u's edge into the dot."""
    into = {v: (u, a) for u, v, a in edges if v.startswith("j")}
    out = [(into[u][0], v, into[u][1]) if u.startswith("j") else (u, v, a) for u, v, a in edges
           if not v.startswith("j")]
    return {k: a for k, a in nodes.items() if not k.startswith("j")}, out


def dims(shape) -> str:
    return "?" if shape is None else "\u00d7".join(str(d) for d in shape)


def edge_label(a) -> str:
    return a["label"].strip()


# ---- golden files -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["lenet", "resnet18"])
def test_dot_matches_golden_file(name, tmp_path):
    out = tmp_path / f"{name}.dot"
    result = run("render", ROOT / "specs" / f"{name}.net", "-o", out)
    assert result.exit_code == 0, result.output
    golden = GOLDEN / f"{name}.dot"
    written = out.read_bytes()
    mark = f"// Generated by netdsl from {name}.net\n".encode()      # output.py: the file says netdsl wrote it
    assert written.endswith(b"}\n" + mark)
    if os.environ.get("NETDSL_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(written[:-len(mark)])
    assert written[:-len(mark)] == golden.read_bytes(), f"DOT for {name} changed; inspect it, then " \
        "regenerate with NETDSL_UPDATE_GOLDEN=1"


def test_same_spec_gives_byte_identical_dot_in_separate_processes(tmp_path):
    for i in (1, 2):
        proc = netdsl_proc("-m", "netdsl", "render", ROOT / "specs" / "googlenet.net", "-o", tmp_path / f"{i}.dot")
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "1.dot").read_bytes() == (tmp_path / "2.dot").read_bytes()


# ---- structure: the diagram is the checker's graph --------------------------------
def _ancestors(scope) -> list:
    out = []
    while scope is not None:
        out.append(scope)
        scope = scope.parent
    return out



@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_dot_structure_equals_checker_graph(spec):
    result = check_file(str(spec))
    for g in result.graphs:
        nodes, edges, clusters = parse_dot(dot_source(netdsl.graph(str(spec), g.network)))
        nodes, edges = contract_junctions(nodes, edges)
        # A merge branch that is only `identity` is the skip edge itself, not a node.
        consumers = {n.id: [m for m in g.nodes if n.id in m.inputs] for n in g.nodes}
        skipped = {n.id: n.inputs[0] for n in g.layers if n.kind == "identity" and consumers[n.id]
                   and all(m.spec.inputs == "many" for m in consumers[n.id])}
        layer_ids = {f"n{n.id}" for n in g.layers if n.id not in skipped}
        drawn = {k for k in nodes if re.fullmatch(r"n\d+", k)} - {f"n{g.input.id}"}
        # One node per layer, and ids are the IR's sequential ids.
        assert drawn == layer_ids
        # Every IR edge is drawn, labelled with the shape the checker computed for its source.
        want = [(f"n{skipped.get(i, i)}", f"n{n.id}") for n in g.nodes if n.id not in skipped for i in n.inputs]
        want += [(f"n{g.output}", "output")]
        assert sorted((u, v) for u, v, _ in edges) == sorted(want)
        for u, v, a in edges:
            assert edge_label(a) == dims(g.nodes[int(u[1:])].shape), (u, v)
        # Clusters are exactly the block uses, named sequences and repeat/for runs,
        # nested as the scopes are (a loop sits in the scope it runs in).
        scopes = [s for s in g.scopes() if s.parent is not None]
        loops = {lp.id: lp for n in g.nodes for lp, _ in n.loops}
        assert set(clusters) == {f"cluster_s{s.id}" for s in scopes} | {f"cluster_l{i}" for i in loops}

        def scope_above(cluster, clusters=clusters):      # nearest enclosing block/sequence cluster
            parent = clusters[cluster][0]
            while parent is not None and parent.startswith("cluster_l"):
                parent = clusters[parent][0]
            return parent

        def cluster_of(scope):
            return None if scope.parent is None else f"cluster_s{scope.id}"

        for s in scopes:
            label = clusters[f"cluster_s{s.id}"][1]["label"]
            assert scope_above(f"cluster_s{s.id}") == cluster_of(s.parent)
            assert s.name in label and (s.kind != "block" or s.definition in label)
        def home(lp, g=g):  # where the loop runs; a `for` line in a named merge: the merge's branch list
            inside = [n for n in g.nodes if any(x is lp for x, _ in n.loops)]
            lists = {id(s): s for n in inside for s in _ancestors(n.scope) if s.kind == "list" and s.parent is lp.scope}
            holder = [s for s in lists.values() if all(s in _ancestors(n.scope) for n in inside)]
            return holder[0] if holder else lp.scope

        for i, lp in loops.items():
            assert scope_above(f"cluster_l{i}") == cluster_of(home(lp))
            assert clusters[f"cluster_l{i}"][1]["label"].startswith(("repeat", "for"))
        for n in g.layers:
            if n.id in skipped:
                continue
            own = [lp for lp, _ in n.loops if home(lp) is n.scope]
            want_cluster = f"cluster_l{own[-1].id}" if own else cluster_of(n.scope)
            assert nodes[f"n{n.id}"]["cluster"] == want_cluster, n.qualname


def test_repeats_and_loops_are_labelled_clusters(tmp_path):
    spec = tmp_path / "loops.net"
    spec.write_text(LOOPS)
    nodes, _, clusters = parse_dot(dot_source(netdsl.graph(str(spec))))
    labels = {a["label"]: parent for parent, a in clusters.values()}
    assert set(labels) == {"repeat n  \u00d73", "unit: Unit(8)", "unit_1: Unit(8)", "unit_2: Unit(8)", "stage",
                           "for (c, s) in [(16, 2), (32, 2)]  \u00d72", "repeat 2"}
    by_label = {a["label"]: k for k, (_, a) in clusters.items()}
    for unit in ("unit: Unit(8)", "unit_1: Unit(8)", "unit_2: Unit(8)"):
        assert labels[unit] == by_label["repeat n  \u00d73"]
    assert labels["for (c, s) in [(16, 2), (32, 2)]  \u00d72"] == by_label["stage"]
    assert labels["repeat 2"] is None
    relus = [k for k, a in nodes.items() if a["label"] == "relu" and a["cluster"] == by_label["repeat 2"]]
    assert len(relus) == 2
    # --depth counts loops as it counts blocks and sequences. At depth 1 the units are
    # nodes inside their repeat; at depth 0 each top-level loop is one node labelled ×N.
    nodes1, _, clusters1 = parse_dot(dot_source(netdsl.graph(str(spec)), depth=1))
    assert {a["label"] for _, a in clusters1.values()} == {"repeat n  \u00d73", "stage", "repeat 2"}
    units = [a for a in nodes1.values() if a["label"].startswith("unit")]
    assert len(units) == 3 and all(clusters1[a["cluster"]][1]["label"] == "repeat n  \u00d73" for a in units)
    nodes0, _, clusters0 = parse_dot(dot_source(netdsl.graph(str(spec)), depth=0))
    assert clusters0 == {}
    folded = sorted(a["label"].split("\\n")[0] for k, a in nodes0.items() if re.fullmatch(r"[sl]\d+", k))
    assert folded == ["Unit(8)  \u00d73", "relu  \u00d72", "stage"]
    unit = next(a["label"] for a in nodes0.values() if a["label"].startswith("Unit(8)"))
    assert unit.endswith("8\u00d716\u00d716 \u2192 8\u00d716\u00d716")
    layers = [a["label"] for k, a in nodes0.items() if re.fullmatch(r"n\d+", k)]
    assert layers == ["input", "conv 3\u00d73, 8, p1", "flatten", "linear 10"]


def test_resnet18_dot_has_the_stage_shapes_and_a_visible_skip_path(tmp_path):
    out = tmp_path / "r.dot"
    result = run("render", ROOT / "specs" / "resnet18.net", "-o", out)
    assert result.exit_code == 0, result.output
    nodes, edges, clusters = parse_dot(out.read_text(encoding="utf-8"))
    nodes, edges = contract_junctions(nodes, edges)
    labels = {edge_label(a) for _, _, a in edges}
    assert {"64\u00d756\u00d756", "512\u00d77\u00d77", "1000"} <= labels
    # Each residual add has two incoming edges; in layer1.0 the skip comes straight from the max pool.
    adds = [k for k, a in nodes.items() if a["label"] == "add"]
    assert len(adds) == 8
    assert all(sum(v == k for _, v, _ in edges) == 2 for k in adds)
    maxpool = next(k for k, a in nodes.items() if a["label"].startswith("max pool"))
    assert (maxpool, adds[0]) in {(u, v) for u, v, _ in edges}
    # Named clusters: stage sequences and block uses with their arguments.
    cluster_labels = {a["label"] for _, a in clusters.values()}
    assert {"layer1", "layer4", "downsample", "0: BasicBlock(128, stride=2)", "1: BasicBlock(512)"} <= cluster_labels
    # Layer nodes carry the catalogue's labels.
    assert "conv 7\u00d77, 64, s2, p3" in {a["label"] for a in nodes.values()}


def test_googlenet_inception_is_four_labelled_branches_into_one_concat():
    g = check_file(str(ROOT / "specs" / "googlenet.net")).graph()
    nodes, edges, clusters = parse_dot(dot_source(netdsl.graph(str(ROOT / "specs" / "googlenet.net"))))
    concats = [k for k, a in nodes.items() if a["label"] == "concat"]
    assert len(concats) == 9
    first = concats[0]
    incoming = sorted(edge_label(a) for _, v, a in edges if v == first)
    assert incoming == sorted(["64\u00d728\u00d728", "128\u00d728\u00d728", "32\u00d728\u00d728", "32\u00d728\u00d728"])
    inc3a = next(s for s in g.scopes() if s.name == "inception3a")
    assert clusters[f"cluster_s{inc3a.id}"][1]["label"] == "inception3a: Inception(64, 96, 128, 16, 32, 32)"
    branches = {a["label"] for parent, a in clusters.values() if parent == f"cluster_s{inc3a.id}"}
    assert branches == {"branch1: BasicConv2d(64, 1)", "branch2", "branch3", "branch4"}


# ---- depth, direction, params -----------------------------------------------------
def test_depth_collapses_deeper_scopes_into_nodes_with_in_and_out_shapes():
    G = netdsl.graph(str(ROOT / "specs" / "resnet18.net"))
    nodes, edges, clusters = parse_dot(dot_source(G, depth=1, show_params=True))
    assert {a["label"] for _, a in clusters.values()} == {"layer1", "layer2", "layer3", "layer4"}
    blocks = {k: a for k, a in nodes.items() if k.startswith("s")}
    assert len(blocks) == 8
    label = next(a["label"] for a in blocks.values() if a["label"].startswith("0: BasicBlock(128, stride=2)"))
    # in -> out shapes, and the block's parameters summed (torchvision: 230,144 in layer2.0).
    assert "64\u00d756\u00d756 \u2192 128\u00d728\u00d728" in label
    assert "230,144 params" in label
    # Collapsed, the residual internals are gone; the stage-to-stage edge keeps its shape.
    assert not any(a["label"] == "add" for a in nodes.values())
    assert ("512\u00d77\u00d77" in {edge_label(a) for _, _, a in edges})
    # depth 0: no clusters at all, every top-level block/sequence is a node.
    nodes0, _, clusters0 = parse_dot(dot_source(G, depth=0))
    assert clusters0 == {}
    assert {a["label"].split("\\n")[0] for k, a in nodes0.items() if k.startswith("s")} == \
        {"layer1", "layer2", "layer3", "layer4"}


def test_direction_and_format_options(tmp_path):
    out = tmp_path / "diagram.txt"
    result = run("render", ROOT / "specs" / "lenet.net", "-o", out, "--format", "dot", "--direction", "LR")
    assert result.exit_code == 0, result.output
    assert "rankdir=LR" in out.read_text(encoding="utf-8")
    result = run("render", ROOT / "specs" / "lenet.net", "-o", tmp_path / "diagram.jpg")
    assert result.exit_code == 2
    assert "--format" in result.output
    assert not (tmp_path / "diagram.jpg").exists()


# ---- real files from dot ----------------------------------------------------------
@needs_dot
@pytest.mark.parametrize("name", ["resnet18", "googlenet"])
def test_svg_png_pdf_are_valid_files(name, tmp_path):
    out = tmp_path / f"{name}.svg"
    result = run("render", ROOT / "specs" / f"{name}.net", "-o", out)
    assert result.exit_code == 0, result.output
    root = ET.fromstring(out.read_bytes())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {"".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert "output" in texts and "input" in texts
    G = netdsl.graph(str(ROOT / "specs" / f"{name}.net"))
    assert render_bytes(G, "png").startswith(b"\x89PNG\r\n\x1a\n")
    assert render_bytes(G, "pdf").startswith(b"%PDF-")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.svg"]    # no temp files left


@needs_dot
def test_jupyter_repr_is_the_svg_diagram():
    svg = check_file(str(ROOT / "specs" / "lenet.net"))._repr_svg_()
    assert ET.fromstring(svg.encode()).tag.endswith("svg")
    assert "linear 120" in svg


# ---- invalid specs still render ---------------------------------------------------
def test_invalid_spec_renders_with_the_failing_node_red_and_exit_1(tmp_path):
    spec = tmp_path / "broken.net"
    spec.write_text(BROKEN)
    out = tmp_path / "broken.dot"
    result = run("render", spec, "-o", out)
    assert result.exit_code == 1
    # Diagnostics exactly as `check` prints them.
    checked = run("check", spec, "--color", "never")
    diag_text = checked.output.split("\n\n")[0]
    assert "error[E0305]" in diag_text
    assert diag_text in result.output
    nodes, edges, _ = parse_dot(out.read_text(encoding="utf-8"))
    red = [k for k, a in nodes.items() if a.get("fillcolor") == ERROR_FILL]
    assert len(red) == 1
    assert nodes[red[0]]["label"].startswith("add\\nE0305: add needs shapes that broadcast\\n")
    # Upstream shapes are known, downstream ones are "?".
    by_target = {v: edge_label(a) for u, v, a in edges if u == red[0]}
    assert set(by_target.values()) == {"?"}
    into_add = sorted(edge_label(a) for u, v, a in edges if v == red[0])
    assert into_add == ["16\u00d716\u00d716", "16\u00d732\u00d732"]
    assert edge_label(next(a for u, v, a in edges if v == "output")) == "?"


def test_graph_api_marks_the_failing_node(tmp_path):
    spec = tmp_path / "broken.net"
    spec.write_text(BROKEN)
    G = netdsl.graph(str(spec))
    failing = [n for n, a in G.nodes(data=True) if a["error"]]
    assert len(failing) == 1
    a = G.nodes[failing[0]]
    assert a["kind"] == "add" and a["shape"] is None and a["line"] == 2
    assert "E0305" in a["error"]
    assert G.graph["ok"] is False
    downstream = [G.nodes[n] for n in G.nodes if n > failing[0]]
    assert downstream and all(d["shape"] is None and d["error"] is None for d in downstream)


def test_unknown_layer_is_the_red_node_with_its_own_message(tmp_path):
    spec = tmp_path / "typo.net"
    spec.write_text("network T {\n    input [3, 8, 8]\n    conv2d(4, 3) -> rleu -> flatten\n}\n")
    out = tmp_path / "t.dot"
    result = run("render", spec, "-o", out)
    assert result.exit_code == 1
    assert "unknown layer or block `rleu`" in result.output
    nodes, _, _ = parse_dot(out.read_text(encoding="utf-8"))
    red = [a for a in nodes.values() if a.get("fillcolor") == ERROR_FILL]
    assert len(red) == 1 and red[0]["label"].startswith("rleu\\nE0201: unknown layer or block")


def test_syntax_error_prints_diagnostics_and_writes_nothing(tmp_path):
    spec = tmp_path / "syntax.net"
    spec.write_text("network S {\n    input [3, 8, 8\n}\n")
    out = tmp_path / "s.dot"
    result = run("render", spec, "-o", out)
    assert result.exit_code == 1
    assert "error[" in result.output
    assert not out.exists()


# ---- the graph API ----------------------------------------------------------------
def test_graph_api_node_attributes():
    G = netdsl.graph(str(ROOT / "specs" / "resnet18.net"))
    conv = next(a for _, a in G.nodes(data=True) if a["qualname"] == "layer2.0.conv1")
    assert conv["kind"] == "conv2d" and conv["category"] == "convolution"
    assert conv["label"] == "conv 3\u00d73, 128, s2, p1"
    assert conv["settings"]["channels"] == 128 and conv["settings"]["stride"] == (2, 2)
    assert conv["shape"] == (128, 28, 28) and conv["in_shapes"] == ((64, 56, 56),)
    assert conv["params"] == 64 * 128 * 9
    # The node points at the call that made it, wherever the spec keeps its blocks.
    line = Path(conv["file"]).read_text(encoding="utf-8").splitlines()[conv["line"] - 1]
    assert line[conv["column"] - 1:].startswith("conv2d(") and "conv1:" in line, line
    scopes = G.graph["scopes"]
    assert [scopes[s]["qualname"] for s in conv["scopes"]] == ["layer2", "layer2.0"]
    assert G.graph["output_shape"] == (1000,) and G.graph["total_params"] == 11_689_512
    assert sum(a["params"] for _, a in G.nodes(data=True)) == 11_689_512


def test_importing_netdsl_does_not_import_networkx_or_graphviz():
    proc = netdsl_proc("-c", "import sys, netdsl; print(sorted(m for m in ('networkx', 'graphviz', 'torch') "
                       "if m in sys.modules))")
    assert proc.stdout.strip() == "[]", proc.stderr


def test_render_never_imports_torch(tmp_path):
    proc = netdsl_proc("-X", "importtime", "-m", "netdsl", "render", ROOT / "specs" / "resnet18.net",
                       "-o", tmp_path / "r.svg" if HAVE_DOT else tmp_path / "r.dot")
    assert proc.returncode == 0, proc.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "networkx" in imported            # the probe works
    assert "torch" not in imported


# ---- missing dot, failing dot, atomic writes --------------------------------------
def _path_without_dot(tmp_path) -> dict:
    empty = tmp_path / "bin"
    empty.mkdir(exist_ok=True)
    return {**os.environ, "PATH": str(empty)}


def test_missing_dot_explains_how_to_install_and_exits_2(tmp_path):
    env = _path_without_dot(tmp_path)
    out = tmp_path / "r.svg"
    proc = netdsl_proc("-m", "netdsl", "render", ROOT / "specs" / "resnet18.net", "-o", out, env=env)
    assert proc.returncode == 2
    assert "apt-get install graphviz" in proc.stderr and "brew install graphviz" in proc.stderr
    assert "-o diagram.dot" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not out.exists()
    # DOT output needs no Graphviz.
    proc = netdsl_proc("-m", "netdsl", "render", ROOT / "specs" / "resnet18.net", "-o", tmp_path / "r.dot", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "512\u00d77\u00d77" in (tmp_path / "r.dot").read_text(encoding="utf-8")


def test_failing_dot_leaves_the_old_file_untouched_and_no_temp_files(tmp_path):
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nprintf 'partial output'\necho 'dot: out of memory' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "r.svg"
    out.write_text("old diagram")
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = netdsl_proc("-m", "netdsl", "render", ROOT / "specs" / "lenet.net", "-o", out, env=env)
    assert proc.returncode == 2
    assert "dot failed: dot: out of memory" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert out.read_text() == "old diagram"
    assert [p.name for p in outdir.iterdir()] == ["r.svg"]


def test_unwritable_output_is_a_usage_error(tmp_path):
    result = run("render", ROOT / "specs" / "lenet.net", "-o", tmp_path / "no" / "such" / "dir" / "x.dot")
    assert result.exit_code == 2
    assert "cannot write" in result.output


def test_several_networks_need_network_option(tmp_path):
    spec = tmp_path / "two.net"
    spec.write_text("network A {\n    input [4]\n    linear(2)\n}\n\nnetwork B {\n    input [4]\n    linear(3)\n}\n")
    result = run("render", spec, "-o", tmp_path / "x.dot")
    assert result.exit_code == 2 and "--network" in result.output
    result = run("render", spec, "-o", tmp_path / "x.dot", "--network", "B")
    assert result.exit_code == 0, result.output
    assert "linear 3" in (tmp_path / "x.dot").read_text(encoding="utf-8")


def test_only_the_first_failure_is_red_not_the_stand_ins_downstream(tmp_path):
    # Declared at 64x64, the stem gives 64x16x16 and `expect [64, 56, 56]` fails. The blocks
    # after it cannot decide their `if stride != 1 or in.channels != channels`: those are
    # consequences, drawn with unknown shapes, not as further failures. (With `--input
    # 3x64x64` instead, that expect is written for the declared input: a warning, W0406.)
    spec = tmp_path / "resnet18_64.net"
    text = (ROOT / "specs" / "resnet18.net").read_text(encoding="utf-8")
    spec.write_text(text.replace('import "lib/', 'import "zoo:lib/').replace("input [3, 224, 224]",
                                                                            "input [3, 64, 64]"))
    out = tmp_path / "r.dot"
    result = run("render", spec, "-o", out)
    assert result.exit_code == 1
    nodes, edges, _ = parse_dot(out.read_text(encoding="utf-8"))
    red = [a["label"] for a in nodes.values() if a.get("fillcolor") == ERROR_FILL]
    assert len(red) == 1 and red[0].startswith("expect [64, 56, 56]\\nE0308: shape mismatch")
    labels = [edge_label(a) for _, _, a in contract_junctions(nodes, edges)[1]]
    assert labels.count("64\u00d716\u00d716") == 1      # into the failed expect; after it, unknown
    assert set(labels) == {"3\u00d764\u00d764", "64\u00d732\u00d732", "64\u00d716\u00d716", "?"}
    # the zoo's ResNet-18 at --input 3x64x64: its expects only warn, and nothing is red
    result = run("render", ROOT / "specs" / "resnet18.net", "-o", out, "--input", "3x64x64")
    assert result.exit_code == 0 and "W0406" in result.output
    nodes, _, _ = parse_dot(out.read_text(encoding="utf-8"))
    assert not [a for a in nodes.values() if a.get("fillcolor") == ERROR_FILL]


def test_output_through_a_symlink_keeps_the_link(tmp_path):
    target = tmp_path / "real.dot"
    link = tmp_path / "link.dot"
    link.symlink_to(target)
    result = run("render", ROOT / "specs" / "lenet.net", "-o", link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink()
    assert target.read_text(encoding="utf-8").startswith("digraph LeNet {")


def test_output_to_a_pipe_is_written_directly(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    result = run("render", ROOT / "specs" / "lenet.net", "-o", fifo, "--format", "dot")
    out, _ = reader.communicate(timeout=30)
    assert result.exit_code == 0, result.output
    assert out.decode().startswith("digraph LeNet {")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)        # still a pipe, not replaced by a file


def test_main_path_follows_the_longest_branch_even_when_written_second(tmp_path):
    # MobileNetV2 style: the identity branch comes first. The straight spine (one
    # Graphviz group) must still run through the convolutions, with the skip beside it.
    spec = tmp_path / "skipfirst.net"
    spec.write_text("network S {\n    input [8, 8, 8]\n    add {\n        if false { }\n"
                    "        [conv2d(8, 3, padding=1) -> relu]\n    }\n    flatten\n}\n")
    nodes, _, _ = parse_dot(dot_source(netdsl.graph(str(spec))))
    spine = {a["label"] for a in nodes.values() if a.get("group") == "spine"}
    assert spine == {"input", "conv 3\u00d73, 8, p1", "relu", "add", "flatten", "output"}


def test_a_dot_that_never_finishes_is_stopped_with_a_message(tmp_path):
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    out = tmp_path / "r.svg"
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = netdsl_proc("-m", "netdsl", "render", ROOT / "specs" / "lenet.net", "-o", out, "--timeout", "0.5",
                       env=env)
    assert proc.returncode == 2
    assert "did not finish" in proc.stderr and "--depth" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


ASPP_LIKE = """
network Pyramid {
    input [8, 16, 16]
    convs: concat {
        conv2d(4, 1)
        for rate in [2, 3] { conv2d(4, 3, padding=rate, dilation=rate) }
        [global_avgpool -> conv2d(4, 1) -> upsample(size=@in)]
    }
}
"""


def test_a_for_line_in_a_named_merge_draws_each_cluster_once_and_dot_lays_it_out(tmp_path):
    """The branches of a `for` line share the merge's ModuleList with the written ones: its
    loop cluster sits inside that list's cluster (Graphviz 2.43 crashed on a cluster drawn
    under two parents, DeepLabV3's ASPP at full depth)."""
    spec = tmp_path / "aspp.net"
    spec.write_text(ASPP_LIKE)
    text = dot_source(netdsl.graph(str(spec)))
    names = re.findall(r"subgraph (cluster_\w+)", text)
    assert len(names) == len(set(names)), names
    _, _, clusters = parse_dot(text)
    loop = next(k for k, (_, a) in clusters.items() if a["label"].startswith("for rate"))
    parent = clusters[loop][0]
    assert parent is not None and clusters[parent][1]["label"].startswith("convs")
    if shutil.which("dot"):
        proc = subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_every_zoo_spec_renders_to_svg_through_the_cli(spec, tmp_path):
    """What the README's main job does for each spec: Graphviz lays out every diagram."""
    out = tmp_path / (spec.stem + ".svg")
    res = CliRunner().invoke(cli, ["render", str(spec), "-o", str(out)])
    assert res.exit_code == 0, res.output
    ET.parse(out)       # well-formed SVG
