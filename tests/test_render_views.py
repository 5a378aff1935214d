"""What `netdsl render` chooses to draw: --depth levels (blocks, sequences and loops
alike), identity branches as skip edges, the fit-to-page default, wrapped LR rows
and the U of an encoder-decoder. Sizes are measured from dot's own layout (-Tplain)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_render import contract_junctions, parse_dot

import netdsl
from netdsl.backends.digraph import full_depth
from netdsl.backends.render import PAGE_PT, dot_source

ROOT = Path(__file__).resolve().parent.parent
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
VGG11 = str(ROOT / "specs" / "vgg11.net")


def folded(nodes) -> list:
    return [a["label"].split("\\n")[0] for k, a in nodes.items() if re.fullmatch(r"[sl]\d+", k)]


def layers(nodes) -> list:
    return [a["label"] for k, a in nodes.items() if re.fullmatch(r"n\d+", k)]


def plain(source: str) -> dict:
    """dot's layout: {"graph": (w, h)} and {node id: (x, y)} in points (y grows upwards)."""
    text = subprocess.run(["dot", "-Tplain"], input=source.encode(), capture_output=True, check=True,
                          timeout=300).stdout.decode()
    out = {}
    for line in text.splitlines():
        f = line.split()
        if f[0] == "graph":
            out["graph"] = (float(f[2]) * 72, float(f[3]) * 72)
        elif f[0] == "node":
            out[f[1].strip('"')] = (float(f[2]) * 72, float(f[3]) * 72)
    return out


def test_depth_counts_sequences_and_loops_alike_on_vgg():
    # features: [ for (convs, channels) in arch { repeat convs { conv -> relu }  maxpool } ]
    G = netdsl.graph(VGG11)
    assert full_depth(G) == 3
    full, _, _ = parse_dot(dot_source(G))
    assert sum(lbl.startswith("conv 3\u00d73") for lbl in layers(full)) == 8
    # depth 2: the for loop is a cluster; each `repeat` is one node, ×N where N > 1.
    n2, _, c2 = parse_dot(dot_source(G, depth=2))
    assert {a["label"] for _, a in c2.values()} == {"features", "for (convs, channels) in arch  \u00d75",
                                                      "classifier"}
    assert folded(n2) == ["conv 3\u00d73, 64, p1 \u2192 relu", "conv 3\u00d73, 128, p1 \u2192 relu",
                          "conv 3\u00d73, 256, p1 \u2192 relu  \u00d72", "conv 3\u00d73, 512, p1 \u2192 relu  \u00d72",
                          "conv 3\u00d73, 512, p1 \u2192 relu  \u00d72"]
    assert sum(lbl.startswith("max pool") for lbl in layers(n2)) == 5
    # depth 1: the whole for loop is one node, with its count and its in -> out shapes.
    n1, _, c1 = parse_dot(dot_source(G, depth=1))
    assert {a["label"] for _, a in c1.values()} == {"features", "classifier"}
    (loop,) = [a["label"] for k, a in n1.items() if k.startswith("l")]
    assert loop.startswith("for (convs, channels) in arch  \u00d75")
    assert loop.endswith("3\u00d7224\u00d7224 \u2192 512\u00d77\u00d77")
    # depth 0: features and classifier are nodes.
    n0, _, c0 = parse_dot(dot_source(G, depth=0))
    assert c0 == {} and folded(n0) == ["features", "classifier"]


def test_nin_blocks_fold_at_the_same_depth_as_resnets():
    # NiN's blocks sit in `net: [...]`, ResNet's in `layerN: [...]`: both are level 2.
    nin, _, _ = parse_dot(dot_source(netdsl.graph(str(ROOT / "specs" / "nin.net")), depth=1))
    assert sum(lbl.startswith(("0: NiNBlock", "2: NiNBlock", "4: NiNBlock", "7: NiNBlock")) for lbl in folded(nin)) == 4
    res, _, _ = parse_dot(dot_source(netdsl.graph(str(ROOT / "specs" / "resnet18.net")), depth=1))
    assert sum("BasicBlock" in lbl for lbl in folded(res)) == 8


def test_densenet_at_depth_2_is_each_dense_block_as_one_layer_times_n():
    G = netdsl.graph(str(ROOT / "specs" / "densenet121.net"))
    nodes, _, _ = parse_dot(dot_source(G, depth=2))
    assert [lbl for lbl in folded(nodes) if lbl.startswith("DenseLayer")] == [
        "DenseLayer(32, 4)  \u00d76", "DenseLayer(32, 4)  \u00d712", "DenseLayer(32, 4)  \u00d724",
        "DenseLayer(32, 4)  \u00d716"]


def test_an_identity_branch_is_a_skip_edge_not_a_node(tmp_path):
    spec = tmp_path / "dense.net"
    spec.write_text("network D {\n    input [4, 8, 8]\n    concat {\n        identity\n"
                    "        conv2d(4, 3, padding=1)\n    }\n    flatten\n}\n")
    G = netdsl.graph(str(spec))
    assert [a["kind"] for _, a in G.nodes(data=True)].count("identity") == 1     # the graph API keeps it
    nodes, edges = contract_junctions(*parse_dot(dot_source(G))[:2])
    assert "identity" not in layers(nodes)
    concat = next(k for k, a in nodes.items() if a["label"] == "concat")
    conv = next(k for k, a in nodes.items() if a["label"].startswith("conv"))
    assert sorted(u for u, v, _ in edges if v == concat) == ["n0", conv]          # input straight in
    assert {a["label"].strip() for u, v, a in edges if v == concat} == {"4\u00d78\u00d78"}


def test_a_skip_forks_inside_its_block():
    # The block's input enters its box once and forks at a dot inside it.
    nodes, edges, clusters = parse_dot(dot_source(netdsl.graph(str(ROOT / "specs" / "resnet18.net"))))
    forks = [k for k in nodes if k.startswith("j")]
    assert len(forks) == 8
    block = {a["label"]: k for k, (_, a) in clusters.items()}["1: BasicBlock(64)"]
    fork = next(k for k in forks if nodes[k]["cluster"] == block)
    targets = {nodes[v]["label"] for u, v, _ in edges if u == fork}
    assert targets == {"conv 3\u00d73, 64, p1", "add"}
    assert all(nodes[v]["cluster"] == block for u, v, _ in edges if u == fork)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "netdsl", *map(str, args)], capture_output=True, text=True,
                          timeout=600, check=False, cwd=ROOT)


@needs_dot
def test_the_default_fits_a_page_and_says_so(tmp_path):
    out = tmp_path / "r.svg"
    proc = run_cli("render", "specs/resnet18.net", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "note: drawn to --depth 1 of 3" in proc.stderr and "--depth full" in proc.stderr
    height = float(re.search(r'height="([0-9.]+)pt"', out.read_text()).group(1))
    assert height <= PAGE_PT
    assert 'class="cluster"' in out.read_text() and "BasicBlock(128, stride=2)" in out.read_text()
    # Asked for, every layer is drawn, and it is longer than a page.
    proc = run_cli("render", "specs/resnet18.net", "-o", out, "--depth", "full")
    assert proc.returncode == 0 and "note:" not in proc.stderr
    assert float(re.search(r'height="([0-9.]+)pt"', out.read_text()).group(1)) > PAGE_PT
    # A small network is drawn whole without a note.
    proc = run_cli("render", "specs/lenet.net", "-o", tmp_path / "l.svg")
    assert proc.returncode == 0 and "note:" not in proc.stderr and "wrote" in proc.stderr


def test_depth_takes_a_number_or_full(tmp_path):
    proc = run_cli("render", "specs/lenet.net", "-o", tmp_path / "l.dot", "--depth", "deep")
    assert proc.returncode == 2 and "`full`" in proc.stderr and "Traceback" not in proc.stderr


@needs_dot
def test_left_to_right_wraps_into_rows():
    G = netdsl.graph(str(ROOT / "specs" / "resnet18.net"))
    source = dot_source(G, direction="LR")
    rows = set(re.findall(r"subgraph cluster_row(\d+)", source))
    assert len(rows) >= 3
    w, h = plain(source)["graph"]
    assert w / h < 4            # one strip was 6,150 x 290 pt (21:1)
    # Rows break between blocks, where one tensor flows, never inside a block.
    assert "cluster_s2_r" not in source and "cluster_s3_r" not in source


def test_an_edge_that_carries_only_a_size_has_the_role_size():
    # U-Net: `@enc4 -> center_crop(@up4)` crops enc4's tensor (data) to up4's size.
    G = netdsl.graph(str(ROOT / "specs" / "unet.net"))
    crop = next(n for n, a in G.nodes(data=True) if a["qualname"] == "center_crop")
    roles = {G.nodes[u]["qualname"]: (a["role"], a["ports"]) for u, _, a in G.in_edges(crop, data=True)}
    assert roles == {"enc4.relu_1": ("data", (0,)), "up4": ("size", (1,))}
    # DeepLabV3: the last layer, upsample(size=@in), reads the input for its size only.
    G = netdsl.graph(str(ROOT / "specs" / "deeplabv3_resnet50.net"))
    last = G.graph["output"]
    assert G.edges[0, last]["role"] == "size" and G.nodes[last]["kind"] == "upsample"
    assert sum(a["role"] == "size" for _, _, a in G.edges(data=True)) == 2      # and the ASPP pooling branch's
    source = dot_source(G)
    assert re.search(rf'\bn0 -> n{last} \[[^]]*style=dashed', source)        # drawn light and dashed
    assert "dir=back" not in source     # the input-to-output size is no encoder-decoder skip: not a U


@needs_dot
def test_a_size_read_from_the_input_does_not_keep_left_to_right_in_one_strip():
    """DeepLabV3's upsample(size=@in) spans every layer; it carries no tensor's values,
    so rows break across it (it was one strip, 28,000 x 880 pt at full depth)."""
    G = netdsl.graph(str(ROOT / "specs" / "deeplabv3_resnet50.net"))
    for depth in (None, 1):
        source = dot_source(G, depth=depth, direction="LR")
        assert len(set(re.findall(r"subgraph cluster_row(\d+)", source))) >= 3, depth
        w, h = plain(source)["graph"]
        assert w / h < 4, (depth, w, h)


@needs_dot
def test_unet_is_drawn_as_a_u():
    G = netdsl.graph(str(ROOT / "specs" / "unet.net"))
    source = dot_source(G)
    pos = plain(source)
    center = [n for n, a in G.nodes(data=True) if a["qualname"].startswith("center.")]
    bottom = min(pos[f"n{n}"][1] for n in center)
    ix, iy = pos["n0"]
    ox, oy = pos["output"]
    # input and output both at the top (y grows upwards), the decoder to the right.
    assert iy > bottom + 0.8 * (iy - bottom) and oy > bottom + 0.8 * (iy - bottom)
    assert ox > ix + 100
    # The skips run across: each crop sits on the rank of the encoder layer it copies.
    enc4 = next(n for n, a in G.nodes(data=True) if a["qualname"] == "enc4.relu_1")
    crop4 = next(n for n, a in G.nodes(data=True) if a["qualname"] == "center_crop")      # crops enc4 to up4
    assert abs(pos[f"n{enc4}"][1] - pos[f"n{crop4}"][1]) < 1


def test_unet_left_to_right_is_a_u_on_its_side():
    """LR: the encoder along the top, the decoder back along the bottom (the two rows a
    strip would wrap into), each skip running straight down from encoder to crop."""
    G = netdsl.graph(str(ROOT / "specs" / "unet.net"))
    pos = plain(dot_source(G, direction="LR"))
    center = [n for n, a in G.nodes(data=True) if a["qualname"].startswith("center.")]
    right = max(pos[f"n{n}"][0] for n in center)
    ix, iy = pos["n0"]
    ox, oy = pos["output"]
    # input and output both at the left end, the decoder below the encoder
    assert ix < right * 0.2 and ox < right * 0.2 and oy < iy - 40
    enc4 = next(n for n, a in G.nodes(data=True) if a["qualname"] == "enc4.relu_1")
    crop4 = next(n for n, a in G.nodes(data=True) if a["qualname"] == "center_crop")
    assert abs(pos[f"n{enc4}"][0] - pos[f"n{crop4}"][0]) < 1 and pos[f"n{crop4}"][1] < pos[f"n{enc4}"][1]


def test_other_networks_are_not_drawn_as_a_u():
    for name in ("resnet18", "mobilenet_v3_large", "efficientnet_b0", "googlenet", "densenet121"):
        assert "dir=back" not in dot_source(netdsl.graph(str(ROOT / "specs" / f"{name}.net"))), name


@needs_dot
@pytest.mark.parametrize("name, depth", [("resnet18", "full"), ("resnet18", 1), ("googlenet", "full"),
                                         ("googlenet", 1), ("unet", "full"), ("densenet121", 2), ("vgg11", "full"),
                                         ("inception_v3", "full"), ("regnet_x_400mf", "full")])
def test_no_edge_crosses_a_cluster_label(name, depth):
    """Measured on dot's own layout (-Tjson): no edge's curve runs through the box of a
    cluster's label, in what render_bytes draws. Without pads and the second look at
    the layout, ResNet-18 had 3 crossed labels (`downsample`) and GoogLeNet 54.
    Inception-v3's Mixed_7a was crossed on both sides: on the left by the edge over its
    corner to the AuxLogits, on the right (flipped) by the edge into its max pool; RegNet
    had 4 such labels."""
    import json

    from netdsl.backends.render import _source, label_crossings
    G = netdsl.graph(str(ROOT / "specs" / f"{name}.net"))
    source = _source(G, depth, "svg", [], {})
    data = json.loads(subprocess.run(["dot", "-Tjson"], input=source.encode(), capture_output=True, check=True,
                                     timeout=300).stdout)
    assert any(o.get("label") for o in data["objects"] if o["name"].startswith("cluster_"))   # the probe sees labels
    assert label_crossings(data) == frozenset()


def test_the_crossing_probe_finds_an_edge_through_a_label():
    from netdsl.backends.render import label_crossings
    # A label "block" (about 30 pt wide) centred at (100, 200); a straight vertical
    # edge, as dot writes it (one cubic: 4 points), at x = 100 crosses it, at x = 140 not.
    data = {"objects": [{"name": "cluster_s1", "lp": "100,200", "label": "block"}, {"name": "n1"}],
            "edges": [{"pos": "e,100,150 100,250 100,220 100,180 100,150"}]}
    assert label_crossings(data) == {"cluster_s1"}
    data["edges"] = [{"pos": "e,140,150 140,250 140,220 140,180 140,150"}]
    assert label_crossings(data) == frozenset()


def test_the_crossing_probe_says_which_node_a_crossing_edge_enters():
    from netdsl.backends.render import crossings
    # The cluster's box spans x 50..200, y 100..210; its label is at (100, 200). One edge
    # crosses the label into n2 (inside the box), one into n3 (outside: over the corner).
    data = {"objects": [{"name": "cluster_s1", "lp": "100,200", "label": "block", "bb": "50,100,200,210"},
                        {"name": "n1", "pos": "100,260"}, {"name": "n2", "pos": "100,150"},
                        {"name": "n3", "pos": "20,150"}],
            "edges": [{"head": 2, "pos": "e,100,160 100,250 100,220 100,180 100,160"},
                      {"head": 3, "pos": "e,20,160 100,250 100,230 100,210 100,190 80,180 40,170 20,160"}]}
    assert crossings(data) == {"cluster_s1": frozenset({"n2", None})}
    data["edges"] = data["edges"][:1]
    assert crossings(data) == {"cluster_s1": frozenset({"n2"})}
