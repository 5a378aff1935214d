"""The course notes' worked numbers (../shared/seed/, D2L chapter 7), from modules netdsl compiles.

Each case is a spec the notes' code corresponds to; the test sets the notes' kernels
as the compiled module's weights (bias zero) and compares every number the notes
print. So the compiled layers compute what the notes teach, not only the shapes."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import netdsl  # noqa: E402


def compiled(body: str, input_shape: str):
    text = f"network Notes {{\n    input {input_shape}\n{body}\n}}\n"
    assert netdsl.check(text).ok, text
    return netdsl.load(text).eval()


def set_kernel(conv, kernel):
    with torch.no_grad():
        conv.weight.copy_(torch.as_tensor(kernel, dtype=torch.float32).reshape(conv.weight.shape))
        if conv.bias is not None:
            conv.bias.zero_()


def run(model, x):
    with torch.no_grad():
        return model(torch.as_tensor(x, dtype=torch.float32).unsqueeze(0))[0]


X3 = [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]
K2 = [[0.0, 1.0], [2.0, 3.0]]


def test_cross_correlation_of_the_3x3_example_gives_19_25_37_43():
    model = compiled("    conv2d(1, 2)", "[1, 3, 3]")
    set_kernel(model.conv2d, K2)
    assert run(model, [X3]).tolist() == [[[19.0, 25.0], [37.0, 43.0]]]


def test_two_input_channels_give_56_72_104_120():
    x = [X3, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]
    k = [K2, [[1.0, 2.0], [3.0, 4.0]]]
    model = compiled("    conv2d(1, 2)", "[2, 3, 3]")
    set_kernel(model.conv2d, [k])
    assert run(model, x).tolist() == [[[56.0, 72.0], [104.0, 120.0]]]


def test_three_output_channels_from_k_k_plus_1_k_plus_2():
    x = [X3, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]
    k = torch.tensor([K2, [[1.0, 2.0], [3.0, 4.0]]])
    model = compiled("    conv2d(3, 2)", "[2, 3, 3]")
    set_kernel(model.conv2d, torch.stack((k, k + 1, k + 2), 0))
    assert run(model, x).tolist() == [[[56.0, 72.0], [104.0, 120.0]],
                                      [[76.0, 100.0], [148.0, 172.0]],
                                      [[96.0, 128.0], [192.0, 224.0]]]


def test_a_1x1_convolution_is_a_matrix_product_over_the_pixels():
    gen = torch.Generator().manual_seed(0)
    x = torch.normal(0, 1, (3, 3, 3), generator=gen)
    k = torch.normal(0, 1, (2, 3, 1, 1), generator=gen)
    model = compiled("    conv2d(2, 1)", "[3, 3, 3]")
    set_kernel(model.conv2d, k)
    expected = torch.matmul(k.reshape(2, 3), x.reshape(3, 9)).reshape(2, 3, 3)
    torch.testing.assert_close(run(model, x), expected)


@pytest.mark.parametrize("layer,expected", [("maxpool2d(2, stride=1)", [[4.0, 5.0], [7.0, 8.0]]),
                                            ("avgpool2d(2, stride=1)", [[2.0, 3.0], [5.0, 6.0]])])
def test_pooling_the_3x3_example(layer, expected):
    assert run(compiled(f"    {layer}", "[1, 3, 3]"), [X3]).tolist() == [expected]


X16 = torch.arange(16, dtype=torch.float32).reshape(1, 4, 4)


@pytest.mark.parametrize("layer,expected", [
    ("maxpool2d(3)", [[[10.0]]]),                                   # the window is also the stride
    ("maxpool2d(3, padding=1, stride=2)", [[[5.0, 7.0], [13.0, 15.0]]]),
    ("maxpool2d((2, 3), stride=(2, 3), padding=(0, 1))", [[[5.0, 7.0], [13.0, 15.0]]]),
])
def test_padded_and_strided_pooling_of_the_4x4_arange(layer, expected):
    assert run(compiled(f"    {layer}", "[1, 4, 4]"), X16).tolist() == expected


def test_pooling_keeps_the_two_channels_of_x_and_x_plus_1():
    x = torch.cat((X16, X16 + 1), 0)
    out = run(compiled("    maxpool2d(3, padding=1, stride=2)", "[2, 4, 4]"), x)
    assert out.tolist() == [[[5.0, 7.0], [13.0, 15.0]], [[6.0, 8.0], [14.0, 16.0]]]
