"""`netdsl sizes` answers most sizes by replaying the shape rules over one expansion
(netdsl/elaborate/replay.py). Wherever it does, the answer must be exactly what
expanding that size in full gives: the same accepted sizes, and for each rejected
size the same code, message and layer. The scan's cost is bounded."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import netdsl.backends.sizes as Z
from netdsl.diagnostics.allow import Allowances
from netdsl.frontend.source import Source
from netdsl.limits import LIMITS
from netdsl.program import load, load_path

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.net"))
_FENCE = re.compile(r"^```netdsl([^\n]*)\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)


def answers(scan):
    return (scan.accepted, {n: (r.code, r.message, r.layer) for n, r in scan.rejected.items()},
            {n: [(w.code, w.message, w.layer) for w in ws] for n, ws in scan.warned.items()})


def both_ways(program, network, lo, hi, monkeypatch):
    replayed = Z.scan(program, network, None, lo, hi)

    class Never(Z.Replay):
        def run(self, shape, shapes=None, notes=None):
            raise Z.Diverged()
    with monkeypatch.context() as m:
        m.setattr(Z, "Replay", Never)
        full = Z.scan(program, network, None, lo, hi)
    assert full.replayed == 0
    return replayed, full


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_replay_equals_full_expansion_on_the_zoo(path, monkeypatch):
    program = load_path(str(path))
    network = program.own_networks[0]
    replayed, full = both_ways(program, network, 1, 96, monkeypatch)
    assert answers(replayed) == answers(full)
    assert replayed.replayed > 48                 # the point: most sizes are replayed


SHAPE_DEPENDENT = {
    "branch on the height": """
network N {
    input [3, 32, 32]
    conv2d(8, 3, padding=1)
    if in.h > 16 { maxpool2d(2) }
    conv2d(8, 5)
}
""",
    "a kernel from the bound height": """
block Squash : [c, h, w] -> [c, 1, 1] {
    avgpool2d(h)
}
network N {
    input [3, 32, 32]
    conv2d(8, 3, padding=1) -> Squash
}
""",
    "a signature that holds at some sizes": """
block Down : [c, h, w] -> [c, h // 2, w // 2] {
    maxpool2d(2, ceil_mode=true)
}
network N {
    input [3, 32, 32]
    Down -> Down -> conv2d(4, 3)
}
""",
    "a crop to another tensor": """
network N {
    input [3, 64, 64]
    skip: conv2d(8, 3)
    maxpool2d(2) -> conv_transpose2d(8, 2, stride=2)
    center_crop(@skip)
}
""",
    "a loop counted from the width": """
network N {
    input [3, 64, 64]
    repeat in.w // 16 { conv2d(4, 3, padding=1) }
    maxpool2d(4)
}
""",
    "an expect written from the input": """
network N {
    input [3, 32, 32]
    conv2d(8, 3, padding=1) -> maxpool2d(2)
    expect [8, (in.h + 1) // 2, (in.w + 1) // 2]      # fails at odd sizes
    conv2d(8, 3)
}
""",
    "a literal expect, and one from the block's input": """
block Half : [c, h, w] -> [c, _, _] {
    maxpool2d(2)
    expect [c, (in.h + 1) // 2, (in.w + 1) // 2]      # `in`: the block's input; fails at odd sizes
}
network N {
    input [3, 32, 32]
    conv2d(8, 3) -> Half
    expect [8, 15, 15]
    conv2d(4, 3)
}
""",
    "an expect on an earlier tensor, after a later layer": """
network N {
    input [3, 32, 32]
    a: conv2d(8, 3)
    b: maxpool2d(4)
    @a
    expect [8, 30, 30]
    conv2d(4, 3, stride=2)
}
""",
}


@pytest.mark.parametrize("name", sorted(SHAPE_DEPENDENT))
def test_replay_notices_what_the_expansion_depends_on(name, monkeypatch):
    program = load(Source.from_text("x.net", SHAPE_DEPENDENT[name]))
    assert program.ok, program.diagnostics
    replayed, full = both_ways(program, "N", 1, 80, monkeypatch)
    assert answers(replayed) == answers(full)
    if name.startswith(("an expect", "a literal")):
        assert replayed.replayed == 80          # an expect is re-checked, not a guard
    if name in ("an expect written from the input", "a literal expect, and one from the block's input"):
        assert {r.code for n, r in replayed.rejected.items() if n > 8} == {"E0308"}
        assert all(n % 2 == 0 for n in replayed.accepted)


def test_docs_examples_replay_as_they_expand(monkeypatch):
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    tried = 0
    for m in _FENCE.finditer(text):
        program = load(Source.from_text("doc.net", m.group(2)))
        if not program.ok or not program.own_networks:
            continue
        for network in program.own_networks:
            try:
                replayed, full = both_ways(program, network, 1, 40, monkeypatch)
            except Z.NoImageInput:
                continue
            assert answers(replayed) == answers(full), network
            tried += 1
    assert tried >= 10


def test_the_scan_stops_at_its_budget_and_says_so(monkeypatch):
    program = load(Source.from_text("deep.net", "network R {\n    input [3, 8, 8]\n    repeat 2000 { relu }\n}\n"))
    monkeypatch.setattr(LIMITS, "max_scan_work", 50_000)
    scan = Z.scan(program, "R", None, 1, 1024)
    assert scan.stopped is not None and 10 < scan.stopped < 100
    assert scan.accepted == list(range(1, scan.stopped))
    assert "stopped before" in Z.to_text(scan) and Z.to_json(scan)["stopped_before"] == scan.stopped


def test_lost_rows_allowed_by_a_comment_do_not_reject_in_a_replay(monkeypatch):
    text = "network N {\n    input [3, 32, 32]\n    conv2d(4, 3, stride=2)  # netdsl: allow W0401\n}\n"
    program = load(Source.from_text("a.net", text))
    replayed, full = both_ways(program, "N", 1, 40, monkeypatch)
    assert answers(replayed) == answers(full)
    assert 32 in replayed.accepted and 31 in replayed.accepted
    assert Allowances() is not None
