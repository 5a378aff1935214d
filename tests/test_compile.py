"""`netdsl compile`: the generated source itself (golden files, ruff, imports,
comments, class structure), the command's file handling, and injection safety.

Golden files in tests/golden/compile/ were inspected by hand; regenerate them
only on purpose with NETDSL_UPDATE_GOLDEN=1.
"""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import netdsl
from netdsl.backends.build import build_source
from netdsl.backends.codegen import CodegenError, docstring_text, generate, literal
from netdsl.backends.helpers import HELPERS
from netdsl.cli import cli
from netdsl.namespace import NameRefused, require_attribute, require_class
from netdsl.pipeline import check_source

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "compile"
SPECS = sorted(ROOT.glob("specs/*.net"))


def compile_rel(name: str, monkeypatch) -> str:
    monkeypatch.chdir(ROOT)     # the docstring names the spec as given: keep it machine-independent
    return build_source(f"specs/{name}.net")


@pytest.mark.parametrize("name", ["lenet", "resnet18"])
def test_golden(name, monkeypatch):
    text = compile_rel(name, monkeypatch)
    golden = GOLDEN / f"{name}.py"
    if os.environ.get("NETDSL_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_output_is_deterministic(monkeypatch):
    assert compile_rel("googlenet", monkeypatch) == compile_rel("googlenet", monkeypatch)


@pytest.fixture(scope="module")
def zoo_sources(tmp_path_factory):
    out = tmp_path_factory.mktemp("zoo")
    sources = {}
    for path in SPECS:
        text = build_source(str(path))
        (out / f"{path.stem}.py").write_text(text, encoding="utf-8")
        sources[path.stem] = text
    return out, sources


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
def test_generated_code_passes_ruff(zoo_sources):
    out, _ = zoo_sources
    for extra in (["--isolated"], ["--config", str(ROOT / "pyproject.toml")]):
        result = subprocess.run(["ruff", "check", "--no-cache", *extra, str(out)], capture_output=True, text=True,
                                check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def test_generated_code_imports_only_torch(zoo_sources):
    _, sources = zoo_sources
    for name, text in sources.items():
        roots = set()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                roots |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots.add(node.module.split(".")[0])
        # torch, and Python's own collections and math (math only where a spec calls ceil,
        # floor, sqrt or log, as torchvision's efficientnet.py and regnet.py import it)
        assert roots <= {"torch", "collections", "math"}, name
        assert "torch" in roots


def test_docstring_names_the_source_spec(monkeypatch):
    text = compile_rel("lenet", monkeypatch)
    doc = ast.get_docstring(ast.parse(text))
    assert "specs/lenet.net" in doc


def test_every_forward_line_has_its_shape(zoo_sources):
    _, sources = zoo_sources
    for name, text in sources.items():
        lines = text.splitlines()
        for cls in _classes(text).values():
            if cls.name in HELPERS:       # the CenterCrop helper is plain hand-written code
                continue
            if "for any values of its parameters" in (ast.get_docstring(cls) or ""):
                continue        # a class per block definition: its shapes differ from use to use
            for fn in cls.body:
                if not (isinstance(fn, ast.FunctionDef) and fn.name == "forward"):
                    continue
                assert isinstance(fn.body[-1], ast.Return)
                for stmt in fn.body[:-1]:
                    if isinstance(stmt, ast.Expr):  # a network bound to its input size checks it
                        assert ast.unparse(stmt).startswith("torch._assert("), name
                        continue
                    if stmt is fn.body[0] and ast.unparse(stmt) == "size = x.shape":
                        continue                    # the input's shape, for the check's message
                    if isinstance(stmt, (ast.If, ast.For)):
                        continue    # lines under a condition or run per iteration: no one shape
                    assert isinstance(stmt, ast.Assign)
                    if isinstance(stmt.value, ast.Dict):
                        continue    # the dict of named outputs (DeepLabV3's `result = {"out": out}`)
                    line = lines[stmt.lineno - 1]
                    assert "  # [" in line and line.endswith("]"), (name, line)


def _classes(text: str) -> dict:
    return {n.name: n for n in ast.parse(text).body if isinstance(n, ast.ClassDef)}


def _init_signature(cls: ast.ClassDef) -> list:
    init = next(f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
    args = init.args.args[1:] + init.args.kwonlyargs
    defaults = [None] * (len(init.args.args) - 1 - len(init.args.defaults)) + init.args.defaults
    defaults += init.args.kw_defaults
    return [(a.arg, ast.literal_eval(d) if d is not None else "required") for a, d in zip(args, defaults)]


def test_one_class_per_network_and_block_definition(zoo_sources):
    _, sources = zoo_sources
    classes = _classes(sources["resnet18"])
    # one BasicBlock for its seven distinct expansions: the input channels, then the spec's signature
    assert sorted(classes) == ["BasicBlock", "ResNet18"]
    assert _init_signature(classes["BasicBlock"]) == [("in_channels", "required"), ("channels", "required"),
                                                      ("stride", 1)]
    assert _init_signature(classes["ResNet18"]) == [("num_classes", 1000)]
    assert sorted(_classes(sources["lenet"])) == ["LeNet"]


REPEATS = """
block Twice(n: int) {
    repeat n { relu }
}

network Uses {
    input [3, 8, 8]
    Twice(2) -> Twice(3)
}
"""


def test_a_specialised_class_refuses_other_arguments(tmp_path):
    text = build_source(REPEATS)
    # a `repeat` of modules named after their kind (relu, relu_1...): a class per use, which says why
    assert "# Twice: a class per use, because a repeat where modules are named, not numbered." in text
    namespace: dict = {}
    exec(compile(text, "twice", "exec"), namespace)  # noqa: S102 - the code under test
    assert namespace["Twice"](n=2) is not None
    with pytest.raises(ValueError, match="recompile"):
        namespace["Twice"](n=3)
    assert namespace["Twice_2"](n=3) is not None
    # a network whose body is outside the subset (a `for` of modules named after their kind,
    # conv2d, conv2d_1, ...) has a class for its compiled values
    looped = {}
    text = build_source(LOOPED)
    assert "# Looped: a class for the values compiled for, because its modules would not have the names " \
        "elaboration gives." in text
    exec(compile(text, "looped", "exec"), looped)  # noqa: S102 - the code under test
    assert looped["Looped"](widths=(4, 8)) is not None
    with pytest.raises(ValueError, match=r"compiled for widths=\(4, 8\); recompile"):
        looped["Looped"](widths=[4, 8, 16])


LOOPED = """
network Looped(widths = [4, 8]) {
    input [3, 8, 8]
    for c in widths { conv2d(c, 3, padding=1) -> relu }
}
"""


def test_param_override_becomes_the_default():
    text = build_source(str(ROOT / "specs/lenet.net"), num_classes=7)
    assert _init_signature(_classes(text)["LeNet"]) == [("num_classes", 7), ("input_size", (1, 28, 28))]
    assert "out_features=num_classes" in text


def test_the_network_class_takes_its_parameters():
    """Requirement 2: LeNet(num_classes=5) builds the 5-class LeNet (hand-written expectations)."""
    torch = pytest.importorskip("torch")
    lenet = {}
    exec(compile(build_source(str(ROOT / "specs/lenet.net")), "lenet", "exec"), lenet)  # noqa: S102
    model = lenet["LeNet"](num_classes=5)
    assert model.linear_2.out_features == 5 and model.linear.in_features == 16 * 5 * 5
    assert tuple(model(torch.randn(1, 1, 28, 28)).shape) == (1, 5)
    # another input size: the first linear takes 16 * 6 * 6 features at 32x32 (torch's floor formulas)
    wide = lenet["LeNet"](input_size=(1, 32, 32))
    assert wide.linear.in_features == 16 * 6 * 6
    assert tuple(wide(torch.randn(2, 1, 32, 32)).shape) == (2, 10)
    with pytest.raises(AssertionError, match=r"^LeNet was built for 1×32×32 inputs, got 1×28×28: "
                                             r"rebuild with input_size=\(1, 28, 28\)$"):
        wide(torch.randn(2, 1, 28, 28))
    r18 = {}
    exec(compile(build_source(str(ROOT / "specs/resnet18.net")), "r18", "exec"), r18)  # noqa: S102
    assert r18["ResNet18"](num_classes=10).fc.out_features == 10


def test_init_xavier_option_is_in_the_file():
    text = build_source(str(ROOT / "specs/lenet.net"), init="xavier")
    assert "nn.init.xavier_uniform_(module.weight)" in text
    assert "self.apply(init_xavier)" in text
    assert "xavier" not in build_source(str(ROOT / "specs/lenet.net"))


# ---- the command -----------------------------------------------------------------
BAD = "network Bad {\n  input [3, 8, 8]\n  conv2d(4, 9)\n}\n"


def test_compile_command_writes_the_file(tmp_path):
    out = tmp_path / "lenet.py"
    result = CliRunner().invoke(cli, ["compile", str(ROOT / "specs/lenet.net"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == build_source(str(ROOT / "specs/lenet.net"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lenet.py"]    # no temp files left behind


def test_the_compiled_file_imported_builds_lenet_for_five_classes(tmp_path):
    """Issue 13, requirement 4, through `netdsl compile`: the file, imported as a module, gives
    the class itself, for other values too (the import hook's side: tests/test_compile_hook.py)."""
    torch = pytest.importorskip("torch")
    import importlib.util
    out = tmp_path / "lenet_five.py"
    result = CliRunner().invoke(cli, ["compile", str(ROOT / "specs/lenet.net"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    spec = importlib.util.spec_from_file_location("lenet_five", out)
    lenet = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lenet)
    five = lenet.LeNet(num_classes=5)
    assert isinstance(five, lenet.LeNet) and type(five) is lenet.LeNet
    assert five.linear_2.out_features == 5
    assert tuple(five(torch.randn(2, 1, 28, 28)).shape) == (2, 5)


def test_compile_command_writes_nothing_on_errors(tmp_path):
    spec = tmp_path / "bad.net"
    spec.write_text(BAD)
    out = tmp_path / "bad.py"
    result = CliRunner().invoke(cli, ["compile", str(spec), "-o", str(out)])
    assert result.exit_code == 1
    assert "E0301" in result.output
    assert not out.exists()
    out.write_text("# previous good output\n")
    result = CliRunner().invoke(cli, ["compile", str(spec), "-o", str(out)])
    assert result.exit_code == 1
    assert out.read_text() == "# previous good output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.net", "bad.py"]


def test_compile_command_replaces_an_existing_file(tmp_path):
    out = tmp_path / "out.py"
    out.write_text("old\n")
    result = CliRunner().invoke(cli, ["compile", str(ROOT / "specs/lenet.net"), "-o", str(out)])
    assert result.exit_code == 0
    assert out.read_text().startswith('"""LeNet')


def test_compile_command_usage_errors(tmp_path):
    result = CliRunner().invoke(cli, ["compile", str(tmp_path / "missing.net"), "-o", str(tmp_path / "x.py")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["compile", str(ROOT / "specs/lenet.net"), "-o", str(tmp_path / "no/dir/x.py")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_compile_to_stdout():
    result = CliRunner().invoke(cli, ["compile", str(ROOT / "specs/lenet.net"), "-o", "-"])
    assert result.exit_code == 0
    assert result.output == build_source(str(ROOT / "specs/lenet.net"))


# ---- injection safety -----------------------------------------------------------------
HOSTILE = '''
block B(tag = "'); __import__('os').system('echo PWNED') #", c: int = 4) {
    conv2d(c, 1)
}
network N(note = '""" + __import__("os").getcwd() + """') {
    input [2, 4, 4]
    b1: B(tag = "x')")
    b2: B
    flatten
}
'''


def _dangerous_names(text: str) -> set:
    names = {n.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Name)}
    attrs = {n.attr for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Attribute)}
    return (names | attrs) & {"__import__", "os", "system", "getcwd", "eval", "exec", "open"}


def test_strings_that_look_like_code_are_emitted_as_inert_literals():
    text = build_source(HOSTILE)
    assert _dangerous_names(text) == set()
    namespace: dict = {}
    exec(compile(text, "hostile", "exec"), namespace)  # noqa: S102 - proves the strings stay strings
    model = namespace["N"]()
    assert [n for n, _ in model.named_children()] == ["b1", "b2", "flatten"]
    # the hostile text survives exactly, as data
    assert "__import__('os').system('echo PWNED') #" in text


@pytest.mark.parametrize("name", ["__class__", "forward", "import", "a.b", "x", "self", "a-b", "_hidden", "nn"])
def test_layer_names_that_are_not_plain_identifiers_are_rejected(name):
    text = f"network N {{\n  input [4]\n  {name}: linear(2)\n}}\n"
    with pytest.raises(netdsl.SpecError):
        build_source(text)


def test_source_name_cannot_break_out_of_the_docstring():
    result = check_source("network N {\n  input [4]\n  linear(2)\n}\n")
    evil = 'x.net"""\nimport os\nos.system("echo PWNED")\n"""'
    text = generate(result.graphs, evil)
    tree = ast.parse(text)
    assert not any(isinstance(n, ast.Import) and n.names[0].name == "os" for n in tree.body)
    assert _dangerous_names(text) == set()


def test_codegen_double_checks_names_in_the_ir():
    result = check_source("network N {\n  input [4]\n  fc: linear(2)\n}\n")
    graph = result.graphs[0]
    graph.layers[0].name = "fc = None; import os; x"
    with pytest.raises(CodegenError):
        generate(result.graphs)
    graph.layers[0].name = "fc"
    graph.network = "N(object): pass\nimport os\nclass M"
    with pytest.raises(CodegenError):
        generate(result.graphs)


def test_emitters():
    # as ruff format writes strings: double quotes unless the text holds more of them than of single ones
    assert literal((1, 2.5, True, None, "a'b\"c\n")) == '(1, 2.5, True, None, "a\'b\\"c\\n")'
    assert literal(('say "hi"', "it's", "")) == '(\'say "hi"\', "it\'s", "")'
    assert literal((3,)) == "(3,)"
    for bad in (float("nan"), float("inf"), object(), [1, 2], {"a": 1}, b"x", 1j):
        with pytest.raises(CodegenError):
            literal(bad)
    assert require_attribute("conv1") == "conv1" and require_attribute("12") == "12"
    for bad in ("__init__", "a b", "class", "ﬁlter", "01", "training", "", 3):
        with pytest.raises(NameRefused):
            require_attribute(bad)
    for bad in ("torch", "nn", "__x", "None", "1A"):
        with pytest.raises(NameRefused):
            require_class(bad)
    assert '"' not in docstring_text('a"""b') and "\\" not in docstring_text("a\\b")


def test_import_netdsl_stays_torch_free_until_load():
    code = ("import sys, netdsl, netdsl.backends.build, netdsl.backends.codegen, netdsl.backends.hook; "
            "netdsl.build_source('specs/lenet.net'); assert 'torch' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stdout + out.stderr


def test_warnings_are_printed_and_the_file_still_written(tmp_path):
    spec = tmp_path / "warn.net"
    spec.write_text("network W {\n  input [3, 8, 8]\n  linear(4)\n}\n")    # W0404: linear on a 3-d input
    out = tmp_path / "warn.py"
    result = CliRunner().invoke(cli, ["compile", str(spec), "-o", str(out)])
    assert result.exit_code == 0
    assert "W0404" in result.output
    assert out.exists()


def test_load_and_build_source_take_pathlib_paths():
    spec = ROOT / "specs" / "lenet.net"
    model = netdsl.load(spec)
    assert sum(p.numel() for p in model.parameters()) == 61_706
    assert build_source(spec) == build_source(str(spec))


# ---- whatever check accepts compiles: no name generated code uses can be shadowed ------------
def test_parameters_cannot_hide_what_generated_code_uses():
    for name in ("OrderedDict", "torch", "nn", "super", "ValueError"):
        text = f"network N({name} = 1) {{\n  input [4]\n  linear(2)\n}}\n"
        assert [d.code for d in check_source(text).errors] == ["E0206"], name
    text = ("block Unit(c: int) {\n  linear(c)\n}\n"
            "network N(Unit = 8) {\n  input [4]\n  Unit(Unit)\n}\n")
    (d,) = check_source(text).errors
    assert d.code == "E0206" and "would hide the class `Unit`" in d.message


def test_helper_classes_and_the_init_function_step_aside_for_parameters():
    text = ("network N(CenterCrop = 2, init_xavier = 3, init = \"xavier\") {\n"
            "  input [3, 8, 8]\n  center_crop(6) -> conv2d(4, 3)\n}\n")
    assert check_source(text).ok
    source = build_source(text)
    tree = ast.parse(source)
    defined = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    assert "CenterCrop" not in defined and "init_xavier" not in defined
    assert {"CenterCrop_2", "init_xavier_2", "N"} <= defined


def test_a_network_parameter_init_is_checked_with_the_shapes():
    text = "network N(init = 3) {\n  input [4]\n  linear(2) -> conv2d(3, 3)\n}\n"
    codes = sorted(d.code for d in check_source(text).errors)
    assert codes == ["E0214", "E0307"]          # the choice, and the shape check went on
