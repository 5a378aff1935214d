"""Random small valid specs, built and run: static shapes equal runtime shapes at
every layer, and static parameter counts equal torch's.

Specs are chains of conv, pooling, batch norm and activations, with residual
blocks (whose projection appears only when the shape changes), then flatten and
linear layers. The generator tracks the shape itself so every spec is valid;
netdsl must agree that it is (no errors), and torch must agree on every shape.

Derandomized for CI; NETDSL_HYPOTHESIS_SEED=<int> explores other examples.
"""
from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import netdsl

_SEED = os.environ.get("NETDSL_HYPOTHESIS_SEED")

RES_BLOCK = """
block Res(c: int, s: int = 1) {
    add {
        [
            conv1: conv2d(c, 3, stride=s, padding=1, bias=false)
            bn1: batchnorm2d -> relu
            conv2: conv2d(c, 3, padding=1, bias=false)
            bn2: batchnorm2d
        ]
        if s != 1 or in.channels != c {
            downsample: [conv2d(c, 1, stride=s, bias=false) -> batchnorm2d]
        }
    }
    relu
}
"""


def _out(n, k, s, p):
    return (n + 2 * p - k) // s + 1


@st.composite
def specs(draw):
    c = draw(st.integers(1, 4))
    h = draw(st.integers(6, 16))
    w = draw(st.integers(6, 16))
    lines = [f"input [{c}, {h}, {w}]"]
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["conv", "pool", "norm", "act", "res"]))
        if kind == "conv":
            k = draw(st.integers(1, min(5, h, w)))
            s = draw(st.integers(1, 2))
            p = draw(st.integers(0, k // 2))
            c = draw(st.integers(1, 8))
            lines.append(f"conv2d({c}, {k}, stride={s}, padding={p})")
            h, w = _out(h, k, s, p), _out(w, k, s, p)
        elif kind == "pool" and min(h, w) >= 2:
            layer = draw(st.sampled_from(["maxpool2d", "avgpool2d"]))
            k = draw(st.integers(1, min(3, h, w)))
            s = draw(st.integers(1, k))
            lines.append(f"{layer}({k}, stride={s})")
            h, w = _out(h, k, s, 0), _out(w, k, s, 0)
        elif kind == "norm":
            lines.append("batchnorm2d")
        elif kind == "act":
            lines.append(draw(st.sampled_from(["relu", "sigmoid", "tanh", "leaky_relu"])))
        elif kind == "res":
            s = draw(st.integers(1, 2)) if min(h, w) >= 2 else 1
            c = draw(st.one_of(st.just(c), st.integers(1, 8)))    # same c and s=1: an identity skip
            name = f"res{len(lines)}"
            lines.append(f"{name}: Res({c}, s={s})")
            h, w = _out(h, 3, s, 1), _out(w, 3, s, 1)
    lines.append("flatten")
    for _ in range(draw(st.integers(1, 2))):
        lines.append(f"linear({draw(st.integers(1, 6))})")
        if draw(st.booleans()):
            lines.append("relu")
    body = "\n".join(f"    {line}" for line in lines)
    return f"{RES_BLOCK}\nnetwork Random {{\n{body}\n}}\n"


def _settings(test):
    s = settings(max_examples=25, deadline=None, derandomize=_SEED is None,
                 suppress_health_check=[HealthCheck.too_slow])
    test = s(test)
    return seed(int(_SEED))(test) if _SEED is not None else test


@_settings
@given(specs())
def test_static_shapes_equal_runtime_shapes(text):
    result = netdsl.check(text)
    assert result.ok, "\n".join(d.message for d in result.errors) + "\n" + text
    graph = result.graph()
    model = netdsl.load(text).eval()
    seen = {}

    def hook_for(name):
        def hook(module, inputs, output):
            seen[name] = tuple(output.shape[1:])
        return hook

    for name, module in model.named_modules():
        if name:
            module.register_forward_hook(hook_for(name))
    with torch.no_grad():
        y = model(torch.randn(2, *graph.input_shape))
    assert tuple(y.shape) == (2, *graph.output_shape)
    for node in graph.layers:
        if node.has_module:
            assert seen[node.qualname] == node.shape, (node.qualname, text)
    for scope in graph.scopes()[1:]:
        if scope.kind == "block":
            assert seen[scope.qualname] == scope.out_shape, text
    assert sum(p.numel() for p in model.parameters()) == graph.total_params
