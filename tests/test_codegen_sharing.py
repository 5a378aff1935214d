"""What codegen may share between layers, and what it must not.

Code generation builds each distinct constructor call once per file: equal layers
share one args namespace (elaborate._shared_args), and LayerSpec.torch reads only
the args and the input shapes. These tests pin the key: layers with the same args
but other input shapes get their own constructor, and every layer still gets one.
"""
from __future__ import annotations

import re

from netdsl.backends.codegen import generate
from netdsl.pipeline import check_source

SPEC = """
network Shared {
    input [3, 32, 32]
    a: conv2d(16, 3, padding=1)
    bn_a: batchnorm2d
    relu
    b: conv2d(32, 3, padding=1)
    bn_b: batchnorm2d
    relu
    c: conv2d(32, 3, padding=1)
    bn_c: batchnorm2d
}
"""


def _generated():
    result = check_source(SPEC)
    assert result.ok, result.diagnostics
    graph = result.graph()
    return graph, generate([graph])


def test_equal_args_with_other_input_shapes_get_their_own_constructor():
    graph, text = _generated()
    bns = [n for n in graph.nodes if n.kind == "batchnorm2d"]
    # the precondition that makes this test meaningful: one shared namespace
    assert bns[0].args is bns[1].args is bns[2].args
    assert [n.shape[0] for n in bns] == [16, 32, 32]
    assert "self.bn_a = nn.BatchNorm2d(num_features=16)" in text
    assert "self.bn_b = nn.BatchNorm2d(num_features=32)" in text
    assert "self.bn_c = nn.BatchNorm2d(num_features=32)" in text
    # b reads 16 channels, c reads 32: same args, other input shape
    assert graph.nodes[4].args is graph.nodes[7].args
    assert "self.b = nn.Conv2d(in_channels=16, out_channels=32" in text
    assert "self.c = nn.Conv2d(in_channels=32, out_channels=32" in text


def test_every_module_is_constructed_and_called_once():
    graph, text = _generated()
    assigned = re.findall(r"^        self\.(\w+) = nn\.", text, flags=re.M)
    assert assigned == ["a", "bn_a", "relu", "b", "bn_b", "relu_1", "c", "bn_c"]
    called = re.findall(r"= self\.(\w+)\(x\)", text)
    assert called == assigned
