"""Loops among attribute modules, and merge branches a loop makes, in one class (issue 13).

ShuffleNetV2's `for s in range(3) { "stage{s + 2}": ShuffleStage(...) }` is written with
setattr / getattr as torchvision writes it; ASPP's `convs: concat { ...; for r in rates
{ ... }; ... }` builds its nn.ModuleList with a loop and forward runs every module of it.
Each module built from these classes is compared with the one the class per
specialisation builds for the same values (tests/test_zoo_reference.py holds that
emitter to torchvision); the names, counts and channels are written here by hand.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import netdsl
from netdsl.backends.codegen import generate, specialised_networks
from netdsl.pipeline import check_source

torch = pytest.importorskip("torch")
from netdsl_same import same_modules  # noqa: E402  (tests/ is on sys.path under pytest)

from netdsl.backends.build import exec_source  # noqa: E402

SPECS = Path(__file__).resolve().parent.parent / "specs"


def _graphs(text=None, path=None, **params):
    result = netdsl.check(str(path), params=params) if path else check_source(text, params=params)
    assert result.ok, result.diagnostics
    return list(result.graphs)


def _same(mine, reference, shape, perturb=True):
    """`mine` has `reference`'s state_dict keys and shapes, and its outputs under its weights
    (positive ones unless not `perturb`: deep networks overflow with them)."""
    same_modules(mine, reference, tuple(shape), perturb)
    return mine.state_dict()


# ---- ShuffleNetV2: stages by setattr
def _shufflenet():
    path = SPECS / "shufflenet_v2_x1_0.net"
    source = generate(_graphs(path=path), str(path))
    return source, exec_source(source)


def test_shufflenet_is_parametric_and_writes_its_stages_as_torchvision_does():
    source, _ = _shufflenet()
    assert specialised_networks(source, ["ShuffleNetV2"]) == set()
    assert 'setattr(self, f"stage{s + 2}", ShuffleStage(channels, stages_out_channels[s + 1], stages_repeats[s]))' \
        in source
    # forward: torchvision's, the stages one by one (TorchScript's getattr takes only literals)
    assert ("        x = self.stage2(x)  # [116, 28, 28]\n        x = self.stage3(x)  # [232, 14, 14]\n"
            "        x = self.stage4(x)  # [464, 7, 7]\n") in source
    # the channels after the stages: ShuffleStage keeps them as out_channels
    assert 'channels = getattr(self, f"stage{s + 2}").out_channels' in source
    assert "nn.Conv2d(in_channels=channels, out_channels=stages_out_channels[4]" in source


@pytest.mark.parametrize("values", [
    {"num_classes": 10, "stages_repeats": [2, 2, 2]},
    {"num_classes": 3, "stages_repeats": [1, 3, 1], "stages_out_channels": [8, 16, 32, 64, 40]},
    {"stages_repeats": [1, 1, 2], "stages_out_channels": [6, 12, 20, 28, 10]},
])
def test_shufflenet_for_other_values_is_the_module_elaboration_builds(values):
    _, module = _shufflenet()
    torch.manual_seed(0)
    mine = module.ShuffleNetV2(**values)
    graphs = _graphs(path=SPECS / "shufflenet_v2_x1_0.net", **values)
    reference = exec_source(generate(graphs, block_classes=False)).ShuffleNetV2()
    keys = list(_same(mine, reference, (1, 3, 40, 40)))
    repeats = values["stages_repeats"]
    # torchvision's names: stageN.unit.branch..., one unit per repeat
    assert keys[:2] == ["conv1.0.weight", "conv1.1.weight"]
    assert "stage2.0.branch1.0.weight" in keys and "stage2.1.branch1.0.weight" not in keys
    for s, n in enumerate(repeats):
        assert f"stage{s + 2}.{n - 1}.branch2.0.weight" in keys and f"stage{s + 2}.{n}.branch2.0.weight" not in keys
    assert keys[-2:] == ["fc.weight", "fc.bias"]
    assert mine.fc.out_features == values.get("num_classes", 1000)
    assert mine.fc.in_features == values.get("stages_out_channels", [0, 0, 0, 0, 1024])[4]


def test_the_default_shufflenet_has_torchvisions_keys():
    _, module = _shufflenet()
    with torch.device("meta"):
        net = module.ShuffleNetV2()
    keys = list(net.state_dict())
    assert "stage2.0.branch1.0.weight" in keys and "stage3.1.branch2.3.weight" in keys
    assert "stage3.7.branch2.0.weight" in keys and "stage3.8.branch2.0.weight" not in keys
    assert sum(p.numel() for p in net.parameters()) == 2278604


# ---- a loop among attribute modules whose count is a parameter
STAGES = """\
block Stage(c: int) {
    conv: conv2d(c, 3, padding=1)
    bn: batchnorm2d
}
network P(widths = [4, 6], k = 2) {
    input [3, 8, 8]
    stem: conv2d(5, 1)
    for i in range(len(widths)) {
        "stage{i + 1}": Stage(widths[i])
    }
    head: conv2d(k, 1)
}
"""


@pytest.mark.parametrize("widths", [[], [7], [4, 6, 3]])
def test_a_loop_whose_count_is_a_parameter_lists_its_modules(widths):
    source = generate(_graphs(STAGES))
    assert specialised_networks(source, ["P"]) == set()
    # forward cannot count the parameter's items: it runs the modules __init__ listed
    assert 'setattr(self, f"stage{i + 1}", Stage(channels, widths[i]))' in source
    assert 'self.module_names.append(f"stage{i + 1}")' in source
    assert "for name in self.module_names:\n            x = getattr(self, name)(x)" in source
    mine = exec_source(source).P(widths=widths, k=3)
    reference = exec_source(generate(_graphs(STAGES, widths=widths, k=3), block_classes=False)).P()
    keys = list(_same(mine, reference, (2, 3, 8, 8)))
    assert [k for k in keys if k.startswith("stage")][::7] == [f"stage{i + 1}.conv.weight" for i in range(len(widths))]
    assert mine.head.in_channels == (widths[-1] if widths else 5)


def test_a_name_the_loop_could_compute_beside_it_refuses():
    text = STAGES.replace("    head: conv2d(k, 1)", "    stage9: conv2d(k, 1)")
    source = generate(_graphs(text))
    assert specialised_networks(source, ["P"]) == {"P"}
    assert "a module name a loop computes could be one the spec writes" in source


def test_an_unnamed_module_beside_the_loop_refuses():
    text = STAGES.replace("    head: conv2d(k, 1)", "    conv2d(k, 1)")
    source = generate(_graphs(text))
    assert specialised_networks(source, ["P"]) == {"P"}
    assert "an unnamed module beside a loop making named ones" in source


# ---- merge branches made by a loop: ASPP's ModuleList
ASPP = """\
block Pyramid(rates: list, out: int = 4) {
    convs: concat {
        conv2d(out, 1)
        for r in rates { [conv2d(out, 3, padding=r, dilation=r) -> relu] }
        [maxpool2d(3, stride=1, padding=1) -> conv2d(out, 1)]
    }
    project: conv2d(out, 1)
}
network Q(rates = [1, 2], out = 4) {
    input [3, 12, 12]
    Pyramid(rates, out)
}
"""


@pytest.mark.parametrize("rates", [[], [2], [1, 2, 3]])
def test_a_named_merge_with_loop_made_branches_builds_a_module_list(rates):
    source = generate(_graphs(ASPP))
    assert "a class per use" not in source and specialised_networks(source, ["Q"]) == set()
    assert "        for r in rates:\n            modules.append(\n                nn.Sequential(\n" in source
    assert "self.convs = nn.ModuleList(modules)" in source
    assert "res = [module(x) for module in self.convs]" in source and "torch.cat(res, dim=1)" in source
    # 1 + len(rates) + 1 branches of `out` channels each
    assert "in_channels=out + len(rates) * out + out" in source
    mine = exec_source(source).Q(rates=rates, out=5)
    reference = exec_source(generate(_graphs(ASPP, rates=rates, out=5), block_classes=False)).Q()
    keys = list(_same(mine, reference, (2, 3, 12, 12)))
    n = len(rates)
    assert keys[:2] == ["pyramid.convs.0.weight", "pyramid.convs.0.bias"]
    assert f"pyramid.convs.{n}.0.weight" in keys or n == 0
    assert f"pyramid.convs.{n + 1}.1.weight" in keys and f"pyramid.convs.{n + 2}.0.weight" not in keys
    assert mine.pyramid.project.in_channels == 5 * (n + 2)


def test_loop_made_branches_of_an_add_refuse():
    text = ASPP.replace("convs: concat", "convs: add").replace("project: conv2d(out, 1)", "")
    source = generate(_graphs(text))
    assert "branches made by a loop in a `add`" in source


def test_deeplab_heads_get_one_class():
    path = SPECS / "deeplabv3_resnet50.net"
    source = generate(_graphs(path=path), str(path))
    assert "class ASPP(nn.Module)" in source and "class DeepLabHead(nn.Sequential)" in source
    assert "a class per use" not in source
    module = exec_source(source)
    head = module.DeepLabHead(16, 3, rates=(1, 2)).eval()
    assert len(head[0].convs) == 4 and head[0].project[0].in_channels == 4 * 256
    assert tuple(head(torch.randn(1, 16, 9, 9)).shape) == (1, 3, 9, 9)


def test_deeplab_takes_aux_and_returns_its_head_as_torchvision_does():
    """`@layer3` inside `backbone: [...]` is held (the sequence is run item by item), and
    `aux`, named in the `if aux` arm and returned by `return(out=@out, aux=@aux) when aux`,
    is set in the result dict inside the arm (torchvision's `result["aux"] = x`): no local
    only the arm sets is read outside it, so TorchScript takes both values."""
    path = SPECS / "deeplabv3_resnet50.net"
    source = generate(_graphs(path=path), str(path))
    assert specialised_networks(source, ["DeepLabV3_ResNet50"]) == set()
    assert "    def __init__(self, num_classes=21, aux=False):" in source
    assert '        result = {"out": out}\n        if self.aux_classifier is not None:' in source
    assert '            result["aux"] = aux_1\n        return result\n' in source
    module = exec_source(source)
    for aux, keys in [(True, ["out", "aux"]), (False, ["out"])]:
        torch.manual_seed(0)
        mine = module.DeepLabV3_ResNet50(num_classes=5, aux=aux)
        ref = exec_source(generate(_graphs(path=path, num_classes=5, aux=aux), str(path), block_classes=False))
        _same(mine, ref.DeepLabV3_ResNet50(), (1, 3, 40, 40), perturb=False)
        assert list(mine(torch.randn(1, 3, 40, 40))) == keys
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")     # jit.script is deprecated in favour of export, but still offered
            scripted = torch.jit.script(module.DeepLabV3_ResNet50(num_classes=5, aux=aux).eval())
        got = scripted(torch.randn(2, 3, 40, 40, device="meta"))
        assert {k: tuple(v.shape) for k, v in got.items()} == {k: (2, 5, 40, 40) for k in keys}
