"""Deterministic weights, inputs and output digests for comparing models across processes.

Plain torch only (no torchvision import); runs on torch 2.13 and 2.14 alike. It is
shared by tools/torchvision_reference.py, which runs beside torchvision in a separate
venv and writes tests/reference/*.json, and by the tests, which run without
torchvision: both fill a model with `fill_`, feed it `fixed_input`, and compare
`output_digest` of the result.

What `fill_` writes depends only on each state_dict entry's key, shape and dtype,
never on module classes or on the order of the entries, so two models whose
state_dicts have the same keys and shapes get identical tensors, however they were
built.

The rule for one entry `key` (its last dotted component is `leaf`):

==========================================  ===================================
entry                                       value
==========================================  ===================================
not floating (``num_batches_tracked``)      left alone
``leaf == "running_mean"``                  U(-0.1, 0.1)
``leaf == "running_var"``                   U(0.5, 1.5)
``leaf == "bias"``                          U(-0.1, 0.1)
0-D or 1-D (norm weights: BN, LN, GN, ...)  U(0.5, 1.5)
``leaf != "weight"`` and one value per      U(0.5, 1.5)  (per-channel scales,
  leading index (e.g. (C, 1, 1))                          e.g. ConvNeXt layer_scale)
anything else (conv / linear weights)       U(-b, b), b = GAIN / sqrt(fan_in),
                                            fan_in = numel / shape[0]
==========================================  ===================================

GAIN = 2 (weights of variance 4 / (3 fan_in), between LeCun's 1 / fan_in and
Kaiming's 2 / fan_in) was chosen by measurement on the torchvision models this
repository compares with (eval mode, batch norms filled as above, i.e. statistics
and affine parameters away from their defaults so a missing or misplaced norm
changes the output): with GAIN = sqrt(3) activations stay O(1) but SiLU /
squeeze-excitation networks wash the input out (EfficientNet-B0's two samples
then differ by 1e-5 of the output's spread, so an error in an early layer would
hide below a float tolerance); with Kaiming's sqrt(6) ResNet-50's logits reach
1e4 and EfficientNet-V2-S's 1e5. With 2, the 24 reference models end with
logits of std 0.07 (SqueezeNet) to 400 (EfficientNet-V2-S), and the two samples'
outputs differ by 4e-4 (EfficientNet-B0) to 0.85 of that spread (the reference
JSON files record both numbers per model, as "output" std and "output_spread").

Every entry's values come from its own CPU ``torch.Generator`` seeded with
``zlib.crc32(key.encode("utf-8"))``, drawn as float32 by ``torch.rand`` (then
affinely mapped and cast to the entry's dtype).

Why this is stable across torch versions: a CPU ``torch.Generator`` is a
Mersenne Twister (mt19937) whose seeding is fixed, and CPU ``uniform_`` /
``torch.rand`` for float32 draws elements serially (one 24-bit draw per element,
no thread- or SIMD-dependent path, unlike CUDA generators or ``randn``'s vectorised
CPU path). ``SELF_CHECK`` records the first four numbers ``torch.rand`` gives for
seed 0; `self_check()` recomputes them, and tools/torchvision_reference.py writes
both into each JSON file, so a drift in torch's generator shows up as a mismatch
there rather than as an unexplained output difference. The model outputs
themselves go through oneDNN/ATen kernels: measured, all 24 reference models give
bit-identical outputs on torch 2.13 and 2.14 at the same thread count, but a
different `torch.get_num_threads()` moves them by ~1e-6 relative (convolutions
are partitioned by thread count), so compare digests with a tolerance (e.g.
rtol 1e-4 against the largest value), not exactly.
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence

import torch
from torch import nn

GAIN = 2.0

#: torch.rand(4, generator=torch.Generator().manual_seed(0)), float32, as Python floats.
SELF_CHECK = [0.49625658988952637, 0.7682217955589294, 0.08847743272781372, 0.13203048706054688]

#: Side of the coarse grid in `fixed_input`.
COARSE = 8
#: Above this many elements `output_digest` samples a strided subset instead of all values.
FULL_LIMIT = 2048
#: At most this many sampled values beyond FULL_LIMIT.
SAMPLE_SIZE = 512


def generator(name: str) -> torch.Generator:
    """A CPU generator seeded with crc32 of `name` (UTF-8)."""
    return torch.Generator(device="cpu").manual_seed(zlib.crc32(name.encode("utf-8")))


def self_check() -> list[float]:
    """The first 4 numbers of torch.rand with seed 0; equals SELF_CHECK unless torch's CPU generator drifted."""
    return torch.rand(4, generator=torch.Generator(device="cpu").manual_seed(0)).tolist()


def _uniform(key: str, shape: Sequence[int], low: float, high: float) -> torch.Tensor:
    u = torch.rand(tuple(shape), generator=generator(key), dtype=torch.float32)
    return u * (high - low) + low


def kind(key: str, tensor: torch.Tensor) -> str:
    """Which row of the module docstring's table applies: skip, mean, var, bias, scale or weight."""
    if not tensor.is_floating_point():
        return "skip"
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "running_mean":
        return "mean"
    if leaf == "running_var":
        return "var"
    if leaf == "bias":
        return "bias"
    if tensor.dim() <= 1:
        return "scale"
    if leaf != "weight" and tensor.numel() == tensor.shape[0]:
        return "scale"
    return "weight"


def value(key: str, tensor: torch.Tensor) -> torch.Tensor | None:
    """The float32 tensor `fill_` writes for one state_dict entry (None: left alone)."""
    k = kind(key, tensor)
    shape = tuple(tensor.shape)
    if k == "skip":
        return None
    if k in ("mean", "bias"):
        return _uniform(key, shape, -0.1, 0.1)
    if k in ("var", "scale"):
        return _uniform(key, shape, 0.5, 1.5)
    fan_in = tensor.numel() // shape[0] if shape[0] else 1
    bound = GAIN / math.sqrt(max(fan_in, 1))
    return _uniform(key, shape, -bound, bound)


def fill_(module: nn.Module | Mapping[str, torch.Tensor]) -> nn.Module | Mapping[str, torch.Tensor]:
    """Overwrite, in place, every floating tensor of `module.state_dict()` (or of a dict of tensors).

    Parameters and buffers alike, including parameters that belong directly to a
    module rather than to a submodule (ConvNeXt's layer_scale); integer buffers
    (num_batches_tracked) are left alone, and so are non-persistent buffers, which
    state_dict omits. A tensor shared under two keys (tied weights) ends with the
    value of its last key. Returns its argument.
    """
    state = module.state_dict() if isinstance(module, nn.Module) else module
    with torch.no_grad():
        for key, tensor in state.items():
            v = value(key, tensor)
            if v is not None:
                tensor.copy_(v.to(tensor.dtype))
    return module


def fixed_input(shape: Sequence[int], batch: int = 2) -> torch.Tensor:
    """A deterministic float32 tensor of shape (batch, *shape), mean 0, variance 1 (1.25 for images).

    Sample i, of shape `shape` (written "CxHxW" in the seeds), is built from `fine`,
    U(-sqrt(3), sqrt(3)) per element (seed crc32 of "fixed_input/{i}/{shape}/fine").
    Shapes of fewer than 3 dimensions get `fine` alone. Shapes of 3 or more (C, H, W)
    get ``coarse + 0.5 * fine`` (variance 1.25), where `coarse` is an 8 x 8 grid per leading index of
    U(-sqrt(3), sqrt(3)) values (seed ".../coarse"), each repeated over a
    ceil(H/8) x ceil(W/8) block and cropped to H x W: image-like regions and edges,
    so that different samples give visibly different outputs after global pooling
    (i.i.d. noise images all look alike to a deep network). Only rand, repeat and
    exact float arithmetic are involved, so the input is bit-identical across
    torch versions. Sample i does not depend on `batch`.
    """
    shape = tuple(int(s) for s in shape)
    r = math.sqrt(3.0)
    tag = "x".join(str(s) for s in shape)
    samples = []
    for i in range(batch):
        x = _uniform(f"fixed_input/{i}/{tag}/fine", shape, -r, r)
        if len(shape) >= 3:
            x = 0.5 * x
            *lead, h, w = shape
            g = _uniform(f"fixed_input/{i}/{tag}/coarse", (*lead, COARSE, COARSE), -r, r)
            g = g.repeat_interleave(-(-h // COARSE), -2).repeat_interleave(-(-w // COARSE), -1)
            x = x + g[..., :h, :w]
        samples.append(x)
    return torch.stack(samples)


def output_digest(tensor: torch.Tensor, sample: int = SAMPLE_SIZE, full_limit: int = FULL_LIMIT) -> dict:
    """A JSON-able summary of a tensor: shape, dtype, sum, abs_sum, std, stride and values.

    `values` holds every element (flattened, row-major, stride 1) when there are at
    most `full_limit` of them; otherwise `stride` = ceil(numel / sample) and `values`
    are flat[::stride] (at most `sample` of them). Sums and std are taken in float64.
    """
    t = tensor.detach().to("cpu")
    flat = t.reshape(-1).to(torch.float64)
    n = flat.numel()
    stride = 1 if n <= full_limit else -(-n // sample)
    return {
        "shape": list(t.shape),
        "dtype": str(t.dtype).replace("torch.", ""),
        "sum": float(flat.sum()),
        "abs_sum": float(flat.abs().sum()),
        "std": float(flat.std()) if n > 1 else 0.0,
        "stride": stride,
        "values": [float(x) for x in flat[::stride].tolist()],
    }


def probe_model() -> nn.Module:
    """A tiny plain-torch model (conv, BN, ReLU, linear) whose filled digest checks `fill_` itself across torch versions."""
    return nn.Sequential(   # its default init is random, but fill_ overwrites every float tensor
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10),
    ).eval()


def probe() -> dict:
    """The generator self-check and the digests of the probe model's filled state and output, for JSON files."""
    model = fill_(probe_model())
    with torch.no_grad():
        out = model(fixed_input((3, 16, 16)))
    state = model.state_dict()
    return {
        "self_check": self_check(),
        "expected_self_check": SELF_CHECK,
        "weight_digest": {k: output_digest(v)["sum"] for k, v in state.items() if v.is_floating_point()},
        "output": output_digest(out),
    }
