"""docs/api.md: every ```python block runs, in order, from the repository's root,
as one session (later blocks use earlier names)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "api.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", PAGE.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)


def test_the_page_has_examples():
    assert len(BLOCKS) >= 6


def test_every_example_runs(capsys):
    pytest.importorskip("torch")
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        namespace: dict = {}
        for i, block in enumerate(BLOCKS):
            exec(compile(block, f"docs/api.md block {i + 1}", "exec"), namespace)   # noqa: S102 (our own page)
    finally:
        os.chdir(here)
    shown = capsys.readouterr().out
    assert "<CheckResult specs/resnet18.net: ResNet18; 0 errors, 0 warnings>" in shown
    assert "<Node 1 conv1: conv2d -> 64\u00d7112\u00d7112>" in shown
    assert "every 16 from 188 to 588" in shown


def test_api_functions_refuse_what_the_cli_refuses():
    import netdsl
    with pytest.raises(ValueError, match="convention"):
        netdsl.summary(str(ROOT / "specs" / "lenet.net"), convention="nope")
    with pytest.raises(ValueError, match="format"):
        netdsl.render(str(ROOT / "specs" / "lenet.net"), format="gif")
    with pytest.raises(netdsl.SpecError):
        netdsl.sizes("network N {\n    input [3, 8, 8]\n    conv2d(16, 3\n}\n")     # a syntax error
    with pytest.raises(LookupError):
        netdsl.summary("block B {\n    relu\n}\n")


def test_render_to_a_path_never_writes_over_the_spec(tmp_path):
    import netdsl
    spec = tmp_path / "n.net"
    spec.write_text("network N {\n    input [3, 8, 8]\n    conv2d(4, 3)\n}\n")
    with pytest.raises(netdsl.NetdslError):
        netdsl.render(str(spec), str(spec), format="dot")
    assert spec.read_text().startswith("network N")
    out = netdsl.render(str(spec), tmp_path / "n.dot")
    assert Path(out).read_text().startswith("digraph")
