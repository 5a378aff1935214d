"""The course notes' worked examples (shared/seed), checked by netdsl.

Every expected value below is copied from the notes' printed torch output, not
from netdsl.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from netdsl import check_file, check_source

ZOO = Path(__file__).parent.parent / "specs"


def one_layer(layer: str, shape: tuple) -> tuple:
    result = check_source(f"network T {{\n    input {list(shape)}\n    {layer}\n}}\n", "notes.net")
    assert result.ok, [d.message for d in result.diagnostics]
    return result.graph().output_shape


# "Padding and Stride": comp_conv2d on X = torch.rand(8, 8) with one channel.
@pytest.mark.parametrize("layer,expected", [
    ("conv2d(1, kernel=3, padding=1)", (8, 8)),
    ("conv2d(1, kernel=(5, 3), padding=(2, 1))", (8, 8)),
    ("conv2d(1, kernel=3, padding=1, stride=2)", (4, 4)),
    ("conv2d(1, kernel=(3, 5), padding=(0, 1), stride=(3, 4))", (2, 2)),
])
def test_padding_and_stride_on_8x8(layer, expected):
    assert one_layer(layer, (1, 8, 8)) == (1, *expected)


# "Pooling / Padding and Stride": X = torch.arange(16).reshape(1, 1, 4, 4).
@pytest.mark.parametrize("layer,expected", [
    ("maxpool2d(3)", (1, 1)),
    ("maxpool2d(3, padding=1, stride=2)", (2, 2)),
    ("maxpool2d((2, 3), stride=(2, 3), padding=(0, 1))", (2, 2)),
])
def test_pooling_on_4x4(layer, expected):
    assert one_layer(layer, (1, 4, 4)) == (1, *expected)


def test_pooling_keeps_the_channel_count():
    # "Multiple Channels": X stacked with X + 1 has two channels, and so does the output.
    assert one_layer("maxpool2d(3, padding=1, stride=2)", (2, 4, 4)) == (2, 2, 2)


# LeNet's layer_summary((1, 1, 28, 28)) from the notes, batch dimension dropped.
LENET_TABLE = [
    ("conv2d", (6, 28, 28)),
    ("sigmoid", (6, 28, 28)),
    ("avgpool2d", (6, 14, 14)),
    ("conv2d", (16, 10, 10)),
    ("sigmoid", (16, 10, 10)),
    ("avgpool2d", (16, 5, 5)),
    ("flatten", (400,)),
    ("linear", (120,)),
    ("sigmoid", (120,)),
    ("linear", (84,)),
    ("sigmoid", (84,)),
    ("linear", (10,)),
]


def test_lenet_layer_by_layer_matches_the_notes_table():
    g = check_file(str(ZOO / "lenet.net")).graph()
    assert g.input_shape == (1, 28, 28)
    assert [(n.kind, n.shape) for n in g.layers] == LENET_TABLE


def test_lenet_written_as_in_the_notes_sketch():
    # The same network written inline, as the sketch shows it.
    text = """
network LeNet(num_classes = 10) {
    input [1, 28, 28]
    conv2d(6, kernel=5, padding=2) -> sigmoid -> avgpool2d(2, stride=2)
    conv2d(16, kernel=5) -> sigmoid -> avgpool2d(2, stride=2)
    flatten -> linear(120) -> sigmoid -> linear(84) -> sigmoid -> linear(num_classes)
}
"""
    g = check_source(text, "lenet_inline.net").graph()
    assert [(n.kind, n.shape) for n in g.layers] == LENET_TABLE


def test_ten_5x5_convolutions_take_240_to_200():
    # "If we start with a 240×240 pixel image, ten layers of 5×5 convolutions
    # reduce the image to 200×200 pixels."
    text = """
network Shrink {
    input [1, 240, 240]
    repeat 10 {
        conv2d(1, kernel=5)
    }
}
"""
    g = check_source(text, "shrink.net").graph()
    convs = [n for n in g.layers if n.kind == "conv2d"]
    assert len(convs) == 10
    assert [n.shape[1] for n in convs] == list(range(236, 199, -4))
    assert g.output_shape == (1, 200, 200)
