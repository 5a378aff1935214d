"""netdsl.load and the generated source, checked against torch at run time.

Every spec in specs/ is covered (the list is a glob, so new zoo entries are too):
static shapes vs forward-hook shapes at every module, static vs real parameter
counts, and `netdsl.load` vs the file `netdsl compile` writes.

Speed: specs cheaper than 2 GMACs per sample run a real CPU forward pass (batch 2);
the heavier ones (VGG, ResNet-50, DenseNet, U-Net) run the same modules on the
meta device, where torch's own shape functions produce the output shapes without
the arithmetic.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from click.testing import CliRunner

import netdsl
from netdsl.backends.build import check_spec
from netdsl.cli import cli

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted(ROOT.glob("specs/*.net"))
REAL_FORWARD_MACS = 2_000_000_000


def spec_id(p: Path) -> str:
    return p.stem


def device_for(graph) -> str:
    return "cpu" if graph.total_macs < REAL_FORWARD_MACS else "meta"


def build(path, device="cpu", **kw):
    with torch.device(device):
        return netdsl.load(str(path), **kw)


def record_shapes(model):
    """Forward hooks on every submodule: qualified name -> per-sample output shape."""
    seen, handles = {}, []

    def hook_for(name):
        def hook(module, inputs, output):   # returns None: the output is left alone
            seen.setdefault(name, tuple(output.shape[1:]))
        return hook

    for name, mod in model.named_modules():
        if name:
            handles.append(mod.register_forward_hook(hook_for(name)))
    return seen, handles


def returned(y, batch: int = 2) -> list:
    """What a module returned, as (name or None, per-sample shape) pairs, like Graph.returns."""
    if isinstance(y, dict):
        return [(k, tuple(v.shape[1:])) for k, v in y.items()]
    if isinstance(y, tuple):
        return [(None, tuple(v.shape[1:])) for v in y]
    assert y.shape[0] == batch
    return [(None, tuple(y.shape[1:]))]


@pytest.mark.parametrize("path", SPECS, ids=spec_id)
def test_runtime_shapes_and_params_match_static(path):
    graph = check_spec(str(path)).graph()
    device = device_for(graph)
    model = build(path, device).eval()
    seen, handles = record_shapes(model)
    with torch.no_grad():
        y = model(torch.randn(2, *graph.input_shape, device=device))
    for h in handles:
        h.remove()
    assert returned(y) == graph.returns
    layers = [n for n in graph.layers if n.has_module and n.id not in graph.unused]   # unused: never called
    assert layers
    state = dict(model.named_parameters())
    for node in layers:
        if node.spec.state is not None:     # a learnable tensor: no module, and no batch until it meets one
            assert tuple(state[node.qualname].shape) == node.shape, node.qualname
            continue
        assert seen.get(node.qualname) == node.shape, node.qualname
    # each block use and each named sequence called as a whole yields its scope's shape
    for scope in graph.scopes()[1:]:
        if scope.qualname in seen:
            assert seen[scope.qualname] == scope.out_shape, scope.qualname
    assert sum(p.numel() for p in model.parameters()) == graph.total_params
    # buffer elements as the catalogue counts them (BatchNorm: running stats + num_batches_tracked)
    assert sum(b.numel() for b in model.buffers()) == sum(n.buffers for n in graph.nodes)


def test_lenet_facts():
    model = netdsl.load(str(ROOT / "specs/lenet.net"))
    assert isinstance(model, torch.nn.Module)
    assert sum(p.numel() for p in model.parameters()) == 61_706
    assert tuple(model(torch.randn(3, 1, 28, 28)).shape) == (3, 10)


def test_lenet_param_override_and_named_network():
    model = netdsl.load(str(ROOT / "specs/lenet.net"), network="LeNet", num_classes=5)
    assert tuple(model(torch.randn(2, 1, 28, 28)).shape) == (2, 5)
    assert model.linear_2.out_features == 5


def test_concrete_parameters_right_after_construction():
    model = netdsl.load(str(ROOT / "specs/resnet18.net"))
    lazy = [n for n, p in model.named_parameters() if isinstance(p, torch.nn.parameter.UninitializedParameter)]
    assert lazy == []
    assert model.layer2[0].conv1.weight.shape == (128, 64, 3, 3)


def import_file(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", SPECS, ids=spec_id)
def test_load_and_compiled_file_agree(path, tmp_path):
    out = tmp_path / f"gen_{path.stem}.py"
    result = CliRunner().invoke(cli, ["compile", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    module = import_file(out, f"gen_{path.stem}_{id(out)}")
    graph = check_spec(str(path)).graph()
    # outputs are compared for the cheaper half of the zoo; keys and shapes for all
    device = "cpu" if graph.total_macs < REAL_FORWARD_MACS // 2 else "meta"
    loaded = build(path, device).eval()
    with torch.device(device):
        generated = getattr(module, graph.network)().eval()
    a, b = loaded.state_dict(), generated.state_dict()
    assert list(a) == list(b)
    assert [tuple(t.shape) for t in a.values()] == [tuple(t.shape) for t in b.values()]
    if device == "meta":
        return
    torch.manual_seed(0)
    # same weights (and non-trivial running statistics) in both, then the same outputs
    for t in a.values():
        if t.dtype.is_floating_point:
            t.copy_(torch.rand_like(t) * 0.2 + 0.9 if t.dim() <= 1 else torch.randn_like(t) * 0.05)
    generated.load_state_dict(a, strict=True)
    x = torch.randn(2, *graph.input_shape)
    with torch.no_grad():
        assert torch.equal(loaded(x), generated(x))


def test_load_from_source_text():
    text = "network Tiny {\n  input [2, 8, 8]\n  conv2d(4, 3, padding=1) -> relu -> flatten -> linear(3)\n}\n"
    model = netdsl.load(text)
    assert tuple(model(torch.randn(2, 2, 8, 8)).shape) == (2, 3)


def test_spec_errors_raise_spec_error_with_the_diagnostics():
    text = "network Bad {\n  input [3, 8, 8]\n  conv2d(4, 9)\n}\n"
    with pytest.raises(netdsl.SpecError) as info:
        netdsl.load(text)
    codes = [d.code for d in info.value.diagnostics]
    assert codes == [d.code for d in netdsl.check(text).errors] == ["E0301"]
    assert "E0301" in str(info.value)


def test_two_networks_need_a_name():
    text = ("network A {\n  input [4]\n  linear(2)\n}\n"
            "network B {\n  input [4]\n  linear(3)\n}\n")
    with pytest.raises(netdsl.SpecError) as info:
        netdsl.load(text)
    assert info.value.diagnostics[0].code == "E0209"   # "several networks", not E0208 "no such network"
    assert tuple(netdsl.load(text, network="B")(torch.randn(2, 4)).shape) == (2, 3)


def test_unknown_parameter_is_a_spec_error():
    with pytest.raises(netdsl.SpecError) as info:
        netdsl.load(str(ROOT / "specs/lenet.net"), num_clases=5)
    assert info.value.diagnostics[0].code == "E0210"


def test_missing_file_is_an_os_error():
    with pytest.raises(OSError):
        netdsl.load("no/such/file.net")


# ---- initialisation ---------------------------------------------------------------
def _xavier_bound(w):
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(w)
    return (6.0 / (fan_in + fan_out)) ** 0.5


def _default_bound(w):
    # torch's kaiming_uniform_(a=sqrt(5)) default for conv/linear: bound = 1/sqrt(fan_in)
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(w)
    return 1.0 / fan_in ** 0.5


def test_xavier_init_at_load_time():
    torch.manual_seed(0)
    default = netdsl.load(str(ROOT / "specs/lenet.net"))
    xavier = netdsl.load(str(ROOT / "specs/lenet.net"), init="xavier")
    for model, bound in ((default, _default_bound), (xavier, _xavier_bound)):
        for name in ("conv2d", "linear", "linear_2"):
            w = getattr(model, name).weight
            # uniform on [-b, b]: the max is close to b and never beyond it
            assert w.abs().max() <= bound(w) + 1e-6
            assert w.abs().max() > 0.8 * bound(w)
    # for the 400 -> 120 linear layer the bounds are 0.05 (default) and 0.107 (Xavier): they tell them apart
    w = xavier.linear.weight
    assert w.abs().max() > 1.5 * _default_bound(w)


def test_xavier_init_selected_in_the_spec():
    text = ("network Net(init = \"xavier\") {\n  input [1, 8, 8]\n  conv2d(30, 3) -> flatten -> linear(4)\n}\n")
    model = netdsl.load(text)
    w = model.conv2d.weight
    assert w.abs().max() <= _xavier_bound(w) + 1e-6 and w.abs().max() > 0.8 * _xavier_bound(w)
    plain = netdsl.load(text, init="default")
    assert plain.conv2d.weight.abs().max() > _xavier_bound(w) * 1.2


def test_bad_init_value_in_the_spec_is_a_spec_error():
    text = "network Net(init = \"he\") {\n  input [4]\n  linear(2)\n}\n"
    with pytest.raises(netdsl.SpecError):
        netdsl.load(text)


def test_import_netdsl_does_not_import_torch():
    import subprocess
    code = "import sys, netdsl; netdsl.check('specs/lenet.net'); assert 'torch' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("body", [
    "conv2d(4, 3)\n  Nothing\n  relu",                 # a block use that expands to no layers
    "conv2d(4, 3)\n  s: [ ]\n  relu",                   # an empty named sequence
    "a: conv2d(4, 3)\n  b: conv2d(5, 3)\n  @a -> relu",  # a branch whose output feeds nothing
    "add {\n    Nothing\n    conv2d(3, 3, padding=1)\n  }",
])
def test_odd_structures_that_check_also_compile_and_run(body):
    text = f"block Nothing {{\n}}\nnetwork N {{\n  input [3, 8, 8]\n  {body}\n}}\n"
    result = netdsl.check(text)
    assert result.ok, result.diagnostics
    model = netdsl.load(text)
    out = model(torch.randn(2, 3, 8, 8))
    assert tuple(out.shape[1:]) == result.graph().output_shape
