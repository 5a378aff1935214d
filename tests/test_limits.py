"""Every resource limit (netdsl/limits.py, docs/limits.md) shows its diagnostic, at
the right place, and hostile sizes never reach a RecursionError, a hang or an
exception. Also: cycles, and bad values at the argument responsible."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from netdsl import check_file, check_source
from netdsl.cli import cli
from netdsl.limits import LIMITS


@pytest.fixture(autouse=True)
def restore_limits():
    saved = LIMITS.copy()
    yield
    LIMITS.__dict__.update(saved.__dict__)


def net(body: str, head: str = "") -> str:
    lines = "\n".join("    " + line for line in body.split("\n"))
    return f"{head}network N {{\n    input [3, 8, 8]\n{lines}\n}}\n"


def only(result, code):
    """The diagnostics with `code`; fails if there are none or any other error."""
    found = [d for d in result.diagnostics if d.code == code]
    others = [d for d in result.errors if d.code != code]
    assert found, [(d.code, d.message) for d in result.diagnostics]
    assert not others, [(d.code, d.message) for d in others]
    return found


def text_at(d) -> str:
    return d.primary.text()


# ---- expansion -------------------------------------------------------------
def test_nested_huge_repeats_are_an_expansion_error():
    text = net("repeat 1000 { repeat 1000 { relu } }")
    (d,) = only(check_source(text), "E0320")
    assert "100,000 layers" in d.message
    assert text_at(d).startswith("repeat 1000 {")          # the outermost loop
    assert d.primary.line == 3


@pytest.mark.parametrize("body", [
    "repeat 1000 { repeat 1000 { } }",
    "repeat 1000 { repeat 1000 { repeat 1000 { } } }",
    "for i in range(1000) { repeat 1000 { } }",
])
def test_nested_empty_repeats_stop(body):
    (d,) = only(check_source(net(body)), "E0320")
    assert "run more than" in d.message
    assert d.primary.line == 3


@pytest.mark.parametrize("body,head", [
    ("repeat n { repeat n { relu } }", "let n = 1000\n"),
    ("for c in range(1000) { repeat 1000 { relu } }", ""),
    ("repeat 100000 { B() }", "block B() { repeat 1000 { relu } }\n"),
    ("repeat 1000 { B() }", "block B() { repeat 1000 { relu -> relu } }\n"),
])
def test_expansion_through_variables_loops_and_blocks(body, head):
    only(check_source(net(body, head)), "E0320")


def test_expansion_limit_is_configurable_from_python_and_the_cli(tmp_path):
    text = net("repeat 15 { relu -> relu }")
    assert check_source(text).ok
    LIMITS.max_layers = 20
    (d,) = only(check_source(text), "E0320")
    assert "20 layers" in d.message
    LIMITS.max_layers = 100_000
    path = tmp_path / "r.net"
    path.write_text(text)
    res = CliRunner().invoke(cli, ["check", str(path), "--max-layers", "20"])
    assert res.exit_code == 1 and "E0320" in res.output and "20 layers" in res.output
    assert CliRunner().invoke(cli, ["check", str(path), "--max-layers", "100"]).exit_code == 0


def test_exactly_at_the_limit_is_fine():
    LIMITS.max_layers = 11                  # the input node plus ten layers
    assert check_source(net("repeat 10 { relu }")).ok
    only(check_source(net("repeat 11 { relu }")), "E0320")


def test_conditional_bodies_are_not_overestimated():
    """The quick estimate counts only unconditional layers, so a loop whose body
    is mostly skipped still expands."""
    LIMITS.max_layers = 1000
    assert check_source(net("repeat 1000 as i { if i < 10 { relu } }")).ok


def test_huge_range_and_tuple_repetition():
    (d,) = only(check_source(net("let r = range(1000000000000)")), "E0320")
    assert text_at(d) == "range(1000000000000)"
    only(check_source(net("let t = (1, 2) * 1000000000")), "E0320")


# ---- nesting depth: parse path -----------------------------------------------
DEEP = {
    "brackets": ("let x = " + "(" * 100_000 + "1" + ")" * 100_000, "E0104"),
    "lists": ("let x = " + "[" * 100_000 + "]" * 100_000, "E0104"),
    "sequences": ("[\n" * 5_000 + "relu\n" + "]\n" * 5_000, "E0104"),
    "minus": ("let x = " + "- " * 12_000 + "1", "E0104"),
    "not": ("let x = " + "not " * 12_000 + "true", "E0104"),
    "power": ("let x = " + "2**" * 12_000 + "2", "E0104"),
    "attributes": ("let x = in" + ".c" * 12_000, "E0104"),
    "indexing": ("let x = in" + "[0]" * 12_000, "E0104"),
    "conditional": ("let x = " + "1 if true else " * 3_000 + "1", "E0104"),
    "sum": ("let x = " + " + ".join(["1"] * 12_000), "E0104"),
    "ifs": ("if true {\n" * 3_000 + "relu\n" + "}\n" * 3_000, "E0104"),
}


@pytest.mark.parametrize("kind", sorted(DEEP))
def test_deep_nesting_is_a_located_diagnostic(kind):
    body, code = DEEP[kind]
    result = check_source(net(body))
    (d,) = only(result, code)
    assert "nested" in d.message
    assert d.primary.line >= 3, "points into the spec, not at the top of the file"


def test_moderate_nesting_is_fine():
    assert check_source(net("let x = " + "(" * 90 + "1" + ")" * 90 + "\nlet y = " + "- " * 150 + "1")).ok
    assert check_source(net("let x = in" + ".c" * 1 + " + " + " + ".join(["1"] * 150))).ok


def test_depth_limit_is_configurable():
    text = net("let x = " + "- " * 50 + "1")
    assert check_source(text).ok
    LIMITS.max_depth = 20
    (d,) = only(check_source(text), "E0104")
    assert "20 levels" in d.message


def test_bracket_limit_is_configurable():
    text = net("let x = " + "(" * 30 + "1" + ")" * 30)
    assert check_source(text).ok
    LIMITS.max_nesting = 10
    (d,) = only(check_source(text), "E0104")
    assert "10 levels" in d.message and d.primary.text() == "("


# ---- nesting depth: evaluation path ----------------------------------------------
@pytest.mark.parametrize("where", ["top", "network"])
def test_evaluation_guard_when_the_parse_cap_is_raised(where):
    """Raising max_depth lets a deep expression past the parser; evaluation must
    still answer with a diagnostic, not a RecursionError."""
    LIMITS.max_depth = 10 ** 9
    deep = " + ".join(["1"] * 12_000)
    text = f"let x = {deep}\n" + net("relu") if where == "top" else net(f"let x = {deep}\nrelu")
    (d,) = only(check_source(text), "E0104")
    assert d.primary is not None


def test_block_nesting_depth():
    head = "".join(f"block B{i}() {{ B{i + 1}() }}\n" for i in range(100)) + "block B100() { relu }\n"
    (d,) = only(check_source(net("B0()", head)), "E0321")
    assert "64" in d.message
    LIMITS.max_block_depth = 200
    assert check_source(net("B0()", head)).ok


def test_deep_structure_through_blocks_is_a_diagnostic():
    """Many blocks, each nesting sequences: elaboration depth beyond the parse cap."""
    LIMITS.max_block_depth = 10 ** 6
    inner = "[\n" * 60 + "B{next}()\n" + "]\n" * 60
    head = "".join(f"block B{i}() {{\n{inner.format(next=i + 1)}}}\n" for i in range(400))
    head += "block B400() { relu }\n"
    result = check_source(net("B0()", head))
    assert not result.ok
    (d,) = only(result, "E0104")
    assert d.primary.text() == "N"          # the network being expanded


# ---- integer sizes ------------------------------------------------------------
def test_5000_digit_literal():
    (d,) = only(check_source(net("conv2d(" + "9" * 5000 + ", 3)")), "E0105")
    assert text_at(d) == "9" * 5000


def test_huge_float_literal():
    (d,) = only(check_source(net("dropout(1e999)")), "E0105")
    assert text_at(d) == "1e999"


@pytest.mark.parametrize("expr,where", [
    ("999999999999 * 999999999999", "999999999999 * 999999999999"),
    ("2 ** 2 ** 2 ** 2 ** 2", "2 ** 2 ** 2 ** 2 ** 2"),
    ("3037000500 * 3037000500", "3037000500 * 3037000500"),
    ("2.0 ** 100000", "2.0 ** 100000"),
])
def test_huge_products(expr, where):
    (d,) = only(check_source(net(f"let x = {expr}")), "E0217")
    assert text_at(d) == where


def test_huge_input_shape():
    (d,) = only(check_source(net("relu").replace("[3, 8, 8]", "[3, 99999999999999, 8]")), "E0217")
    assert text_at(d) == "[3, 99999999999999, 8]"


def test_huge_computed_shape():
    text = "network N {\n    input [100000000, 100000000, 100000000]\n    flatten\n}\n"
    (d,) = only(check_source(text), "E0217")
    assert "flatten" in d.message


def test_integer_digit_limit_is_configurable():
    text = net("conv2d(123456, 3)")
    assert check_source(text).ok
    LIMITS.max_int_digits = 4
    (d,) = only(check_source(text), "E0105")
    assert text_at(d) == "123456"


# ---- very large layers -------------------------------------------------------------
def test_huge_layer_warning():
    text = "network N {\n    input [100000]\n    linear(1000000)\n}\n"
    result = check_source(text)
    assert result.ok                        # a warning, not an error
    (d,) = [d for d in result.diagnostics if d.code == "W0405"]
    assert d.severity == "warning" and "100,001,000,000 parameters" in d.message
    assert text_at(d) == "linear(1000000)"


def test_huge_layer_threshold_is_configurable():
    text = net("conv2d(64, 3)")
    assert not check_source(text).diagnostics
    LIMITS.max_layer_params = 1000          # 64*3*3*3 + 64 = 1792
    (d,) = [d for d in check_source(text).diagnostics if d.code == "W0405"]
    assert "1,792 parameters" in d.message


# ---- cycles -------------------------------------------------------------------
def test_direct_recursion_names_the_chain():
    text = net("A()", "block A() { relu -> A() }\n")
    (d,) = only(check_source(text), "E0207")
    assert "A \u2192 A" in d.message and text_at(d) == "A"


def test_mutual_recursion_names_the_chain():
    text = net("A(1)", "block A(k: int) { B() }\nblock B() { C() }\nblock C() { A(2) }\n")
    (d,) = only(check_source(text), "E0207")
    assert "A \u2192 B \u2192 C \u2192 A" in d.message
    assert d.primary.line == 3               # the call that closes the cycle, in C


def test_import_cycle_names_the_chain(tmp_path):
    (tmp_path / "a.net").write_text('import "b.net"\n' + net("relu"))
    (tmp_path / "b.net").write_text('import "c.net"\nblock Bb() { relu }\n')
    (tmp_path / "c.net").write_text('import "a.net"\nblock Cc() { relu }\n')
    result = check_file(str(tmp_path / "a.net"))
    (d,) = only(result, "E0107")
    assert "a.net \u2192 b.net \u2192 c.net \u2192 a.net" in d.message
    assert d.primary.source.name.endswith("c.net") and text_at(d) == 'import "a.net"'


def test_self_import(tmp_path):
    (tmp_path / "a.net").write_text('import "a.net"\n' + net("relu"))
    (d,) = only(check_file(str(tmp_path / "a.net")), "E0107")
    assert "a.net \u2192 a.net" in d.message


# ---- bad values at the argument responsible ---------------------------------------
@pytest.mark.parametrize("body,code,at", [
    ("conv2d(64 // 0, 3)", "E0216", "0"),
    ("let k = 3 % 0\nconv2d(8, k)", "E0216", "0"),
    ("conv2d(8, 3, stride=4 / (2 - 2))", "E0216", "2 - 2"),
    ("conv2d(-64, 3)", "E0215", "-64"),
    ("conv2d(0, 3)", "E0215", "0"),
    ("conv2d(8, 3, stride=0)", "E0215", "stride=0"),
    ("conv2d(8, 0)", "E0215", "0"),
    ("conv2d(8, 3, padding=-1)", "E0215", "padding=-1"),
    ("maxpool2d(2, stride=0)", "E0215", "stride=0"),
    ("maxpool2d(0)", "E0215", "0"),
    ("flatten -> linear(0)", "E0215", "0"),
    ("flatten -> linear(-5)", "E0215", "-5"),
    ("conv_transpose2d(4, 3, stride=0)", "E0215", "stride=0"),
    ("groupnorm(0)", "E0215", "0"),
    ("adaptive_avgpool2d(-3)", "E0215", "-3"),
    ("repeat -1 { relu }", "E0218", "-1"),
    ("let x = (-8) ** 0.5", "E0216", "(-8) ** 0.5"),
    ("let x = 0 ** -1", "E0216", "-1"),
])
def test_bad_values_point_at_the_argument(body, code, at):
    (d,) = only(check_source(net(body)), code)
    assert text_at(d) == at, (d.message, text_at(d))


def test_negative_and_zero_input_sizes():
    (d,) = only(check_source(net("relu").replace("[3, 8, 8]", "[3, 0, 8]")), "E0215")
    assert text_at(d) == "[3, 0, 8]"
    (d,) = only(check_source(net("relu").replace("[3, 8, 8]", "[3, -8, 8]")), "E0215")


# ---- file size -------------------------------------------------------------------
def test_token_limit():
    text = net("\n".join(["relu"] * 30))
    assert check_source(text).ok
    LIMITS.max_tokens = 40
    (d,) = only(check_source(text), "E0108")
    assert "40 tokens" in d.message and d.primary.line > 3


def test_file_size_limit_for_the_cli(tmp_path, monkeypatch):
    import netdsl.program.files as P
    path = tmp_path / "big.net"
    path.write_text(net("relu") + "#" * 5000 + "\n")
    monkeypatch.setattr(P, "MAX_FILE_BYTES", 4096)
    res = CliRunner().invoke(cli, ["check", str(path)])
    assert res.exit_code == 2 and "big.net" in res.output and "larger than" in res.output


def test_suggestions_for_very_long_names_stay_cheap():
    """`did you mean` compares names by edit distance (quadratic): huge names skip it."""
    name = "a" * 200_000
    text = net(f"let {name} = 1\nlet y = {name}b")
    (d,) = only(check_source(text), "E0202")
    assert not d.help
    (d,) = only(check_source(net("let width = 1\nlet y = widht")), "E0202")
    assert d.help == ["did you mean `width`?"]


@pytest.mark.parametrize("step", ["(a{i}, a{i})", "a{i} + a{i}", "[a{i}, a{i}, a{i}]"])
def test_values_that_double_at_each_let_are_capped(step):
    """Shared sub-tuples make sizes grow exponentially; every traversal of such a
    value (type checks, messages) would never end."""
    lets = "let a0 = range(1000)\n" + "".join(f"let a{i + 1} = {step.format(i=i)}\n" for i in range(60))
    result = check_source(net(lets + "conv2d(a60, 3)"))
    found = [d for d in result.errors if d.code == "E0320"]
    assert found and "elements" in found[0].message
    assert found[0].primary.line > 3


def test_large_but_bounded_values_are_fine():
    text = net("let a = range(1000)\nlet b = (a, a, a)\nlet n = len(b) + len(b[0])\nconv2d(n, 3)")
    assert check_source(text).ok


def test_import_chains_are_capped(tmp_path):
    for i in range(80):
        (tmp_path / f"f{i}.net").write_text(f'import "f{i + 1}.net"\nblock B{i}() {{ relu }}\n')
    (tmp_path / "f80.net").write_text("block Last() { relu }\n")
    (d,) = only(check_file(str(tmp_path / "f0.net")), "E0104")
    assert "64 files deep" in d.message
    assert d.primary.source.name.endswith("f64.net") and text_at(d) == 'import "f65.net"'
    LIMITS.max_import_depth = 100
    result = check_file(str(tmp_path / "f0.net"))
    assert result.ok and len(result.program.blocks) == 81


def test_max_layers_flag_does_not_leak_into_later_runs():
    from click.testing import CliRunner

    from netdsl.cli import cli
    from netdsl.limits import LIMITS
    before = LIMITS.max_layers
    spec = "network N {\n  input [3, 8, 8]\n  repeat 20 { relu }\n}\n"
    result = CliRunner().invoke(cli, ["check", "--max-layers", "5", "-"], input=spec)
    assert result.exit_code == 1 and "E0320" in result.output
    assert LIMITS.max_layers == before
    result = CliRunner().invoke(cli, ["check", "-"], input=spec)
    assert result.exit_code == 0, result.output


# ---- memory: values are weighed by what printing them would cost ------------------------
def test_a_repeated_long_string_is_too_large_a_value():
    s = "x" * 10_000
    (d,) = only(check_source(net(f'let t = ("{s}",) * 1000000')), "E0320")
    assert "larger than the size limit" in d.message and len(d.message) < 300
    assert check_source(net(f'let t = ("{s}",) * 5')).ok


def test_values_quoted_in_messages_are_cut_short():
    s = "y" * 5000
    (d,) = only(check_source(net(f'let t = ("{s}",) * 50\nlet u = t < 3')), "E0214")
    result = check_source(net(f'conv2d(("{s}",) * 50, 3)'))
    (e,) = [x for x in result.errors if x.code == "E0214"]
    assert len(e.message) < 400 and "\u2026" in e.message


def test_long_computed_names_are_refused_before_they_are_built():
    s = "z" * 100_000
    text = net(f'let s = "{s}"\nrepeat 5000 as i {{ "{{s}}{{i}}": relu }}')
    (d, *rest) = only(check_source(text), "E0206")
    assert "longer than 256 characters" in d.message


def test_a_loop_copying_a_large_tuple_stops_and_keeps_little_alive():
    import tracemalloc
    text = net("let base = range(100000)\nrepeat 3000 {\n    let t = base + (1,)\n    relu\n}")
    tracemalloc.start()
    try:
        (d,) = only(check_source(text), "E0320")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "build more than" in d.message
    assert peak < 200 * 2 ** 20, peak        # the old memo kept every copy alive: gigabytes


def test_tensors_torch_cannot_hold_are_errors():
    (d,) = only(check_source("network N {\n    input [3, 8, 8]\n    adaptive_avgpool2d(2 ** 31)\n}\n"), "E0217")
    assert "more elements than torch can hold" in d.message or "absurdly large" in d.message
    (d,) = only(check_source("network N {\n    input [2000000, 8, 8]\n    adaptive_avgpool2d(2000000000)\n}\n"),
                "E0217")
    assert "more elements than torch can hold" in d.message


def test_comparing_values_of_different_types_is_a_diagnostic():
    for expr in ('(1,) < ("a",)', '(1, (2, "a")) >= (1, (2, 3))', '"a" < 1', '(1,) < 2'):
        only(check_source(net(f"let x = {expr}")), "E0214")
    assert check_source(net('let x = (1, "a") < (2, "a")\nlet y = (1, 2) < (1, 2, 3)')).ok


def test_huge_ranges_do_not_overflow():
    only(check_source(net("let r = range(-2 ** 62, 2 ** 62)")), "E0320")
    assert check_source(net("let r = range(2 ** 62, -2 ** 62)")).ok        # empty


def test_too_many_diagnostics_are_counted_not_kept():
    LIMITS.max_diagnostics = 50
    body = "\n".join(f"foo{i}" for i in range(120))
    result = check_source(net(body))
    (g,) = result.graphs
    assert len(g.diagnostics) == 50 and g.omitted == 70
    from netdsl.ir import validate
    assert validate.problems(g) == []
