"""The constructs today's CNNs need (docs/language.md): conditional statements and
branches (`when`), named merges as nn.ModuleList, `sequential block`s numbered like
nn.Sequential, add_module-style names, tensor parameters and `@in`, several or
named outputs (`return(...)`), and pure functions. Each is checked statically and
compiled, with torchvision-style state_dict names."""
from __future__ import annotations

import pytest

import netdsl
from netdsl import check_source


def codes(text):
    return [d.code for d in check_source(text).diagnostics]


def net(body: str, head: str = "", shape: str = "[8, 16, 16]") -> str:
    lines = "\n".join("    " + line for line in body.strip("\n").split("\n"))
    return f"{head}network N {{\n    input {shape}\n{lines}\n}}\n"


def layers(text):
    return [(n.qualname, n.kind, n.shape) for n in check_source(text).graph().layers]


# ---- when -------------------------------------------------------------------------
def test_a_statement_runs_only_when_its_condition_holds():
    head = "block B(act: bool) {\n    conv2d(4, 1)\n    relu when act\n}\n"
    assert [k for _, k, _ in layers(net("B(true) -> B(false)", head))] == ["conv2d", "relu", "conv2d"]


def test_a_branch_whose_condition_fails_is_left_out_and_one_branch_is_no_merge():
    head = """block IR(out: int, stride: int) {
    add {
        identity when stride == 1 and in.channels == out
        conv: [conv2d(out, 3, stride=stride, padding=1) -> batchnorm2d]
    }
}
"""
    found = layers(net("a: IR(8, 1)\nb: IR(16, 2)", head))
    assert ("a.?", "add", (8, 16, 16)) in found
    assert not any(q.startswith("b.") and k == "add" for q, k, _ in found)
    assert ("b.conv.1", "batchnorm2d", (16, 8, 8)) in found


def test_when_errors():
    assert codes(net("add {\n    identity when false\n    relu when 1 > 2\n}")) == ["E0219"]
    assert codes(net("relu when 3")) == ["E0218"]
    assert codes(net("relu when nope")) == ["E0202"]


# ---- named merges: nn.ModuleList ------------------------------------------------------------
ASPP = net("""convs: concat {
    [conv2d(4, 1, bias=false) -> batchnorm2d -> relu]
    conv2d(4, 3, padding=2, dilation=2)
    [adaptive_avgpool2d(1) -> conv2d(4, 1) -> upsample(scale=16)]
}
project: [conv2d(4, 1) -> relu]""")


def test_a_named_merge_numbers_its_branches():
    names = [q for q, _, _ in layers(ASPP)]
    assert names[:6] == ["convs.0.0", "convs.0.1", "convs.0.2", "convs.1", "convs.2.0", "convs.2.1"]


def test_named_merges_compile_to_a_module_list():
    torch = pytest.importorskip("torch")
    model = netdsl.load(ASPP)
    assert isinstance(model.convs, torch.nn.ModuleList)
    assert list(model.state_dict())[:4] == ["convs.0.0.weight", "convs.0.1.weight", "convs.0.1.bias",
                                            "convs.0.1.running_mean"]
    assert tuple(model(torch.randn(2, 8, 16, 16)).shape) == (2, 4, 16, 16)


# ---- sequential blocks ---------------------------------------------------------------------
CNA = """sequential block Conv2dNormActivation(c: int, k: int = 3, act: bool = true) {
    conv2d(c, k, padding=(k - 1) // 2, bias=false)
    batchnorm2d
    relu6 when act
}
"""


def test_a_sequential_block_is_numbered_like_nn_sequential():
    text = net("features: [\n    Conv2dNormActivation(16)\n    Conv2dNormActivation(8, 1, act=false)\n]", CNA)
    assert [q for q, _, _ in layers(text)] == ["features.0.0", "features.0.1", "features.0.2", "features.1.0",
                                               "features.1.1"]


def test_a_sequential_block_compiles_to_an_nn_sequential():
    torch = pytest.importorskip("torch")
    text = net("features: [\n    Conv2dNormActivation(16)\n    Conv2dNormActivation(8, 1, act=false)\n]", CNA)
    model = netdsl.load(text)
    assert isinstance(model.features[0], torch.nn.Sequential)
    assert [k for k in model.state_dict() if k.endswith("weight")] == ["features.0.0.weight", "features.0.1.weight",
                                                                      "features.1.0.weight", "features.1.1.weight"]
    assert tuple(model(torch.randn(2, 8, 16, 16)).shape) == (2, 8, 16, 16)
    assert "class Conv2dNormActivation(nn.Sequential)" in netdsl.build_source(text)


def test_named_items_of_a_sequential_block_keep_their_names():
    head = "sequential block S {\n    a: conv2d(8, 1)\n    b: relu\n    conv2d(4, 1)\n}\n"
    text = net("s: S", head)
    assert [q for q, _, _ in layers(text)] == ["s.a", "s.b", "s.2"]
    torch = pytest.importorskip("torch")
    model = netdsl.load(text)
    assert isinstance(model.s, torch.nn.Sequential)
    assert list(model.state_dict()) == ["s.a.weight", "s.a.bias", "s.2.weight", "s.2.bias"]
    assert tuple(model(torch.randn(1, 8, 16, 16)).shape) == (1, 4, 16, 16)


# ---- names as add_module takes them ------------------------------------------------------------
def test_string_names_may_hold_hyphens():
    text = net('stage: [\n    repeat 2 as i { "block1-{i}": conv2d(8, 1) }\n]\n"head-1": conv2d(4, 1)')
    assert [q for q, _, _ in layers(text)] == ["stage.block1-0", "stage.block1-1", "head-1"]
    assert codes(net('"9lives": relu')) == ["E0206"]
    assert codes(net('"a.b": relu')) == ["E0206"]
    torch = pytest.importorskip("torch")
    model = netdsl.load(text)
    assert list(model.state_dict())[:2] == ["stage.block1-0.weight", "stage.block1-0.bias"]
    assert tuple(model(torch.randn(1, 8, 16, 16)).shape) == (1, 4, 16, 16)


# ---- tensor parameters and @in -----------------------------------------------------------------
UNET = """block Up(c: int, skip: tensor) {
    conv_transpose2d(c, 2, stride=2)
    concat {
        identity
        @skip
    }
    conv2d(c, 3, padding=1)
}
"""


def test_a_block_takes_a_tensor_argument():
    text = net("e1: conv2d(8, 3, padding=1)\nmaxpool2d(2)\nconv2d(16, 3, padding=1)\nUp(8, @e1)", UNET)
    assert layers(text)[-1] == ("up.conv2d", "conv2d", (8, 16, 16))
    assert codes(net("Up(8, 3)", UNET)) == ["E0214"]
    torch = pytest.importorskip("torch")
    model = netdsl.load(text)
    assert tuple(model(torch.randn(2, 8, 16, 16)).shape) == (2, 8, 16, 16)
    assert "def forward(self, x, skip):" in netdsl.build_source(text)


def test_at_in_is_the_input_of_the_network_or_block():
    head = "block Res {\n    conv2d(in.channels, 3, padding=1)\n    add {\n        identity\n        @in\n    }\n}\n"
    text = net("Res\nconv2d(2, 1)\nadd {\n    identity\n    @in -> conv2d(2, 1)\n}", head)
    assert layers(text)[-1][2] == (2, 16, 16)
    torch = pytest.importorskip("torch")
    assert tuple(netdsl.load(text)(torch.randn(1, 8, 16, 16)).shape) == (1, 2, 16, 16)


# ---- return(...) -------------------------------------------------------------------------------
def test_a_network_returns_a_dict_or_a_tuple():
    text = net("a: conv2d(4, 1)\nb: conv2d(2, 3)\nreturn(out=@b, aux=@a)")
    g = check_source(text).graph()
    assert g.returns == [("out", (2, 14, 14)), ("aux", (4, 16, 16))]
    torch = pytest.importorskip("torch")
    result = netdsl.load(text)(torch.randn(1, 8, 16, 16))
    assert set(result) == {"out", "aux"} and tuple(result["aux"].shape) == (1, 4, 16, 16)
    pair = netdsl.load(net("a: conv2d(4, 1)\nb: conv2d(2, 3)\nreturn(@a, @b)"))(torch.randn(1, 8, 16, 16))
    assert isinstance(pair, tuple) and [tuple(t.shape) for t in pair] == [(1, 4, 16, 16), (1, 2, 14, 14)]


def test_return_errors():
    assert codes(net("a: relu\nreturn(@a)\nrelu")) == ["E0315"]
    assert codes(net("a: relu\nreturn(x=@a, @a)")) == ["E0315"]
    assert codes(net("return(3)")) == ["E0315"]
    assert codes("block B {\n    return(@in)\n}\n" + net("B")) == ["E0315"]


# ---- functions ---------------------------------------------------------------------------------
DIVISIBLE = """let rounded(v, d) = max(d, int(v + d / 2) // d * d)
let make_divisible(v, d) = rounded(v, d) + (d if rounded(v, d) < 0.9 * v else 0)
"""


def test_pure_functions_compute_what_builders_compute():
    text = net("conv2d(make_divisible(18, 8), 1)\nconv2d(make_divisible(37, 8), 1)", DIVISIBLE)
    assert [s[0] for _, _, s in layers(text)] == [24, 40]          # torchvision's _make_divisible
    text = net("conv2d(int(round(log(48 * 2.09 ** 2 / 48) / log(2.09))), 1)")
    assert layers(text)[0][2][0] == 2


def test_functions_are_total():
    assert codes("let f(x) = g(x)\nlet g(x) = f(x)\n" + net("conv2d(f(1), 1)")) == ["E0216"]
    assert codes(DIVISIBLE + net("conv2d(make_divisible(3), 1)")) == ["E0214"]
    assert codes(net("let s = sqrt(-1)")) == ["E0216"]
    assert codes(net("let s = log(0)")) == ["E0216"]
    chain = "let f0(x) = x\n" + "".join(f"let f{i}(x) = f{i - 1}(x) + f{i - 1}(x)\n" for i in range(1, 40))
    assert codes(chain + net("let y = f39(1)")) == ["E0320"]          # 2**39 calls: the budget stops it


# ---- gates, broadcasting and learnable tensors ------------------------------------------------
SE = """block SqueezeExcitation(squeeze: int) {
    mul {
        [avgpool: adaptive_avgpool2d(1) -> fc1: conv2d(squeeze, 1) -> activation: relu
         -> fc2: conv2d(in.channels, 1) -> scale_activation: hardswish]
        identity
    }
}
"""


def test_mul_gates_broadcast_as_torch_does():
    g = check_source(net("SqueezeExcitation(4)", SE)).graph()
    assert g.output_shape == (8, 16, 16)
    assert [q for q, _, _ in layers(net("SqueezeExcitation(4)", SE)) if "fc" in q] == ["squeeze_excitation.fc1",
                                                                                        "squeeze_excitation.fc2"]
    assert codes(net("add {\n    identity\n    adaptive_avgpool2d(1)\n}")) == []          # [8,16,16] + [8,1,1]
    assert codes(net("mul {\n    identity\n    maxpool2d(2)\n}")) == ["E0305"]           # 16 vs 8
    assert codes(net("add {\n    identity\n    flatten\n}")) == ["E0305"]                # ranks differ
    torch = pytest.importorskip("torch")
    model = netdsl.load(net("SqueezeExcitation(4)", SE))
    x = torch.randn(2, 8, 16, 16)
    gate = model.squeeze_excitation
    want = gate.scale_activation(gate.fc2(gate.activation(gate.fc1(gate.avgpool(x))))) * x
    assert torch.equal(model(x), want)


CNBLOCK = """block CNBlock {
    add {
        identity
        mul {
            layer_scale: parameter([in.channels, 1, 1], init=1e-6)
            "block": [conv2d(in.channels, 7, padding=3, groups=in.channels) -> relu]
        }
    }
}
"""


def test_a_parameter_is_a_tensor_of_its_module():
    text = net("features: [CNBlock -> CNBlock]", CNBLOCK)
    g = check_source(text).graph()
    assert g.total_params == 2 * (8 + 8 * 49 + 8)
    torch = pytest.importorskip("torch")
    model = netdsl.load(text)
    keys = list(model.state_dict())
    assert keys[:3] == ["features.0.layer_scale", "features.0.block.0.weight", "features.0.block.0.bias"]
    assert isinstance(model.features[0].layer_scale, torch.nn.Parameter)
    assert torch.all(model.features[0].layer_scale == 1e-6)
    assert tuple(model(torch.randn(2, 8, 16, 16)).shape) == (2, 8, 16, 16)


def test_parameter_errors():
    assert codes(net("parameter([0, 1])")) == ["E0215"]
    assert codes(net("parameter(3)")) == ["E0214"]
    assert codes(net("seq: [parameter([8, 1, 1])]")) == ["E0206"]      # nn.Sequential holds modules only


# ---- comprehensions and assertions -------------------------------------------------------------
def test_comprehensions_build_lists_as_python_does():
    text = net("let ws = [c * 2 for c in [4, 8, 16] if c > 4]\n"
               "let pairs = [a + b for (a, b) in [(1, 2), (3, 4)]]\n"
               "let dims = [d for d in in if d > 8]\n"
               "conv2d(sum(ws) + sum(pairs) + len(dims), 1)\n"
               "conv2d(1 if any([w > 30 for w in ws]) and not all([w > 30 for w in ws]) else 2, 1)")
    assert [s[0] for _, _, s in layers(text)] == [48 + 10 + 2, 1]


def test_comprehension_errors_are_located_and_bounded():
    assert codes(net("let x = [c for c in 3]")) == ["E0214"]
    assert codes(net("let x = [a for (a, b) in [1, 2]]")) == ["E0214"]
    assert codes(net("let x = [c for c in [1] if c]")) == ["E0214"]
    assert codes(net("let x = sum([true])")) == ["E0214"]
    assert codes(net("let x = all([1])")) == ["E0214"]
    assert codes(net("let x = [nope for c in [1]]")) == ["E0202"]
    # 10^4 x 10^4 items: the expansion budget stops it rather than building 10^8 values
    assert codes(net("let x = [[i * j for j in range(10000)] for i in range(10000)]")) == ["E0320"]


def test_an_assertion_refuses_values_with_the_authors_message():
    head = 'block G(c: int, groups: int) {\n    assert c % groups == 0, "groups must divide c"\n    conv2d(c, 1)\n}\n'
    result = check_source(net("G(8, 4)\nG(8, 3)\nconv2d(2, 1)", head))
    [d] = result.diagnostics
    assert (d.code, d.message) == ("E0221", "assertion failed: groups must divide c")
    assert d.notes == ["with c = 8, groups = 3"]
    assert codes(net("assert in.c == 8")) == []
    assert codes(net("assert in.c == 3")) == ["E0221"]
    assert codes(net("assert 1")) == ["E0218"]
    assert codes(net("assert nope")) == ["E0202"]


# ---- heads nothing uses ------------------------------------------------------------------------
AUX = """block Head(n: int) {
    c: conv2d(4, 1)
    flatten
    fc: linear(n)
}
""" + net("trunk: conv2d(8, 3, padding=1)\naux: Head(10)\n@trunk\nout: conv2d(8, 1)", shape="[8, 4, 4]")


def test_a_head_nothing_uses_is_built_but_not_computed():
    g = check_source(AUX).graph()
    assert g.total_params == 584 + 36 + 650 + 72
    assert g.total_macs == 8 * 16 * 72 + 8 * 16 * 8                 # trunk and out only
    assert sorted(g.nodes[i].qualname for i in g.unused) == ["aux.c", "aux.fc", "aux.flatten"]
    from netdsl.backends import summary
    s = summary.build(g)
    assert s.unused == ("aux",) and "not computed" in summary.to_text(s)
    torch = pytest.importorskip("torch")
    model = netdsl.load(AUX)
    assert [k for k in model.state_dict() if k.startswith("aux.")] == ["aux.c.weight", "aux.c.bias",
                                                                     "aux.fc.weight", "aux.fc.bias"]
    calls = []
    model.aux.register_forward_hook(lambda *a: calls.append(1))
    assert tuple(model(torch.randn(2, 8, 4, 4)).shape) == (2, 8, 4, 4) and calls == []
    assert tuple(model.aux(torch.randn(2, 8, 4, 4)).shape) == (2, 10)    # the head itself runs


def test_the_first_return_whose_condition_holds_is_taken():
    text = ("network N(aux = false) {\n    input [8, 16, 16]\n    a: conv2d(4, 1)\n    b: conv2d(2, 3)\n"
            "    return(out=@b, aux=@a) when aux\n    return(out=@b)\n}\n")
    assert check_source(text).graph().returns == [("out", (2, 14, 14))]
    assert check_source(text, params={"aux": True}).graph().returns == [("out", (2, 14, 14)), ("aux", (4, 16, 16))]
    assert codes(text.replace("when aux", "when 3")) == ["E0218"]
    torch = pytest.importorskip("torch")
    x = torch.randn(1, 8, 16, 16)
    assert set(netdsl.load(text)(x)) == {"out"}
    assert set(netdsl.load(text, aux=True)(x)) == {"out", "aux"}


def test_a_loop_line_in_a_merge_gives_one_branch_per_iteration():
    text = net("convs: concat {\n    conv2d(4, 1)\n    for r in [1, 2, 3] { [conv2d(4, 3, padding=r, dilation=r) -> relu] }\n"
               "    repeat 2 { conv2d(2, 1) }\n}\nadd {\n    identity\n    [for i in range(2) { conv2d(20, 1) }]\n}")
    found = layers(text)
    assert [q for q, k, _ in found if k == "conv2d"][:6] == ["convs.0", "convs.1.0", "convs.2.0", "convs.3.0",
                                                            "convs.4", "convs.5"]
    assert found[-1][2] == (20, 16, 16)          # [for ...]: one branch, the loop's layers chained
    torch = pytest.importorskip("torch")
    model = netdsl.load(text)
    assert len(model.convs) == 6
    assert tuple(model(torch.randn(1, 8, 16, 16)).shape) == (1, 20, 16, 16)


def test_zip_and_enumerate_pair_up_lists_as_python_does():
    text = net("let ws = [8, 8, 16]\n"
               "let splits = [i for (i, p) in enumerate(zip(ws + [0], [0] + ws)) if p[0] != p[1]]\n"
               "conv2d(sum(splits) * 10 + len(zip([1, 2], [3])), 1)")
    assert layers(text)[0][2][0] == (0 + 2 + 3) * 10 + 1           # splits [0, 2, 3]: RegNet's stages
    assert codes(net("let z = zip(1, [2])")) == ["E0214"]
    assert codes(net("let e = enumerate([1], [2])")) == ["E0214"]


def test_nothing_after_a_failed_assertion_is_evaluated():
    text = "network N(w_m = 1.0) {\n    input [3, 8, 8]\n    assert w_m > 1, \"w_m must exceed 1\"\n" \
           "    let k = 1 / log(w_m)\n    conv2d(8, 1)\n}\n"
    assert codes(text) == ["E0221"]
    head = "block B(w: int) {\n    assert w > 0\n    conv2d(w, 1)\n}\n"
    assert codes(net("B(0)\nB(4)\nconv2d(2, 1)", head)) == ["E0221"]


# ---- values given from Python ------------------------------------------------------------------
WIDTHS = ("network W(widths: list = [4, 8]) {\n    input [3, 8, 8]\n    for c in widths {\n"
          "        conv2d(c, 3, padding=1)\n    }\n}\n")


def test_a_python_list_is_a_list_parameter():
    r = netdsl.check(WIDTHS, params={"widths": [4, 8, 2]})
    assert r.ok and r.graph().output_shape == (2, 8, 8)
    nested = netdsl.check(WIDTHS.replace("for c in widths", "for (c, _) in widths").replace("[4, 8]", "[(4, 1)]"),
                          params={"widths": [[4, 0], [6, 0]]})
    assert nested.ok and nested.graph().output_shape == (6, 8, 8)
    torch = pytest.importorskip("torch")
    model = netdsl.load(WIDTHS, widths=[4, 8, 2])
    assert tuple(model(torch.randn(1, 3, 8, 8)).shape) == (1, 2, 8, 8)
