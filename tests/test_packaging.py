"""The wheel ships everything `netdsl check` needs, grammar included.

Builds a wheel from a copy of the source tree (so the checkout's build/ and
egg-info are untouched and concurrent runs cannot collide), installs it into a
fresh venv that borrows the system site-packages for lark, click, torch and the
rest (no network), and runs the installed console script from another directory.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "specs" / "lenet.net"

pytestmark = pytest.mark.slow


def _run(cmd, **kw):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", NO_COLOR="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False, **kw)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for name in ("netdsl", "grammars", "specs"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    if importlib.util.find_spec("build") is not None:
        _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(src)], cwd=src)
    else:   # `build` is a dev extra; pip can make the same wheel
        _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
              "-w", str(out), str(src)], cwd=src)
    wheels = list(out.glob("netdsl-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_contains_grammar_and_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "netdsl/_grammars/netdsl.lark" in names
    assert "netdsl/cli.py" in names and "netdsl/catalogue/conv.py" in names
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "netdsl = netdsl.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
    # Every module and data file of the package ships (a new subpackage missing from
    # pyproject's `packages` would otherwise work in the checkout and break when installed).
    tree = {str(f.relative_to(ROOT)) for f in (ROOT / "netdsl").rglob("*")
            if f.is_file() and f.suffix in (".py", ".md") and "__pycache__" not in f.parts}
    assert tree - names == set()
    # The shipped grammar is the repository's grammar, byte for byte.
    shipped = zipfile.ZipFile(wheel).read("netdsl/_grammars/netdsl.lark")
    assert shipped == (ROOT / "grammars" / "netdsl.lark").read_bytes()


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """(venv, its python, a directory outside the checkout) with the wheel installed."""
    tmp_path = tmp_path_factory.mktemp("installed")
    venv = tmp_path / "venv"
    # Without pip: the system pip (visible through --system-site-packages) installs
    # into whichever interpreter runs it, and skipping ensurepip saves seconds.
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)])
    py = venv / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "--no-deps", "--force-reinstall", "--no-index", str(wheel)])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return venv, py, elsewhere


def test_installed_wheel_checks_from_another_directory(installed):
    venv, py, elsewhere = installed
    probe = "import netdsl, netdsl.frontend.syntax as s; print(netdsl.__file__); print(len(s.grammar_text()))"
    where = _run([str(py), "-c", probe], cwd=elsewhere).stdout.split()
    installed = Path(where[0]).resolve()
    assert installed.is_relative_to(venv.resolve()), f"imported {installed}, not the venv's copy"
    assert not installed.is_relative_to(ROOT)
    assert int(where[1]) == len((ROOT / "grammars" / "netdsl.lark").read_text(encoding="utf-8"))
    # The installed copy must not be able to fall back to the checkout's grammars/.
    assert (installed.parent / "_grammars" / "netdsl.lark").is_file()

    script = venv / "bin" / "netdsl"
    assert script.is_file()
    proc = _run([str(script), "check", str(LENET)], cwd=elsewhere)
    assert "LeNet" in proc.stdout
    assert "[1, 28, 28] → [10]" in proc.stdout
    assert "61,706 params" in proc.stdout
    # Explanations are package data too.
    explanation = ROOT / "netdsl" / "diagnostics" / "explanations" / "E0301.md"
    explained = _run([str(script), "explain", "E0301", "--markdown"], cwd=elsewhere).stdout
    assert explained.strip() == explanation.read_text(encoding="utf-8").strip()


def test_the_zoo_ships_in_the_wheel_and_works_from_another_directory(wheel, installed):
    names = set(zipfile.ZipFile(wheel).namelist())
    for spec in (ROOT / "specs").rglob("*.net"):
        assert f"netdsl/_zoo/{spec.relative_to(ROOT / 'specs')}" in names, spec
    venv, py, elsewhere = installed
    script = str(venv / "bin" / "netdsl")
    assert "11,689,512 params" in _run([script, "check", "zoo:resnet18"], cwd=elsewhere).stdout
    listing = _run([script, "zoo"], cwd=elsewhere).stdout
    assert "zoo:convnext_tiny" in listing and "28,589,128 params" in listing
    mine = elsewhere / "mine.net"
    mine.write_text('import "zoo:lib/ops.net"\nnetwork Mine {\n    input [3, 32, 32]\n'
                    '    Conv2dNormActivation(16, 3, stride=2)\n}\n')
    assert "Mine" in _run([script, "check", str(mine)], cwd=elsewhere).stdout
    probe = "import netdsl, netdsl.program.zoo as z; print(z.zoo_dir()); print(netdsl.check('zoo:lenet').graph().total_params)"
    where, params = _run([str(py), "-c", probe], cwd=elsewhere).stdout.split()
    assert Path(where).resolve().is_relative_to(venv.resolve()) and params == "61706"
