"""Safe code generation: a corpus of injection attempts.

Each case is compiled the way `netdsl compile` does it. The outcome must be one of:
  * rejected with located diagnostics (never an exception, never exit 3), or
  * generated Python in which the spec's text is inert data: the module parses,
    spec strings occur only inside string constants, and executing the module,
    building the network and running a forward pass sets none of the sentinels
    the payloads try to set (an environment variable, a file, a builtin).
"""
from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from netdsl import check_source
from netdsl.cli import cli
from netdsl.errors import SpecError

torch = pytest.importorskip("torch")

SENTINEL_ENV = "NETDSL_PWNED"
SENTINEL_FILE = Path("/tmp/netdsl-pwned-sentinel")
# Payloads for double-quoted (DQ) and single-quoted (SQ) spec strings: each closes the
# string it expects to land in, runs code, and reopens a string.
RUN_DQ = f"__import__('os').environ.__setitem__('{SENTINEL_ENV}', '1')"
RUN_SQ = f'__import__("os").environ.__setitem__("{SENTINEL_ENV}", "1")'
TOUCH_SQ = f'open("{SENTINEL_FILE}", "w")'
STRINGS = [
    f"\"x'); {RUN_DQ}; ('\"",                  # closes a single-quoted emission
    f"'x\"); {RUN_SQ}; (\"'",                  # closes a double-quoted emission
    "'x\\'",                                 # a trailing backslash escapes the closing quote
    f"'\"\"\"; {RUN_SQ}; \"\"\"'",             # closes a docstring
    f"\"'''; {RUN_DQ}; '''\"",
    f"'{{{RUN_SQ}}}'",                         # f-string / format braces
    "'%s%r%(x)s'",
    f"'\\n{RUN_SQ}\\n'",                       # backslash-n as two characters
    f"'\\x0c\\x0b\\x1c\\x85\u2028\u2029{TOUCH_SQ}'",   # unusual line breaks
    f"'# {TOUCH_SQ}'",
    f"'\\\\'); {TOUCH_SQ}; ('\\\\'",
    f"'{TOUCH_SQ}'",
]

NET = "network {name}({params}) {{\n    input [3, 8, 8]\n{body}\n}}\n"


def net(body="    conv2d(4, 3)", name="N", params="", head=""):
    return head + NET.format(name=name, params=params, body=body)


CASES: dict[str, str] = {}
for i, s in enumerate(STRINGS):
    CASES[f"network-param-{i}"] = net(params=f"tag = {s}")
    CASES[f"block-param-{i}"] = net("    B(tag=" + s + ")", head="block B(tag = 'a') {\n    relu\n}\n")
    CASES[f"let-{i}"] = net(f"    let s = {s}\n    conv2d(4, 3)")
    CASES[f"layer-string-{i}"] = net(f"    gelu(approximate={s})")
    CASES[f"comment-{i}"] = net(f"    conv2d(4, 3)  # {s}")
    CASES[f"import-{i}"] = f"import {s}\n" + net()
    CASES[f"expect-{i}"] = net(f"    conv2d(4, 3)\n    expect [4, 6, {s}]")

# Names: Python keywords, soft keywords, dunders, builtins the generated code calls,
# and names it defines itself.
NAMES = ["exec", "eval", "super", "print", "open", "object", "int", "isinstance", "getattr", "tuple", "range",
         "ValueError", "nn", "torch", "F", "OrderedDict", "CenterCrop", "__import__", "__init__", "__class__",
         "_private", "__all__", "self", "x", "True", "None", "False", "lambda", "match", "case", "type", "_",
         "import", "class", "def", "return", "forward", "training", "state_dict", "register_buffer",
         "call_super_init", "dump_patches", "T_destination", "_modules", "init", "xavier", "Module"]
for name in NAMES:
    CASES[f"network-name-{name}"] = net(name=name, body="    conv2d(4, 3)\n    center_crop(2)")
    CASES[f"block-name-{name}"] = net(f"    {name}()", head=f"block {name}() {{\n    conv2d(4, 3)\n}}\n")
    CASES[f"layer-label-{name}"] = net(f"    {name}: conv2d(4, 3)")
    CASES[f"sequence-label-{name}"] = net(f"    {name}: [conv2d(4, 3) -> relu]")
    CASES[f"network-param-name-{name}"] = net(params=f"{name} = 3")
    CASES[f"block-param-name-{name}"] = net(f"    B({name}=4)",
                                            head=f"block B({name}: int) {{\n    conv2d({name}, 3)\n}}\n")
    CASES[f"loop-var-{name}"] = net(f"    for {name} in [4] {{ conv2d({name}, 3) }}")
# Computed module names (a class per block definition writes them as f-strings): a
# hostile string as a part's value, and hostile literal text around the parts. A
# `repeat 0` leaves the name uncomputed, so that `check` passes and the class is written.
COMPUTED = "sequential block S(n: int, tag: str = 'a') {{\n    repeat n as i {{ {name}: conv2d(4, 3, padding=1) }}\n}}\n"
for i, s in enumerate(STRINGS):
    CASES[f"computed-name-value-{i}"] = net("    S(0, tag=" + s + ")", head=COMPUTED.format(name='"x{tag}-{i}"'))
    CASES[f"computed-name-used-{i}"] = net("    S(2, tag=" + s + ")", head=COMPUTED.format(name='"x{tag}-{i}"'))
for i, name in enumerate(["\"a'b{i}\"", "'a\"b{i}'", '"a.b{i}"', '"a}}{i}"', '"a{i}#x"', '"a{i}\\n"',
                          '"{i}\\"); open(1); (\""', "'{tag}'", '"a{i}{{tag}}"', '"{\'x\' + tag}"']):
    CASES[f"computed-name-text-{i}"] = net("    S(0)", head=COMPUTED.format(name=name))
    CASES[f"computed-name-text-used-{i}"] = net("    S(1)", head=COMPUTED.format(name=name))
# The same names made by a loop among attribute modules (setattr / getattr, and the
# names listed in __init__ where the count is a parameter).
ATTR = ("block A(n: int, tag: str = 'a') {{\n    first: conv2d(4, 3, padding=1)\n"
        "    for i in range(n) {{ {name}: conv2d(4, 3, padding=1) }}\n}}\n")
for i, s in enumerate(STRINGS):
    CASES[f"attr-loop-name-value-{i}"] = net("    A(0, tag=" + s + ")", head=ATTR.format(name='"x{tag}-{i}"'))
    CASES[f"attr-loop-name-used-{i}"] = net("    A(2, tag=" + s + ")", head=ATTR.format(name='"x{tag}-{i}"'))
for i, name in enumerate(["\"a'b{i}\"", "'a\"b{i}'", '"a.b{i}"', '"a}}{i}"', '"a{i}#x"', '"a{i}\\n"',
                          '"{i}\\"); open(1); (\""', '"a{i}{{tag}}"', '"{\'x\' + tag}{i}"']):
    CASES[f"attr-loop-name-text-{i}"] = net("    A(0)", head=ATTR.format(name=name))
    CASES[f"attr-loop-name-text-used-{i}"] = net("    A(1)", head=ATTR.format(name=name))
# Generated-name collisions: a block named like a specialisation class, two blocks whose
# classes would share a name, a network and a block with the same class name.
CASES["specialisation-clash"] = net(
    "    B(1) -> B(2) -> B_2()",
    head="block B(s: int) {\n    if s == 1 { conv2d(4, 3) } else { relu }\n}\nblock B_2() {\n    relu\n}\n")
CASES["block-like-network"] = net(name="Net_2", body="    Net()", head="block Net() {\n    relu\n}\n")
CASES["two-networks"] = net(name="A") + net(name="A_2") + net(name="CenterCrop", body="    center_crop(2)")


def _spec_strings(text: str) -> list[str]:
    """The string literals a spec contains (what must stay inert)."""
    import re
    return [m[1:-1] for m in re.findall(r"'[^'\n]*'|\"[^\"\n]*\"", text) if len(m) > 4]


def _string_constants(code: str) -> list[str]:
    return [n.value for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _code_lines(code: str) -> str:
    """The code with comments removed (tokenize knows where comments are)."""
    import io
    import tokenize
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type not in (tokenize.COMMENT, tokenize.STRING):
            out.append(tok.string)
    return " ".join(out)


@pytest.fixture(autouse=True)
def clean_sentinels():
    os.environ.pop(SENTINEL_ENV, None)
    SENTINEL_FILE.unlink(missing_ok=True)
    yield
    assert SENTINEL_ENV not in os.environ, "a payload ran"
    assert not SENTINEL_FILE.exists(), "a payload ran"


def test_corpus_size():
    assert len(CASES) > 300


def test_the_oracle_catches_a_naive_emitter():
    """Pasting a payload between quotes, as a naive code generator would, is caught."""
    payload = _spec_strings(CASES["network-param-0"])[0]
    naive = f"dict(tag='{payload}')\n"
    assert "__import__" in _code_lines(naive)
    exec(compile(naive, "naive", "exec"), {})  # noqa: S102 - demonstrates the attack on a naive emitter
    assert os.environ.pop(SENTINEL_ENV) == "1"
    safe = f"tag = {payload!r}\n"
    assert "__import__" not in _code_lines(safe) and payload in _string_constants(safe)


@pytest.mark.parametrize("case", sorted(CASES))
def test_injection_case(case, tmp_path):
    from netdsl.backends.build import build_source, exec_source
    text = CASES[case]
    result = check_source(text, "inj.net")
    for d in result.diagnostics:       # rejection is fine, but located
        assert d.labels or d.file, (d.code, d.message)
    try:
        code = build_source(text)
    except SpecError as e:
        assert e.diagnostics and all(d.code and d.message for d in e.diagnostics)
        assert all(d.labels for d in e.diagnostics), \
            f"refused without a location: {[d.message for d in e.diagnostics]}"
        return
    assert result.ok, "code was generated for a spec with errors"
    payloads = _spec_strings(text)
    assert SENTINEL_ENV not in _code_lines(code) and "__import__" not in _code_lines(code), code
    if case.startswith(("network-param-", "block-param-")) and "name" not in case:
        # The default is emitted: it must come back as exactly the same data.
        constants = _string_constants(code)
        assert all(any(p in c for c in constants) for p in payloads), (payloads, code)
    module = exec_source(code, "inj")
    for g in result.graphs:
        model = getattr(module, g.network)()
        with torch.no_grad():
            out = model(torch.zeros(1, *g.input_shape))
        assert tuple(out.shape[1:]) == g.output_shape


def test_compile_cli_on_the_corpus(tmp_path):
    """A sample through `netdsl compile` in-process: exit 0 (a file) or 1 (no file), never 3."""
    runner = CliRunner()
    for i, case in enumerate(sorted(CASES)[::9]):
        spec = tmp_path / f"c{i}.net"
        spec.write_text(CASES[case], encoding="utf-8")
        out = tmp_path / f"c{i}.py"
        res = runner.invoke(cli, ["compile", str(spec), "-o", str(out)])
        assert res.exception is None or isinstance(res.exception, SystemExit), (case, res.exception)
        assert res.exit_code in (0, 1), (case, res.exit_code, res.output)
        assert out.exists() == (res.exit_code == 0), case
        assert not list(tmp_path.glob(".*.tmp")), "a temporary file was left behind"


@pytest.mark.parametrize("fname", ['q"""x.net', "q'x.net", "bs\\x.net", "\u2028x.net"])
def test_hostile_file_names_in_the_generated_header(tmp_path, fname):
    from netdsl.backends.build import build_source, exec_source
    path = tmp_path / fname
    path.write_text(net(), encoding="utf-8")
    code = build_source(str(path))
    ast.parse(code)
    exec_source(code, "inj").N()
