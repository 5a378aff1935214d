"""How fast are `netdsl summary` and `netdsl sizes`?

1. `netdsl summary specs/resnet50.net` against the usual alternative: a
   hand-written torchvision-style ResNet-50 in torch, summarised by
   torchinfo.summary at 1x3x224x224. Both timed as whole processes (interpreter
   start, imports and all): that is what a user waits for. Goal: >= 15x faster.
2. `netdsl sizes specs/unet.net`: the full scan of square inputs 1..1024, as a
   whole process. Goal: under 2 s.
3. Where the scan's time goes: one in-process scan, with the per-size cost.

Run from the repository root:  python bench/bench_summary.py [--reps 5] [--baseline-reps 3]
Prints figures and ratios; asserts nothing (speed is a goal, not a test).
"""
from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_check import netdsl_cmd  # the console script beside this interpreter

ROOT = Path(__file__).resolve().parent.parent
GOAL_RATIO, GOAL_SCAN = 15.0, 2.0

# The baseline: a hand-written torch ResNet-50 (no torchvision) summarised by torchinfo.
REFERENCE = ROOT / "tests" / "reference_resnet.py"


def timed(cmd, reps):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
        times.append(time.perf_counter() - t)
        if r.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--baseline-reps", type=int, default=3)
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args()
    # An installed package has compiled bytecode (pip compiles it at install time); an
    # editable checkout under PYTHONDONTWRITEBYTECODE=1 would recompile every netdsl
    # module on every run. Compile once, so the timings measure netdsl, not the compiler.
    compileall.compile_dir(str(ROOT / "netdsl"), quiet=1)
    py = sys.executable
    env_note = f"{os.cpu_count()} cores, python {sys.version.split()[0]}"
    print(f"bench_summary ({env_note}); whole processes, median of {args.reps} (baseline {args.baseline_reps})")

    floor = timed([py, "-c", "pass"], args.reps)
    cmd = netdsl_cmd()
    timed([*cmd, "check", "specs/lenet.net"], 1)        # warm the parser-tables cache and the page cache
    ours = timed([*cmd, "summary", "specs/resnet50.net"], args.reps)
    print(f"\n{'what':52s} {'median s':>9s} {'min s':>7s}")
    print(f"{'python -c pass (interpreter floor)':52s} {floor[0]:9.3f} {floor[1]:7.3f}")
    print(f"{'netdsl summary specs/resnet50.net':52s} {ours[0]:9.3f} {ours[1]:7.3f}")
    if not args.skip_baseline:
        # verbose=1: torchinfo prints its table, as `netdsl summary` prints its own
        theirs = timed([py, str(REFERENCE), "resnet50", "--verbose", "1"], args.baseline_reps)
        print(f"{'torch ResNet-50 + torchinfo.summary 1x3x224x224':52s} {theirs[0]:9.3f} {theirs[1]:7.3f}")
        ratio = theirs[0] / ours[0]
        print(f"ratio (median): {ratio:.1f}x faster (goal >= {GOAL_RATIO:.0f}x: "
              f"{'met' if ratio >= GOAL_RATIO else 'NOT met'})")

    scan = timed([*cmd, "sizes", "specs/unet.net"], args.reps)
    print(f"\n{'netdsl sizes specs/unet.net (1..1024)':52s} {scan[0]:9.3f} {scan[1]:7.3f}")
    print(f"goal < {GOAL_SCAN:.0f} s: {'met' if scan[0] < GOAL_SCAN else 'NOT met'}")

    sys.path.insert(0, str(ROOT))
    from netdsl.backends.sizes import scan as do_scan
    from netdsl.program import load_path
    t = time.perf_counter()
    program = load_path(str(ROOT / "specs/unet.net"))
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    result = do_scan(program, "UNet", lo=1, hi=1024)
    t_scan = time.perf_counter() - t
    print(f"in process: load once {t_load * 1e3:.1f} ms; scan {t_scan * 1e3:.0f} ms "
          f"= {t_scan / 1024 * 1e6:.0f} µs per size; accepted {len(result.accepted)} sizes")


if __name__ == "__main__":
    main()
