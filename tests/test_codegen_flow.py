"""`@name`s in the generated classes (issue 13, requirements 1 to 3): named tensors are
forward's locals, `@name` continues from one, a layer taking another tensor
(`center_crop(@up4)`) reads its size at run time, `@in` is the block's input.

Expectations are written by hand (torchvision's and the U-Net paper's numbers); the
class per specialisation (tests/test_zoo_reference.py holds it to torchvision) is
the reference the modules are compared with under the same weights.
"""
from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import netdsl
from netdsl.backends.codegen import generate, specialised_networks
from netdsl.pipeline import check_source

torch = pytest.importorskip("torch")
from netdsl_same import same_modules  # noqa: E402  (tests/ is on sys.path under pytest)

from netdsl.backends.build import exec_source  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def _compiled(name: str, **params):
    result = netdsl.check(str(SPECS / f"{name}.net"), params=params or None)
    graphs = list(result.graphs)
    return generate(graphs, f"{name}.net"), graphs


def _same_under_the_same_weights(mine, ref, x):
    return same_modules(mine, ref, x)


# ---- U-Net: crops to the upsampled tensor's run-time size ------------------------------
def _predicted(size: int) -> str:
    """What `netdsl check --input` says the U-Net gives at `size`."""
    done = subprocess.run([sys.executable, "-m", "netdsl", "check", str(SPECS / "unet.net"), "--input",
                           f"1x{size}x{size}"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_unet_class_takes_its_parameters_and_any_size():
    source, graphs = _compiled("unet")
    assert specialised_networks(source, ["UNet"]) == set()
    assert "        self.head = nn.Conv2d(in_channels=64, out_channels=num_classes, kernel_size=1)" in source
    # the skip connections are forward's locals, cropped to the upsampled tensor at run time
    assert "        enc4 = self.enc4(x)" in source
    assert "        x1 = self.center_crop(enc4, up4)" in source
    assert "        x = torch.cat([x1, up4], dim=1)" in source
    # 188 is the smallest size the valid convolutions take: [2, 4, 4] (the spec: in.h - 184)
    assert "[1, 188, 188] \u2192 [2, 4, 4]" in _predicted(188)
    assert "[1, 572, 572] \u2192 [2, 388, 388]" in _predicted(572)
    module = exec_source(source)
    three = module.UNet(num_classes=3).eval()
    assert three.head.out_channels == 3
    with torch.no_grad():
        assert tuple(three(torch.randn(1, 1, 188, 188)).shape) == (1, 3, 4, 4)
        assert tuple(three(torch.randn(1, 1, 572, 572)).shape) == (1, 3, 388, 388)
    # the same module `netdsl.load` builds for num_classes=3, under the same weights
    loaded = netdsl.load(str(SPECS / "unet.net"), num_classes=3).eval()
    loaded.load_state_dict(three.state_dict())
    x = torch.randn(1, 1, 188, 188)
    with torch.no_grad():
        assert torch.equal(loaded(x), three(x))


def test_the_unet_class_gives_what_the_class_per_specialisation_gives():
    source, graphs = _compiled("unet")
    mine = exec_source(source).UNet()
    ref = exec_source(generate(graphs, "unet.net", block_classes=False)).UNet()
    out = _same_under_the_same_weights(mine, ref, torch.randn(1, 1, 188, 188))
    assert tuple(out.shape) == (1, 2, 4, 4)


# ---- GoogLeNet: auxiliary heads reached by `@name` --------------------------------------
@pytest.mark.parametrize("aux", [False, True])
def test_googlenet_with_and_without_its_auxiliary_heads(aux):
    source, _ = _compiled("googlenet")         # compiled at the defaults (aux_logits = false)
    assert specialised_networks(source, ["GoogLeNet"]) == set()
    assert "        if aux_logits:\n            self.aux1 = GoogLeNetAux(" in source
    net = exec_source(source).GoogLeNet(num_classes=10, aux_logits=aux)
    keys = net.state_dict()
    if aux:
        # torchvision's googlenet(aux_logits=True): InceptionAux on inception4a (512) and 4d (528)
        assert tuple(keys["aux1.conv.conv.weight"].shape) == (128, 512, 1, 1)
        assert tuple(keys["aux2.conv.conv.weight"].shape) == (128, 528, 1, 1)
        assert tuple(keys["aux1.fc1.weight"].shape) == (1024, 2048)
        assert tuple(keys["aux2.fc2.weight"].shape) == (10, 1024)
    else:
        assert not any(k.startswith("aux") for k in keys) and net.aux1 is None and net.aux2 is None
    assert tuple(keys["fc.weight"].shape) == (10, 1024)
    _, graphs = _compiled("googlenet", num_classes=10, aux_logits=aux)
    ref = exec_source(generate(graphs, "googlenet.net", block_classes=False)).GoogLeNet()
    out = _same_under_the_same_weights(net, ref, torch.randn(2, 3, 64, 64))
    assert tuple(out.shape) == (2, 10)      # the heads are built, not computed (torchvision's eval mode)


def test_the_auxiliary_head_follows_sizes_through_a_block():
    """GoogLeNetAux: an adaptive pool to 4x4, a 1x1 BasicConv2d, then a linear after
    flatten: 128 * 4 * 4 = 2048 features, whatever its input's size."""
    source, _ = _compiled("googlenet")
    assert "class GoogLeNetAux(nn.Module):" in source
    assert "        self.fc1 = nn.Linear(in_features=2048, out_features=1024)" in source


def test_inception_v3_is_parametric():
    source, _ = _compiled("inception_v3")
    assert specialised_networks(source, ["InceptionV3"]) == set()
    # the auxiliary head's unnamed adaptive pool keeps the name elaboration gives it
    assert "        if aux_logits:\n            self.adaptive_avgpool2d = nn.AdaptiveAvgPool2d(" in source
    with torch.device("meta"):
        net = exec_source(source).InceptionV3(num_classes=7, aux_logits=True)
    keys = net.state_dict()
    assert tuple(keys["AuxLogits.fc.weight"].shape) == (7, 768)        # torchvision's InceptionAux
    assert tuple(keys["fc.weight"].shape) == (7, 2048)


# ---- `@in` and named tensors in a block --------------------------------------------------
_MBCONV = ('import "zoo:lib/efficientnet.net"\nnetwork Probe {{\n    input [8, 10, 10]\n'
           "    {kind}(4.0, 3, 1, 8, 8, 0.2) -> {kind}(1.0, 5, 2, 8, 12, 0.1) -> {kind}(6.0, 3, 1, 12, 12, 0.0)\n}}\n")


@pytest.mark.parametrize("kind", ["MBConv", "FusedMBConv"])
def test_a_block_that_adds_its_input_has_one_class(kind):
    result = check_source(_MBCONV.format(kind=kind))
    assert result.ok
    graphs = list(result.graphs)
    source = generate(graphs)
    assert len(re.findall(rf"^class {kind}(_\d+)?\(", source, flags=re.M)) == 1
    # torchvision's `result = self.block(input); ... if self.use_res_connect: result += input`
    assert "        result = self.block(x)\n" in source
    assert "        self.use_add = stride == 1 and input_channels == out\n" in source
    # what `@result when ...` overwrites runs only on the residual path (torchvision's MBConv)
    assert ("        if self.use_result:\n            y = result\n        else:\n"
            "            y = self.stochastic_depth(result)\n            if self.use_add:\n"
            "                y = y + x\n        return y\n") in source
    mine = exec_source(source).Probe()
    ref = exec_source(generate(graphs, block_classes=False)).Probe()
    out = _same_under_the_same_weights(mine, ref, torch.randn(2, 8, 10, 10))
    assert tuple(out.shape) == (2, 12, 5, 5)


@pytest.mark.parametrize("kind", ["MBConv", "FusedMBConv"])
def test_a_block_draws_random_numbers_in_training_only_where_its_output_needs_them(kind):
    """In training, StochasticDepth draws from torch's generator. A block that returns its
    body's output as it is (stride 2) must not draw, or the dropout after it would drop
    other units than the class per specialisation's (and torchvision's) do."""
    spec = ('import "zoo:lib/efficientnet.net"\nnetwork Probe {\n    input [8, 10, 10]\n'
            f"    {kind}(1.0, 3, 2, 8, 12, 0.5) -> dropout(0.5)\n}}\n")
    graphs = list(check_source(spec).graphs)
    mine = exec_source(generate(graphs)).Probe()
    ref = exec_source(generate(graphs, block_classes=False)).Probe()
    mine.load_state_dict(ref.state_dict())
    mine.train()
    ref.train()
    x = torch.randn(4, 8, 10, 10)
    torch.manual_seed(1)
    a = mine(x)
    torch.manual_seed(1)
    b = ref(x)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_reference_into_an_arm_keeps_a_class_per_use():
    """A tensor named inside an `if` arm is not forward's after it: no class is guessed."""
    spec = ("block B(on: bool) {\n    if on { a: conv2d(4, 1) } else { a: conv2d(4, 3, padding=1) }\n"
            "    relu\n    add { identity; @a }\n}\n"
            "network Probe {\n    input [3, 8, 8]\n    B(true) -> B(false)\n}\n")
    result = check_source(spec)
    assert result.ok
    graphs = list(result.graphs)
    source = generate(graphs)
    assert "# B: a class per use, because `@a` refers to a tensor forward does not hold there" in source
    mine = exec_source(source).Probe()
    ref = exec_source(generate(graphs, block_classes=False)).Probe()
    _same_under_the_same_weights(mine, ref, torch.randn(2, 3, 8, 8))


# ---- DeepLabV3's constructs: named outputs, a named merge, upsample(size=@in) -----------
_OUTPUTS = """
network Probe(aux = false, k = 3) {
    input [3, 16, 16]
    body: conv2d(8, 3, padding=1)
    relu
    head: conv2d(k, 1)
    out: upsample(size=@in, mode="bilinear")
    @body -> aux_head: conv2d(k, 1) when aux
    aux: upsample(size=@in, mode="bilinear")
    return(out=@out, aux=@aux) when aux
    return(out=@out)
}
"""


@pytest.mark.parametrize("aux", [False, True])
def test_a_network_returning_named_tensors_has_a_class_for_any_values(aux):
    """DeepLabV3's `return(out=@out, aux=@aux) when aux`: the dict torchvision returns."""
    source = generate(list(check_source(_OUTPUTS).graphs))
    assert specialised_networks(source, ["Probe"]) == set()
    assert "        self.returns_out_aux = aux\n" in source
    # the auxiliary head is computed only where it is returned (as the class per
    # specialisation for aux false does not compute it)
    assert ('        if self.returns_out_aux:\n            if self.aux_head is not None:\n'
            '                y = self.aux_head(body)\n') in source
    assert '            return {"out": out, "aux": aux_1}\n        return {"out": out}\n' in source
    mine = exec_source(source).Probe(aux=aux, k=2)
    spec = _OUTPUTS.replace("aux = false, k = 3", f"aux = {str(aux).lower()}, k = 2")
    ref = exec_source(generate(list(check_source(spec).graphs), block_classes=False)).Probe()
    out = _same_under_the_same_weights(mine, ref, torch.randn(2, 3, 20, 24))
    assert sorted(out) == (["aux", "out"] if aux else ["out"])
    assert tuple(out["out"].shape) == (2, 2, 20, 24)        # upsampled to the input's run-time size


_ARM_OUTPUT = """
network Probe(aux = false, k = 3) {
    input [3, 16, 16]
    body: conv2d(8, 3, padding=1)
    relu
    out: conv2d(k, 1)
    if aux {
        @body
        aux_head: conv2d(k, 1)
        aux: upsample(size=@in, mode="bilinear")
    }
    return(out=@out, aux=@aux) when aux
    return(out=@out)
}
"""


@pytest.mark.parametrize("aux", [False, True])
def test_a_tensor_named_in_an_arm_is_returned_through_the_result_dict(aux):
    """DeepLabV3's `if aux { ... aux: ... }` and `return(out=@out, aux=@aux) when aux`:
    torchvision's `result["aux"] = x` inside the `if`, which TorchScript takes (a local
    set only in the arm and read after it, it refuses)."""
    source = generate(list(check_source(_ARM_OUTPUT).graphs))
    assert specialised_networks(source, ["Probe"]) == set()
    assert ('        result = {"out": out}\n        if self.aux_head is not None:\n'
            '            y = self.aux_head(body)\n') in source
    assert '            result["aux"] = aux_1\n        return result\n' in source
    assert "returns_out_aux" not in source
    mine = exec_source(source).Probe(aux=aux, k=2)
    spec = _ARM_OUTPUT.replace("aux = false, k = 3", f"aux = {str(aux).lower()}, k = 2")
    ref = exec_source(generate(list(check_source(spec).graphs), block_classes=False)).Probe()
    out = _same_under_the_same_weights(mine, ref, torch.randn(2, 3, 20, 24))
    assert list(out) == (["out", "aux"] if aux else ["out"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # jit.script is deprecated in favour of export, but still offered
        scripted = torch.jit.script(mine)
    x = torch.randn(1, 3, 12, 12)
    with torch.no_grad():
        for k, v in mine(x).items():
            torch.testing.assert_close(scripted(x)[k], v, rtol=0, atol=0)


@pytest.mark.parametrize("change", [
    # the arm's tensor first: the result dict would hold it before `out`
    ("return(out=@out, aux=@aux) when aux", "return(aux=@aux, out=@out) when aux"),
    # returned under another test than the arm's
    ("aux = false, k = 3", "aux = false, k = 3, more = false"),
])
def test_other_returns_of_an_arm_s_tensor_keep_a_class_for_the_values(change):
    old, new = change
    spec = _ARM_OUTPUT.replace(old, new)
    if "more" in new:
        spec = spec.replace("return(out=@out, aux=@aux) when aux", "return(out=@out, aux=@aux) when more")
    result = check_source(spec)
    assert result.ok, result.diagnostics
    graphs = list(result.graphs)
    source = generate(graphs)
    assert specialised_networks(source, ["Probe"]) == {"Probe"}
    mine = exec_source(source).Probe()
    ref = exec_source(generate(graphs, block_classes=False)).Probe()
    _same_under_the_same_weights(mine, ref, torch.randn(2, 3, 16, 16))


_PYRAMID = """import "zoo:deeplabv3_resnet50.net"
block Pyramid(out: int = 4) {
    convs: concat {
        Conv2dNormActivation(out, 1)
        [conv2d(out, 3, padding=2, dilation=2) -> relu]
        ASPPPooling(out)
    }
    project: [conv2d(out, 1, bias=false) -> batchnorm2d -> relu]
}
network Probe {
    input [8, 10, 12]
    Pyramid(6) -> Pyramid
}
"""


def test_a_named_merge_is_a_module_list_and_aspp_pooling_interpolates_to_its_input():
    result = check_source(_PYRAMID)
    assert result.ok
    graphs = list(result.graphs)
    source = generate(graphs)
    for name in ("Pyramid", "ASPPPooling"):
        assert len(re.findall(rf"^class {name}(_\d+)?\(", source, flags=re.M)) == 1, name
    # torchvision's ASPP: self.convs = nn.ModuleList(...), each called on the input
    assert "self.convs = nn.ModuleList(" in source
    assert "        x1 = self.convs[0](x)\n        x2 = self.convs[1](x)\n        x = self.convs[2](x)\n" in source
    # torchvision's ASPPPooling: the modules in order, then back to the input's size
    assert ("        for module in self:\n            y = module(y)\n        y = nn.functional.interpolate("
            'y, size=x.shape[2:], mode="bilinear", align_corners=False)\n') in source
    mine = exec_source(source).Probe()
    ref = exec_source(generate(graphs, block_classes=False)).Probe()
    # ASPPPooling's conv, as torchvision's classifier.0.convs.4.1.weight
    assert tuple(mine.state_dict()["pyramid.convs.2.1.weight"].shape) == (6, 8, 1, 1)
    out = _same_under_the_same_weights(mine, ref, torch.randn(2, 8, 10, 12))
    assert tuple(out.shape) == (2, 4, 10, 12)


_ONE_OUTPUT = """
network Probe(k = 4, more = false) {
    input [3, 8, 8]
    a: conv2d(k, 1)
    b: conv2d(2, 1)
    return(@a, @b) when more
    return(@b)
}
"""


@pytest.mark.parametrize("more", [False, True])
def test_one_positional_return_is_the_tensor_itself(more):
    """`return(@b)` gives the tensor, as the graph (a lone positional output is no tuple) and
    the class per specialisation have it; `return(@a, @b)` a tuple (found by tools/fuzz_emitters.py)."""
    source = generate(list(check_source(_ONE_OUTPUT).graphs))
    assert specialised_networks(source, ["Probe"]) == set()
    assert "        if self.returns_a_b:\n" in source
    assert source.rstrip().endswith("\n        return b")
    mine = exec_source(source).Probe(more=more)
    spec = _ONE_OUTPUT.replace("more = false", f"more = {str(more).lower()}")
    ref = exec_source(generate(list(check_source(spec).graphs), block_classes=False)).Probe()
    out = _same_under_the_same_weights(mine, ref, torch.randn(2, 3, 8, 8))
    if more:
        assert [tuple(t.shape) for t in out] == [(2, 4, 8, 8), (2, 2, 8, 8)]
    else:
        assert isinstance(out, torch.Tensor) and tuple(out.shape) == (2, 2, 8, 8)


_NAMED_BRANCHES = """
block Branchy(c: int = 4) {
    m: add {
        p: [conv2d(c, 1)]
        q: conv2d(c, 1)
    }
}
network Probe {
    input [3, 8, 8]
    Branchy -> Branchy(2)
}
"""


def test_a_named_merge_whose_branches_carry_names_keeps_a_class_per_use():
    """`m: add { p: [...] q: ... }`: the class per specialisation keeps the branches in an
    nn.ModuleDict by their names (`m.p.0.weight`); a class whose nn.ModuleList indexes them
    would have `m.0.p.0.weight`, so the block falls back (found by tools/fuzz_emitters.py)."""
    graphs = list(check_source(_NAMED_BRANCHES).graphs)
    source = generate(graphs)
    assert "# Branchy: a class per use, because a named merge's branch named by its one item" in source
    assert "class Branchy_2(" in source
    mine = exec_source(source).Probe()
    assert [k for k in mine.state_dict()] == [
        "branchy.m.p.0.weight", "branchy.m.p.0.bias", "branchy.m.q.weight", "branchy.m.q.bias",
        "branchy_1.m.p.0.weight", "branchy_1.m.p.0.bias", "branchy_1.m.q.weight", "branchy_1.m.q.bias"]
    ref = exec_source(generate(graphs, block_classes=False)).Probe()
    out = _same_under_the_same_weights(mine, ref, torch.randn(2, 3, 8, 8))
    assert tuple(out.shape) == (2, 2, 8, 8)


_UNRETURNED = """
network Probe(more = false) {
    input [3, 8, 8]
    a: [conv2d(4, 1) -> batchnorm2d]
    b: [conv2d(2, 1) -> batchnorm2d -> dropout(0.5)]
    return(@a, @b) when more
    return(@a)
}
"""


@pytest.mark.parametrize("more", [False, True])
def test_a_tensor_only_a_guarded_return_reads_is_computed_in_its_arm(more):
    """`b` is built but, for more false, not computed (as the class per specialisation has
    it): in training its batch norm must not update its statistics, nor its dropout draw
    random numbers (found by tools/fuzz_emitters.py)."""
    source = generate(list(check_source(_UNRETURNED).graphs))
    assert specialised_networks(source, ["Probe"]) == set()
    assert ("        a = self.a(x)  # [4, 8, 8]\n        if self.returns_a_b:\n            b = self.b(a)\n"
            "            return (\n") in source
    mine = exec_source(source).Probe(more=more)
    spec = _UNRETURNED.replace("more = false", f"more = {str(more).lower()}")
    ref = exec_source(generate(list(check_source(spec).graphs), block_classes=False)).Probe()
    _same_under_the_same_weights(mine, ref, torch.randn(2, 3, 8, 8))
    mine.train()
    ref.train()
    x = torch.randn(2, 3, 8, 8)
    torch.manual_seed(3)
    got = mine(x)
    torch.manual_seed(3)
    want = ref(x)
    for g, w in zip(got if more else [got], want if more else [want]):
        torch.testing.assert_close(g, w, rtol=0, atol=0)
    assert mine.b[1].num_batches_tracked.item() == (1 if more else 0)     # this training pass only
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(mine.state_dict()[k], v, rtol=0, atol=0)


_THREE_RETURNS = """
network Probe(p = false) {
    input [3, 8, 8]
    a: [conv2d(3, 1) -> batchnorm2d]
    b: [conv2d(2, 1) -> batchnorm2d -> dropout(0.5)]
    @a
    d: [conv2d(3, 1) -> stochastic_depth(0.5, "row")]
    return(@a, @d) when p
    return(@b, @a) when not p
    return(@b)
}
"""


@pytest.mark.parametrize("p", [False, True])
def test_a_tensor_later_returns_read_is_computed_after_the_returns_before(p):
    """`b` is read by the second and third returns, not the first: it is computed after
    the first `return`'s `if`, `d` only inside it."""
    source = generate(list(check_source(_THREE_RETURNS).graphs))
    assert specialised_networks(source, ["Probe"]) == set()
    assert ("        a = self.a(x)  # [3, 8, 8]\n        if self.returns_a_d:\n            d = self.d(a)\n"
            "            return (\n") in source
    assert "        b = self.b(a)  # [2, 8, 8]\n        if self.returns_b_a:\n" in source
    mine = exec_source(source).Probe(p=p)
    ref = exec_source(generate(list(check_source(_THREE_RETURNS.replace("p = false", f"p = {str(p).lower()}"))
                                    .graphs), block_classes=False)).Probe()
    _same_under_the_same_weights(mine, ref, torch.randn(2, 3, 8, 8))
    mine.train()
    ref.train()
    x = torch.randn(2, 3, 8, 8)
    torch.manual_seed(4)
    got = mine(x)
    torch.manual_seed(4)
    want = ref(x)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=0, atol=0)
    assert mine.b[1].num_batches_tracked.item() == (0 if p else 1)
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(mine.state_dict()[k], v, rtol=0, atol=0)


def test_a_block_built_but_not_computed_has_a_forward_of_its_own():
    """Nothing reads `t1`, and inside it a non-residual MBConv leaves its stochastic depth
    unread too, so the block has two dead ends; its forward still returns what flows out
    of it (the IR's Scope.output), in both emitters (the class per specialisation raised
    TypeError here)."""
    spec = ('import "zoo:lib/efficientnet.net"\nnetwork N {\n    input [4, 16, 16]\n    t0: identity\n'
            '    t1: EfficientNetStage("MBConv", 4, 3, 1, 4, 2, 3, 0, 6, 0.2)\n    return(@t0)\n}\n')
    graphs = list(check_source(spec).graphs)
    ref = exec_source(generate(graphs, block_classes=False)).N()
    mine = exec_source(generate(graphs)).N()
    x = torch.randn(2, 4, 16, 16)
    out = _same_under_the_same_weights(mine, ref, x)
    assert torch.equal(out, x)              # the network returns `t0`, its input
    with torch.no_grad():
        assert tuple(ref.t1(x).shape) == tuple(mine.t1(x).shape) == (2, 2, 16, 16)
        torch.testing.assert_close(ref.t1(x), mine.t1(x), rtol=0, atol=0)
