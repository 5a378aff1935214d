"""One class per block definition: computed module names, comprehensions, math, nested lets.

DenseNet's `"denselayer{i + 1}"`, RegNet's `"block{stage}-{i}"` and the string names of
MobileNetV3 (`"block": [...]`) are written by the class per definition as torchvision
writes them (an f-string in a loop, an attribute); the state_dict keys must stay the
ones elaboration gives (tests/test_zoo_reference.py holds those to torchvision), so each
test compares with the class-per-specialisation emitter on the same spec.
"""
from __future__ import annotations

import re

import pytest

from netdsl.backends.codegen import generate
from netdsl.pipeline import check_file, check_source

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from netdsl_same import same_keys, same_modules  # noqa: E402  (tests/ is on sys.path under pytest)

from netdsl.backends.build import exec_source  # noqa: E402


def _both(result, network, device="cpu"):
    """(source per definition, its module, the per-specialisation module)."""
    graphs = list(result.graphs)
    text = generate(graphs)
    with torch.device(device):
        return text, getattr(exec_source(text), network)(), \
            getattr(exec_source(generate(graphs, block_classes=False)), network)()


_same_keys = same_keys


def _same_outputs(a, b, x):
    same_modules(a, b, x)


def test_densenet_dense_block_is_one_class_with_torchvisions_names():
    text, mine, ref = _both(check_file("specs/densenet121.net"), "DenseNet121", "meta")
    assert len(re.findall(r"^class DenseBlock\(", text, flags=re.M)) == 1
    assert "class DenseBlock_2(" not in text
    assert 'layers_1.append((f"denselayer{i + 1}", DenseLayer(channels, growth, bn_size)))' in text
    _same_keys(mine, ref)
    keys = list(mine.state_dict())
    assert "features.denseblock1.denselayer1.norm1.weight" in keys
    assert "features.denseblock4.denselayer16.conv2.weight" in keys
    for block, layers in ((1, 6), (2, 12), (3, 24), (4, 16)):      # torchvision's (6, 12, 24, 16)
        found = {k.split(".")[2] for k in keys if k.startswith(f"features.denseblock{block}.")}
        assert found == {f"denselayer{i}" for i in range(1, layers + 1)}


def test_regnet_any_stage_is_one_class_with_hyphenated_names():
    text, mine, ref = _both(check_file("specs/regnet_x_400mf.net"), "RegNetX400MF", "meta")
    assert len(re.findall(r"^class AnyStage\(nn\.Sequential\)", text, flags=re.M)) == 1
    assert 'f"block{stage}-{i}"' in text
    _same_keys(mine, ref)
    assert "trunk_output.block2.block2-0.f.b.0.weight" in mine.state_dict()


@pytest.mark.parametrize("spec, network", [("specs/mobilenet_v3_large.net", "MobileNetV3Large"),
                                           ("specs/mobilenet_v3_small.net", "MobileNetV3Small")])
def test_mobilenet_v3_inverted_residual_is_one_class(spec, network):
    text, mine, ref = _both(check_file(spec), network, "meta")
    assert len(re.findall(r"^class InvertedResidual\(", text, flags=re.M)) == 1
    assert "        self.block = nn.Sequential(" in text or "        self.block = " in text
    _same_keys(mine, ref)


MOBILENET_PROBE = """import "zoo:lib/mobilenet.net"
network Probe {{
    input [{c}, 9, 9]
    InvertedResidual({c}, {k}, {exp}, {out}, {se}, "{act}", {s}, {d})
    InvertedResidual({out}, 3, {exp2}, {out2}, {se2}, "RE", 1)
}}
"""


def test_mobilenet_v3_inverted_residual_builds_what_its_specialisations_build():
    @settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(c=st.integers(1, 8), k=st.sampled_from([3, 5]), exp=st.integers(1, 12), out=st.integers(1, 8),
           se=st.booleans(), act=st.sampled_from(["RE", "HS"]), s=st.integers(1, 2), d=st.integers(1, 2),
           exp2=st.integers(1, 12), out2=st.integers(1, 8), se2=st.booleans())
    def run(c, k, exp, out, se, act, s, d, exp2, out2, se2):
        lit = {True: "true", False: "false"}
        result = check_source(MOBILENET_PROBE.format(c=c, k=k, exp=exp, out=out, se=lit[se], act=act, s=s, d=d,
                                                     exp2=exp2, out2=out2, se2=lit[se2]))
        if not result.ok:
            return
        compared.append(1)
        text, mine, ref = _both(result, "Probe")
        assert len(re.findall(r"^class InvertedResidual\(", text, flags=re.M)) == 1
        _same_keys(mine, ref)
        _same_outputs(mine, ref, torch.randn(2, c, 9, 9))
    compared = []
    run()
    assert len(compared) >= 5


NAMED_LOOP = """sequential block S(n: int, tag: str = "t", width: int = 4) {{
    conv0: conv2d(width, 1)
    repeat n as i {{
        let w = width + i
        {name}: conv2d(w, 3, padding=1)
    }}
}}
network Probe {{
    input [3, 8, 8]
    S(2, tag="{tag}") -> S(0) -> S(3, width=2)
}}
"""


@pytest.mark.parametrize("name, written", [
    ('"{tag}-{i}"', 'f"{tag}-{i}"'),
    ('"layer{i + 1}_{tag}"', 'f"layer{i + 1}_{tag}"'),
    ("'{\"y\" if i == 0 else tag}{i}'", 'str("y" if i == 0 else tag) + str(i)'),
])
def test_computed_names_and_lets_in_a_loop(name, written):
    """A computed name from a string parameter and the counter, after a named module,
    with a `let` computed each iteration: one class, the names elaboration gives."""
    result = check_source(NAMED_LOOP.format(name=name, tag="a-b"))
    assert result.ok, result.diagnostics
    text, mine, ref = _both(result, "Probe")
    assert len(re.findall(r"^class S\(nn\.Sequential\)", text, flags=re.M)) == 1, text
    assert written in text
    assert "            w = width + i\n" in text
    _same_keys(mine, ref)
    _same_outputs(mine, ref, torch.randn(2, 3, 8, 8))


def test_a_hostile_name_template_gets_classes_per_use():
    """Literal text of a name that no module name has never reaches the source: the block
    gets a class per use (with no names to compute: `repeat 0`), saying why."""
    spec = NAMED_LOOP.format(name="\"a'); open('/tmp/x'); ('{i}\"", tag="a").replace("S(2, ", "S(0, ") \
        .replace("S(3, width=2)", "S(0, width=2)")
    result = check_source(spec)
    assert result.ok, result.diagnostics
    text = generate(list(result.graphs))
    assert "# S: a class per use, because a computed layer name has characters no module name has." in text
    assert "open(" not in text


def test_module_key_writes_only_validated_text():
    from netdsl.backends.blockclass import module_key
    from netdsl.ir import template as T
    from netdsl.namespace import NameRefused
    assert module_key("block") == '"block"'
    assert module_key(T.Name(("denselayer", T.Expr("i + 1")))) == 'f"denselayer{i + 1}"'
    assert module_key(T.Name(("a-", T.Expr("'x}' if b else c")))) == '"a-" + str(\'x}\' if b else c)'
    assert module_key(T.Name((T.Expr("d['k']"), "_0"))) == 'str(d[\'k\']) + "_0"'
    for bad in ("a.b", "a'b", "a{b", 'a"', "a b"):
        with pytest.raises(NameRefused):
            module_key(T.Name((bad, T.Expr("i"))))


MATH = """block B(n: int, f: float = 1.5) {{
    conv2d(int(ceil(n * f)) + floor(sqrt(n)) + int(round(log(n + 1))), 1)
}}
network Probe {{
    input [3, 8, 8]
    B({a}) -> B({b}, f={f})
}}
"""


def test_math_functions_import_math_and_compute_what_the_spec_does():
    import subprocess
    import sys
    result = check_source(MATH.format(a=3, b=7, f=0.7))
    assert result.ok, result.diagnostics
    text, mine, ref = _both(result, "Probe")
    assert len(re.findall(r"^class B\(", text, flags=re.M)) == 1
    assert "math.ceil(n * f) + math.floor(math.sqrt(n)) + round(math.log(n + 1))" in text
    assert text.count("import math\n") == 1 and text.index("import math") < text.index("from torch import nn")
    _same_keys(mine, ref)
    # ceil(3 * 1.5) + floor(sqrt(3)) + round(log(4)) = 5 + 1 + 1
    assert [tuple(v.shape) for v in mine.state_dict().values()][0] == (7, 3, 1, 1)
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--stdin-filename", "m.py", "-"],
                          input=text, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    plain = generate(list(check_source(MATH.format(a=3, b=7, f=0.7).replace(
        "int(ceil(n * f)) + floor(sqrt(n)) + int(round(log(n + 1)))", "n")).graphs))
    assert "import math" not in plain


def test_comprehension_lets_in_a_block_class():
    spec = """block C(widths: list) {
    let total = sum([w for w in widths if w > 0])
    let pairs = [(i, w) for (i, w) in enumerate(widths)]
    conv2d(total + len(pairs), 1)
}
network Probe {
    input [3, 8, 8]
    C([1, -2, 3]) -> C([4])
}
"""
    result = check_source(spec)
    assert result.ok, result.diagnostics
    text, mine, ref = _both(result, "Probe")
    assert len(re.findall(r"^class C\(", text, flags=re.M)) == 1, text
    assert "total = sum([w for w in widths if w > 0])" in text
    assert "pairs = tuple((i, w) for (i, w) in enumerate(widths))" in text
    _same_keys(mine, ref)
    assert [tuple(v.shape) for v in mine.state_dict().values()][0] == (1 + 3 + 3, 3, 1, 1)


STAGE = """sequential block Stage(kind: str, n: int, out: int, width: int = 4) {{
    assert kind == "a" or kind == "b", "kind is a or b"
    repeat n as j {{
        let c = out if j == 0 else width
        let s = 2 if j == 0 else 1
        conv2d(c, 1, stride=s) when kind == "a"
        conv2d(c + 1, 3, padding=1) when kind == "b"
        relu
    }}
}}
network Probe {{
    input [3, 9, 9]
    Stage("{k1}", {n1}, {o1}) -> Stage("{k2}", {n2}, {o2}, width=3)
}}
"""


@pytest.mark.parametrize("k1, n1, o1, k2, n2, o2", [("a", 2, 5, "b", 3, 2), ("b", 1, 4, "a", 0, 6),
                                                    ("b", 3, 1, "b", 2, 3), ("a", 0, 2, "a", 1, 1)])
def test_conditions_and_lets_inside_a_loop(k1, n1, o1, k2, n2, o2):
    """EfficientNetStage's shape: `X when kind == ...` and per-iteration `let`s in a
    repeat: a Python `if` inside the loop, one class for every use."""
    result = check_source(STAGE.format(k1=k1, n1=n1, o1=o1, k2=k2, n2=n2, o2=o2))
    assert result.ok, result.diagnostics
    text, mine, ref = _both(result, "Probe")
    assert len(re.findall(r"^class Stage\(nn\.Sequential\)", text, flags=re.M)) == 1, text
    assert '            if kind == "a":\n                layers.append(nn.Conv2d(' in text, text
    _same_keys(mine, ref)
    _same_outputs(mine, ref, torch.randn(2, 3, 9, 9))


def test_a_loop_of_named_and_unnamed_modules_is_refused():
    spec = """sequential block S(n: int) {
    repeat n as i { "a{i}": conv2d(4, 1)
        relu }
}
network Probe {
    input [3, 8, 8]
    S(2)
}
"""
    result = check_source(spec)
    assert result.ok, result.diagnostics
    text, mine, ref = _both(result, "Probe")
    assert "# S: a class per use, because a loop with named and unnamed modules" in text
    _same_keys(mine, ref)
