"""Compare a zoo spec with torchvision's reference data (tests/reference/*.json).

A spec claims reference files with header comments, one per configuration:

    # reference: deeplabv3_resnet50
    # reference: deeplabv3_resnet50_aux aux=true

(the JSON file's stem, then network parameters as `name=value`, values written as
JSON: `true`, `1000`, `"bilinear"`). `claims()` finds them in specs/*.net, and
`problems(spec, name, params)` lists every way the spec differs from the
reference, checking in order what can be checked without torch (the parameter
count, the MACs, the smallest input size) and then, with torch, the state_dict
(keys, shapes and order), the buffers, and the outputs under reference_weights'
deterministic weights, stage by stage, so that a failure names the first module
that diverges. tests/test_zoo_reference.py runs it for every claim;
`python3 tools/zoo_compare.py SPEC` prints the same list while a spec is being
written.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "reference"
SPECS = ROOT / "specs"

#: The issue's bound on MACs: netdsl's count within 3% of FlopCounterMode's / 2.
MAC_TOLERANCE = 0.03
#: Outputs agree to this fraction of the largest reference value.
OUTPUT_TOLERANCE = 1e-5

_CLAIM = re.compile(r"^#\s*reference:\s*(\w+)((?:\s+\w+=\S+)*)\s*$", re.MULTILINE)


def claims(specs: Path = SPECS) -> list[tuple[Path, str, dict]]:
    """(spec, reference name, params) for every `# reference:` line in specs/*.net."""
    out = []
    for spec in sorted(specs.glob("*.net")):
        for m in _CLAIM.finditer(spec.read_text(encoding="utf-8")):
            params = {k: json.loads(v) for k, v in (p.split("=", 1) for p in m.group(2).split())}
            out.append((spec, m.group(1), params))
    return out


def reference(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.json").read_text(encoding="utf-8"))


def static_problems(spec: Path, ref: dict, params: dict) -> list[str]:
    """Parameter count, MACs and the smallest accepted size: no torch."""
    from netdsl import check_file
    from netdsl.backends.sizes import scan
    from netdsl.program import load_path

    result = check_file(str(spec), params=params)
    if result.diagnostics:
        return [f"{spec.name}: {d.code} {d.message}" for d in result.diagnostics]
    g = result.graph()
    found = []
    if g.total_params != ref["num_params"]:
        found.append(f"parameters: netdsl {g.total_params:,}, torchvision {ref['num_params']:,} "
                     f"({g.total_params - ref['num_params']:+,})")
    if abs(g.total_macs - ref["macs"]) > MAC_TOLERANCE * ref["macs"]:
        found.append(f"MACs: netdsl {g.total_macs:,}, torchvision {ref['macs']:,} "
                     f"({g.total_macs / ref['macs'] - 1:+.2%}, tolerance {MAC_TOLERANCE:.0%})")
    if tuple(g.input_shape) != tuple(ref["input_shape"][1:]):
        found.append(f"input: netdsl {list(g.input_shape)}, torchvision {ref['input_shape'][1:]}")
    # torch's own smallest square input (eval mode), measured by tools/torchvision_reference.py;
    # the published min_size is what the weights were validated at (EfficientNetV2: 33, runs at 1)
    smallest_ref = ref.get("smallest_input")
    if smallest_ref:
        s = scan(load_path(str(spec)), g.network, params, lo=1, hi=smallest_ref)
        if s.smallest != smallest_ref:
            found.append(f"smallest input size: netdsl {s.smallest}, torch {smallest_ref}"
                         + (f" (netdsl rejects {smallest_ref}: {s.rejected[smallest_ref]})"
                            if smallest_ref in s.rejected else ""))
    return found


def _digest_problems(where: str, mine: dict, ref: dict, tolerance: float) -> list[str]:
    if mine["shape"] != ref["shape"]:
        return [f"{where}: shape {mine['shape']}, torchvision {ref['shape']}"]
    scale = max((abs(v) for v in ref["values"]), default=0.0) or 1.0
    worst = max((abs(a - b) for a, b in zip(mine["values"], ref["values"])), default=0.0)
    if len(mine["values"]) != len(ref["values"]) or worst > tolerance * scale:
        return [f"{where}: values differ by up to {worst:.3g} (largest value {scale:.3g}, "
                f"tolerance {tolerance:g} of it); sum {mine['sum']:.6g} vs {ref['sum']:.6g}"]
    return []


def module_problems(spec: Path, ref: dict, params: dict) -> list[str]:
    """The compiled module against the reference: state_dict, buffers, outputs."""
    import reference_weights as rw
    import torch

    import netdsl

    model = netdsl.load(str(spec), **params).eval()
    state = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    if state != ref["state_dict"]:
        theirs = {k: s for k, s in ref["state_dict"]}
        mine = {k: s for k, s in state}
        missing = [k for k in theirs if k not in mine]
        extra = [k for k in mine if k not in theirs]
        shapes = [f"{k} {mine[k]} vs {theirs[k]}" for k in mine if k in theirs and mine[k] != theirs[k]]
        order = next((f"entry {i}: netdsl {a[0]}, torchvision {b[0]}"
                      for i, (a, b) in enumerate(zip(state, ref["state_dict"])) if a[0] != b[0]), None)
        return [f"state_dict: {len(missing)} keys missing {missing[:5]}, {len(extra)} extra {extra[:5]}, "
                f"{len(shapes)} shapes differ {shapes[:5]}; first order difference at {order}"]
    buffers = [k for k, _ in model.named_buffers()]
    if sorted(buffers) != sorted(ref["buffers"]):
        return [f"buffers: netdsl {len(buffers)}, torchvision {len(ref['buffers'])}"]

    rw.fill_(model)
    threads = torch.get_num_threads()
    torch.set_num_threads(ref["num_threads"])
    try:
        found, stages = [], {}
        mods = dict(model.named_modules())
        hooks = []
        for name in ref["stages"]:
            if name in mods:
                def hook(mod, args, out, name=name):
                    if name not in stages and isinstance(out, torch.Tensor):
                        stages[name] = rw.output_digest(out, sample=16, full_limit=16)
                hooks.append(mods[name].register_forward_hook(hook))
        with torch.no_grad():
            y = model(rw.fixed_input(ref["digest_input_shape"][1:], ref["digest_input_shape"][0]))
        for h in hooks:
            h.remove()
    finally:
        torch.set_num_threads(threads)
    if isinstance(y, dict):
        if set(y) != set(ref["output"]):
            return [f"outputs: netdsl {sorted(y)}, torchvision {sorted(ref['output'])}"]
        for k in y:
            found += _digest_problems(f"output {k!r}", rw.output_digest(y[k]), ref["output"][k], OUTPUT_TOLERANCE)
    else:
        found += _digest_problems("output", rw.output_digest(y), ref["output"], OUTPUT_TOLERANCE)
    if found:
        # Name the first stage that diverges: that is where to look.
        for name, digest in ref["stages"].items():
            if name not in stages:
                found.append(f"stage {name}: no module of that name ran")
                break
            bad = _digest_problems(f"stage {name}", stages[name], digest, 1e-4)
            if bad:
                found += bad
                break
    return found


def problems(spec: Path, name: str, params: dict, with_torch: bool = True) -> list[str]:
    ref = reference(name)
    found = static_problems(spec, ref, params)
    if not found and with_torch:
        found = module_problems(spec, ref, params)
    return found
