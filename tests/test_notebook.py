"""docs/tutorial.ipynb runs from top to bottom on the CPU, as nbconvert --execute runs it
(nbclient is nbconvert's executor), and its outputs say what the tutorial claims: the
course notes' LeNet has 61,706 parameters, and training lowers the loss."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("sklearn")
pytest.importorskip("torch")

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "tutorial.ipynb"


def test_the_committed_notebook_has_no_outputs():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)


def text_of(cell) -> str:
    parts = []
    for o in cell.outputs:
        if o.output_type == "stream":
            parts.append(o.text)
        elif o.output_type in ("execute_result", "display_data"):
            parts.append(o.data.get("text/plain", ""))
    return "".join(parts)


@pytest.mark.skipif(shutil.which("dot") is None, reason="the tutorial renders a diagram: Graphviz `dot` is needed")
def test_the_tutorial_runs_and_trains(tmp_path, monkeypatch):
    # The kernel keeps its history and connection files under tmp_path, not in $HOME.
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    cwd = tmp_path / "cwd"          # not docs/: the notebook must neither need nor write files beside it
    cwd.mkdir()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    client.execute()            # raises CellExecutionError, with the cell and its traceback, if a cell fails
    assert list(cwd.iterdir()) == []
    executed = tmp_path / "tutorial.ipynb"
    nbformat.write(nb, executed)
    assert executed.stat().st_size < 200_000          # outputs stay small: no repr in proportion to the network

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(o.output_type != "error" for c in code for o in c.outputs)
    out = "\n".join(text_of(c) for c in code)
    assert "LeNet: (1, 28, 28) -> (10,), 61,706 parameters" in out
    assert "E0301 the kernel (5) is larger than the padded input height and width (4)" in out
    assert "Total params: 61,706" in out
    assert "h = ⌊(28 − 5 + 2·2 + 1)/1⌋ = 28" in out                # --explain's arithmetic, first conv
    assert "class LeNet(nn.Module)" in out
    assert "torch counts 61,706 parameters; netdsl said 61,706" in out

    svgs = [o.data["image/svg+xml"] for c in code for o in c.outputs
            if o.output_type in ("execute_result", "display_data") and "image/svg+xml" in o.data]
    assert len(svgs) == 1 and "<svg" in svgs[0] and "conv 5×5, 6, p2" in svgs[0]

    losses = [float(x) for x in re.findall(r"^epoch \d+: mean loss ([0-9.]+)$", out, re.M)]
    assert len(losses) == 6
    assert losses[0] > 2.0                   # about ln 10: ten classes, guessed
    assert losses[-1] < losses[0] / 2        # and it learns
    accuracy = float(re.search(r"^test accuracy: ([0-9.]+)%$", out, re.M).group(1))
    assert accuracy > 50                     # ten classes: chance is 10%
