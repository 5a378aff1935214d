"""The class-per-definition emitter against the class-per-specialisation reference, on random specs.

The fuzzer is tools/fuzz_emitters.py (its docstring states the oracle: keys, shapes, exact
outputs in eval mode, and in training mode from the same seed). Here:
  * the regression corpus tests/fuzz_corpus_emitters/: each file is a minimised
    reproducer the fuzzer found (its first line names the symptom it had), and must now
    give the same module from both emitters;
  * a short seeded pass over each generator.
`python tools/fuzz_emitters.py --replay FILE` reruns one file.
"""
from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fuzz_corpus_emitters"


def _load_fuzzer():
    spec = importlib.util.spec_from_file_location("netdsl_fuzz_emitters", ROOT / "tools" / "fuzz_emitters.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


fe = _load_fuzzer()
CORPUS_FILES = sorted(CORPUS.glob("*.net"))


def _describe(out, text: str) -> str:
    return f"{out.symptom}: {out.detail}\n--- case ---\n{text[:3000]}\n--- trace ---\n{out.trace[-2500:]}"


def test_corpus_is_not_empty():
    assert CORPUS_FILES, f"no reproducers in {CORPUS}"


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_regressions(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith(fe.HEADER), "a reproducer's first line names its symptom"
    out = fe.compare(text, timeout=120.0)
    assert out.status == "same", _describe(out, text)


# (generator, cases): a few seconds in all
SHORT_PASS = [("zoo", 24), ("gblock", 24), ("lift", 12)]


@pytest.mark.parametrize("gen,count", SHORT_PASS, ids=[g for g, _ in SHORT_PASS])
def test_short_pass(gen, count):
    cases = fe.Cases(20261201, [gen])
    compared, failing = 0, []
    for i in range(count):
        _, text = next(cases)
        out = fe.compare(text, timeout=120.0)
        compared += out.status == "same"
        if out.status == "differs":
            failing.append((i, out, text))
    assert not failing, f"{len(failing)} of {count} {gen} cases differ; the first:\n" + \
        _describe(failing[0][1], failing[0][2])
    assert compared >= count // 3, f"only {compared} of {count} {gen} cases reached the comparison"


def test_the_oracle_sees_a_difference():
    """The comparison is not vacuous: two modules whose weights differ in order are told apart."""
    import torch
    a, b = torch.ones(2, 3), torch.zeros(2, 3)
    assert fe._equal(a, b, torch).startswith("values differ")
    assert fe._equal((a,), a, torch) == "tuple != Tensor"
    assert fe._equal({"o": a}, {"o": a.clone()}, torch) == ""
    assert fe._equal(torch.tensor([float("nan")]), torch.tensor([float("nan")]), torch) == ""


def test_generators_reach_the_emitters():
    """Most zoo and gblock specs check clean, so both emitters get real work."""
    rng = random.Random(3)
    statuses = [fe.compare(fe.gen_zoo(rng)).status for _ in range(12)]
    assert statuses.count("same") >= 6, statuses
