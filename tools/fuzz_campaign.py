"""Long fuzz campaigns against netdsl's checker; crashers go into tests/fuzz_corpus/.

    python tools/fuzz_campaign.py --seconds 600            # mutants of the zoo specs
    python tools/fuzz_campaign.py --mode generate --seconds 600   # grammar-aware specs
    python tools/fuzz_campaign.py --mode bytes --seed 7 --cases 100000

It reuses the mutators, the Hypothesis strategy and the oracle of
tests/test_fuzz.py, so a campaign and the CI budget test the same property:
every input ends in a clean result or located diagnostics. A case that raises,
breaks the oracle, or runs longer than --timeout seconds (a hang) is saved as
tests/fuzz_corpus/crash-<hash>.net (or .bin), where test_corpus_regressions
runs it from then on. Fix the bug, keep the file.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import random
import signal
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:       # run from a checkout, installed or not
    sys.path.insert(0, str(ROOT))
CORPUS = ROOT / "tests" / "fuzz_corpus"


def load_fuzz_module():
    spec = importlib.util.spec_from_file_location("netdsl_test_fuzz", ROOT / "tests" / "test_fuzz.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def save(data: bytes, binary: bool, why: str) -> Path:
    CORPUS.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:12]
    path = CORPUS / f"crash-{digest}.{'bin' if binary else 'net'}"
    if not path.exists():
        path.write_bytes(data)
        print(f"  saved {path.relative_to(ROOT)}: {why}", flush=True)
    return path


def run_case(fz, data: bytes, binary: bool, timeout: int, tmp: Path) -> str | None:
    """None if the oracle holds; else a one-line reason."""
    signal.alarm(timeout)
    try:
        if binary:
            tmp.write_bytes(data)
            fz.assert_clean_or_located(fz.check_file(str(tmp)))
        else:
            fz.check_text(data.decode("utf-8"))
        return None
    except Hang:
        return f"no answer within {timeout} s"
    except BaseException as e:      # RecursionError, MemoryError, AssertionError, ...
        if isinstance(e, KeyboardInterrupt):
            raise
        return f"{type(e).__name__}: {e}".splitlines()[0][:200] + "\n" + traceback.format_exc(limit=-3)
    finally:
        signal.alarm(0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["mutate", "bytes", "generate"], default="mutate")
    ap.add_argument("--seconds", type=float, default=60.0, help="stop after this long")
    ap.add_argument("--cases", type=int, default=None, help="stop after this many cases")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: time-based)")
    ap.add_argument("--timeout", type=int, default=20, help="seconds before a case counts as a hang")
    ap.add_argument("--max-layers", type=int, default=None,
                    help="expansion limit during the campaign (default: the test suite's small cap)")
    args = ap.parse_args(argv)

    fz = load_fuzz_module()
    from netdsl.limits import LIMITS
    LIMITS.max_layers = args.max_layers or fz.FUZZ_MAX_LAYERS
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    signal.signal(signal.SIGALRM, _alarm)
    tmp = Path(f"/tmp/netdsl-fuzz-{seed}.net")
    print(f"netdsl fuzz campaign: mode={args.mode} seed={seed} max_layers={LIMITS.max_layers}", flush=True)

    def inputs():
        names = sorted(fz.ZOO_TEXTS)
        if args.mode == "generate":
            from hypothesis import HealthCheck, given, settings
            out = []

            @settings(max_examples=10 ** 9, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(fz.specs())
            def collect(spec):
                out.append(spec)
                if len(out) >= 200:
                    raise StopIteration
            while True:
                out.clear()
                try:
                    collect()
                except Exception:  # noqa: BLE001, S110 - our StopIteration ends a batch (Hypothesis may wrap it)
                    pass
                for spec in out:
                    yield spec.encode("utf-8"), False
        while True:
            text = fz.mutate(fz.ZOO_TEXTS[rng.choice(names)], rng, fz.POOL)
            if args.mode == "bytes":
                yield fz.mutate_bytes(text.encode("utf-8", "surrogatepass"), rng), True
            else:
                yield text.encode("utf-8", "surrogatepass"), False

    start, n, found = time.monotonic(), 0, 0
    try:
        for data, binary in inputs():
            if time.monotonic() - start > args.seconds or (args.cases and n >= args.cases):
                break
            n += 1
            why = run_case(fz, data, binary, args.timeout, tmp)
            if why is not None:
                found += 1
                save(data, binary, why.splitlines()[0])
                print(why, file=sys.stderr)
            if n % 500 == 0:
                rate = n / (time.monotonic() - start)
                print(f"  {n:,} cases, {found} crashers, {rate:,.0f} cases/s", flush=True)
    except KeyboardInterrupt:
        print("interrupted")
    finally:
        tmp.unlink(missing_ok=True)
    print(f"done: {n:,} cases in {time.monotonic() - start:,.1f} s, {found} crashers (seed {seed})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
