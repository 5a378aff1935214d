"""docs/language.md cannot rot: every example in it is checked here, and the
semantics the page states are tested on small specs."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from netdsl import check_file, check_source

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "language.md"

_FENCE = re.compile(r"^```netdsl([^\n]*)\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)


def _examples():
    """(index, attributes, source, line) for every ```netdsl block in the page."""
    text = DOC.read_text(encoding="utf-8")
    out = []
    for i, m in enumerate(_FENCE.finditer(text)):
        attrs = dict(a.partition("=")[::2] for a in m.group(1).split())
        out.append((i, attrs, m.group(2), text.count("\n", 0, m.start()) + 1))
    return out


EXAMPLES = _examples()
KNOWN_ATTRS = {"fragment", "file", "expect"}


def _id(example):
    _, _, src, line = example
    first = re.search(r"^(?:network|block)\s+(\w+)", src, re.MULTILINE)
    return f"line{line}-{first.group(1) if first else 'fragment'}"


def test_the_page_has_examples_and_every_block_is_marked():
    assert len(EXAMPLES) >= 20
    for _, attrs, _, line in EXAMPLES:
        assert set(attrs) <= KNOWN_ATTRS, f"line {line}: unknown tag {attrs}"
    # No spec hides in an untagged or differently tagged block, where it would go unchecked.
    text = DOC.read_text(encoding="utf-8")
    for m in re.finditer(r"^```(\w*)[^\n]*\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
        if m.group(1) != "netdsl":
            assert not re.search(r"^\s*(network|block) \w+.*\{", m.group(2), re.MULTILINE), \
                f"a spec in a ```{m.group(1)} block at offset {m.start()}"


@pytest.fixture(scope="module")
def doc_dir(tmp_path_factory) -> Path:
    """Every example saved as a file, so imports between examples resolve."""
    d = tmp_path_factory.mktemp("doc")
    for i, attrs, src, _ in EXAMPLES:
        (d / (attrs.get("file") or f"example_{i}.net")).write_text(src, encoding="utf-8")
    return d


def _path(doc_dir, example) -> Path:
    i, attrs, _, _ = example
    return doc_dir / (attrs.get("file") or f"example_{i}.net")


@pytest.mark.parametrize("example", [e for e in EXAMPLES if not ({"fragment", "expect"} & set(e[1]))], ids=_id)
def test_complete_example_checks_clean(doc_dir, example):
    result = check_file(str(_path(doc_dir, example)))
    assert result.diagnostics == [], [f"{d.code} {d.message}" for d in result.diagnostics]
    for g in result.graphs:
        assert g.ok and g.output_shape is not None, g.network
    if "file" not in example[1]:
        assert result.graphs, "a complete example defines a network"


@pytest.mark.parametrize("example", [e for e in EXAMPLES if "expect" in e[1]], ids=_id)
def test_broken_example_gives_its_code(doc_dir, example):
    result = check_file(str(_path(doc_dir, example)))
    codes = [d.code for d in result.diagnostics]
    assert codes == [example[1]["expect"]], codes


@pytest.mark.parametrize("example", [e for e in EXAMPLES if "fragment" in e[1]], ids=_id)
def test_fragment_is_really_a_fragment(example):
    # A block marked fragment must not silently be a complete, checkable spec.
    result = check_source(example[2])
    assert not result.ok or not result.graphs


def test_the_page_names_every_layer_kind_and_alias():
    from netdsl.catalogue import ALIASES, LAYERS
    text = DOC.read_text(encoding="utf-8")
    missing = [k for k in [*LAYERS, *ALIASES] if not re.search(rf"\b{k}\b", text)]
    assert missing == [], f"document these in docs/language.md: {missing}"


# ---- semantics the page states ----------------------------------------------
def _graph(src, **kw):
    result = check_source(src, **kw)
    assert result.ok, [f"{d.code} {d.message}" for d in result.diagnostics]
    return result.graph()


def _names(g):
    return [n.qualname for n in g.layers if n.has_module]


def test_unnamed_layers_are_named_after_their_kind():
    g = _graph("network N {\n input [3, 8, 8]\n conv2d(4, 1) -> relu\n relu: relu\n fc(2, bias=false) -> relu\n"
               " relu\n}\n")
    # The explicit `relu` keeps its name; unnamed ones skip it; an alias takes the canonical kind.
    assert _names(g) == ["conv2d", "relu_1", "relu", "linear", "relu_2", "relu_3"]


def test_the_names_example_on_the_page():
    src = next(s for _, _, s, _ in EXAMPLES if "network Names" in s)
    assert _names(_graph(src)) == ["conv2d", "relu", "stem", "relu_1", "features.0", "features.1", "features.2",
                                  "features.last", "relu_2", "maxpool2d", "flatten", "head"]


def test_named_sequences_number_their_items_including_parameterless_ones():
    g = _graph("network N {\n input [3, 8, 8]\n features: [\n  conv2d(4, 3) -> relu\n  maxpool2d(2)\n"
               "  conv2d(8, 1)\n ]\n}\n")
    assert _names(g) == ["features.0", "features.1", "features.2", "features.3"]


def test_a_repeat_inside_a_named_sequence_gives_one_index_per_copy():
    g = _graph("block B(c: int) {\n conv: conv2d(c, 1)\n}\nnetwork N {\n input [3, 8, 8]\n"
               " layer1: [repeat 3 { B(4) }]\n}\n")
    assert _names(g) == ["layer1.0.conv", "layer1.1.conv", "layer1.2.conv"]


def test_unnamed_block_uses_are_named_in_snake_case():
    g = _graph("block BasicBlock {\n relu\n}\nnetwork N {\n input [3, 8, 8]\n BasicBlock -> BasicBlock\n}\n")
    assert _names(g) == ["basic_block.relu", "basic_block_1.relu"]


@pytest.mark.parametrize("block,name", [
    ("BasicBlock", "basic_block"), ("NiNBlock", "nin_block"), ("ConvBNReLU", "conv_bn_relu"), ("MBConv", "mbconv"),
    ("SEBlock", "se_block"), ("FusedMBConv", "fused_mbconv"), ("Conv2dNormActivation", "conv2d_norm_activation"),
    ("MobileNetV3Features", "mobile_net_v3_features"), ("InceptionA", "inception_a"), ("VGGBlock", "vgg_block"),
    ("GoogLeNetAux", "googlenet_aux"), ("ASPPConv", "aspp_conv")])
def test_automatic_names_read_as_people_write_them(block, name):
    g = _graph(f"block {block} {{\n relu\n}}\nnetwork N {{\n input [3, 8, 8]\n {block}\n}}\n")
    assert _names(g) == [f"{name}.relu"]


def test_a_name_covers_only_the_next_item():
    g = _graph("network N {\n input [3, 8, 8]\n stem: conv2d(4, 1) -> relu\n}\n")
    assert _names(g) == ["stem", "relu"]


def test_naming_inside_a_repeat_is_E0204():
    r = check_source("network N {\n input [3, 8, 8]\n repeat 2 { c: conv2d(4, 1) }\n}\n")
    assert [d.code for d in r.diagnostics] == ["E0204"]


@pytest.mark.parametrize("second", ["q: conv2d(4, 1)", "q: [conv2d(4, 1) -> relu]"])
def test_two_branches_of_a_named_merge_with_one_name_are_E0204(second):
    """A branch that is one module is that module in the merge's list (its name is the
    list's key), so two such branches may not share a name; the torch module would keep
    one of them (found by tools/fuzz_emitters.py)."""
    r = check_source(f"network N {{\n input [4, 8, 8]\n m: add {{\n  q: conv2d(4, 1)\n  {second}\n }}\n}}\n")
    assert [d.code for d in r.diagnostics] == ["E0204"]
    (d,) = r.diagnostics
    assert (d.labels[0].span.line, d.labels[0].span.column) == (5, 3)
    # in different merges, or unnamed, they are fine
    ok = check_source("network N {\n input [4, 8, 8]\n m: add {\n  q: conv2d(4, 1)\n  conv2d(4, 1)\n }\n"
                      " n: add {\n  q: conv2d(4, 1)\n  identity\n }\n}\n")
    assert ok.ok, ok.diagnostics


def test_untaken_if_is_an_identity_branch():
    src = ("block Res(c: int, stride: int = 1) {\n add {\n  conv2d(c, 3, stride=stride, padding=1)\n"
           "  if stride != 1 or in.c != c {\n   proj: conv2d(c, 1, stride=stride)\n  }\n }\n}\n"
           "network N {\n input [8, 8, 8]\n a: Res(8)\n b: Res(16, stride=2)\n}\n")
    g = _graph(src)
    assert _names(g) == ["a.conv2d", "b.conv2d", "b.proj"]
    add = [n for n in g.nodes if n.kind == "add"]
    assert len(add) == 2
    # The first add's second input is the block's input itself: no layer in between.
    a_input = g.nodes[add[0].inputs[0]].inputs[0]
    assert add[0].inputs[1] == a_input
    assert g.output_shape == (16, 4, 4)


def test_block_signature_mismatch_is_E0309_at_every_use():
    src = ("block Halve(c: int) : [_, h, w] -> [c, h // 2, w // 2] {\n conv2d(c, 3, padding=1)\n}\n"
           "network N {\n input [3, 8, 8]\n Halve(4)\n}\n")
    r = check_source(src)
    assert [d.code for d in r.diagnostics] == ["E0309"]
    d = r.diagnostics[0]
    assert d.primary.line == 1                           # at the signature
    assert any(lab.span.line == 6 for lab in d.labels)  # and at the use


def test_signature_bindings_take_the_actual_sizes():
    src = ("block Grow(g: int) : [cin, h, w] -> [cin + g, h, w] {\n concat {\n  identity\n  conv2d(g, 1)\n }\n}\n"
           "network N {\n input [3, 8, 8]\n Grow(5) -> Grow(5)\n}\n")
    assert _graph(src).output_shape == (13, 8, 8)


def test_expect_mismatch_is_E0308_at_the_assertion_without_cascade():
    src = "network N {\n input [3, 8, 8]\n conv2d(4, 3)\n expect [4, 8, _]\n conv2d(4, 100)\n}\n"
    r = check_source(src)
    assert [d.code for d in r.diagnostics] == ["E0308"]
    assert r.diagnostics[0].primary.line == 4


def test_expect_underscore_matches_anything():
    _graph("network N {\n input [3, 8, 8]\n expect [_, _, _]\n expect [3, _, 8]\n}\n")


def test_in_is_the_shape_entering_the_block_not_the_current_layer():
    src = ("block B {\n conv2d(in.c * 2, 1)\n conv2d(in.c * 2, 1)\n}\n"
           "network N {\n input [3, 8, 8]\n conv2d(5, 1) -> B\n}\n")
    assert _graph(src).output_shape == (10, 8, 8)


def test_in_in_a_network_body_is_the_network_input():
    assert _graph("network N {\n input [3, 8, 8]\n conv2d(7, 1)\n conv2d(in.c, 1)\n}\n").output_shape == (3, 8, 8)


def test_at_name_continues_from_a_tensor_and_gives_its_shape():
    src = ("network N {\n input [3, 8, 8]\n a: conv2d(4, 1)\n b: conv2d(6, 1)\n @a\n conv2d(@b.c + len(@b), 1)\n}\n")
    g = _graph(src)
    assert g.output_shape == (9, 8, 8)
    last = g.nodes[g.output]
    assert g.nodes[last.inputs[0]].name == "a"


def test_expressions_follow_python_precedence():
    src = ("network N {\n input [3, 8, 8]\n conv2d(2 ** 3 ** 2 // 100 + -2 ** 2 + 7 % 4 * 2, 1)\n"
           " conv2d(1 if not true or 2 > 1 and false else 2, 1)\n}\n")
    # 512 // 100 = 5; -(2 ** 2) = -4; (7 % 4) * 2 = 6  -> 7.  `not true or (2 > 1 and false)` is false -> 2.
    g = _graph(src)
    assert [n.shape[0] for n in g.layers] == [7, 2]


def test_newline_rules():
    src = ("network N(a = [1,\n 2]) {\n input [3, 8, 8]\n conv2d(4,\n  1)\n  -> relu\n conv2d(4, 1) ->\n relu\n"
           " relu; relu\n}\n")
    assert _names(_graph(src)) == ["conv2d", "relu", "conv2d_1", "relu_1", "relu_2", "relu_3"]
    bad = check_source("network N {\n input [3, 8, 8]\n conv2d(4, 1) relu\n}\n")
    assert [d.code for d in bad.diagnostics] == ["E0101"]
    assert "`->` or the end of the statement" in bad.diagnostics[0].message


def test_loops_and_repeat_index():
    src = ("network N {\n input [3, 8, 8]\n repeat 3 as i { conv2d(i + 1, 1) }\n"
           " for (n, c) in [(2, 4), (1, 6)] { repeat n { conv2d(c, 1) } }\n for c in range(2) { relu }\n}\n")
    g = _graph(src)
    assert [n.shape[0] for n in g.layers] == [1, 2, 3, 4, 4, 6, 6, 6]


def test_if_else_if_chain():
    src = ("block Act(kind: str) {\n if kind == 'relu' { relu } else if kind == 'gelu' { gelu } else { tanh }\n}\n"
           "network N {\n input [4]\n Act('relu') -> Act('gelu') -> Act('x')\n}\n")
    assert [n.kind for n in _graph(src).layers] == ["relu", "gelu", "tanh"]


def test_parameter_types_are_checked_and_any_admits_none():
    ok = "network N(a: any = none, b: (int, any) = (1, none), f: float = 1) {\n input [4]\n linear(2)\n}\n"
    g = _graph(ok)
    assert g.params["a"] is None and g.params["f"] == 1.0 and isinstance(g.params["f"], float)
    for bad in ("n: int = none", "n: int = true", "n: (int, int) = (1, 2, 3)", "n: str = 3", "n: list = 3"):
        r = check_source(f"network N({bad}) {{\n input [4]\n linear(2)\n}}\n")
        assert [d.code for d in r.diagnostics] == ["E0214"], bad


def test_param_and_input_overrides():
    path = str(ROOT / "specs" / "lenet.net")
    g = check_file(path, params={"num_classes": 100}, input_shape=(1, 32, 32)).graph()
    assert g.input_shape == (1, 32, 32) and g.output_shape == (100,)


def test_imports_are_relative_and_cycles_reported(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.net").write_text("let W = 6\nblock B { conv2d(W, 1) }\n")
    (tmp_path / "main.net").write_text('import "lib/blocks.net"\nnetwork N {\n input [3, 8, 8]\n B\n}\n')
    assert check_file(str(tmp_path / "main.net")).graph().output_shape == (6, 8, 8)
    (tmp_path / "a.net").write_text('import "b.net"\nnetwork A {\n input [4]\n linear(2)\n}\n')
    (tmp_path / "b.net").write_text('import "a.net"\nblock B { relu }\n')
    r = check_file(str(tmp_path / "a.net"))
    assert [d.code for d in r.diagnostics] == ["E0107"]


def test_allow_comments():
    body = "network N {\n input [3, 9, 9]\n maxpool2d(2)%s\n maxpool2d(2)\n}\n"
    assert [d.code for d in check_source(body % "").diagnostics] == ["W0401"]
    # After code: only that line.  The second pool sees 4x4, which divides evenly.
    assert check_source(body % "  # netdsl: allow W0401").diagnostics == []
    own_line = "# netdsl: allow W0401\nnetwork N {\n input [3, 9, 9]\n maxpool2d(2)\n}\n"
    assert check_source(own_line).diagnostics == []
    other_line = "network N {\n input [3, 9, 9]\n relu  # netdsl: allow W0401\n maxpool2d(2)\n}\n"
    assert [d.code for d in check_source(other_line).diagnostics] == ["W0401"]


def test_lenet_example_is_the_notes_lenet():
    src = next(s for _, _, s, _ in EXAMPLES if "network LeNet" in s)
    g = _graph(src)
    assert (g.input_shape, g.output_shape, g.total_params) == ((1, 28, 28), (10,), 61_706)
    zoo = check_file(str(ROOT / "specs" / "lenet.net")).graph()
    assert [n.shape for n in g.layers] == [n.shape for n in zoo.layers]


def test_vgg_example_matches_torchvision_parameter_count():
    src = next(s for _, _, s, _ in EXAMPLES if "network VGG11" in s)
    assert _graph(src).total_params == 132_863_336


def test_resnet_example_matches_torchvision_parameter_count():
    src = next(s for _, _, s, _ in EXAMPLES if "network ResNet18" in s)
    g = _graph(src)
    assert g.total_params == 11_689_512
    assert "layer2.0.downsample.0" in _names(g) and "layer1.0.downsample.0" not in _names(g)
