"""One class per block definition (issue 13, requirement 1).

The differential test: for zoo blocks, a small network using the block twice with
random arguments that `check` accepts is compiled twice, once with a class per
block definition (blockclass.py) and once with a class per specialisation (the
emitter tests/test_zoo_reference.py holds to torchvision). The two modules must
have the same state_dict keys and shapes, and give the same outputs under the
same weights.
"""
from __future__ import annotations

import glob
import re

import pytest

from netdsl.backends.codegen import generate
from netdsl.pipeline import check_file, check_source

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from netdsl_literals import lit  # noqa: E402  (tests/ is on sys.path under pytest)
from netdsl_same import same_modules  # noqa: E402  (tests/ is on sys.path under pytest)

from netdsl.backends.build import exec_source  # noqa: E402

INTS = st.integers


def _args(draw_args: dict) -> str:
    parts = []
    for k, v in draw_args.items():
        parts.append(lit(v) if k.startswith("_") else f"{k}={lit(v)}")
    return ", ".join(parts)


# block -> (import, strategy for its arguments: keys starting with `_` are positional)
BLOCKS = {
    "BasicBlock": ("lib/resnet.net", st.fixed_dictionaries(
        {"_channels": INTS(1, 6)}, optional={"stride": INTS(1, 2)})),
    "Bottleneck": ("lib/resnet.net", st.fixed_dictionaries(
        {"_planes": INTS(1, 4)}, optional={"stride": INTS(1, 2), "groups": INTS(1, 2),
                                           "base_width": st.sampled_from([32, 64, 128]), "dilation": INTS(1, 2)})),
    "Conv2dNormActivation": ("lib/ops.net", st.fixed_dictionaries(
        {"_c": INTS(1, 6)},
        optional={"k": st.sampled_from([1, 3, 5]), "stride": INTS(1, 2), "groups": INTS(1, 2),
                  "dilation": INTS(1, 2), "norm": st.sampled_from(["batchnorm", "layernorm2d", "none"]),
                  "act": st.sampled_from(["relu", "relu6", "hardswish", "silu", "none"]),
                  "padding": st.sampled_from([None, 0, 1, 2]), "bias": st.sampled_from([None, True, False])})),
    "SqueezeExcitation": ("lib/ops.net", st.fixed_dictionaries(
        {"_squeeze": INTS(1, 4)}, optional={"act": st.sampled_from(["relu", "silu"]),
                                            "scale": st.sampled_from(["sigmoid", "hardsigmoid"])})),
    "BasicConv2d": ("lib/inception.net", st.fixed_dictionaries(
        {"_channels": INTS(1, 6), "kernel": st.sampled_from([1, 3, (1, 3), (3, 1)])},
        optional={"stride": INTS(1, 2), "padding": st.sampled_from([0, 1, (0, 1)])})),
    "InceptionA": ("lib/inception.net", st.fixed_dictionaries({"_pool_features": INTS(1, 8)})),
    "Fire": ("lib/squeezenet.net", st.fixed_dictionaries(
        {"_squeeze_planes": INTS(1, 4), "_expand1x1_planes": INTS(1, 4), "_expand3x3_planes": INTS(1, 4)})),
    "ShuffleBranch": ("lib/shufflenet.net", st.fixed_dictionaries({"_bf": INTS(1, 4), "_stride": INTS(1, 2)})),
    "ResBottleneckBlock": ("lib/regnet.net", st.fixed_dictionaries(
        {"_width_out": st.sampled_from([4, 8]), "_stride": INTS(1, 2), "_group_width": st.sampled_from([2, 4])},
        optional={"bm": st.sampled_from([0.5, 1.0]), "se_ratio": st.sampled_from([None, 0.25, 0.5])})),
    "NiNBlock": ("nin.net", st.fixed_dictionaries(
        {"_channels": INTS(1, 6), "kernel": INTS(1, 3), "stride": INTS(1, 2), "padding": INTS(0, 1)})),
    "DoubleConv": ("unet.net", st.fixed_dictionaries({"_channels": INTS(1, 6)})),
    "DenseLayer": ("densenet121.net", st.fixed_dictionaries({"_growth": INTS(1, 4), "_bn_size": INTS(1, 3)})),
    "Transition": ("densenet121.net", st.just({})),
    "DenseBlock": ("densenet121.net", st.fixed_dictionaries(
        {"_layers": INTS(0, 3)}, optional={"growth": INTS(1, 4), "bn_size": INTS(1, 3)})),
    "AnyStage": ("lib/regnet.net", st.fixed_dictionaries(
        {"_stage": INTS(1, 4), "_width_out": st.sampled_from([4, 8]), "_stride": INTS(1, 2), "_depth": INTS(0, 3),
         "_group_width": st.sampled_from([2, 4])},
        optional={"bm": st.sampled_from([0.5, 1.0]), "se_ratio": st.sampled_from([None, 0.25])})),
    "InvertedResidual": ("mobilenet_v2.net", st.fixed_dictionaries(
        {"_out": INTS(1, 6), "_stride": INTS(1, 2), "_t": INTS(1, 3)})),
    "BottleneckLayer": ("lib/resnet.net", st.fixed_dictionaries(
        {"_planes": INTS(1, 3), "_blocks": INTS(0, 3)},
        optional={"stride": INTS(1, 2), "groups": INTS(1, 2), "dilate": st.booleans(), "dilation": INTS(1, 2)})),
    "Stack": ("lib/mnasnet.net", st.fixed_dictionaries(
        {"_out": INTS(1, 4), "_k": st.sampled_from([3, 5]), "_stride": INTS(1, 2), "_t": INTS(1, 3),
         "_repeats": INTS(1, 3)})),
    "ShuffleStage": ("lib/shufflenet.net", st.fixed_dictionaries(
        {"_out": st.sampled_from([2, 4, 6]), "_repeats": INTS(1, 3)})),
    "InvertedResidual@shufflenet": ("lib/shufflenet.net", st.fixed_dictionaries(
        {"_out": st.sampled_from([2, 4, 6, 8]), "_stride": INTS(1, 3)})),
    "CNBlock": ("lib/convnext.net", st.fixed_dictionaries(
        {"_sd_prob": st.sampled_from([0.0, 0.1, 0.5])}, optional={"layer_scale": st.sampled_from([1e-6, 0.5, 2.0])})),
    "CNStage": ("lib/convnext.net", st.fixed_dictionaries(
        {"n": INTS(0, 3), "first": INTS(0, 2), "total": INTS(3, 6), "sd_prob": st.sampled_from([0.0, 0.2])},
        optional={"layer_scale": st.sampled_from([1e-6, 0.5])})),
    "InvertedResidual@mnasnet": ("lib/mnasnet.net", st.fixed_dictionaries(
        {"_out": INTS(1, 6), "_k": st.sampled_from([3, 5]), "_stride": INTS(1, 2), "_t": INTS(1, 3)},
        optional={"momentum": st.sampled_from([0.1, 0.01])})),
}


def _spec(block, imp, c, size, first, second) -> str:
    return (f'import "zoo:{imp}"\n'
            f"network Probe {{\n    input [{c}, {size}, {size}]\n"
            f"    {block}({_args(first)}) -> {block}({_args(second)})\n}}\n")


def _modules(result):
    """(one class per definition, one class per specialisation) of the checked spec."""
    graphs = list(result.graphs)
    per_definition, per_use = generate(graphs), generate(graphs, block_classes=False)
    return per_definition, exec_source(per_definition).Probe(), exec_source(per_use).Probe()


@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_a_block_class_builds_what_its_specialisations_build(block):
    imp, args = BLOCKS[block]
    block = block.split("@")[0]         # `Name@file`: a block name two files define

    @settings(max_examples=12, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
    @given(c=INTS(1, 8), size=INTS(9, 12), first=args, second=args)
    def run(c, size, first, second):
        result = check_source(_spec(block, imp, c, size, first, second))
        assume(result.ok)       # values `check` refuses: nothing to compare; hypothesis draws others
        compared.append(1)
        text, mine, ref = _modules(result)
        assert len(re.findall(rf"^class {block}\(", text, flags=re.M)) == 1
        assert f"class {block}_2(" not in text
        same_modules(mine, ref, (2, c, size, size))
    compared = []
    run()
    assert len(compared) >= 4, "most drawn values should be ones `check` accepts"


def test_resnet18_has_one_basic_block_class():
    result = check_file("specs/resnet18.net")
    text = generate(list(result.graphs))
    assert len(re.findall(r"^class BasicBlock\(nn\.Module\):", text, flags=re.M)) == 1
    assert "BasicBlock_2" not in text
    assert "    def __init__(self, in_channels, channels, stride=1):" in text
    assert "        if stride != 1 or in_channels != channels:" in text
    assert "            self.downsample = None" in text
    assert "        if self.downsample is not None:" in text
    assert "BasicBlock(64, 128, stride=2)," in text


def test_every_zoo_block_gets_one_class_or_a_reason():
    """A block without a class of its own says why, in a comment above its first class."""
    for path in sorted(glob.glob("specs/*.net")):
        result = check_file(path)
        text = generate(list(result.graphs))
        for name in {s.definition for g in result.graphs for s in g.scopes() if s.kind == "block"}:
            classes = re.findall(rf"^class {name}(_\d+)?\(", text, flags=re.M)
            if len(classes) > 1 or f"# {name}: a class per use, because " in text:
                assert f"# {name}: a class per use, because " in text, (path, name)
            else:
                assert classes == [""], (path, name)


@pytest.mark.parametrize("spec, name", [("specs/resnet50.net", "Bottleneck"),
                                        ("specs/mobilenet_v2.net", "Conv2dNormActivation"),
                                        ("specs/googlenet.net", "BasicConv2d"),
                                        ("specs/inception_v3.net", "InceptionC")])
def test_common_blocks_have_one_class(spec, name):
    text = generate(list(check_file(spec).graphs))
    assert len(re.findall(rf"^class {name}(_\d+)?\(", text, flags=re.M)) == 1


def test_bottleneck_width_becomes_a_function():
    text = generate(list(check_file("specs/resnext50_32x4d.net").graphs))
    assert "def bottleneck_width(planes, groups, base_width):\n    return int(planes * (base_width / 64)) * groups" \
        in text
    assert "        width = bottleneck_width(planes, groups, base_width)\n" in text


# ---- expressions as Python -----------------------------------------------------------
def _expr_source(text: str, names=("a", "b", "c")) -> str:
    from netdsl.frontend.source import Source
    from netdsl.frontend.syntax import parse
    from netdsl.pysource import Names, source
    module, diagnostics = parse(Source.from_text("expr.net", f"let e = {text}\n"))
    assert not diagnostics, diagnostics
    return source(module.lets[0].value, Names({n: n for n in names}, {}, "in_channels"))


@pytest.mark.parametrize("spec, python", [
    ("a + b * c", "a + b * c"),
    ("(a + b) * c", "(a + b) * c"),
    ("a - (b - c)", "a - (b - c)"),
    ("(a - b) - c", "a - b - c"),
    ("a // 2 * b", "a // 2 * b"),
    ("a / (b / c)", "a / (b / c)"),
    ("-(a + b)", "-(a + b)"),
    ("(a ** b) ** c", "(a ** b) ** c"),
    ("a == none", "a is None"),
    ("none != a", "a is not None"),
    ("(a < b) == (b < c)", "(a < b) == (b < c)"),
    ("not (a and b)", "not (a and b)"),
    ("a if b else c", "a if b else c"),
    ("(a if b else c) + 1", "(a if b else c) + 1"),
    ("int(round(a * 0.5))", "round(a * 0.5)"),
    ("max(a, in.c // 4)", "max(a, in_channels // 4)"),
    ("(a, 'x', true, none)", '(a, "x", True, None)'),
])
def test_expressions_keep_their_meaning_in_python(spec, python):
    assert _expr_source(spec) == python


@pytest.mark.parametrize("spec, python", [
    ("sum([n for (c, n) in a])", "sum([n for (c, n) in a])"),
    ("[x * 2 for x in a if x > b]", "tuple(x * 2 for x in a if x > b)"),
    ("len([x for x in range(b)])", "len([x for x in range(b)])"),
    ("range(b)", "tuple(range(b))"),
    ("[b for b in zip(a, a)]", "tuple(b for b in zip(a, a))"),
    ("ceil(a / 2) + floor(b)", "math.ceil(a / 2) + math.floor(b)"),
    ("log(a) / log(b)", "math.log(a) / math.log(b)"),
    ("sqrt(a)", "math.sqrt(a)"),
    ("a[-1] + (b,)", "a[-1] + (b,)"),
])
def test_comprehensions_and_math_in_python(spec, python):
    assert _expr_source(spec) == python


# expression -> strategies for its variables a, b (values `check` might be given)
_NUMS = st.one_of(st.integers(-20, 20), st.floats(-50, 50, allow_nan=False).map(lambda v: round(v, 3)))
_ROWS = st.lists(st.tuples(st.integers(-5, 9), st.integers(-5, 9), st.integers(0, 4)), max_size=5).map(tuple)
EVALUATED = [
    ("sum([n for (c, out, n) in a])", _ROWS, st.integers(0, 3)),
    ("[a[s][0] + (sum([a[j][2] for j in range(s)]),)[1] for s in range(len(a))]", _ROWS, st.integers(0, 3)),
    ("[(x, c) for (x, c, n) in a if n > b]", _ROWS, st.integers(0, 3)),
    ("[c + 1 for (x, c, n) in a] + [b]", _ROWS, st.integers(0, 3)),
    ("[x != y for (x, y) in zip([r[0] for r in a] + [0], [0] + [r[0] for r in a])]", _ROWS, st.integers(0, 3)),
    ("[d for d in range(len(a)) if a[d][2] != 0]", _ROWS, st.integers(0, 3)),
    ("[(i, r[1]) for (i, r) in enumerate(a)]", _ROWS, st.integers(0, 3)),
    ("max([b] + [r[1] for r in a]) + min(b, 2) + len(range(b))", _ROWS, st.integers(0, 3)),
    ("any([r[2] > b for r in a]) or all([r[0] < 0 for r in a])", _ROWS, st.integers(0, 3)),
    ("[a for a in range(a)]", st.integers(0, 6), st.integers(0, 3)),
    ("int(ceil(a * b)) + floor(a / 3) + ceil(b)", _NUMS, _NUMS),
    ("round(8 * 2.54 ** round(log(a) / log(b)) / 8)", st.floats(1, 500), st.floats(1.01, 4)),
    ("sqrt(a) * log(b)", st.floats(0, 1e6), st.floats(1e-3, 1e6)),
]


@pytest.mark.parametrize("expr, a, b", EVALUATED, ids=[e[0] for e in EVALUATED])
def test_python_computes_what_the_language_computes(expr, a, b):
    """The Python text run on random values equals values.evaluate on the same values."""
    import math

    from netdsl.frontend.source import Source
    from netdsl.frontend.syntax import parse
    from netdsl.pysource import Names, source
    from netdsl.values import Env, EvalError, evaluate
    module, diagnostics = parse(Source.from_text("expr.net", f"let e = {expr}\n"))
    assert not diagnostics, diagnostics
    e = module.lets[0].value
    text = source(e, Names({"a": "a", "b": "b"}, {}, "in_channels"))
    code = compile(text, "<expr>", "eval")

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(a=a, b=b)
    def run(a, b):
        env = Env(None)
        env.vars.update(a=a, b=b)
        try:
            expected = evaluate(e, env)
        except EvalError:
            return          # values `check` refuses: nothing to compare
        got = eval(code, {"math": math, "a": a, "b": b})
        assert got == expected and type(got) is type(expected), (a, b, got, expected)
        compared.append(1)
    compared = []
    run()
    assert compared


@pytest.mark.parametrize("spec", ["in.h", "@skip.c", "[sum for sum in a]", "[b for a in b if in.h]", "d + 1"])
def test_what_has_no_python_counterpart_is_refused(spec):
    from netdsl.pysource import Untranslatable
    with pytest.raises(Untranslatable):
        _expr_source(spec)


@pytest.mark.parametrize("body, why", [
    ("conv2d(4, 1)\n    repeat n { relu }", "a repeat where modules are named, not numbered"),
    ("conv2d(4, 1) -> flatten", "needs the height or width of its input, which the class does not take"),
    ("conv2d(4, 1) -> flatten -> linear(3)", "needs the height or width of its input, which the class does not take"),
    ("conv2d(in.h, 1)", "`in.h` depends on the input's size, not only its channels"),
])
def test_a_block_outside_the_subset_gets_classes_per_use_and_says_why(body, why):
    spec = (f'import "zoo:lib/resnet.net"\nblock Outer(n: int) {{\n    {body}\n}}\n'
            "network N {\n    input [3, 8, 8]\n    Outer(2)\n}\n")
    result = check_source(spec)
    assert result.ok, result.diagnostics
    text = generate(list(result.graphs))
    note = next(line for line in text.splitlines() if line.startswith("# Outer: "))
    assert note.startswith("# Outer: a class per use, because ") and why in note
    assert "if (n,) != (2,):" in text


# torch broadcasts a branch of one channel to the others' (found by tools/fuzz_emitters.py)
_BROADCAST = """
block B(c: int) {
    add {
        identity
        conv2d(c, 1)
    }
    conv2d(2, 1)
}
block Kept(c: int) {
    add {
        identity when in.c == c
        conv2d(c, 1)
    }
    conv2d(2, 1)
}
network Probe {
    input [1, 8, 8]
    add {
        identity
        conv2d(3, 1)
    }
    conv2d(1, 1)
    B(3) -> B(2)
    conv2d(1, 1)
    Kept(3) -> Kept(2)
}
"""


def test_a_merge_broadcasting_one_channel_gives_the_others():
    """`add { identity  conv2d(c, 1) }` on one channel gives c channels: with c and in.c
    not known to be equal, B keeps a class per use; where `when in.c == c` says they are
    (MobileNetV2's residual), one class; the network's own add, of numbers, gives 3."""
    graphs = list(check_source(_BROADCAST).graphs)
    source = generate(graphs)
    assert "# B: a class per use, because a merge whose branches' channels may differ" in source
    assert len(re.findall(r"^class Kept\(", source, flags=re.M)) == 1 and "class Kept_2(" not in source
    mine = exec_source(source).Probe()
    shapes = {k: tuple(v.shape) for k, v in mine.state_dict().items() if k.endswith("weight")}
    assert shapes == {"b.conv2d.weight": (3, 1, 1, 1), "b.conv2d_1.weight": (2, 3, 1, 1),
                      "b_1.conv2d.weight": (2, 2, 1, 1), "b_1.conv2d_1.weight": (2, 2, 1, 1),
                      "conv2d.weight": (3, 1, 1, 1), "conv2d_1.weight": (1, 3, 1, 1), "conv2d_2.weight": (1, 2, 1, 1),
                      "kept.conv2d.weight": (3, 1, 1, 1), "kept.conv2d_1.weight": (2, 3, 1, 1),
                      "kept_1.conv2d.weight": (2, 2, 1, 1), "kept_1.conv2d_1.weight": (2, 2, 1, 1)}
    ref = exec_source(generate(graphs, block_classes=False)).Probe()
    same_modules(mine, ref, (2, 1, 8, 8))


# in a sequential block with named items, an unnamed one is numbered by its position in
# the expansion: after a condition or a loop, that depends on the values (found by
# tools/fuzz_emitters.py)
_NUMBERED_AFTER = """
sequential block AfterLoop(a: int, b: int = 1) {
    for i in range(b) {
        "m{i}": conv2d(a, 1)
    }
    batchnorm2d when in.c == a
}
sequential block AfterIf(a: int, f: bool = false) {
    relu when f
    batchnorm2d when in.c == a
    "m": conv2d(a, 1)
}
network Probe {
    input [3, 4, 4]
    AfterLoop(4) -> AfterLoop(4, 2)
    AfterIf(4) -> AfterIf(4, true)
}
"""


def test_an_unnamed_module_after_a_condition_among_named_ones_keeps_a_class_per_use():
    graphs = list(check_source(_NUMBERED_AFTER).graphs)
    source = generate(graphs)
    for name in ("AfterLoop", "AfterIf"):
        assert f"# {name}: a class per use, because an unnamed module after a condition among named ones" in source
    mine = exec_source(source).Probe()
    assert [k for k in mine.state_dict() if k.endswith("weight")] == [
        "after_loop.m0.weight", "after_loop_1.m0.weight", "after_loop_1.m1.weight", "after_loop_1.2.weight",
        "after_if.0.weight", "after_if.m.weight", "after_if_1.1.weight", "after_if_1.m.weight"]
    ref = exec_source(generate(graphs, block_classes=False)).Probe()
    same_modules(mine, ref, (2, 3, 4, 4))
