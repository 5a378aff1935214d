"""Every backend under one oracle: check, summary, sizes, DOT, code generation, build and forward.

The fuzzer is tools/fuzz_backends.py (its docstring states the oracle). Here:
  * a short deterministic pass over each of its generators, in-process through the
    Python API and the CLI, with a sample built and run on the meta device;
  * every layer kind in the catalogue, with random arguments, through every stage;
  * the regression corpus tests/fuzz_corpus_backends/: each file is a minimised
    reproducer the fuzzer found, and must pass every stage (the build included).
A failure message names the stage, the exception, the innermost netdsl frame and the
case; `python tools/fuzz_backends.py --replay FILE` reruns one file.
"""
from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fuzz_corpus_backends"


def _load_fuzzer():
    spec = importlib.util.spec_from_file_location("netdsl_fuzz_backends", ROOT / "tools" / "fuzz_backends.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


fb = _load_fuzzer()


def _describe(failures, data) -> str:
    text = data if isinstance(data, str) else repr(data)
    lines = [f"  {f.stage}: {f.exc} at {f.frame}  [{f.step}]\n    {f.message}" for f in failures]
    return "\n".join(lines) + "\n--- case ---\n" + text[:3000] + "\n--- innermost trace ---\n" + failures[0].trace[-2500:]


def _run(data, tmp_path: Path, **kw):
    ctx = fb.run_case(data, fb.STAGES, tmp_path, slow=20.0, **kw)
    assert not ctx.failures, _describe(ctx.failures, data)
    return ctx


# (generator, cases): 230 cases; every 4th is built and run, every 10th goes through Graphviz.
SHORT_PASS = [("structured", 60), ("modern", 40), ("layer", 40), ("hostile", 20), ("hypothesis", 10),
              ("mutate-gen", 30), ("mutate-zoo", 15), ("bytes", 15)]


@pytest.mark.parametrize("gen,count", SHORT_PASS, ids=[g for g, _ in SHORT_PASS])
def test_short_pass(gen, count, tmp_path):
    cases = fb.Cases(20240611, [gen], hyp_batch=count)
    failing = []
    for i in range(count):
        _, data = next(cases)
        ctx = fb.run_case(data, fb.STAGES, tmp_path, build=i % 4 == 0, run_dot=i % 10 == 0, slow=20.0)
        if ctx.failures:
            failing.append((i, ctx.failures, data))
    assert not failing, f"{len(failing)} of {count} {gen} cases break the oracle; the first:\n" + \
        _describe(failing[0][1], failing[0][2])


def test_generators_reach_the_backends(tmp_path):
    """Guard against a generator that only writes broken specs: most structured specs check
    clean, so code generation and the forward pass get real work."""
    rng = random.Random(7)
    clean = built = 0
    for _ in range(30):
        ctx = fb.run_case(fb.gen_structured(rng), ("check",), tmp_path, build=False)
        clean += bool(ctx.result is not None and ctx.result.ok and ctx.result.graphs)
    assert clean >= 20, clean
    ctx = fb.run_case(fb.fz.ZOO_TEXTS["alexnet.net"], ("check", "build"), tmp_path)   # imports nothing
    built += ctx.built
    assert built and not ctx.failures, ctx.failures


@pytest.mark.parametrize("kind", sorted(fb.LAYERS))
def test_every_layer_kind(kind, tmp_path):
    """Each layer kind, with random valid and invalid arguments at input rank 1 to 3, through every stage."""
    rng = random.Random(f"layer-{kind}")
    for i in range(3):
        _run(fb.gen_layer(rng, kind), tmp_path, build=True, run_dot=i == 0)


CORPUS_FILES = sorted(CORPUS.glob("*.net"))


def test_corpus_is_not_empty():
    assert CORPUS_FILES, f"no reproducers in {CORPUS}"


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_regressions(path, tmp_path):
    """A minimised reproducer: its first line says the stage and the symptom it had."""
    data = path.read_bytes()
    try:
        data = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    ctx = fb.run_case(data, fb.STAGES, tmp_path, build=True, run_dot=True, thorough=True, slow=20.0)
    assert not ctx.failures, _describe(ctx.failures, data)
