"""Core behaviour of the checker on the zoo and on small specs."""
from __future__ import annotations

from pathlib import Path

import pytest

from netdsl import check_file, check_source

SPECS = sorted((Path(__file__).parent.parent / "specs").glob("*.net"))

# torchvision's published parameter counts (torchvision.models docs), and the notes' LeNet.
TORCHVISION_PARAMS = {
    "lenet.net": 61_706,
    "alexnet.net": 61_100_840,
    "vgg11.net": 132_863_336,
    "googlenet.net": 6_624_904,
    "resnet18.net": 11_689_512,
    "resnet50.net": 25_557_032,
    "densenet121.net": 7_978_856,
    "mobilenet_v2.net": 3_504_872,
}


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_every_zoo_spec_checks_clean(spec):
    result = check_file(str(spec))
    assert result.diagnostics == [], [d.message for d in result.diagnostics]
    assert result.graphs, "a zoo spec defines at least one network"
    for g in result.graphs:
        assert g.output_shape is not None


@pytest.mark.parametrize("name,count", sorted(TORCHVISION_PARAMS.items()))
def test_parameter_counts_equal_torchvision(name, count):
    path = Path(__file__).parent.parent / "specs" / name
    assert path.exists(), f"{name} is missing from the zoo"
    assert check_file(str(path)).graph().total_params == count


def test_resnet18_names_follow_torchvision():
    g = check_file(str(Path(__file__).parent.parent / "specs" / "resnet18.net")).graph()
    names = {n.qualname for n in g.layers if n.has_module}
    assert {"conv1", "bn1", "layer1.0.conv1", "layer1.1.bn2", "layer2.0.downsample.0",
            "layer2.0.downsample.1", "layer4.1.conv2", "fc"} <= names
    # The projection exists only where stride or channels change.
    assert "layer1.0.downsample.0" not in names
    assert "layer2.1.downsample.0" not in names


def test_vgg_sequence_indices_count_parameterless_layers():
    g = check_file(str(Path(__file__).parent.parent / "specs" / "vgg11.net")).graph()
    convs = [n.qualname for n in g.layers if n.kind == "conv2d"]
    # torchvision's vgg11: features.0, 3, 6, 8, 11, 13, 16, 18
    assert convs == [f"features.{i}" for i in (0, 3, 6, 8, 11, 13, 16, 18)]
    linears = [n.qualname for n in g.layers if n.kind == "linear"]
    assert linears == ["classifier.0", "classifier.3", "classifier.6"]


def test_errors_are_independent_and_do_not_cascade():
    r = check_source("""
network N {
    input [3, 8, 8]
    conv2d(4, 11)          # kernel too large: shape unknown from here on
    conv2d(4, 3) -> relu   # not reported again
    add { identity
          conv2d(5, 1) }   # unknown input: nothing to say
}
network M {
    input [3, 8, 8]
    conv2d(4, 3, groups=2) # independent error in another network
}
""")
    codes = [d.code for d in r.errors]
    assert codes == ["E0301", "E0303"]


def test_error_inside_block_points_at_use():
    r = check_source("""
block B(k: int) { conv2d(8, k) }
network N {
    input [3, 8, 8]
    B(3) -> B(9)
}
""")
    (d,) = r.errors
    assert d.code == "E0301"
    assert d.primary.line == 2
    assert any(not lab.primary and lab.span.line == 5 for lab in d.labels)


def test_shape_dependent_condition_decides_structure():
    src = """
block Res(c: int) {
    add {
        conv2d(c, 3, padding=1)
        if in.c != c { proj: conv2d(c, 1) }
    }
}
network N {
    input [16, 8, 8]
    Res(16) -> Res(32)
}
"""
    g = check_source(src).graph()
    assert g.output_shape == (32, 8, 8)
    assert [n.qualname for n in g.layers if n.label == "proj"] == ["res_1.proj"]


def test_densenet_uses_torchvisions_computed_names():
    g = check_file(str(Path(__file__).parent.parent / "specs" / "densenet121.net")).graph()
    names = {n.qualname for n in g.layers if n.params}
    # torchvision: features.denseblock{b}.denselayer{l}.{norm1,conv1,norm2,conv2}, features.transition{t}.*
    for block, layers in ((1, 6), (2, 12), (3, 24), (4, 16)):
        for layer in range(1, layers + 1):
            for part in ("norm1", "conv1", "norm2", "conv2"):
                assert f"features.denseblock{block}.denselayer{layer}.{part}" in names
    assert {"features.transition1.norm", "features.transition3.conv", "features.norm5", "classifier"} <= names
    assert len(names) == 4 * (6 + 12 + 24 + 16) + 2 * 3 + 4   # + conv0, norm0, norm5, classifier


def test_the_api_takes_pathlib_paths_and_tells_paths_from_text(tmp_path):
    import netdsl
    lenet = SPECS[[p.name for p in SPECS].index("lenet.net")]
    assert netdsl.check(lenet).graphs[0].total_params == 61_706          # a pathlib.Path
    assert netdsl.check(str(lenet)).graphs[0].total_params == 61_706     # a str path
    text = lenet.read_text()
    assert netdsl.check(text).graphs[0].total_params == 61_706           # the text itself
    # A file whose name holds a `{` is still a file when it exists.
    odd = tmp_path / "net{1}.net"
    odd.write_text(text)
    result = netdsl.check(str(odd))
    assert result.ok and result.program.root.name == str(odd)
    with pytest.raises(TypeError, match="path or spec text"):
        netdsl.check(text.encode())
    # A Path goes through as a str: diagnostics name the file as text, JSON takes them.
    broken = tmp_path / "imp.net"
    broken.write_text('import "missing.net"\n' + text)
    [d] = netdsl.check(broken).diagnostics
    assert d.code == "E0106" and d.to_json()["file"] == str(broken)
    import json
    json.dumps(d.to_json())
