"""The network class takes the network's parameters (issue 13, requirement 2).

For every zoo network whose class is written for any values (the others keep a class
for their compiled values and say why), random parameter values that `check`
accepts, and for a class that takes `input_size` a random input size, build
`Net(**values)` from the source compiled at the spec's defaults. It must be the
network `check` describes for those values (parameter count, output shape) and the
module the other emitter builds for exactly those values (a class per
specialisation, checked against torchvision by tests/test_zoo_reference.py): the same
state_dict keys and shapes and, under the same weights, the same outputs (for the
large networks: their first accepted examples run on the CPU, the others build on the
meta device, where only keys, shapes and the output shape are compared). Bools are
drawn both ways and tuples item by item, so `aux`, `aux_logits` and VGG's `arch` vary.
"""
from __future__ import annotations

import glob
from pathlib import Path

import pytest

import netdsl
from netdsl.backends.codegen import generate, specialised_networks

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from netdsl.backends.build import exec_source  # noqa: E402

SPECS = Path(__file__).resolve().parent.parent / "specs"

# The zoo networks whose class takes any values today (docs/compile.md lists why the
# others do not). A new one shows up in test_the_parametric_networks_are_these.
PARAMETRIC = {"lenet": "LeNet", "alexnet": "AlexNet", "nin": "NiN", "resnet18": "ResNet18",
              "squeezenet1_1": "SqueezeNet1_1", "unet": "UNet", "googlenet": "GoogLeNet",
              "inception_v3": "InceptionV3", "vgg11": "VGG11", "mobilenet_v2": "MobileNetV2",
              "mnasnet1_0": "MNASNet", "resnet50": "ResNet50", "resnext50_32x4d": "ResNeXt50_32x4d",
              "wide_resnet50_2": "WideResNet50_2", "densenet121": "DenseNet121",
              "efficientnet_b0": "EfficientNetB0", "efficientnet_v2_s": "EfficientNetV2S",
              "mobilenet_v3_large": "MobileNetV3Large", "mobilenet_v3_small": "MobileNetV3Small",
              "regnet_x_400mf": "RegNetX400MF", "regnet_y_400mf": "RegNetY400MF", "convnext_tiny": "ConvNeXt",
              "shufflenet_v2_x1_0": "ShuffleNetV2", "deeplabv3_resnet50": "DeepLabV3_ResNet50"}
# Too large to run every example on the CPU in a few seconds: the first CPU_EXAMPLES
# accepted examples run on the CPU at the declared input size (CPU_INPUT: a smaller one
# the network takes), the others build on the meta device (state_dicts and shapes)
CPU_EXAMPLES = 2
CPU_INPUT = {"unet": (1, 188, 188)}
META = {"alexnet", "unet", "inception_v3", "vgg11", "resnet50", "resnext50_32x4d", "wide_resnet50_2",
        "densenet121", "efficientnet_b0", "efficientnet_v2_s", "mobilenet_v3_large", "regnet_x_400mf",
        "regnet_y_400mf", "convnext_tiny", "deeplabv3_resnet50"}
# The smallest input a size-generic network takes (NiN's first window and three pools;
# VGG's five pools)
SMALLEST = {"nin": 67, "vgg11": 32}


# Values for parameters whose valid ones are sparse (RegNet's generator refuses a w_0 that
# is no multiple of 8 and a w_m of at most 1, as torchvision does)
_REGNET = {"w_0": st.sampled_from([8, 16, 24, 48]), "w_a": st.sampled_from([0.0, 8.5, 24.48, 36.0]),
           "w_m": st.sampled_from([1.5, 2.09, 2.54]), "depth": st.integers(0, 16),
           "group_width": st.sampled_from([8, 16])}
# ConvNeXt's stages: torchvision's, and narrower and shallower ones (four stages still
# reach the 7x7 its `expect` asks for at 224x224)
_CONVNEXT = {"block_setting": st.sampled_from([
    ((96, 192, 3), (192, 384, 3), (384, 768, 9), (768, None, 3)),
    ((8, 16, 1), (16, 24, 0), (24, 32, 2), (32, None, 1)),
    ((16, 8, 2), (8, 8, 1), (8, 40, 1), (40, None, 0))])}
# ShuffleNetV2's stage depths and widths (even widths: each unit splits its channels in two)
_SHUFFLE = {"stages_repeats": st.lists(st.integers(1, 3), min_size=3, max_size=3),
            "stages_out_channels": st.lists(st.integers(2, 12).map(lambda n: 2 * n), min_size=5, max_size=5)}
# VGG's (convolutions, channels) per block: its `expect [512, 7, 7]` asks for 512 at the end
_VGG = {"arch": st.tuples(*[st.tuples(st.integers(1, 3), st.integers(4, 96))] * 4,
                          st.tuples(st.integers(1, 3), st.just(512)))}
VALUES = {"regnet_x_400mf": _REGNET, "regnet_y_400mf": _REGNET, "convnext_tiny": _CONVNEXT,
          "shufflenet_v2_x1_0": _SHUFFLE, "vgg11": _VGG}


def test_the_parametric_networks_are_these():
    found = {}
    for path in sorted(glob.glob(str(SPECS / "*.net"))):
        result = netdsl.check(path)
        names = [g.network for g in result.graphs]
        source = generate(list(result.graphs), path)
        for name in sorted(set(names) - specialised_networks(source, names)):
            found[Path(path).stem] = name
    assert found == PARAMETRIC


def _value(default):
    """Values near a parameter's default that `check` may accept (it filters the rest): a
    tuple keeps its structure, each item drawn near its own (VGG's `arch` table)."""
    if type(default) is bool:
        return st.booleans()
    if type(default) is int:
        return st.integers(1, max(2, min(2 * default, default + 24)))
    if type(default) is float:
        return st.sampled_from([0.0, 0.25, default])
    if type(default) is tuple:
        return st.tuples(*map(_value, default))
    return st.just(default)


def _compiled(name):
    result = netdsl.check(str(SPECS / f"{name}.net"))
    graph = result.graph()
    return graph, exec_source(generate([graph], f"{name}.net"))


@pytest.mark.parametrize("name", sorted(PARAMETRIC))
def test_the_network_class_builds_the_network_for_any_values(name):
    graph, module = _compiled(name)
    Net = getattr(module, PARAMETRIC[name])
    defaults = dict(graph.params)
    sized = "input_size" in Net.__init__.__code__.co_varnames
    c, *declared = graph.input_shape
    # sizes near the declared one for a class built for its size; small ones (fast on the
    # CPU) for a size-generic network, whose modules are the same at any size
    low = SMALLEST.get(name, 24)
    size = st.tuples(*(st.integers(max(8, n - 12), n + 12) if sized else st.integers(low, low + 24) for n in declared))
    compared = []

    chosen = VALUES.get(name, {})

    @settings(max_examples=10, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
    @given(values=st.fixed_dictionaries({k: chosen[k] if k in chosen else _value(v) for k, v in defaults.items()}),
           hw=size)
    def run(values, hw):
        # a class that takes input_size is built for that size; the others run at any size
        device = "meta" if name in META and len(compared) >= CPU_EXAMPLES else "cpu"
        run_at = (c, *hw) if sized or name not in META else CPU_INPUT.get(name, tuple(graph.input_shape))
        checked = netdsl.check(str(SPECS / f"{name}.net"), params=values, input_shape=run_at)
        if not checked.ok:
            return          # values (or a size) `check` refuses: nothing to compare
        compared.append(1)
        expected = checked.graph()
        kwargs = dict(values, input_size=run_at) if sized else values
        reference = exec_source(generate([expected], f"{name}.net", block_classes=False))
        torch.manual_seed(0)
        with torch.device(device):
            mine = Net(**kwargs).eval()
            ref = getattr(reference, PARAMETRIC[name])().eval()
        mine_sd, ref_sd = mine.state_dict(), ref.state_dict()
        assert [(k, tuple(v.shape)) for k, v in mine_sd.items()] == [(k, tuple(v.shape)) for k, v in ref_sd.items()]
        assert sum(p.numel() for p in mine.parameters()) == expected.total_params
        x = torch.randn(1, *run_at, device=device)
        if device == "cpu":
            mine.load_state_dict(ref_sd)
            with torch.no_grad():
                out = mine(x)
                torch.testing.assert_close(out, ref(x), rtol=0, atol=0)
        else:
            out = mine(x)
        if isinstance(out, dict):       # named outputs (DeepLabV3's {"out", "aux"}): the same names, in order
            assert list(out) == list(ref(x)), (list(out), list(ref(x)))
            out = out["out"]
        assert tuple(out.shape) == (1, *expected.output_shape)

    run()
    assert len(compared) >= 3, f"check refused all but {len(compared)} examples"


def test_lenet_for_five_classes_through_compile_and_load():
    """Hand-written expectations: LeNet(num_classes=5) has a 5-feature last layer."""
    _, module = _compiled("lenet")
    five = module.LeNet(num_classes=5)
    assert five.linear_2.out_features == 5 and five.linear_2.in_features == 84
    assert tuple(five(torch.randn(1, 1, 28, 28)).shape) == (1, 5)
    # the spec with 5 as its default, loaded: the same module under the same weights
    text = (SPECS / "lenet.net").read_text().replace("num_classes = 10", "num_classes = 5")
    assert "num_classes = 5" in text
    loaded = netdsl.load(text).eval()
    loaded.load_state_dict(five.state_dict())
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(loaded(x), five.eval()(x))


def test_a_block_that_flattens_after_an_adaptive_pool_has_one_class():
    """Inception-v3's InceptionAux: its sizes are known after the adaptive pool, so its
    linear's in_features are too, and the network using it is parametric."""
    from netdsl.pipeline import check_source
    for c, size, k in [(8, 17, 3), (5, 20, 7)]:
        result = check_source(f'import "zoo:lib/inception.net"\nnetwork Probe(k = {k}) {{\n'
                              f"    input [{c}, {size}, {size}]\n    InceptionAux(k)\n}}\n")
        source = generate(list(result.graphs))
        assert "class InceptionAux(nn.Module)" in source and "a class for the values" not in source
        assert "self.fc = nn.Linear(in_features=768, out_features=num_classes)" in source
        mine = exec_source(source).Probe(k=k + 1).eval()
        again = check_source(f'import "zoo:lib/inception.net"\nnetwork Probe(k = {k + 1}) {{\n'
                             f"    input [{c}, {size}, {size}]\n    InceptionAux(k)\n}}\n")
        ref = exec_source(generate(list(again.graphs), block_classes=False)).Probe().eval()
        assert [(n, v.shape) for n, v in mine.state_dict().items()] == \
            [(n, v.shape) for n, v in ref.state_dict().items()]
        ref.load_state_dict(mine.state_dict())
        x = torch.randn(2, c, size, size)
        assert tuple(mine(x).shape) == (2, k + 1) and torch.equal(mine(x), ref(x))
