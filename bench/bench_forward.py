"""Forward and build time: netdsl's ResNet-18 against a hand-written torch ResNet-18.

    python bench/bench_forward.py [--reps 40] [--batch 8] [--threads N] [--build-only] [--build-reps N]

Forward: batch 8, 3x224x224, CPU, eval mode, no_grad. The models (netdsl.load, the
file `netdsl compile` writes, the hand-written one with in-place and with copying
ReLU, and a second instance of the latter as a noise control) run interleaved, one
forward each per round, so drift in machine load hits all alike; the median of the
per-round ratios is reported. Goal: netdsl / hand-written within 1.03. The control's
ratio shows how far two identical models drift apart in the same run.

Build: spec -> module with netdsl.load against constructing the hand-written
model. Goal: within 1.2x. "cold" clears netdsl's in-process caches, as a new
process starts, with netdsl's per-user disk caches (parsed files, generated source,
compiled code) as an earlier run left them: a spec loaded again in a new process,
the usual case (digest netdsl's own code once, re-read and re-hash the spec's files,
resolve its imports again, exec, construct). "cold, no disk cache" also points
$NETDSL_CACHE_DIR at a new empty directory each time: a spec just edited, or the
first run (parse, check, codegen, exec, construct; no goal; it pays for writing the
entries too). "warm" loads a spec
loaded before in the process and unchanged (the files are re-hashed, then only
construction runs). All include torch's default weight initialisation, which
dominates. Imports are not timed (torch's alone take seconds).

Prints figures and ratios; asserts nothing (speed is not a test).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import reference_resnet  # the hand-written baseline, shared with the tests

import netdsl
from netdsl import cache as netdsl_cache
from netdsl.backends import build as netdsl_build
from netdsl.frontend import parse_cache

SPEC = ROOT / "specs" / "resnet18.net"


def compiled_class():
    out = Path(tempfile.mkdtemp()) / "resnet18_generated.py"
    out.write_text(netdsl.build_source(str(SPEC)), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("resnet18_generated", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ResNet18


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=40, help="forward rounds")
    ap.add_argument("--build-reps", type=int, default=30, help="build rounds")
    ap.add_argument("--build-only", action="store_true", help="skip the forward timing")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    netdsl.load(str(SPEC))          # the disk caches as an earlier run leaves them
    if not args.build_only:
        forward(args)
    build(args)


def forward(args):
    hand = reference_resnet.resnet18().eval()
    loaded = netdsl.load(str(SPEC)).eval()
    generated = compiled_class()().eval()
    hand_copy = reference_resnet.resnet18(inplace=False).eval()    # netdsl's relu is not in place: the like-for-like baseline
    # The noise control: a second, identical instance of the baseline. Its ratio shows
    # how far two equal models drift apart on this machine in this run.
    control = reference_resnet.resnet18(inplace=False).eval()
    # identical weights everywhere (and a check that they really are the same network)
    loaded.load_state_dict(hand.state_dict(), strict=True)
    generated.load_state_dict(hand.state_dict(), strict=True)
    hand_copy.load_state_dict(hand.state_dict(), strict=True)
    control.load_state_dict(hand.state_dict(), strict=True)
    models = {"netdsl.load": loaded, "compiled file": generated, "hand-written": hand,
              "hand, ReLU copy": hand_copy, "same, 2nd instance": control}
    x = torch.randn(args.batch, 3, 224, 224)
    times = {k: [] for k in models}
    with torch.no_grad():
        ref = hand(x)
        for name, m in models.items():
            assert torch.allclose(m(x), ref, atol=1e-4), name
        for _ in range(3):                      # warm-up
            for m in models.values():
                m(x)
        names = list(models)
        for r in range(args.reps):
            # Interleaved, and the order rotates every round, so neither machine drift
            # nor a position in the round (caches, frequency) favours one model.
            for name in names[r % len(names):] + names[:r % len(names)]:
                t = time.perf_counter()
                models[name](x)
                times[name].append(time.perf_counter() - t)

    print(f"ResNet-18 forward, batch {args.batch}, CPU ({torch.get_num_threads()} threads), eval, "
          f"{args.reps} interleaved rounds (rotating order)")

    def paired(name, base):
        # median of per-round ratios: each round's models ran moments apart
        return statistics.median(a / b for a, b in zip(times[name], times[base]))
    for name, ts in times.items():
        print(f"  {name:18s} median {ms(statistics.median(ts))}   vs hand-written (in-place ReLU) "
              f"{paired(name, 'hand-written'):.3f}   vs hand, ReLU copy {paired(name, 'hand, ReLU copy'):.3f}")
    # The spec's `relu` is not in place, so the like-for-like baseline is the hand-written
    # model with non-in-place ReLU; the in-place comparison is printed above too.
    worst = max(paired(k, "hand, ReLU copy") for k in ("netdsl.load", "compiled file"))
    noise = abs(paired("same, 2nd instance", "hand, ReLU copy") - 1)
    print(f"  goal: within 1.03 of the same hand-written network -> "
          f"{'met' if worst <= 1.03 else 'NOT met'} ({worst:.3f}); "
          f"noise in this run (identical models): {noise:.3f}")


def build(args):
    cls = compiled_class()
    empty_caches = tempfile.mkdtemp()
    own_cache = os.environ.get("NETDSL_CACHE_DIR")

    def set_cache_dir(path):
        if path is None:
            os.environ.pop("NETDSL_CACHE_DIR", None)
        else:
            os.environ["NETDSL_CACHE_DIR"] = path

    def forget():                       # what a new process has in memory: nothing of the spec
        netdsl_build._COMPILED.clear()
        netdsl_build._MODULES.clear()
        # nor the digests of netdsl's own code that the disk caches are stamped with
        netdsl_cache.package_stamp.cache_clear()
        parse_cache._code_stamp.cache_clear()

    def no_disk_cache(rep):
        forget()
        set_cache_dir(os.path.join(empty_caches, str(rep)))

    def load():
        netdsl.load(str(SPEC))
    # name -> (untimed setup, timed step, untimed cleanup). Warm needs only an earlier
    # load in the process, which every round has (and main() made one before).
    steps = {
        "netdsl.load cold": (lambda rep: forget(), load, None),
        "cold, no disk cache": (no_disk_cache, load, lambda: set_cache_dir(own_cache)),
        "netdsl.load warm": (None, load, None),
        "compiled class()": (None, cls, None),
        "hand-written()": (None, reference_resnet.resnet18, None),
    }
    builds = {name: [] for name in steps}
    names = list(steps)
    for rep in range(args.build_reps):
        # rotating order, as for the forward rounds: neither drift nor a place in the
        # round favours one step; ratios are taken within each round
        for name in names[rep % len(names):] + names[:rep % len(names)]:
            setup, step, cleanup = steps[name]
            if setup is not None:
                setup(rep)
            t = time.perf_counter()
            step()
            builds[name].append(time.perf_counter() - t)
            if cleanup is not None:
                cleanup()
    shutil.rmtree(empty_caches, ignore_errors=True)
    print("Build time (cold = first load of the spec in this process, netdsl's disk caches as an earlier run left "
          "them; warm = loaded before in this process, unchanged); ratio = median of per-round ratios")
    base = builds["hand-written()"]
    ratios = {name: statistics.median(a / b for a, b in zip(ts, base)) for name, ts in builds.items()}
    for name, ts in builds.items():
        print(f"  {name:19s} median {ms(statistics.median(ts))}   ratio {ratios[name]:.3f}")
    for name in ("netdsl.load cold", "netdsl.load warm"):
        print(f"  goal for {name}: within 1.2x -> {'met' if ratios[name] <= 1.2 else 'NOT met'} ({ratios[name]:.3f})")


if __name__ == "__main__":
    main()
