"""Checking under load: time and peak memory for very large specs.

    python bench/bench_load.py            # 10k / 100k flat specs, 10k / 100k / 1M expansions
    python bench/bench_load.py --quick    # 10k and 100k only
    python bench/bench_load.py --flat-1m  # also a 1,000,000-line file (slow to parse)

Two shapes of input:
  flat    N layers written out one per line (the parser and the shape pass scale)
  repeat  a short spec whose `repeat` expands to N layers (the elaborator and IR scale)

Each case runs in a fresh subprocess so that peak memory (ru_maxrss) belongs to
that case alone. Goals (issue 5): time linear in size, i.e. a flat time per
layer; peak memory under 1 GB for the 1,000,000-layer expansion. This script
prints figures and ratios; it asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# One unit is four layers on a [8, 16, 16] tensor, shape-preserving so it can repeat forever.
UNIT = ["conv2d(8, 3, padding=1)", "batchnorm2d", "relu", "dropout(0.1)"]


def flat_spec(n: int) -> str:
    lines = ["network Flat {", "    input [8, 16, 16]"]
    lines += ["    " + UNIT[i % len(UNIT)] for i in range(n)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def repeat_spec(n: int) -> str:
    assert n % len(UNIT) == 0
    return ("block Unit() {\n    " + " -> ".join(UNIT) + "\n}\n"
            f"network Deep {{\n    input [8, 16, 16]\n    repeat {n // len(UNIT)} {{ Unit() }}\n}}\n")


CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from netdsl.limits import LIMITS
LIMITS.max_layers = {n} + 10
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
import netdsl
t0 = time.perf_counter()
result = netdsl.check_file({path!r})          # the public API, as `netdsl check` runs it
t1 = time.perf_counter()
g = result.graphs[0] if result.graphs else None
print(json.dumps(dict(
    ok=result.ok, errors=[d.message for d in result.errors][:3],
    layers=len(g.layers) if g else 0, params=g.total_params if g else 0,
    total=t1 - t0,
    peak_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, base_kb=base)))
"""


def run_case(kind: str, n: int) -> dict:
    text = flat_spec(n) if kind == "flat" else repeat_spec(n)
    with tempfile.NamedTemporaryFile("w", suffix=".net", delete=False) as f:
        f.write(text)
        path = f.name
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), n=n, path=path)],
                              capture_output=True, text=True, timeout=3600, check=False)
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        return {"kind": kind, "n": n, "failed": proc.stderr.strip().splitlines()[-1:]}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out.update(kind=kind, n=n, bytes=len(text.encode()))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="only 10k and 100k")
    ap.add_argument("--flat-1m", action="store_true", help="also a 1,000,000-line flat file")
    args = ap.parse_args(argv)

    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    cases = [("flat", n) for n in sizes if n < 1_000_000 or args.flat_1m] + [("repeat", n) for n in sizes]
    print(f"{'case':<8}{'layers':>11}{'file':>10}{'check s':>9}{'us/layer':>10}{'peak MB':>9}  status")
    results = []
    for kind, n in cases:
        r = run_case(kind, n)
        results.append(r)
        if "failed" in r:
            print(f"{kind:<8}{n:>11,}  FAILED: {r['failed']}")
            continue
        total = r["total"]
        status = "ok" if r["ok"] and r["layers"] == n else f"errors: {r['errors']} layers={r['layers']}"
        r["per_layer_us"] = total / n * 1e6
        print(f"{kind:<8}{n:>11,}{r['bytes'] / 1e6:>9.1f}M{total:>9.2f}"
              f"{r['per_layer_us']:>10.1f}{r['peak_kb'] / 1024:>9.0f}  {status}")

    print("\nscaling (time per layer relative to the 10k case; 1.0 = linear):")
    for kind in ("flat", "repeat"):
        rows = [r for r in results if r["kind"] == kind and "total" in r]
        if len(rows) > 1:
            base = rows[0]["per_layer_us"]
            print(f"  {kind:<7}" + "  ".join(f"{r['n']:,}: {r['per_layer_us'] / base:.2f}" for r in rows))
    big = [r for r in results if r["kind"] == "repeat" and r["n"] == 1_000_000 and "peak_kb" in r]
    if big:
        mb = big[0]["peak_kb"] / 1024
        print(f"\n1,000,000-layer expansion: peak {mb:,.0f} MB "
              f"({'under' if mb < 1024 else 'OVER'} the 1 GB goal), {big[0]['total']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
