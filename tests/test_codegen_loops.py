"""Loops in the classes code generation writes (issue 13): `for` and `repeat` become
Python loops in numbered scopes, nested ones too; a loop's output channels leave its
class in the class's own names, or as `self.out_channels` where they depend on the
loop's values.

Each module built from a class is compared with the one the class per specialisation
builds for the same values (tests/test_zoo_reference.py holds that emitter to
torchvision), and the channels are written here by hand.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import netdsl
from netdsl.backends.codegen import generate, specialised_networks
from netdsl.pipeline import check_source

torch = pytest.importorskip("torch")
from netdsl.backends.build import exec_source  # noqa: E402

SPECS = Path(__file__).resolve().parent.parent / "specs"

LOOPS = """\
sequential block Widen(widths: list) {
    for w in widths { conv2d(w, 3, padding=1) -> relu }
}
sequential block Deepen(n: int) {
    repeat n { conv2d(6, 1) }
}
block Twice(widths: list) {
    first: Widen(widths)
    second: [Widen(widths) -> batchnorm2d]
}
network N(widths = [4, 6], table = [(1, 4), (0, 9), (2, 5)], n = 2) {
    input [3, 8, 8]
    w: Widen(widths)
    conv2d(5, 1)
    d: Deepen(n)
    t: Twice(widths)
    body: [
        for (k, c) in table {
            repeat k { conv2d(c, 1) -> relu }
            batchnorm2d
        }
        Widen(widths)
        repeat n { conv2d(6, 1) }
    ]
    conv2d(3, 1)
}
"""


def _source(text, **params):
    result = check_source(text, params=params) if params else check_source(text)
    assert result.ok, result.diagnostics
    return list(result.graphs)


def _same_module(mine, values, text=LOOPS, name="N", shape=(1, 3, 8, 8)):
    """`mine` is the module the class per specialisation builds for `values`."""
    reference = getattr(exec_source(generate(_source(text, **values), block_classes=False)), name)().eval()
    mine.eval()
    mine_sd, ref_sd = mine.state_dict(), reference.state_dict()
    assert [(k, tuple(v.shape)) for k, v in mine_sd.items()] == [(k, tuple(v.shape)) for k, v in ref_sd.items()]
    torch.manual_seed(0)
    for v in ref_sd.values():
        if v.is_floating_point():
            v.copy_(torch.rand_like(v) + 0.5)
    mine.load_state_dict(ref_sd)
    x = torch.randn(*shape)
    with torch.no_grad():
        torch.testing.assert_close(mine(x), reference(x), rtol=0, atol=0)


def test_the_loops_network_gets_classes_and_python_loops():
    text = generate(_source(LOOPS))
    assert "a class per" not in text and "a class for the values" not in text
    for cls in ("Widen", "Deepen", "Twice", "N"):
        assert len(re.findall(rf"^class {cls}\(", text, flags=re.M)) == 1
    # a for over a parameter, its channels in a local updated at the end of the body
    assert "        for w in widths:\n" in text
    assert "            channels = w\n" in text
    # nested: the repeat inside the for shares the local
    assert "        for k, c in table:\n            for _ in range(k):\n" in text
    # a loop over the values: the class keeps its output channels, the user reads them
    assert "        self.out_channels = channels\n" in text
    assert "nn.Conv2d(in_channels=self.w.out_channels, out_channels=5, kernel_size=1)" in text
    # a loop whose body's channels do not depend on those entering: no loop local leaks out
    assert "self.t = Twice(6 if n > 0 else 5, widths)" in text


@pytest.mark.parametrize("values, widen_out, deepen_out, body_in", [
    ({}, 6, 6, 6),
    ({"widths": [2, 3, 7]}, 7, 6, 6),
    ({"n": 0}, 6, 5, 6),
    ({"widths": [], "n": 0}, 3, 5, 5),      # zero iterations: the channels pass through
    ({"table": [(0, 4)], "widths": [5]}, 5, 6, 6),
])
def test_loop_channels_for_any_values(values, widen_out, deepen_out, body_in):
    N = exec_source(generate(_source(LOOPS))).N
    net = N(**values)
    widths = values.get("widths", [4, 6])
    assert net.conv2d.in_channels == widen_out
    assert len(net.d) == values.get("n", 2)
    assert net.t.second[-1].num_features == (widths[-1] if widths else deepen_out)
    assert net.conv2d_1.in_channels == body_in
    _same_module(net, values)


def test_a_zero_iteration_for_keeps_the_channels():
    N = exec_source(generate(_source(LOOPS))).N
    net = N(widths=[], table=[], n=0)
    assert len(net.w) == 0 and len(net.body) == 1 and len(net.body[0]) == 0     # an empty Widen
    assert net.conv2d.in_channels == 3 and net.conv2d_1.in_channels == 5
    _same_module(net, {"widths": [], "table": [], "n": 0})


def test_vgg11_for_ten_classes():
    source = generate(list(netdsl.check(str(SPECS / "vgg11.net")).graphs), "vgg11.net")
    assert not specialised_networks(source, ["VGG11"])
    assert "        for convs, channels in arch:\n            for _ in range(convs):\n" in source
    VGG11 = exec_source(source).VGG11
    with torch.device("meta"):
        ten = VGG11(num_classes=10)
    convs = [m for m in ten.features if isinstance(m, torch.nn.Conv2d)]
    assert [(m.in_channels, m.out_channels) for m in convs] == [
        (3, 64), (64, 128), (128, 256), (256, 256), (256, 512), (512, 512), (512, 512), (512, 512)]
    assert ten.classifier[0].in_features == 512 * 7 * 7 and ten.classifier[-1].out_features == 10
    assert sum(p.numel() for p in ten.parameters()) == 132_863_336 - 4096 * 990 - 990
    # a small table, built and run on the CPU
    small = VGG11(num_classes=10, arch=[(1, 4), (0, 9), (2, 8)])
    assert [type(m).__name__ for m in small.features] == [
        "Conv2d", "ReLU", "MaxPool2d", "MaxPool2d", "Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"]
    assert small.classifier[0].in_features == 8 * 7 * 7
    assert tuple(small.eval()(torch.randn(2, 3, 64, 64)).shape) == (2, 10)


@pytest.mark.parametrize("spec, cls, values", [
    ("resnet50", "ResNet50", {"num_classes": 10}),
    ("mobilenet_v2", "MobileNetV2", {"num_classes": 10, "width": 0.25}),
    ("mnasnet1_0", "MNASNet", {"num_classes": 10, "alpha": 0.5}),
])
def test_networks_whose_layers_come_out_of_loops_take_their_parameters(spec, cls, values):
    source = generate(list(netdsl.check(str(SPECS / f"{spec}.net")).graphs), f"{spec}.net")
    assert not specialised_networks(source, [cls])
    assert "come out of a loop" not in source and "has a `for` loop" not in source
    Net = getattr(exec_source(source), cls)
    expected = netdsl.check(str(SPECS / f"{spec}.net"), params=values).graph()
    with torch.device("meta"):
        net = Net(**values)
    assert sum(p.numel() for p in net.parameters()) == expected.total_params
    reference = exec_source(generate([expected], f"{spec}.net", block_classes=False))
    with torch.device("meta"):
        ref = getattr(reference, cls)()
    assert [(k, tuple(v.shape)) for k, v in net.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]


def test_resnet50_layers_leave_planes_times_four():
    source = generate(list(netdsl.check(str(SPECS / "resnet50.net")).graphs), "resnet50.net")
    assert len(re.findall(r"^class BottleneckLayer\(nn\.Sequential\):", source, flags=re.M)) == 1
    assert "self.layer1 = BottleneckLayer(64, 64, 3)" in source
    assert "self.layer2 = BottleneckLayer(64 * 4, 128, 4, stride=2)" in source or \
        "self.layer2 = BottleneckLayer(256, 128, 4, stride=2)" in source
    assert "nn.Linear(in_features=2048, out_features=num_classes)" in source or \
        "nn.Linear(in_features=512 * 4, out_features=num_classes)" in source


def test_shufflenet_unit_and_stage_have_one_class_each():
    source = generate(list(netdsl.check(str(SPECS / "shufflenet_v2_x1_0.net")).graphs), "shufflenet.net")
    for cls in ("ShuffleBranch", "InvertedResidual", "ShuffleStage"):
        assert len(re.findall(rf"^class {cls}\(", source, flags=re.M)) == 1, cls
    # torchvision's forward: branch1 exists only at a stride above 1
    assert "        if self.branch1 is not None:\n" in source
    # chunk(2, 1) of the input: ⌊C / 2⌋ channels
    assert "self.branch2 = ShuffleBranch(in_channels // 2, bf, 1)" in source
    module = exec_source(source)
    unit = module.InvertedResidual(8, 8, 1).eval()
    assert unit.branch1 is None and unit.branch2[0].in_channels == 4
    assert tuple(unit(torch.randn(1, 8, 6, 6)).shape) == (1, 8, 6, 6)
    # the spec's `assert 1 <= stride and stride <= 3`, written as Python's chained comparison
    assert "        if not 1 <= stride <= 3:\n" in source
    for stride in (0, 4):
        with pytest.raises(ValueError, match="strides 1 to 3"):
            module.InvertedResidual(8, 8, stride)
    stage = module.ShuffleStage(6, 10, 3)
    assert stage.out_channels == 10 and len(stage) == 3
    assert stage[0].branch1[0].in_channels == 6 and stage[1].branch2[0].in_channels == 5


def test_a_for_that_unpacks_into_a_wildcard_and_a_range():
    text = """\
sequential block S(n: int) {
    for (c, _) in [(4, "a"), (5, "b")] { conv2d(c + n, 1) }
    for i in range(2) { conv2d(i + 1, 1) }
}
network M(n = 1) {
    input [3, 8, 8]
    S(n)
    conv2d(2, 1)
}
"""
    source = generate(_source(text))
    assert 'for c, _ in ((4, "a"), (5, "b")):' in source and "for i in range(2):" in source
    M = exec_source(source).M
    net = M(n=3)
    assert [m.out_channels for m in net.s] == [7, 8, 1, 2]
    assert net.conv2d.in_channels == 2
    _same_module(net, {"n": 3}, text, "M")


def test_a_for_over_a_table_inside_a_block():
    """MobileNetV3Features' `for` over its setting, with an InvertedResidual whose layers are
    named with a plain name (the zoo's quotes its name, `"block"`, which another part of
    code generation handles): one class for each, and the network takes its table."""
    lib = (SPECS / "lib" / "mobilenet.net").read_text()
    assert '"block": [' in lib and 'import "ops.net"' in lib
    lib = lib.replace('"block": [', "layers: [").replace('import "ops.net"', 'import "zoo:lib/ops.net"')
    text = lib + """
network M(setting = [(16, 3, 16, 16, false, "RE", 1, 1), (16, 3, 64, 24, true, "HS", 2, 1)], num_classes = 10) {
    input [3, 32, 32]
    features: MobileNetV3Features(setting)
    avgpool: adaptive_avgpool2d(1)
    flatten
    classifier: MobileNetV3Classifier(32, num_classes, 0.2)
}
"""
    source = generate(_source(text))
    assert "a class per" not in source and "a class for the values" not in source
    assert "        for c_in, k, c_exp, c_out, se, act, s, d in setting:\n" in source
    assert "self.classifier = MobileNetV3Classifier(6 * setting[-1][3], 32, num_classes, 0.2)" in source
    M = exec_source(source).M
    table = [(16, 3, 16, 16, False, "RE", 1, 1), (16, 5, 48, 8, True, "HS", 2, 1), (8, 3, 24, 8, False, "RE", 1, 1)]
    net = M(setting=table, num_classes=3)
    assert net.classifier[0].in_features == 6 * 8 and net.classifier[-1].out_features == 3
    assert len(net.features) == 5
    _same_module(net, {"setting": table, "num_classes": 3}, text, "M", (2, 3, 32, 32))


@pytest.mark.parametrize("body, why", [
    ("sequential block B(n: int) {\n    repeat n { if n > 1 { conv2d(4, 1) when n > 2 } }\n}",
     "a condition or a loop inside a condition inside a loop"),
    ("block B(n: int) {\n    for c in [n, 2] { conv2d(c, 1) }\n}",       # conv2d, conv2d_1: names, not numbers
     "a for where modules are named, not numbered"),
])
def test_a_loop_outside_the_subset_falls_back_and_says_why(body, why):
    text = body + "\nnetwork N(n = 2) {\n    input [3, 8, 8]\n    B(n)\n}\n"
    source = generate(_source(text))
    assert f"# B: a class per use, because {why}." in source
    assert "# N: a class for the values compiled for, because it uses `B`, which has no class of its own." in source
