"""Pretrained-weight compatibility: the zoo's torchvision-family specs produce
torchvision's state_dict keys and tensor shapes, so its weights load strictly.

torchvision is not installed here; the expected (key, shape) lists below are
written out from torchvision's model definitions (resnet.py, alexnet.py, vgg.py,
googlenet.py without aux heads), independently of netdsl. A hand-written plain
torch ResNet-18 then checks more than names: its saved state_dict loads strictly
into the netdsl model and both compute the same outputs.
"""
from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import reference_resnet  # tests/ is on sys.path under pytest
from torch import nn

import netdsl

ROOT = Path(__file__).resolve().parent.parent


def bn(prefix: str, c: int) -> dict:
    return {f"{prefix}.weight": (c,), f"{prefix}.bias": (c,), f"{prefix}.running_mean": (c,),
            f"{prefix}.running_var": (c,), f"{prefix}.num_batches_tracked": ()}


def conv(prefix: str, cout: int, cin: int, k: int, bias: bool = False) -> dict:
    out = {f"{prefix}.weight": (cout, cin, k, k)}
    if bias:
        out[f"{prefix}.bias"] = (cout,)
    return out


def linear(prefix: str, cout: int, cin: int) -> dict:
    return {f"{prefix}.weight": (cout, cin), f"{prefix}.bias": (cout,)}


def resnet18_keys() -> dict:
    keys = {**conv("conv1", 64, 3, 7), **bn("bn1", 64)}
    cin = 64
    for i, c in enumerate((64, 128, 256, 512), 1):
        for j in range(2):
            p = f"layer{i}.{j}"
            keys |= {**conv(f"{p}.conv1", c, cin, 3), **bn(f"{p}.bn1", c),
                     **conv(f"{p}.conv2", c, c, 3), **bn(f"{p}.bn2", c)}
            if j == 0 and i > 1:
                keys |= {**conv(f"{p}.downsample.0", c, cin, 1), **bn(f"{p}.downsample.1", c)}
            cin = c
    return keys | linear("fc", 1000, 512)


def alexnet_keys() -> dict:
    return {**conv("features.0", 64, 3, 11, True), **conv("features.3", 192, 64, 5, True),
            **conv("features.6", 384, 192, 3, True), **conv("features.8", 256, 384, 3, True),
            **conv("features.10", 256, 256, 3, True),
            **linear("classifier.1", 4096, 256 * 6 * 6), **linear("classifier.4", 4096, 4096),
            **linear("classifier.6", 1000, 4096)}


def vgg11_keys() -> dict:
    # configuration "A": 64 M 128 M 256 256 M 512 512 M 512 512 M; a conv is followed by ReLU (2 indices), M by 1
    keys, index, cin = {}, 0, 3
    for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
        if v == "M":
            index += 1
        else:
            keys |= conv(f"features.{index}", v, cin, 3, True)
            cin, index = v, index + 2
    return keys | linear("classifier.0", 4096, 512 * 7 * 7) | linear("classifier.3", 4096, 4096) \
        | linear("classifier.6", 1000, 4096)


def googlenet_keys() -> dict:
    def basic(p, cout, cin, k):
        return {**conv(f"{p}.conv", cout, cin, k), **bn(f"{p}.bn", cout)}

    keys = {**basic("conv1", 64, 3, 7), **basic("conv2", 64, 64, 1), **basic("conv3", 192, 64, 3)}
    table = {"3a": (192, 64, 96, 128, 16, 32, 32), "3b": (256, 128, 128, 192, 32, 96, 64),
             "4a": (480, 192, 96, 208, 16, 48, 64), "4b": (512, 160, 112, 224, 24, 64, 64),
             "4c": (512, 128, 128, 256, 24, 64, 64), "4d": (512, 112, 144, 288, 32, 64, 64),
             "4e": (528, 256, 160, 320, 32, 128, 128), "5a": (832, 256, 160, 320, 32, 128, 128),
             "5b": (832, 384, 192, 384, 48, 128, 128)}
    for name, (cin, c1, c3r, c3, c5r, c5, pool) in table.items():
        p = f"inception{name}"
        keys |= {**basic(f"{p}.branch1", c1, cin, 1),
                 **basic(f"{p}.branch2.0", c3r, cin, 1), **basic(f"{p}.branch2.1", c3, c3r, 3),
                 # torchvision's "5x5" branch uses a 3x3 kernel (a known quirk kept for its weights)
                 **basic(f"{p}.branch3.0", c5r, cin, 1), **basic(f"{p}.branch3.1", c5, c5r, 3),
                 **basic(f"{p}.branch4.1", pool, cin, 1)}
    return keys | linear("fc", 1000, 1024)


CASES = {"resnet18": resnet18_keys, "alexnet": alexnet_keys, "vgg11": vgg11_keys, "googlenet": googlenet_keys}


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_matches_torchvision(name):
    with torch.device("meta"):
        model = netdsl.load(str(ROOT / f"specs/{name}.net"))
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = CASES[name]()
    assert sorted(set(got) - set(expected)) == []
    assert sorted(set(expected) - set(got)) == []
    assert got == expected
    # torchvision registers modules in this same order, so even the key order agrees
    assert list(got) == list(expected)


def test_expected_lists_have_torchvisions_parameter_counts():
    # the published totals, as a check on the hand-written lists themselves
    totals = {"resnet18": 11_689_512, "alexnet": 61_100_840, "vgg11": 132_863_336, "googlenet": 6_624_904}
    for name, expected in totals.items():
        keys = CASES[name]()
        n = 0
        for k, shape in keys.items():
            if k.endswith(("running_mean", "running_var", "num_batches_tracked")):
                continue
            size = 1
            for d in shape:
                size *= d
            n += size
        assert n == expected, name


# ---- a plain torch ResNet-18, written by hand (tests/reference_resnet.py) ------------
def _randomise(model: nn.Module) -> None:
    """Non-trivial weights and BatchNorm statistics, so eval mode really uses them."""
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("running_var"):
                t.uniform_(0.5, 1.5)
            elif name.endswith(("running_mean", "bn1.bias", "bn2.bias")):
                t.normal_(0, 0.1)
            elif name.endswith("num_batches_tracked"):
                t.fill_(7)


def test_reference_resnet18_weights_load_strictly_and_give_the_same_outputs(tmp_path):
    torch.manual_seed(0)
    ref = reference_resnet.resnet18().eval()
    _randomise(ref)
    saved = tmp_path / "ref.pt"
    torch.save(ref.state_dict(), saved)
    state = torch.load(saved, weights_only=True)

    x = torch.randn(2, 3, 96, 96)   # adaptive pooling makes any input size work; small keeps it fast
    with torch.no_grad():
        expected = ref(x)
    model = netdsl.load(str(ROOT / "specs/resnet18.net")).eval()
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        got = model(x)
    assert got.shape == (2, 1000)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_reference_weights_fit_the_compiled_file_too(tmp_path):
    import importlib.util

    from click.testing import CliRunner

    from netdsl.cli import cli
    out = tmp_path / "r18.py"
    assert CliRunner().invoke(cli, ["compile", str(ROOT / "specs/resnet18.net"), "-o", str(out)]).exit_code == 0
    spec = importlib.util.spec_from_file_location("r18_generated", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(1)
    ref = reference_resnet.resnet18().eval()
    _randomise(ref)
    model = module.ResNet18().eval()
    model.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x), rtol=1e-5, atol=1e-5)
