"""Write tests/reference/MODEL.json: torchvision's models as data, for tests that run without torchvision.

For each model it records the torchvision and torch versions, the constructor call
and effective configuration, the input shape, the parameter count, MACs (torch's
FlopCounterMode total / 2 at batch 1), the state_dict as [key, shape] in order,
every named module with its class (and extra_repr), the default weights' published
meta (which is read from torchvision's tables, never downloaded), the smallest square
input the eval model runs on (tried upwards from 1x1: the published min_size is what
the weights were validated at, not what the architecture needs), and the digests of
the eval-mode output (and of coarse intermediate outputs) for
reference_weights.fixed_input under reference_weights.fill_ weights, so tests
can compare netdsl's models with torchvision's with nothing but torch.

torchvision does not install beside the project's torch, so this runs in a venv of
its own, outside the checkout, on CPU (no weights are downloaded; every model is
built with weights=None, DeepLabV3 also with weights_backbone=None). To regenerate
every file:

    python3 -m venv /work/tvenv
    /work/tvenv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /work/tvenv/bin/python tools/torchvision_reference.py            # all 24 models, 20 s warm, ~2 min cold
    /work/tvenv/bin/python tools/torchvision_reference.py --models resnet18,alexnet

(from any directory: paths are taken from this file's location; the venv's path is free).
The output is deterministic: rerunning with the same versions and thread count
(--threads, default 2) rewrites identical files; timings go to stdout only.
Cross-checked: these models, traced in the venv and run under the project's torch
2.13 with the same thread count, reproduce every output digest bit for bit; a
different thread count moves outputs by ~1e-6 relative (oneDNN partitions
convolutions by thread count), so tests should compare with a tolerance.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "reference"


def _load_reference_weights():
    spec = importlib.util.spec_from_file_location("reference_weights", ROOT / "tests" / "reference_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# name -> (builder in torchvision.models or .segmentation, kwargs, input (C, H, W), weights enum name, note)
_C224 = (3, 224, 224)
MODELS: dict[str, tuple[str, dict, tuple, str, str]] = {
    "alexnet": ("alexnet", {}, _C224, "AlexNet_Weights", ""),
    "vgg11": ("vgg11", {}, _C224, "VGG11_Weights", ""),
    "resnet18": ("resnet18", {}, _C224, "ResNet18_Weights", ""),
    "resnet50": ("resnet50", {}, _C224, "ResNet50_Weights", ""),
    "resnext50_32x4d": ("resnext50_32x4d", {}, _C224, "ResNeXt50_32X4D_Weights", ""),
    "wide_resnet50_2": ("wide_resnet50_2", {}, _C224, "Wide_ResNet50_2_Weights", ""),
    "googlenet": ("googlenet", {}, _C224, "GoogLeNet_Weights",
                  "weights=None default: GoogLeNet(aux_logits=True, transform_input=False, init_weights=None->True); "
                  "aux1/aux2 are in the state_dict but unused in eval mode, which returns the main logits only"),
    "googlenet_noaux": ("googlenet", {"aux_logits": False}, _C224, "GoogLeNet_Weights",
                        "the pretrained weights' layout (googlenet(weights=...) drops aux1/aux2 after loading); "
                        "transform_input left False here, pretrained loading would set it True"),
    "inception_v3": ("inception_v3", {}, (3, 299, 299), "Inception_V3_Weights",
                     "weights=None default: Inception3(aux_logits=True, transform_input=False, init_weights=None->True); "
                     "AuxLogits is in the state_dict but unused in eval mode, which returns the main logits only"),
    "inception_v3_noaux": ("inception_v3", {"aux_logits": False}, (3, 299, 299), "Inception_V3_Weights",
                           "AuxLogits dropped (inception_v3(weights=..., aux_logits=False) gives this layout); "
                           "transform_input left False, pretrained loading would set it True"),
    "densenet121": ("densenet121", {}, _C224, "DenseNet121_Weights", ""),
    "squeezenet1_1": ("squeezenet1_1", {}, _C224, "SqueezeNet1_1_Weights", ""),
    "mobilenet_v2": ("mobilenet_v2", {}, _C224, "MobileNet_V2_Weights", ""),
    "mobilenet_v3_large": ("mobilenet_v3_large", {}, _C224, "MobileNet_V3_Large_Weights", ""),
    "mobilenet_v3_small": ("mobilenet_v3_small", {}, _C224, "MobileNet_V3_Small_Weights", ""),
    "mnasnet1_0": ("mnasnet1_0", {}, _C224, "MNASNet1_0_Weights", ""),
    "shufflenet_v2_x1_0": ("shufflenet_v2_x1_0", {}, _C224, "ShuffleNet_V2_X1_0_Weights", ""),
    "efficientnet_b0": ("efficientnet_b0", {}, _C224, "EfficientNet_B0_Weights", ""),
    "efficientnet_v2_s": ("efficientnet_v2_s", {}, (3, 384, 384), "EfficientNet_V2_S_Weights",
                          "input 384, the default weights' crop/resize size"),
    "regnet_x_400mf": ("regnet_x_400mf", {}, _C224, "RegNet_X_400MF_Weights", ""),
    "regnet_y_400mf": ("regnet_y_400mf", {}, _C224, "RegNet_Y_400MF_Weights", ""),
    "convnext_tiny": ("convnext_tiny", {}, _C224, "ConvNeXt_Tiny_Weights", ""),
    "deeplabv3_resnet50": ("segmentation.deeplabv3_resnet50", {"weights_backbone": None}, _C224,
                           "segmentation.DeepLabV3_ResNet50_Weights",
                           "aux_loss default (None: no aux_classifier, output {'out'}); num_classes default 21; "
                           "weights_backbone=None because its default, ResNet50_Weights.IMAGENET1K_V1, downloads; "
                           "input 224 (not the weights' resize 520) to keep tests fast; the output is interpolated "
                           "back to the input size"),
    "deeplabv3_resnet50_aux": ("segmentation.deeplabv3_resnet50", {"weights_backbone": None, "aux_loss": True},
                               _C224, "segmentation.DeepLabV3_ResNet50_Weights",
                               "aux_loss=True: the pretrained weights' layout (aux_classifier FCNHead on layer3), "
                               "output {'out', 'aux'}; otherwise as deeplabv3_resnet50"),
}

# Coarse intermediate outputs recorded per model: containers whose children are the stages.
_STAGE_PARENTS = ("", "features", "backbone", "trunk_output", "layers")


def _no_downloads():
    """Make any attempt to fetch weights fail loudly instead of reaching for the network."""
    import torch
    import torchvision.models._api as api

    def refuse(*args, **kwargs):
        raise RuntimeError("torchvision_reference.py must not download weights")

    torch.hub.load_state_dict_from_url = refuse
    api.WeightsEnum.get_state_dict = refuse
    torch.hub.download_url_to_file = refuse


def class_name(cls) -> str:
    import torch
    import torchvision

    n = cls.__name__
    if getattr(torch.nn, n, None) is cls:
        return f"torch.nn.{n}"
    if getattr(torchvision.ops, n, None) is cls:
        return f"torchvision.ops.{n}"
    return f"{cls.__module__}.{n}"


def _resolve(path: str):
    import torchvision.models

    obj = torchvision.models
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _call_text(builder: str, kwargs: dict) -> str:
    args = ["weights=None"] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"torchvision.models.{builder}({', '.join(args)})"


def _config(model) -> dict:
    """Constructor settings that change structure or forward but not always the state_dict."""
    out = {}
    for attr in ("aux_logits", "transform_input"):
        if hasattr(model, attr):
            out[attr] = getattr(model, attr)
    if hasattr(model, "aux_classifier"):
        out["aux_classifier"] = model.aux_classifier is not None
    drops = sorted({round(m.p, 6) for m in model.modules() if type(m).__name__ == "Dropout"})
    if drops:
        out["dropout_p"] = drops
    sd = [[n, m.p, m.mode] for n, m in model.named_modules() if type(m).__name__ == "StochasticDepth"]
    if sd:
        out["stochastic_depth"] = sd
    return out


def _meta(weights_name: str) -> dict:
    enum = _resolve(weights_name)
    w = enum.DEFAULT
    meta = {"weights": f"{enum.__name__}.{w.name}"}
    for k in ("min_size", "num_params", "_ops", "_file_size"):
        if k in w.meta:
            v = w.meta[k]
            meta[k] = list(v) if isinstance(v, tuple) else v
    meta["num_categories"] = len(w.meta.get("categories", []))
    tf = getattr(w.transforms, "keywords", None)
    if tf:
        meta["transforms"] = {k: (str(v) if not isinstance(v, (int, float, str, list, tuple)) else v)
                              for k, v in tf.items()}
    return meta


def _macs(model, shape) -> tuple[int, dict]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, *shape))
    by_op = {str(op): int(n) // 2 for op, n in counter.get_flop_counts()["Global"].items()}
    return counter.get_total_flops() // 2, dict(sorted(by_op.items()))


def _stage_names(model) -> list[str]:
    mods = dict(model.named_modules())
    names = []
    for parent in _STAGE_PARENTS:
        if parent not in mods:
            continue
        prefix = f"{parent}." if parent else ""
        for child, _ in mods[parent].named_children():
            if f"{prefix}{child}" not in _STAGE_PARENTS:
                names.append(f"{prefix}{child}")
    return names


def _digests(rw, model, x) -> tuple[dict, dict]:
    """Output digest(s) and coarse intermediate digests (modules named in _stage_names, first call only)."""
    import torch

    mods = dict(model.named_modules())
    stages, hooks = {}, []
    for name in _stage_names(model):
        def hook(mod, args, out, name=name):
            if name not in stages and isinstance(out, torch.Tensor):
                stages[name] = rw.output_digest(out, sample=16, full_limit=16)
        hooks.append(mods[name].register_forward_hook(hook))
    with torch.no_grad():
        y = model(x)
    for h in hooks:
        h.remove()
    if isinstance(y, dict):
        out = {k: rw.output_digest(v) for k, v in y.items()}
    else:
        out = rw.output_digest(y)
    return out, stages


def _smallest_input(model, shape) -> int | None:
    """The smallest n for which the eval model runs on a 1 x C x n x n input (what
    `netdsl sizes` must find); None if nothing up to the reference size runs."""
    import torch
    for n in range(1, shape[-1] + 1):
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model(torch.zeros(1, shape[0], n, n))
            return n
        except (RuntimeError, ValueError, IndexError):
            continue
    return None


def _spread(y) -> float:
    """std(y[0] - y[1]) / std(y): how much the two samples' outputs differ, relative to the outputs' spread."""
    y = y["out"] if isinstance(y, dict) else y
    return float((y[0] - y[1]).double().std() / y.double().std())


def build(name: str):
    builder, kwargs, _, _, _ = MODELS[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = _resolve(builder)(weights=None, **kwargs)
    return model.eval(), sorted({str(w.message).splitlines()[0] for w in caught})


def reference(name: str, rw) -> tuple[dict, dict]:
    import torch
    import torchvision

    builder, kwargs, shape, weights_name, note = MODELS[name]
    times = {}
    t = time.perf_counter()
    model, caught = build(name)
    times["build"] = time.perf_counter() - t

    t = time.perf_counter()
    rw.fill_(model)
    times["fill"] = time.perf_counter() - t

    t = time.perf_counter()
    macs, macs_by_op = _macs(model, shape)
    times["macs"] = time.perf_counter() - t

    x = rw.fixed_input(shape)
    t = time.perf_counter()
    output, stages = _digests(rw, model, x)
    times["forward"] = time.perf_counter() - t
    with torch.no_grad():
        spread = _spread(model(x))

    params = {id(p): p.numel() for p in model.parameters()}
    buffers = {k for k, _ in model.named_buffers()}
    state = model.state_dict()
    record = {
        "model": name,
        "torchvision": torchvision.__version__,
        "torch": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "constructor": _call_text(builder, kwargs),
        "config": _config(model),
        "note": note,
        "warnings": caught,
        "input_shape": [1, *shape],
        "digest_input_shape": list(x.shape),
        "num_params": sum(params.values()),
        "macs": macs,
        "macs_by_op": macs_by_op,
        "published": _meta(weights_name),
        "smallest_input": _smallest_input(model, shape),
        "fill": {"gain": rw.GAIN, "probe": rw.probe()},
        "output_spread": spread,
        "output": output,
        "stages": stages,
        "state_dict": [[k, list(v.shape)] for k, v in state.items()],
        "buffers": [k for k in state if k in buffers],
        "modules": [[n, class_name(type(m)), m.extra_repr()] for n, m in model.named_modules()],
    }
    return record, times


def dumps(record: dict) -> str:
    """JSON with one top-level key per line and one list or dict entry per line below it."""
    lines = ["{"]
    items = list(record.items())
    for i, (k, v) in enumerate(items):
        end = "," if i < len(items) - 1 else ""
        key = json.dumps(k)
        if isinstance(v, list) and v and isinstance(v[0], (list, str)) and k in ("state_dict", "buffers", "modules"):
            body = ",\n".join("  " + json.dumps(e) for e in v)
            lines.append(f" {key}: [\n{body}\n ]{end}")
        elif isinstance(v, dict) and v and k in ("output", "stages", "published", "config", "fill", "macs_by_op"):
            body = ",\n".join(f"  {json.dumps(kk)}: {json.dumps(vv)}" for kk, vv in v.items())
            lines.append(f" {key}: {{\n{body}\n }}{end}")
        else:
            lines.append(f" {key}: {json.dumps(v)}{end}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Write tests/reference/MODEL.json for torchvision models (run with the torchvision venv's "
                    "python; see this file's docstring).")
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated model names (default: all): " + ", ".join(MODELS))
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default: {OUT})")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch.set_num_threads (default 2, the project machines' core count: CPU kernels "
                             "partition work by thread count, so outputs can differ by ~1e-6 relative between "
                             "counts; the count used is recorded in each file)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s): {', '.join(unknown)}")

    import torch

    torch.set_num_threads(args.threads)
    _no_downloads()
    rw = _load_reference_weights()
    args.out.mkdir(parents=True, exist_ok=True)
    total = time.perf_counter()
    print(f"{'model':24s} {'params':>12s} {'MACs':>15s} {'KB':>6s}  build  fill  macs  fwd(s)", flush=True)
    for name in names:
        record, times = reference(name, rw)
        text = dumps(record)
        (args.out / f"{name}.json").write_text(text, encoding="utf-8")
        print(f"{name:24s} {record['num_params']:12,d} {record['macs']:15,d} {len(text) / 1024:6.0f}  "
              + "  ".join(f"{times[k]:4.2f}" for k in ("build", "fill", "macs", "forward")), flush=True)
    print(f"total {time.perf_counter() - total:.1f} s, {len(names)} files in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
