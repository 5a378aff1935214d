"""Fuzz every backend: check, summary, sizes, DOT, code generation, build and forward.

    python tools/fuzz_backends.py --minutes 15 --seed 1            # one process
    python tools/fuzz_backends.py --minutes 15 --jobs 2 --seed 7   # two processes
    python tools/fuzz_backends.py --replay tests/fuzz_corpus_backends/*.net
    python tools/fuzz_backends.py --stages check,codegen,build --cases 500

tools/fuzz_campaign.py holds `check` alone to its oracle. This tool sends each case
through every backend, in-process, through the public Python functions and the CLI
(click's CliRunner on netdsl.cli.cli):

  check    netdsl.check (text and path), `check --format text|short|json`
  summary  backends.summary.build for every convention, every format, --explain,
           --depth 1; the CLI likewise
  sizes    backends.sizes.scan (1..40); `sizes --max 40`, text and json
  dot      render.dot_source(digraph.to_networkx(graph), depth=...), netdsl.graph,
           `render -o x.dot`; for a sample, `dot` itself on the DOT text
  codegen  netdsl.build_source, Python's compile() on its output, `compile -o -`
  build    for a sample of clean specs: netdsl.load on the meta device (CPU when a
           meta kernel is missing and the model is small), a forward pass with a
           random batch of 2, output shape and parameter count against the static
           graph.output_shape and graph.total_params

The oracle: only the documented exceptions leave a Python API (SpecError,
SpecIOError/OSError, LookupError for an ambiguous network, sizes.NoImageInput);
the CLI never raises, never exits 3 and never shows a traceback; with
`--format json` a non-empty stdout is exactly one strict JSON document (no NaN);
CLI and API agree (exit codes, totals); a clean check compiles, the code compiles,
builds, runs and gives the predicted shape and parameter count; no stage takes
longer than --slow seconds or pushes the process past --max-rss-mb.

Failures are grouped by (stage, exception type, innermost netdsl frame); each new
group's first case is minimised (delta debugging on lines, then tokens) and written
to --out (tests/fuzz_corpus_backends/<name>.net) with a first comment line giving
the stage and the symptom. tests/test_fuzz_backends.py replays that directory.

Generators: the Hypothesis strategy and the mutators of tests/test_fuzz.py (loaded
through tools/fuzz_campaign.py), plus backend-oriented ones defined here: specs that
check clean with unusual structure (`structured`), every layer kind with random
valid and invalid arguments at every input rank (`layer`), hostile values and
names (`hostile`), and mutants of those (`mutate-gen`).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zlib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:       # run from a checkout, installed or not
    sys.path.insert(0, str(ROOT))
CORPUS_DIR = ROOT / "tests" / "fuzz_corpus_backends"
STAGES = ("check", "summary", "sizes", "dot", "codegen", "build")
CONVENTIONS = ("torchvision", "fvcore", "ptflops", "thop", "torchinfo")
SUMMARY_FORMATS = ("text", "json", "csv", "markdown")


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# Reused, not copied: the campaign tool and, through it, the mutators, the Hypothesis
# strategy and the oracle of tests/test_fuzz.py.
campaign = _load("netdsl_fuzz_campaign", ROOT / "tools" / "fuzz_campaign.py")
fz = campaign.load_fuzz_module()

from click.testing import CliRunner  # noqa: E402

import netdsl  # noqa: E402
from netdsl.catalogue import LAYERS  # noqa: E402
from netdsl.cli import cli  # noqa: E402
from netdsl.limits import LIMITS  # noqa: E402

NETDSL_DIR = str(Path(netdsl.__file__).resolve().parent) + os.sep
warnings.filterwarnings("ignore", module=r"torch\..*")     # dropout2d on 3-D input and the like


# =============================================================================
# Generators: each takes a random.Random and returns spec text (or bytes).
# =============================================================================

def conv_out(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def pool_out(n: int, k: int, s: int, p: int = 0, ceil: bool = False) -> int:
    num = n + 2 * p - k
    out = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


class Writer:
    """Writes specs that mostly check clean, with unusual structure.

    It tracks the shape flowing (None = unknown: then only shape-agnostic items follow)
    and picks items that are valid for it, so most cases reach code generation and
    the forward pass. `bad` is the chance of an invalid argument in a layer call."""

    def __init__(self, rng: random.Random, bad: float = 0.04):
        self.rng = rng
        self.bad = bad
        self.blocks: dict[str, str] = {}        # name -> definition text (in dependency order)
        self.uid = 0
        self.depth = 0

    # ---- small helpers ----------------------------------------------------------------
    def fresh(self, stem: str = "t") -> str:
        self.uid += 1
        return f"{stem}{self.uid}"

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, seq):
        return self.rng.choice(seq)

    def junk_value(self) -> str:
        return self.pick(["0", "-1", "-3", "2.5", "true", "'same'", "none", "(1, 2, 3)", "()", "[]", "in",
                          "999999999999999999", "2 ** 62", "1e300", "'x'", "(0, 1)", "-2 ** 63"])

    def arg(self, good: str) -> str:
        return self.junk_value() if self.chance(self.bad) else good

    # ---- layers for a known shape ---------------------------------------------------------
    def agnostic(self) -> str:
        return self.pick(["relu", "relu6", "sigmoid", "tanh", "gelu", "gelu(approximate='tanh')", "silu",
                          "hardswish", "identity", "dropout", "dropout(0.0)", f"dropout(p={self.arg('0.25')})",
                          "leaky_relu(0.2)", "leaky_relu(slope=0.01)", "[]", "[relu]", "if false { relu }",
                          "repeat 0 { flatten }", "[[identity]]"])

    def layer(self, shape):
        """(text, shape after) for one layer call valid for `shape` (rank 1-3 or None)."""
        r = self.rng
        if shape is None or self.chance(0.25):
            return self.agnostic(), shape
        if len(shape) == 3:
            c, h, w = shape
            m = min(h, w)
            opts = ["conv", "conv", "conv_s", "convt", "pool", "avg", "adapt", "gap", "bn", "gn", "lrn", "d2",
                    "flatten", "flatten1", "up", "crop", "pad", "softmax", "ln3", "convg", "dil"]
            kind = self.pick(opts)
            if kind == "conv":
                k = self.pick([1, 3, 5]) if m >= 5 else 1
                co = r.choice([1, 2, 4, 8, 16, c])
                pad = self.pick([k // 2, "'same'"]) if k > 1 else self.pick(["0", "'valid'", "'same'"])
                bias = self.pick(["", ", bias=false", ", bias=true"])
                return f"conv2d({self.arg(str(co))}, {k}, padding={pad}{bias})", (co, h, w)
            if kind == "convg":
                gs = [g for g in (1, 2, 4, c) if c % g == 0]
                g = self.pick(gs)
                co = g * self.pick([1, 2])
                return f"conv2d({co}, 3, padding=1, groups={self.arg(str(g))})", (co, h, w)
            if kind == "dil" and m >= 5:
                return f"conv2d({c}, 3, padding=2, dilation=2)", (c, h, w)
            if kind == "conv_s" and m >= 3:
                s = self.pick([2, 3])
                return f"conv2d({c}, 3, stride={s}, padding=1)", (c, conv_out(h, 3, s, 1), conv_out(w, 3, s, 1))
            if kind == "convt" and m <= 64:
                s = self.pick([1, 2])
                k = self.pick([1, 2, 3])
                op = self.pick([0, 1]) if s == 2 else 0
                out = lambda n: (n - 1) * s + k + op     # noqa: E731
                extra = f", output_padding={op}" if op else ""
                return f"conv_transpose2d({c}, {k}, stride={s}{extra})", (c, out(h), out(w))
            if kind == "pool" and m >= 2:
                k = self.pick([2, 3]) if m >= 3 else 2
                s = self.pick([1, 2, k])
                p = self.pick([0, k // 2])
                ceil = self.chance(0.3)
                extra = ", ceil_mode=true" if ceil else ""
                return (f"maxpool2d({k}, stride={s}, padding={p}{extra})",
                        (c, pool_out(h, k, s, p, ceil), pool_out(w, k, s, p, ceil)))
            if kind == "avg" and m >= 2:
                return f"avgpool2d(2, count_include_pad={self.pick(['true', 'false'])})", (c, h // 2, w // 2)
            if kind == "adapt":
                o = self.pick([1, 2, 3])
                if self.chance(0.3):
                    return f"adaptive_maxpool2d(({o}, none))", (c, o, w)
                return f"{self.pick(['adaptive_avgpool2d', 'adaptive_maxpool2d'])}({o})", (c, o, o)
            if kind == "gap":
                return "global_avgpool", (c, 1, 1)
            if kind == "bn":
                return self.pick(["batchnorm2d", "batchnorm2d(eps=0.001)", "batchnorm2d(affine=false)",
                                  "batchnorm2d(track_running_stats=false)", "batchnorm2d(momentum=0.5)"]), shape
            if kind == "gn":
                g = self.pick([g for g in (1, 2, 4, c) if c % g == 0])
                return f"groupnorm({self.arg(str(g))}, affine={self.pick(['true', 'false'])})", shape
            if kind == "lrn":
                return f"lrn({self.pick([1, 2, 5])})", shape
            if kind == "d2":
                return "dropout2d(0.1)", shape
            if kind == "flatten" and c * h * w <= 1 << 16:
                return "flatten", (c * h * w,)
            if kind == "flatten1":
                return "flatten(start=1)", (c, h * w)
            if kind == "up" and m <= 32:
                mode = self.pick(["'nearest'", "'bilinear'", "'bicubic'"])
                if self.chance(0.5):
                    return f"upsample(scale=2, mode={mode})", (c, 2 * h, 2 * w)
                return f"upsample(size=({h + 1}, {w + 2}))", (c, h + 1, w + 2)
            if kind == "crop":
                a, b = r.randint(1, h), r.randint(1, w)
                return f"center_crop(({a}, {b}))", (c, a, b)
            if kind == "pad" and m <= 64:
                if self.chance(0.5):
                    return "zeropad2d(1)", (c, h + 2, w + 2)
                return "zeropad2d((1, 0, 2, 0))", (c, h + 2, w + 1)
            if kind == "softmax":
                return f"softmax({self.pick([0, 1, 2, -1])})", shape
            if kind == "ln3":
                return "layernorm", shape
            return self.agnostic(), shape
        if len(shape) == 1:
            (f,) = shape
            kind = self.pick(["linear", "linear", "bn1", "ln", "softmax", "flatten"])
            if kind == "linear":
                n = self.pick([1, 3, 10, 16, 64])
                return f"linear({self.arg(str(n))}{self.pick(['', ', bias=false'])})", (n,)
            if kind == "bn1":
                return "batchnorm1d", shape
            if kind == "ln":
                return self.pick(["layernorm", "layernorm(eps=0.1)", "layernorm(bias=false)"]), shape
            if kind == "softmax":
                return "softmax", shape
            return "flatten", shape
        a, b = shape
        kind = self.pick(["linear", "ln", "softmax", "flatten"])
        if kind == "linear":
            n = self.pick([2, 5, 8])
            return f"linear({n})", (a, n)
        if kind == "ln":
            return "layernorm", shape
        if kind == "softmax":
            return f"softmax(dim={self.pick([0, 1, -1])})", shape
        return "flatten", (a * b,)

    # ---- blocks: definitions with a shape transfer function ------------------------
    def block(self, shape):
        """(use text, shape after) using one of the block templates, or None."""
        if shape is None or len(shape) != 3:
            return None
        c, h, w = shape
        t = self.pick(BLOCK_TEMPLATES)
        use = t(self, c, h, w)
        return use

    def define(self, name: str, text: str) -> None:
        self.blocks.setdefault(name, text)

    # ---- structure --------------------------------------------------------------
    def items(self, shape, n: int, refs: dict, allow_names=True):
        """n statements (lines) starting from `shape`; returns (lines, shape)."""
        lines = []
        for _ in range(n):
            line, shape = self.statement(shape, refs, allow_names)
            lines.append(line)
        return lines, shape

    def statement(self, shape, refs: dict, allow_names=True):
        self.depth += 1
        try:
            return self._statement(shape, refs, allow_names)
        finally:
            self.depth -= 1

    def _statement(self, shape, refs, allow_names):
        r = self.rng
        deep = self.depth > 4
        roll = r.random()
        if roll < 0.30 or deep:
            k = r.randint(1, 3)
            parts = []
            for _ in range(k):
                t, shape = self.layer(shape)
                parts.append(t)
            return " -> ".join(parts), shape
        if roll < 0.40 and allow_names:                       # a named layer, remembered for @refs
            name = self.fresh("n")
            t, shape = self.layer(shape)
            if t.startswith(("[", "if ", "repeat ")):
                t = "relu"
            refs[name] = shape
            return f"{name}: {t}", shape
        if roll < 0.50:                                       # a block use
            got = self.block(shape)
            if got is not None:
                use, out = got
                if allow_names and self.chance(0.4):
                    name = self.fresh("b")
                    refs[name] = out
                    return f"{name}: {use}", out
                return use, out
            return self.agnostic(), shape
        if roll < 0.58:                                       # sequences inside sequences
            inner, out = self.items(shape, r.randint(0, 3), dict(refs))
            if self.chance(0.4):
                inner2, out = self.items(out, r.randint(0, 2), {})
                name = self.fresh("q")
                inner.append(f"{name}: [\n" + "\n".join(inner2) + "\n]")
            if allow_names and self.chance(0.7):
                name = self.fresh("s")
                refs[name] = out
                return f"{name}: [\n" + "\n".join(inner) + "\n]", out
            return "[\n" + "\n".join(inner) + "\n]", out
        if roll < 0.68 and shape is not None:                 # merges
            return self.merge(shape, refs)
        if roll < 0.76:                                       # loops
            return self.loop(shape, refs)
        if roll < 0.82:                                       # if on in.channels / parameters
            return self.cond(shape, refs)
        if roll < 0.87 and refs:                              # @ref skip: what came between feeds nothing
            name = self.pick(sorted(refs))
            out = refs[name]
            if out is not None and len(out) == 3 and shape is not None and len(shape) == 3 and self.chance(0.5):
                return f"@{name} -> center_crop(({min(out[1], shape[1])}, {min(out[2], shape[2])}))", \
                    (out[0], min(out[1], shape[1]), min(out[2], shape[2]))
            return f"@{name}", out
        if roll < 0.92 and shape is not None:                 # expect
            items = [str(d) if self.chance(0.6) else "_" for d in shape]
            if self.chance(0.05):
                items[0] = str(shape[0] + 1)                  # a wrong one now and then: E0308
            return f"expect [{', '.join(items)}]", shape
        if roll < 0.96:
            name = self.fresh("v")
            return f"let {name} = {self.pick(['3', 'in.c * 2', 'len(in)', '(1, 2)', '[8, 16]', 'in'])}", shape
        t, shape = self.layer(shape)
        return f"{t}  # netdsl: allow W0401", shape

    def merge(self, shape, refs):
        r = self.rng
        if len(shape) == 3 and self.chance(0.45):            # concat along channels
            c, h, w = shape
            branches, total = [], 0
            for _ in range(r.randint(1, 3)):
                kind = self.pick(["identity", "conv", "pool", "seq", "if", "empty"])
                co = self.pick([1, 4, 8]) if kind in ("conv", "seq") else c
                branches.append({"identity": "identity", "conv": f"conv2d({co}, 1)",
                                 "pool": "maxpool2d(3, stride=1, padding=1)",
                                 "seq": f"[\nconv2d({co}, 3, padding=1)\nrelu\n]",
                                 "if": "if in.c < 0 { conv2d(1, 1) }", "empty": "[]"}[kind])
                total += co
            return "concat {\n" + "\n".join(branches) + "\n}", (total, h, w)
        branches = []
        same = [k for k, v in refs.items() if v == shape]
        for _ in range(r.randint(1, 4)):
            kind = self.pick(["identity", "identity", "layer", "seq", "if", "empty", "ref", "block", "merge"])
            if kind == "identity":
                branches.append("identity")
            elif kind == "layer":
                t, out = self.layer(shape)
                branches.append(t if out == shape and not t.startswith("if ") else "relu")
            elif kind == "seq":
                inner = []
                s = shape
                for _ in range(r.randint(1, 3)):
                    t, s2 = self.layer(s)
                    if s2 == shape:
                        inner.append(t)
                branches.append("[\n" + "\n".join(inner) + "\n]")
            elif kind == "if":
                branches.append(self.pick(["if false { relu }", "if in.c > 0 { identity }",
                                           f"if len(in) == {len(shape)} {{ relu }} else {{ identity }}"]))
            elif kind == "empty":
                branches.append("[]")
            elif kind == "ref" and same:
                branches.append(f"@{self.pick(same)}")
            elif kind == "block" and len(shape) == 3:
                self.define("Nothing", "block Nothing(n: int = 0) {\n    repeat n { relu }\n}")
                branches.append(self.pick(["Nothing", "Nothing(2)", "Nothing()"]))
            elif kind == "merge" and self.depth < 4:
                t, out = self.merge(shape, {})
                branches.append(t if out == shape else "identity")
            else:
                branches.append("identity")
        return "add {\n" + "\n".join(branches) + "\n}", shape

    def loop(self, shape, refs):
        r = self.rng
        roll = r.random()
        if roll < 0.35:
            n = self.pick([0, 1, 2, 3])
            body = []
            for _ in range(r.randint(0, 2)):
                t, out = self.layer(shape)
                body.append(t if out == shape else "relu")
            idx = self.fresh("i") if self.chance(0.4) else None
            if idx and shape is not None and self.chance(0.6):
                body.append(f'"x{{{idx}}}": [relu]')
            head = f"repeat {n}" + (f" as {idx}" if idx else "")
            return head + " {\n" + "\n".join(body) + "\n}", shape
        if roll < 0.65 and shape is not None and len(shape) == 3:
            c, h, w = shape
            table = [(self.pick([0, 1, 2]), self.pick([4, 8])) for _ in range(r.randint(0, 3))]
            out_c = c
            for n, ch in table:
                if n:
                    out_c = ch
            var = self.fresh("k")
            named = self.chance(0.5)
            inner = f'"L{{{var}}}_{{n}}": [conv2d(ch, 3, padding=1) -> relu]' if named else \
                "conv2d(ch, 3, padding=1) -> relu"
            lst = "[" + ", ".join(f"({n}, {ch})" for n, ch in table) + "]"
            return (f"for (n, ch) in {lst} {{\n    repeat n as {var} {{ {inner} }}\n}}", (out_c, h, w))
        var = self.fresh("j")
        seq = self.pick(["range(2)", "[1, 2, 3]", "()", "range(0)"])
        body = f'"y{{{var}}}": identity' if self.chance(0.5) else "relu"
        return f"for {var} in {seq} {{ {body} }}", shape

    def cond(self, shape, refs):
        if shape is not None and len(shape) == 3:
            c = shape[0]
            thr = self.pick([c - 1, c, c + 1])
            op = self.pick(["==", "!=", ">", "<=", "<", ">="])
            co = self.pick([c, 4, 8])
            taken = {"==": c == thr, "!=": c != thr, ">": c > thr, "<=": c <= thr, "<": c < thr, ">=": c >= thr}[op]
            if self.chance(0.5):
                return (f"if in.channels {op} {thr} {{ conv2d({co}, 1) }} else {{ conv2d({co}, 3, padding=1) }}",
                        (co, *shape[1:]))
            return f"if in.channels {op} {thr} {{ conv2d({co}, 1) }}", (co, *shape[1:]) if taken else shape
        return self.pick(["if true { identity }", "if false { relu } else if true { identity }"]), shape

    # ---- whole specs ---------------------------------------------------------------
    def input_shape(self):
        rank = self.rng.choices([1, 2, 3], [2, 1, 7])[0]
        if rank == 3:
            return (self.pick([1, 3, 4, 8]), self.pick([1, 2, 5, 7, 8, 16, 28, 32]), self.pick([1, 3, 8, 16, 32]))
        if rank == 2:
            return (self.pick([1, 3, 4]), self.pick([2, 5, 8]))
        return (self.pick([1, 5, 16, 100]),)

    def network(self, name: str):
        shape = self.input_shape()
        params = self.pick(["", "(num_classes = 10)", "(c = 8, k: int = 3)", "()"])
        refs: dict = {}
        lines, out = self.items(shape, self.rng.randint(1, 7), refs)
        if self.chance(0.3) and out is not None:
            lines.append("flatten -> linear(num_classes)" if "num_classes" in params else "flatten -> linear(3)")
        body = "\n".join("    " + ln for ln in "\n".join(lines).split("\n"))
        dims = ", ".join(map(str, shape))
        return f"network {name}{params} {{\n    input [{dims}]\n{body}\n}}"

    def spec(self) -> str:
        nets = [self.network(f"Net{i}" if i else self.pick(["Net", "N", "Model", "resnet_like"]))
                for i in range(self.rng.choices([1, 2], [9, 1])[0])]
        head = []
        if self.chance(0.15):
            head.append("# netdsl: allow W0401, W0404")
        if self.chance(0.2):
            head.append("let WIDTH = 16")
        return "\n".join(head + list(self.blocks.values()) + nets) + "\n"


# Block templates: (writer, c, h, w) -> (use text, shape after). Each defines what it uses.
def _t_res(wr, c, h, w):
    wr.define("Res", RES)
    co = wr.pick([c, 8, 16])
    s = wr.pick([1, 1, 2])
    return (f"Res({co}, stride={s})" if s != 1 or wr.chance(0.5) else f"Res({co})"), \
        (co, (h - 1) // s + 1, (w - 1) // s + 1)


def _t_empty(wr, c, h, w):
    name = wr.pick(["Empty", "Nothing", "Maybe", "OnlyLet"])
    wr.define(name, {"Empty": "block Empty {\n}", "Nothing": "block Nothing(n: int = 0) {\n    repeat n { relu }\n}",
                     "Maybe": "block Maybe(flag: bool = false) {\n    if flag { relu }\n}",
                     "OnlyLet": "block OnlyLet {\n    let a = 3\n    expect [_, _, _]\n}"}[name])
    use = {"Empty": "Empty", "Nothing": wr.pick(["Nothing", "Nothing(0)", "Nothing(n=2)"]),
           "Maybe": wr.pick(["Maybe", "Maybe(true)", "Maybe(flag=false)"]), "OnlyLet": "OnlyLet()"}[name]
    return use, (c, h, w)


def _t_grow(wr, c, h, w):
    wr.define("Grow", "block Grow(g: int) : [cin, h, w] -> [cin + g, h, w] {\n"
                      "    concat {\n        identity\n        conv2d(g, 3, padding=1)\n    }\n}")
    g = wr.pick([1, 4, 8])
    return f"Grow({g})", (c + g, h, w)


def _t_down(wr, c, h, w):
    wr.define("Down", "block Down(c: int) : [_, h, w] -> [c, (h + 1) // 2, (w + 1) // 2] {\n"
                      "    conv2d(c, 3, stride=2, padding=1) -> batchnorm2d -> relu\n}")
    co = wr.pick([4, 8, c])
    return f"Down({co})", (co, (h + 1) // 2, (w + 1) // 2)


def _t_act(wr, c, h, w):
    wr.define("Act", 'block Act(kind: str = "relu") {\n    if kind == "relu" {\n        relu\n    }'
                     ' else if kind == "gelu" {\n        gelu\n    } else {\n        identity\n    }\n}')
    return wr.pick(["Act", 'Act("gelu")', "Act(kind='none')", "Act()"]), (c, h, w)


def _t_nest(wr, c, h, w):
    for t in (_t_res, _t_empty, _t_act):
        t(wr, c, h, w)
    wr.define("Empty", "block Empty {\n}")
    wr.define("Nest", "block Nest(c: int) {\n    Res(c) -> Empty -> Act\n    inner: Res(c)\n}")
    co = wr.pick([c, 8])
    return f"Nest({co})", (co, h, w)


def _t_seqs(wr, c, h, w):
    wr.define("Seqs", "block Seqs(c: int) {\n    a: [\n        b: [conv2d(c, 1)]\n        [[relu]]\n"
                      "        cc: []\n        d: [e: [f: [identity]]]\n    ]\n}")
    co = wr.pick([1, 8, c])
    return f"Seqs({co})", (co, h, w)


def _t_dead(wr, c, h, w):
    wr.define("Dead", "block Dead(c: int) {\n    x: conv2d(c, 1)\n    conv2d(c, 3, padding=1) -> relu\n    @x\n}")
    co = wr.pick([2, c])
    return f"Dead({co})", (co, h, w)


def _t_chan(wr, c, h, w):
    wr.define("Chan", "block Chan {\n    if in.channels > 8 {\n        conv2d(in.channels // 2, 1)\n    } else {\n"
                      "        conv2d(in.channels * 2, 1)\n    }\n}")
    return "Chan", (c // 2 if c > 8 else c * 2, h, w)


def _t_loop(wr, c, h, w):
    wr.define("Loop", 'block Loop(n: int, c: int) {\n    repeat n as i { "l{i}": conv2d(c, 3, padding=1) }\n}')
    n = wr.pick([0, 1, 3])
    co = wr.pick([4, c])
    return f"Loop({n}, {co})", ((co if n else c), h, w)


def _t_skip(wr, c, h, w):
    wr.define("Skip", "block Skip(c: int) {\n    first: conv2d(c, 1)\n    relu -> conv2d(c, 3, padding=1)\n"
                      "    add {\n        identity\n        @first\n    }\n}")
    co = wr.pick([4, c])
    return f"Skip({co})", (co, h, w)


def _t_pyramid(wr, c, h, w):
    wr.define("Pyramid", "block Pyramid(levels: list) {\n    for (k, c) in levels {\n"
                         "        conv2d(c, k, padding=k // 2)\n    }\n}")
    levels = [(wr.pick([1, 3]), wr.pick([2, 4])) for _ in range(wr.rng.randint(0, 3))]
    co = levels[-1][1] if levels else c
    return f"Pyramid([{', '.join(f'({k}, {x})' for k, x in levels)}])", (co, h, w)


def _t_expect(wr, c, h, w):
    wr.define("Checked", "block Checked(c: int) : [_, h, w] -> [c, h, w] {\n    conv2d(c, 1)\n"
                         "    expect [c, in.h, in.w]\n    conv2d(c, 2, stride=2)  # netdsl: allow W0401\n"
                         "    upsample(size=(in.h, in.w))\n}")
    co = wr.pick([3, c])
    return f"Checked({co})", (co, h, w)


def _t_dense(wr, c, h, w):
    _t_grow(wr, c, h, w)
    wr.define("Dense", 'block Dense(n: int, g: int) {\n    for i in range(n) { "layer{i + 1}": Grow(g) }\n}')
    n, g = wr.pick([0, 1, 2]), wr.pick([2, 4])
    return f"Dense({n}, g={g})", (c + n * g, h, w)


def _t_named_merge(wr, c, h, w):
    wr.define("Branchy", "block Branchy(c: int = 4) {\n    m: add {\n        p: [conv2d(c, 1)]\n        q: [conv2d(c, 1)]\n"
                         "    }\n    concat {\n        @m\n        identity\n    }\n}")
    co = wr.pick([4, 2])
    return (f"Branchy({co})" if co != 4 else "Branchy"), (2 * co, h, w)


BLOCK_TEMPLATES = [_t_res, _t_empty, _t_grow, _t_down, _t_act, _t_nest, _t_seqs, _t_dead, _t_chan, _t_loop, _t_skip,
                   _t_pyramid, _t_expect, _t_dense, _t_named_merge]

RES = """block Res(channels: int, stride: int = 1) {
    add {
        [
            conv1: conv2d(channels, 3, stride=stride, padding=1, bias=false)
            bn1: batchnorm2d -> relu
            conv2: conv2d(channels, 3, padding=1, bias=false)
            bn2: batchnorm2d
        ]
        if stride != 1 or in.channels != channels {
            downsample: [conv2d(channels, 1, stride=stride, bias=false) -> batchnorm2d]
        }
    }
    relu
}"""


def gen_structured(rng: random.Random) -> str:
    return Writer(rng).spec()


# ---- every layer kind, random valid and invalid arguments, every input rank ----------
def _value_for(ptype_desc: str, rng: random.Random, good: bool, shape) -> str:
    ints_good = ["1", "2", "3", "4"]
    ints_bad = ["0", "-1", "-2", "999999999999999999", "2 ** 40", "2 ** 62", "-2 ** 62"]
    d = ptype_desc
    if d.startswith("a shape"):
        return rng.choice(["[in.c, 1, 1]", "[4]", "[2, 3]", "[1, 1, 1]", "in"] if good else
                          ["[0]", "[]", "[1, 2, 3, 4, 5]", "3", "[-1, 2]", "[2 ** 40, 2 ** 40]", "'x'"])
    if "reference" in d and rng.random() < 0.4:
        return "@first"
    if d.startswith("an integer or 4"):
        return rng.choice(["1", "(1, 0, 2, 0)", "0"] if good else ["-1", "(1, 2)", "(1, 2, 3, 4, 5)", "2 ** 62"])
    if "pair" in d or "integers" in d:
        base = rng.choice(ints_good if good else ints_bad + ints_good)
        if "'same'" in d and rng.random() < 0.3:
            return rng.choice(["'same'", "'valid'"] if good else ["'full'", "''"])
        if "none" in d and rng.random() < 0.2:
            return rng.choice(["none", f"({base}, none)", f"(none, {base})"])
        if rng.random() < 0.3:
            return f"({base}, {rng.choice(ints_good if good else ints_bad)})"
        if not good and rng.random() < 0.2:
            return rng.choice(["(1, 2, 3)", "(1,)", "()", "(1.5, 2)", "'x'"])
        return base
    if d.startswith("an integer"):
        if "none" in d and rng.random() < 0.3:
            return "none"
        if shape is not None and rng.random() < 0.3:
            return rng.choice([str(len(shape) - 1), str(-len(shape)), "-1", "0"] if good else
                              [str(len(shape)), str(-len(shape) - 1), "99"])
        return rng.choice(ints_good if good else ints_bad)
    if d.startswith("a number"):
        if "none" in d and rng.random() < 0.3:
            return "none"
        return rng.choice(["0.5", "1e-5", "0.0", "1", "2.0", "0.1"] if good else
                          ["-0.5", "1.5", "1e300", "-1e300", "true", "'x'", "1e-320"])
    if d.startswith("`true`"):
        return rng.choice(["true", "false"] if good else ["1", "0", "none", "'true'"])
    if d.startswith("one of"):
        opts = re.findall(r"'([^']*)'", d)
        return repr(rng.choice(opts)) if good else rng.choice(["'Nearest'", "''", "1", "none", "'x' * 3"])
    return rng.choice(["1", "none", "(1, 2)"])


def gen_layer(rng: random.Random, kind: str | None = None) -> str:
    """One layer kind with random arguments, at input rank 1, 2 or 3, in a random context."""
    kind = kind or rng.choice(sorted(LAYERS))
    spec = LAYERS[kind]
    rank = rng.choice([1, 2, 3, 3, 3])
    shape = {1: (rng.choice([1, 4, 7, 64]),), 2: (rng.choice([1, 3]), rng.choice([4, 9])),
             3: (rng.choice([1, 3, 4, 6, 8]), rng.choice([1, 2, 3, 7, 8, 31, 32]), rng.choice([1, 4, 8, 9, 32]))}[rank]
    good = rng.random() < 0.75
    args = []
    positional = True
    for p in spec.params:
        if not p.required and rng.random() < 0.55:
            positional = False
            continue
        v = _value_for(p.type.describe, rng, good or rng.random() < 0.7, shape)
        if positional and rng.random() < 0.6:
            args.append(v)
        else:
            positional = False
            args.append(f"{rng.choice((p.name,) + tuple(p.aliases))}={v}")
    if spec.inputs == "many":
        branches = rng.sample(["identity", "relu", "[]", "@first", "if false { relu }", "conv2d(2, 1)",
                               "linear(3)", "[relu -> identity]"], rng.randint(1, 3))
        call = f"{kind}({', '.join(args)})" if args else kind
        item = call + " {\n        " + "\n        ".join(branches) + "\n    }"
    else:
        names = [kind] + [a for a, t in ALIAS_OF.items() if t == kind]
        item = f"{rng.choice(names)}({', '.join(args)})" if args or rng.random() < 0.5 else rng.choice(names)
    pre = rng.choice(["", "first: identity\n    ", "first: relu\n    ", "relu\n    "])
    if "@first" in item and "first:" not in pre:
        pre = "first: identity\n    "
    ctx = rng.choice(["plain", "plain", "named", "tail", "merge", "block", "repeat"])
    if ctx == "named":
        item = f"the_{kind}: {item}"
    elif ctx == "tail":
        item = f"{item}\n    flatten -> linear(2)"
    elif ctx == "merge" and spec.inputs == "one":
        item = f"add {{\n        {item}\n        identity\n    }}"
    elif ctx == "repeat":
        item = f"repeat 2 {{ {item} }}" if "\n" not in item else item
    dims = ", ".join(map(str, shape))
    body = f"    input [{dims}]\n    {pre}{item}\n"
    if ctx == "block":
        return f"block Wrap {{\n    {pre}{item}\n}}\n\nnetwork LayerCase {{\n    input [{dims}]\n    Wrap -> Wrap\n}}\n"
    return f"network LayerCase {{\n{body}}}\n"


# ---- the newer constructs: when, named merges, sequential blocks, add_module names,
# tensor parameters, @in, return(...), functions, mul, parameter -----------------------
def _frag_when(rng, c, h, w):
    flag = rng.choice(["true", "false", f"in.c == {c}", f"in.c != {c}", "len(in) == 3"])
    out = rng.choice([4, c])
    return [], [f"conv2d({out}, 1) when {flag}"], None if flag not in ("true", "false") else \
        ((out, h, w) if flag == "true" else (c, h, w))


def _frag_inverted(rng, c, h, w):
    blk = ("block InvRes(out: int, stride: int, expand: int) {\n    add {\n"
           "        identity when stride == 1 and in.c == out\n        conv: [\n"
           "            conv2d(in.c * expand, 1, bias=false) -> batchnorm2d -> relu6\n"
           "            conv2d(in.c * expand, 3, stride=stride, padding=1, groups=in.c * expand, bias=false)\n"
           "            batchnorm2d -> relu6\n            conv2d(out, 1, bias=false) -> batchnorm2d\n        ]\n    }\n}")
    out, st, ex = rng.choice([c, 8]), rng.choice([1, 1, 2]), rng.choice([1, 2, 6])
    return [blk], [f"InvRes({out}, {st}, {ex})"], (out, (h - 1) // st + 1, (w - 1) // st + 1)


def _frag_named_merge(rng, c, h, w):
    kind = rng.choice(["concat", "add", "mul"])
    name = rng.choice(["convs", "branches", "m", '"aspp-1"'])
    if kind == "concat":
        br = rng.sample(["conv2d(4, 1)", "[conv2d(4, 1) -> relu]", "identity", "[]", "relu",
                         "[conv2d(2, 3, padding=1) -> batchnorm2d -> relu]", "identity when false",
                         "conv2d(4, 1) when true"], rng.randint(1, 4))
        ch = sum({"conv2d(4, 1)": 4, "[conv2d(4, 1) -> relu]": 4, "identity": c, "[]": c, "relu": c,
                  "[conv2d(2, 3, padding=1) -> batchnorm2d -> relu]": 2, "identity when false": 0,
                  "conv2d(4, 1) when true": 4}[b] for b in br)
        out = (ch, h, w) if ch else None
    else:
        br = rng.sample(["identity", f"conv2d({c}, 1)", f"[conv2d({c}, 3, padding=1) -> relu]", "relu", "[]",
                         f"conv2d({c}, 1) when false", "sigmoid"], rng.randint(1, 4))
        out = (c, h, w) if any("when" not in b for b in br) else None
    return [], [f"{name}: {kind} {{"] + ["    " + b for b in br] + ["}"], out


def _frag_seqblock(rng, c, h, w):
    body = rng.choice([
        ("conv2d(c, k, stride=stride, padding=(k - 1) // 2, bias=false)\n    batchnorm2d\n    relu6 when act", True),
        ("conv2d(c, 1)\n    add {\n        identity\n        [conv2d(c, 3, padding=1) -> relu]\n    }", False),
        ("first: conv2d(c, 1)\n    relu\n    @first", False),
        ("", False),
        ("conv2d(c, 1)\n    Inner(c)", False),
    ])
    blocks = [f"sequential block CNA(c: int, k: int = 3, stride: int = 1, act: bool = true) {{\n    {body[0]}\n}}"]
    if "Inner" in body[0]:
        blocks.insert(0, "sequential block Inner(c: int) {\n    conv2d(c, 3, padding=1)\n    relu\n}")
    co = rng.choice([4, c])
    if body[0] == "":
        co = c
    stride = rng.choice([1, 2]) if body[1] else 1
    use = f"CNA({co}" + (f", stride={stride}" if stride != 1 else "") + (", act=false" if rng.random() < 0.3 else "") + ")"
    out = (co, (h - 1) // stride + 1, (w - 1) // stride + 1) if body[1] else (co, h, w)
    if rng.random() < 0.5:
        return blocks, [f"features: [\n    {use}\n    {use.replace(str(co), str(co), 1)}\n]"], out
    return blocks, [use], out


def _frag_names(rng, c, h, w):
    n = rng.choice([0, 1, 3])
    tmpl = rng.choice(['"block1-{i}"', '"{i}"', '"layer-{i}-x"', '"b{i}"', '"0{i}"', '"x-{i}"'])
    return [], [f"stage: [\n    for i in range({n}) {{ {tmpl}: [conv2d({c}, 1) -> relu] }}\n]",
                f'"{rng.choice(["a-b", "a b", "1", "-", "9lives", "ok"])}": relu'], (c, h, w)


def _frag_tensor_param(rng, c, h, w):
    kind = rng.randrange(4)
    if kind == 0:
        blk = ("block Up(c: int, skip: tensor) {\n    conv2d(c, 1)\n    concat {\n        identity\n"
               "        @skip -> conv2d(c, 1)\n    }\n    conv2d(c, 3, padding=1) -> relu\n}")
        return [blk], ["e1: relu", f"conv2d({c}, 1)", "Up(4, @e1)"], (4, h, w)
    if kind == 1:        # a tensor parameter the block never reads
        blk = "block Ignore(skip: tensor) {\n    relu\n}"
        return [blk], ["e2: identity", "conv2d(3, 1)", "Ignore(@e2)"], (3, h, w)
    if kind == 2:        # two tensor parameters, passed on to an inner block
        blk = ("block Two(a: tensor, b: tensor) {\n    add {\n        @a\n        @b\n        identity\n    }\n}\n"
               "block Outer(s: tensor) {\n    Two(@s, @in)\n}")
        return [blk], ["e3: relu", "Outer(@e3)"], (c, h, w)
    blk = "block Shape(skip: tensor) {\n    conv2d(@skip.c + 1, 1)\n}"
    return [blk], ["e4: identity", "Shape(@e4)"], (c + 1, h, w)


def _frag_in(rng, c, h, w):
    return [], rng.choice([[f"conv2d({c}, 3, padding=1) -> relu", "add {\n    identity\n    @in\n}"],
                           ["conv2d(4, 1)", "@in"],
                           ["@in -> relu"],
                           [f"mul {{\n    @in\n    [global_avgpool -> conv2d({c}, 1) -> sigmoid]\n}}"]]), (c, h, w)


def _frag_se(rng, c, h, w):
    blk = ("block SE(squeeze: int) {\n    mul {\n        identity\n        scale: [\n            global_avgpool\n"
           "            fc1: conv2d(squeeze, 1) -> relu\n            fc2: conv2d(in.c, 1) -> sigmoid\n        ]\n    }\n}")
    return [blk], [f"SE({rng.choice([1, 2, max(1, c // 2)])})"], (c, h, w)


def _frag_param(rng, c, h, w):
    kind = rng.randrange(4)
    if kind == 0:
        blk = ("block LayerScaled {\n    add {\n        identity\n        mul {\n"
               "            layer_scale: parameter([in.c, 1, 1], init=1e-6)\n"
               '            "block": [conv2d(in.c, 3, padding=1, groups=in.c) -> gelu]\n        }\n    }\n}')
        return [blk], ["LayerScaled"], (c, h, w)
    if kind == 1:
        return [], [f"add {{\n    identity\n    bias: parameter([{c}, {h}, {w}])\n}}"], (c, h, w)
    if kind == 2:
        return [], ["mul {\n    identity\n    parameter([1, 1, 1], init=2.0)\n}"], (c, h, w)
    return [], [f"tok: parameter([{c}, 1, {w}])", "@in"], (c, h, w)


def _frag_functions(rng, c, h, w):
    fn = rng.choice(["let f(v, d) = max(d, int(v + d / 2) // d * d)", "let f(v, d) = v * d",
                     "let g(v) = v + 1\nlet f(v, d) = g(v) * d", "let f(v, d) = f(v, d)"])
    return [fn], [f"conv2d(f({c}, 2), 1)"], None


FRAGMENTS = [_frag_when, _frag_inverted, _frag_named_merge, _frag_seqblock, _frag_names, _frag_tensor_param,
             _frag_in, _frag_se, _frag_param, _frag_functions]


def gen_modern(rng: random.Random) -> str:
    """A network built from the newer constructs, mixed with structured items."""
    c, h, w = rng.choice([3, 4, 8, 16]), rng.choice([4, 8, 9, 16]), rng.choice([4, 8, 16])
    shape = (c, h, w)
    defs: dict[str, None] = {}
    lines = []
    wr = Writer(rng, bad=0.02)
    named = []
    for _ in range(rng.randint(1, 4)):
        if shape is None or len(shape) != 3:
            break
        if rng.random() < 0.3:
            more, shape = wr.items(shape, 1, {}, allow_names=False)
            lines += more
            continue
        blocks, body, out = rng.choice(FRAGMENTS)(rng, *shape)
        for b in blocks:
            defs.setdefault(b, None)
        lines += body
        shape = out
        if rng.random() < 0.3:
            name = f"r{len(named)}"
            named.append(name)
            lines.append(f"{name}: identity")
    if named and rng.random() < 0.6:
        if rng.random() < 0.5:
            lines.append(f"return({', '.join('@' + n for n in named)})")
        else:
            lines.append(f"return({', '.join(f'{n}_out=@{n}' for n in named)})")
    body = "\n".join("    " + ln for ln in "\n".join(lines).split("\n"))
    text = "\n".join([*defs, *wr.blocks.values()])
    return f"{text}\nnetwork Modern {{\n    input [{c}, {h}, {w}]\n{body}\n}}\n"


def _aliases():
    from netdsl.catalogue import ALIASES
    return dict(ALIASES)


ALIAS_OF = _aliases()


# ---- hostile values and names ----------------------------------------------------------------
PY_NAMES = ["torch", "nn", "F", "math", "self", "x", "input", "super", "Module", "Sequential", "Tensor", "forward",
            "None", "True", "class", "def", "lambda", "print", "__init__", "_helper", "init", "Net", "Identity",
            "Conv2d", "Flatten", "CenterCrop", "typing", "List", "int", "len", "range", "match", "case", "type",
            "ñame", "Δ", "a" * 200, "module", "modules", "state_dict", "training", "add", "concat", "relu", "cat",
            "Add", "Concat", "ModuleList", "ModuleDict", "helpers", "netdsl", "os", "sys", "exec", "eval",
            "__builtins__", "builtins", "functional", "_", "l", "O", "I", "x0", "out", "y", "inp", "t", "h"]


def gen_hostile(rng: random.Random) -> str:
    kind = rng.randrange(14)
    name = rng.choice(PY_NAMES)
    if kind == 0:        # names that collide with what generated Python uses
        other = rng.choice(PY_NAMES)
        return (f"block {name} {{\n    conv2d(4, 1) -> relu\n}}\n\nnetwork {other} {{\n    input [3, 8, 8]\n"
                f"    {name} -> {rng.choice(PY_NAMES)}: conv2d(2, 1)\n    {rng.choice(PY_NAMES)}: [relu]\n}}\n")
    if kind == 1:        # computed names from hostile strings
        s = rng.choice(["a" * rng.choice([10, 1000, 100000]), "x y", "1a", "a-b", "ñ", "class", "_x", "a.b", "",
                        "{", "}", "\\", "'", '"', "\u200b", "None", "x" * 64, "forward", "a\tb"])
        q = '"' if '"' not in s else "'"
        return (f"let s = {q}{s}{q}\nnetwork N {{\n    input [3, 8, 8]\n    \"p{{s}}\": conv2d(4, 1)\n"
                f"    for i in range(2) {{ \"{{s}}_{{i}}\": relu }}\n}}\n")
    if kind == 2:        # deep nesting of sequences, within max_nesting
        d = rng.choice([10, 40, 90, 99, 101])
        named = rng.random() < 0.5
        open_ = "".join((f"s{i}: [" if named else "[") for i in range(d))
        return f"network Deep {{\n    input [3, 8, 8]\n    {open_}relu{']' * d}\n}}\n"
    if kind == 3:        # deep block chains, around max_block_depth
        d = rng.choice([10, 50, 63, 64, 65])
        blocks = [f"block B{i} {{ B{i + 1} }}" for i in range(d)] + [f"block B{d} {{ relu }}"]
        return "\n".join(blocks) + "\nnetwork Chain {\n    input [3, 8, 8]\n    B0\n}\n"
    if kind == 4:        # huge integers
        v = rng.choice(["2 ** 40", "2 ** 42", "2 ** 43", "999999999999999999", "2 ** 62", "10 ** 9", "2 ** 31",
                        "2 ** 20", "65536"])
        where = rng.randrange(5)
        if where == 0:
            return f"network Big {{\n    input [1, {v}, 1]\n    relu -> maxpool2d((2, 1))\n}}\n"
        if where == 1:
            return f"network Big {{\n    input [{v}]\n    linear({rng.choice(['1', v])})\n}}\n"
        if where == 2:
            return f"network Big {{\n    input [3, 4, 4]\n    conv2d({v}, 1)\n    batchnorm2d\n}}\n"
        if where == 3:
            return f"network Big {{\n    input [3, 8, 8]\n    upsample(scale={v})\n}}\n"
        return f"network Big {{\n    input [2, 8, 8]\n    flatten -> linear({v}) -> linear({v})\n}}\n"
    if kind == 5:        # long strings in arguments
        s = "z" * rng.choice([100, 10000, 200000])
        return f"network S {{\n    input [3, 8, 8]\n    upsample(scale=2, mode='{s}')\n    gelu(approximate=\"{s}\")\n}}\n"
    if kind == 6:        # very long names
        n = "n" + "a" * rng.choice([100, 5000, 100000])
        return f"block {n.upper()} {{ relu }}\nnetwork {n} {{\n    input [3, 8, 8]\n    {n}: conv2d(2, 1)\n" \
               f"    {n}_s: [{n.upper()}]\n}}\n"
    if kind == 7:        # many layers, under the fuzz cap
        n = rng.choice([500, 1500, 1999, 2000, 2001])
        return f"network Many {{\n    input [2, 4, 4]\n    s: [repeat {n} {{ {rng.choice(['relu', 'conv2d(2, 1)'])} }}]\n}}\n"
    if kind == 8:        # many networks in one file
        n = rng.choice([2, 20, 200])
        return "\n".join(f"network N{i} {{\n    input [{i + 1}]\n    linear(1)\n}}" for i in range(n)) + "\n"
    if kind == 9:        # floats at the edges
        v = rng.choice(["1e308", "5e-324", "1e-300", "0.0", "1.0", "1e-45", "3.4e38", "1e39", "0.9999999999999999"])
        return (f"network Fl {{\n    input [4, 8, 8]\n    batchnorm2d(eps={v}, momentum={v})\n    leaky_relu({v})\n"
                f"    dropout({rng.choice(['0.0', '1.0', v])})\n    upsample(scale={v})\n}}\n")
    if kind == 10:       # deep expressions
        d = rng.choice([20, 60, 150])
        e = "(" * d + "1" + ")" * d
        return f"network E {{\n    input [3, 8, 8]\n    conv2d({e} + {' + '.join(['1'] * d)}, 1)\n}}\n"
    if kind == 11:       # many diagnostics
        n = rng.choice([50, 500])
        return "network D {\n    input [3, 8, 8]\n" + "".join(f"    conv2d(-1, {i})\n" for i in range(n)) + "}\n"
    if kind == 12:       # strings for DOT and Markdown: quotes, braces, HTML
        s = rng.choice(['<b>x</b>', 'a"b', "a'b", "a\\\\b", "{x}", "a|b", "a&b", "\\n", "%s", "${x}", "[x]", "*x*"])
        q = '"' if '"' not in s else "'"
        return (f"network H(tag = {q}{s}{q}) {{\n    input [3, 8, 8]\n    conv2d(4, 1)\n    expect [4, _, _]\n"
                f"    upsample(scale=2, mode=tag)\n}}\n")
    # wide merges and concats
    n = rng.choice([10, 100, 300])
    return "network W {\n    input [3, 8, 8]\n    concat {\n" + "".join("        identity\n" for _ in range(n)) + \
        "    }\n    add {\n" + "".join("        relu\n" for _ in range(n)) + "    }\n}\n"


def gen_hypothesis_batches(rng: random.Random, batch: int = 100):
    """Specs from tests/test_fuzz.py's Hypothesis strategy, drawn in batches (about 0.1 s a spec)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed
    out: list = []

    while True:
        out.clear()

        @hseed(rng.getrandbits(32))
        @settings(max_examples=10 ** 9, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(fz.specs())
        def collect(spec):
            out.append(spec)
            if len(out) >= batch:
                raise StopIteration

        try:
            collect()
        except BaseException as e:  # noqa: BLE001 - our StopIteration ends a batch (Hypothesis may wrap it)
            if isinstance(e, (KeyboardInterrupt, Slow)):
                raise
        yield from list(out)


GEN_POOL: list[str] = []


def gen_pool() -> list[str]:
    if not GEN_POOL:
        rng = random.Random(0)
        texts = [gen_structured(rng) for _ in range(30)] + [gen_modern(rng) for _ in range(30)] + \
            [gen_layer(rng, k) for k in sorted(LAYERS)]
        GEN_POOL.extend(sorted({t for x in texts for t in fz.tokens(x) if not t.isspace()}))
        GEN_POOL.extend(fz.POOL)
    return GEN_POOL


class Cases:
    """An endless, seeded stream of (generator name, text or bytes)."""
    WEIGHTS = {"structured": 26, "modern": 16, "layer": 17, "hostile": 6, "hypothesis": 8, "mutate-zoo": 9,
               "mutate-gen": 15, "bytes": 3}

    def __init__(self, seed: int, gens: list[str] | None = None, hyp_batch: int = 100):
        self.rng = random.Random(seed)
        self.gens = gens or list(self.WEIGHTS)
        self.hyp = None
        self.hyp_batch = hyp_batch

    def __iter__(self):
        return self

    def __next__(self):
        rng = self.rng
        g = rng.choices(self.gens, [self.WEIGHTS[x] for x in self.gens])[0]
        if g == "structured":
            return g, gen_structured(rng)
        if g == "layer":
            return g, gen_layer(rng)
        if g == "modern":
            return g, gen_modern(rng)
        if g == "hostile":
            return g, gen_hostile(rng)
        if g == "hypothesis":
            if self.hyp is None:
                self.hyp = gen_hypothesis_batches(random.Random(rng.getrandbits(32)), self.hyp_batch)
            return g, next(self.hyp)
        if g == "mutate-zoo":
            return g, fz.mutate(fz.ZOO_TEXTS[rng.choice(sorted(fz.ZOO_TEXTS))], rng, fz.POOL)
        roll = rng.random()
        base = gen_structured(rng) if roll < 0.5 else gen_modern(rng) if roll < 0.8 else gen_layer(rng)
        if g == "mutate-gen":
            return g, fz.mutate(base, rng, gen_pool())
        return g, fz.mutate_bytes(fz.mutate(base, rng, gen_pool()).encode("utf-8", "surrogatepass"), rng)


# =============================================================================
# The oracle: run a case through the stages.
# =============================================================================

class Slow(BaseException):
    """Raised by the alarm: a stage ran longer than the slow limit. A BaseException so
    that neither netdsl nor CliRunner catch it."""


def _on_alarm(signum, frame):
    raise Slow()


class Failure:
    __slots__ = ("stage", "exc", "frame", "step", "message", "trace")

    def __init__(self, stage, exc, frame, step, message, trace=""):
        self.stage, self.exc, self.frame, self.step, self.message, self.trace = stage, exc, frame, step, message, trace

    @property
    def key(self) -> tuple:
        return (self.stage, self.exc, self.frame)

    def __repr__(self):
        return f"Failure({self.stage}, {self.exc}, {self.frame}, {self.step!r}: {self.message[:120]!r})"


def innermost(tb) -> str:
    """file:function of the innermost netdsl frame of a traceback; else of generated code; else of the last frame."""
    frames = traceback.extract_tb(tb)
    for want in (lambda f: f.filename.startswith(NETDSL_DIR), lambda f: f.filename.startswith("<netdsl-generated"),
                 lambda f: "site-packages" in f.filename or "dist-packages" in f.filename):
        hits = [f for f in frames if want(f)]
        if hits:
            f = hits[-1]
            name = f.filename[len(NETDSL_DIR):] if f.filename.startswith(NETDSL_DIR) else \
                "generated" if f.filename.startswith("<netdsl-generated") else \
                re.sub(r".*(site|dist)-packages/", "", f.filename)
            return f"{name}:{f.name}"
    return f"{os.path.basename(frames[-1].filename)}:{frames[-1].name}" if frames else "-"


def outer_backend(tb) -> str:
    """For a stage stopped by the alarm: the outermost netdsl frame below the CLI (the backend
    that was running), not wherever the alarm happened to land."""
    frames = [f for f in traceback.extract_tb(tb) if f.filename.startswith(NETDSL_DIR)]
    frames = [f for f in frames if not f.filename.endswith(("cli.py", "api.py"))] or frames
    if not frames:
        return "-"
    f = frames[0]
    return f"{f.filename[len(NETDSL_DIR):]}:{f.name}"


def _exc_failure(stage, step, e, tb=None) -> Failure:
    tb = tb if tb is not None else e.__traceback__
    msg = f"{type(e).__name__}: {e}"
    return Failure(stage, type(e).__name__, innermost(tb), step, msg.splitlines()[0][:300] if msg else "",
                   "".join(traceback.format_exception(type(e), e, tb, limit=-8))[-4000:])


class Ctx:
    """One case: its file, the API's check result, what the stages found."""

    def __init__(self, data, workdir: Path, slow: float, max_rss_mb: int, thorough: bool = False):
        self.data = data
        raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
        self.crc = zlib.crc32(raw)
        # thorough: every convention x format through the CLI too (1 case in 8, and always
        # when minimising or replaying); otherwise each value once
        self.thorough = thorough or self.crc % 8 == 0
        self.binary = isinstance(data, bytes)
        self.text = data.decode("utf-8", "replace") if self.binary else data
        self.path = workdir / "case.net"
        self.path.write_bytes(data if self.binary else data.encode("utf-8", "surrogatepass"))
        self.workdir = workdir
        self.slow = slow
        self.max_rss_kb = max_rss_mb * 1024
        self.failures: list[Failure] = []
        self.result = None
        self.runner = CliRunner()
        self.stage_time: Counter = Counter()
        self.built = False
        self.slow_flags = 0

    def ok_for(self, network: str | None):
        """Whether check passes for the file (network None) or for one network alone; None if check fails."""
        if network is None or self.result is None:
            return self.result.ok if self.result is not None else None
        try:
            return netdsl.check(str(self.path), network=network).ok
        except Exception:       # noqa: BLE001 - stage_check reports it
            return None

    def fail(self, stage, exc, frame, step, message, trace=""):
        self.failures.append(Failure(stage, exc, frame, step, message, trace))

    @contextlib.contextmanager
    def guard(self, stage: str, step: str, allowed: tuple = ()):
        """Run an API step: allowed exceptions pass, anything else (and any print) is a failure;
        so is a step slower than the slow limit (the innermost such step only)."""
        out = io.StringIO()
        slow_before = self.slow_flags
        t0 = time.perf_counter()
        try:
            with contextlib.redirect_stdout(out):
                yield
        except allowed:
            pass
        except Slow:
            raise
        except KeyboardInterrupt:
            raise
        except BaseException as e:      # noqa: BLE001 - RecursionError, MemoryError, SystemExit, ...
            self.failures.append(_exc_failure(stage, step, e))
        self._check_time(stage, "api:" + step.split("(")[0], step, time.perf_counter() - t0, slow_before)
        if out.getvalue() and stage != "build":
            self.fail(stage, "PrintsToStdout", "-", step, f"the API printed {out.getvalue()[:200]!r}")

    def cli(self, stage: str, args: list, allowed_exits=(0, 1, 2), json_out=False):
        """Run the CLI in-process and hold it to the oracle. Returns the click Result or None."""
        step = "netdsl " + " ".join(a if a != str(self.path) else "FILE" for a in args)
        slow_before = self.slow_flags
        t0 = time.perf_counter()
        res = self.runner.invoke(cli, args, catch_exceptions=True)
        self._check_time(stage, f"cli:{args[0]}", step, time.perf_counter() - t0, slow_before)
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            e = res.exception
            self.failures.append(_exc_failure(stage, step, e, res.exc_info[2] if res.exc_info else None))
            return None
        if res.exit_code not in allowed_exits:
            self.fail(stage, f"Exit{res.exit_code}", "-", step, (res.stderr or res.output)[-300:])
        if "Traceback (most recent call last)" in res.output and "_on_alarm" not in res.output:
            # (an alarm landing in a __del__ or a gc callback prints "Exception ignored": ours, not netdsl's)
            self.fail(stage, "TracebackInOutput", "-", step, res.output[-300:])
        if "internal error" in (res.stderr or ""):
            self.fail(stage, "InternalErrorMessage", "-", step, res.stderr[-300:])
        if json_out:
            out = res.stdout
            if out.strip() or res.exit_code == 0:
                try:
                    json.loads(out, parse_constant=_no_constant)
                except ValueError as e:
                    self.fail(stage, "InvalidJSON", "-", step,
                              f"exit {res.exit_code}: {str(e)[:120]}; stdout begins {out[:160]!r}")
        return res

    def _check_time(self, stage, frame, step, seconds, slow_before):
        if seconds > self.slow and self.slow_flags == slow_before:
            self.slow_flags += 1
            self.fail(stage, "Slow", frame, step, f"one call took {seconds:.1f} s (limit {self.slow:g} s)")

    def timed(self, stage: str, fn):
        """Run a stage under the hang alarm (each call is timed on its own against the slow
        limit, see guard and cli) and the memory check."""
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        hang = max(30.0, 6 * self.slow)
        signal.setitimer(signal.ITIMER_REAL, hang)
        try:
            fn()
        except Slow as e:
            self.failures.append(Failure(stage, "Hang", outer_backend(e.__traceback__), stage,
                                         f"the stage did not finish within {hang:g} s",
                                         "".join(traceback.format_tb(e.__traceback__, limit=-8))))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self.stage_time[stage] += time.perf_counter() - t0
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if rss1 > self.max_rss_kb and rss1 > rss0:
            self.fail(stage, "MemoryHigh", "-", stage, f"peak RSS grew from {rss0 // 1024} MB to {rss1 // 1024} MB")


def clear_click_caches() -> None:
    """click 8.4's CliRunner leaks every captured stream: click._compat caches text streams in a
    WeakKeyDictionary whose value is the key itself, so no entry ever dies (about 70 KB per
    `summary` invocation). Not netdsl's doing; cleared here so RSS measures netdsl."""
    from weakref import WeakKeyDictionary

    import click._compat as cc
    for name in ("_default_text_stdin", "_default_text_stdout", "_default_text_stderr"):
        fn = getattr(cc, name, None)
        for cell in getattr(fn, "__closure__", None) or ():
            if isinstance(cell.cell_contents, WeakKeyDictionary):
                cell.cell_contents.clear()


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


# ---- the stages --------------------------------------------------------------------------------
def networks(result) -> list[str]:
    return [g.network for g in result.graphs] if result is not None else []


def stage_check(ctx: Ctx):
    # API: path and text, and test_fuzz's oracle on the result
    with ctx.guard("check", "netdsl.check(path)", (netdsl.SpecIOError,)):
        ctx.result = netdsl.check(str(ctx.path))
        fz.assert_clean_or_located(ctx.result)
    with ctx.guard("check", "netdsl.check(pathlib.Path)", (netdsl.SpecIOError,)):
        # the API takes a pathlib.Path too (api.py); its diagnostics must still serialise
        r = netdsl.check(ctx.path)
        for d in r.diagnostics:
            try:
                json.dumps(d.to_json())
            except TypeError as e:
                ctx.fail("check", "TypeError", "diagnostics:Diagnostic.to_json", "netdsl.check(pathlib.Path)",
                         f"json.dumps(Diagnostic.to_json()): {e}")
                break
    if not ctx.binary and "\n" in ctx.text:
        with ctx.guard("check", "netdsl.check(text)"):
            r2 = netdsl.check(ctx.text)
            if ctx.result is not None:
                a = [(d.code, d.message) for d in ctx.result.diagnostics]
                b = [(d.code, d.message) for d in r2.diagnostics]
                if a != b:
                    ctx.fail("check", "TextPathDisagree", "-", "netdsl.check(text)",
                             f"path gives {a[:3]}, text gives {b[:3]}")
    if ctx.result is not None and len(ctx.result.graphs) > 1:
        with ctx.guard("check", "CheckResult.graph()", (LookupError,)):
            ctx.result.graph()
            ctx.fail("check", "NoLookupError", "-", "CheckResult.graph()", "several networks, but no LookupError")
    for fmt in ("text", "short", "json"):
        res = ctx.cli("check", ["check", str(ctx.path), "--format", fmt, "--color", "never"], (0, 1, 2),
                      json_out=fmt == "json")
        if res is None or ctx.result is None:
            continue
        want = 0 if ctx.result.ok else 1
        if res.exit_code != want:
            ctx.fail("check", "ExitDisagrees", "-", f"check --format {fmt}",
                     f"exit {res.exit_code}, but the API says ok={ctx.result.ok}")
        if fmt == "json" and res.exit_code in (0, 1):
            try:
                doc = json.loads(res.stdout)
                shapes = [n["output_shape"] for n in doc["networks"]]
                api = [list(g.output_shape) if g.output_shape else None for g in ctx.result.graphs]
                if shapes != api:
                    ctx.fail("check", "JSONDisagrees", "-", "check --format json", f"{shapes} vs {api}")
            except (ValueError, KeyError, TypeError):
                pass


def _cli_net(ctx: Ctx, net: str | None) -> list:
    return ["--network", net] if net is not None and len(networks(ctx.result)) > 1 else []


def stage_summary(ctx: Ctx):
    from netdsl.backends import summary as S
    for g in ctx.result.graphs[:3] if ctx.result is not None else ():
        step = f"summary.build({g.network})"
        for conv in CONVENTIONS:
            for kw in ({}, {"explain": True}, {"depth": 1, "flops": True, "batch": 3}):
                with ctx.guard("summary", f"{step} convention={conv} {kw}"):
                    table = S.build(g, convention=conv, **kw)
                    for fmt, fn in S.FORMATS.items():
                        with ctx.guard("summary", f"{step} convention={conv} {kw} format={fmt}"):
                            fn(table)
                    with ctx.guard("summary", f"{step} convention={conv} {kw} to_json"):
                        doc = json.loads(S.to_json(table, g.diagnostics), parse_constant=_no_constant)
                        if doc["total_params"] != g.total_params:
                            ctx.fail("summary", "TotalsDisagree", "summary:to_json", step,
                                     f"{doc['total_params']} vs graph {g.total_params}")
    nets = networks(ctx.result) or [None]
    net = nets[0]
    if ctx.thorough:
        pairs = [(c, f) for c in CONVENTIONS for f in SUMMARY_FORMATS]
    else:       # every convention and every format once
        pairs = [(c, SUMMARY_FORMATS[(i + ctx.crc) % 4]) for i, c in enumerate(CONVENTIONS)]
        pairs += [(CONVENTIONS[ctx.crc % 5], f) for f in SUMMARY_FORMATS if (CONVENTIONS[ctx.crc % 5], f) not in pairs]
    for conv, fmt in pairs:
        if True:
            ctx.cli("summary", ["summary", str(ctx.path), "--convention", conv, "--format", fmt, "--color", "never",
                                *_cli_net(ctx, net)], json_out=fmt == "json")
    ctx.cli("summary", ["summary", str(ctx.path), "--explain", *_cli_net(ctx, net)])
    ctx.cli("summary", ["summary", str(ctx.path), "--depth", "1", "--format", "json", *_cli_net(ctx, net)],
            json_out=True)
    ctx.cli("summary", ["summary", str(ctx.path), "--explain", "--flops", "--format", "markdown",
                        *_cli_net(ctx, nets[-1])])


def stage_sizes(ctx: Ctx):
    from netdsl.backends import sizes as Z
    if ctx.result is not None and ctx.result.program is not None and ctx.result.program.ok:
        for net in networks(ctx.result)[:2]:
            for fixed in (None, "height"):
                step = f"sizes.scan({net}, 1, 40{', height=H' if fixed else ''})"
                s = None
                with ctx.guard("sizes", step, (Z.NoImageInput,)):
                    g = ctx.result.graph(net)
                    h = g.input_shape[1] if fixed and g.input_shape and len(g.input_shape) == 3 else None
                    if fixed and h is None:
                        continue
                    s = Z.scan(ctx.result.program, net, None, 1, 40, height=h)
                    Z.to_text(s)
                    json.dumps(Z.to_json(s), allow_nan=False)
                if s is not None:
                    _sizes_differential(ctx, net, s, step)
    nets = networks(ctx.result) or [None]
    for fmt in ("text", "json"):
        ctx.cli("sizes", ["sizes", str(ctx.path), "--max", "40", "--format", fmt, "--color", "never",
                          *_cli_net(ctx, nets[0])], json_out=fmt == "json")
    g = ctx.result.graphs[0] if ctx.result is not None and ctx.result.graphs else None
    if g is not None and g.input_shape and len(g.input_shape) == 3 and ctx.thorough:
        ctx.cli("sizes", ["sizes", str(ctx.path), "--max", "40", "--width", str(g.input_shape[2]),
                          "--format", "json", *_cli_net(ctx, nets[0])], json_out=True)


def _sizes_differential(ctx: Ctx, net: str, s, step: str):
    """sizes answers most sizes by replaying one expansion; a full check at that input size
    must agree: sizes accepts a size exactly when `check --input` reports no error there
    (warnings, such as lost rows, are reported beside the size)."""
    sample = {1 + (ctx.crc >> k) % 40 for k in (0, 6, 12, 18)}
    if s.declared_size is not None and 1 <= s.declared_size <= 40:
        sample.add(s.declared_size)
    for n in sorted(sample):
        if s.stopped is not None and n >= s.stopped:
            continue
        shape = s.shape(n)
        try:
            r = netdsl.check(str(ctx.path), network=net, input_shape=shape)
        except Exception:       # noqa: BLE001 - the check stage reports these
            return
        accepted = n in s.accepted
        if r.ok and not accepted:
            why = s.rejected.get(n)
            ctx.fail("sizes", "SizesDisagree", "backends/sizes.py:scan", step,
                     f"sizes rejects {shape} ({why.code if why else '?'}: {why.message if why else ''}) "
                     f"but check accepts it")
            return
        if accepted and not r.ok:
            d = r.errors[0]
            ctx.fail("sizes", "SizesDisagree", "backends/sizes.py:scan", step,
                     f"sizes accepts {shape} but check reports {d.code}: {d.message}")
            return


def stage_dot(ctx: Ctx, run_dot: bool = False):
    from netdsl.backends.digraph import to_networkx
    from netdsl.backends.render import dot_source
    dots = []
    for g in ctx.result.graphs[:3] if ctx.result is not None else ():
        with ctx.guard("dot", f"to_networkx({g.network})"):
            G = to_networkx(g)
            for depth in (None, 0, 1, 2):
                with ctx.guard("dot", f"dot_source({g.network}, depth={depth})"):
                    dots.append(dot_source(G, depth=depth, direction="LR" if depth == 1 else "TB",
                                           show_params=depth == 2))
    if ctx.result is not None and not ctx.binary and "\n" in ctx.text:
        with ctx.guard("dot", "netdsl.graph(text)", (netdsl.SpecError, LookupError)):
            nets = networks(ctx.result)
            netdsl.graph(ctx.text, network=nets[0] if nets else None)
    nets = networks(ctx.result) or [None]
    out = ctx.workdir / "x.dot"
    args = _cli_net(ctx, nets[0])
    res = ctx.cli("dot", ["render", str(ctx.path), "-o", str(out), *args])
    if res is not None and ctx.result is not None and ctx.result.graphs and res.exit_code in (0, 1):
        ok = ctx.ok_for(nets[0] if args else None)
        if ok is not None and res.exit_code != (0 if ok else 1):
            ctx.fail("dot", "ExitDisagrees", "-", "render -o x.dot", f"exit {res.exit_code}, but check says ok={ok}")
    if run_dot and dots and shutil.which("dot"):
        # Graphviz itself must accept every DOT text we make (escaping of labels).
        for text in dots[:2]:
            p = subprocess.run(["dot", "-Tsvg", "-o", os.devnull], input=text.encode(), capture_output=True,
                               timeout=30)
            if p.returncode != 0:
                ctx.fail("dot", "DotRejects", "render:dot_source", "dot -Tsvg",
                         p.stderr.decode(errors="replace")[:300])
                break


def stage_codegen(ctx: Ctx):
    if ctx.result is None or not ctx.result.graphs:
        return
    nets = networks(ctx.result)
    for net in ([None] if len(nets) == 1 else [None, nets[0]]):
        ok = ctx.ok_for(net)
        if ok is None:
            continue
        step = f"netdsl.build_source(path, network={net})"
        src = None
        with ctx.guard("codegen", step, (netdsl.SpecError,) if not ok else ()):
            src = netdsl.build_source(str(ctx.path), network=net)
        if src is not None and not ok:
            ctx.fail("codegen", "CompiledErrors", "-", step, "build_source succeeded for a spec with errors")
        if src is not None:
            try:
                compile(src, "<generated>", "exec")
            except (SyntaxError, RecursionError, MemoryError, ValueError) as e:
                ctx.fail("codegen", type(e).__name__, "generated:compile", "compile(generated source)",
                         f"{type(e).__name__}: {e}")
        if ok and net is None:
            res = ctx.cli("codegen", ["compile", str(ctx.path), "-o", "-"], (0,) if ok else (1,))
            if res is not None and src is not None and res.exit_code == 0 and res.stdout != src:
                ctx.fail("codegen", "CLIDisagrees", "-", "compile -o -", "the CLI's text differs from build_source")
    if ctx.thorough and len(nets) == 1:
        _input_override(ctx, nets[0])


def _input_override(ctx: Ctx, net: str):
    """--input / input_shape: a clean check at another input size compiles too."""
    g = ctx.result.graphs[0]
    shape = g.input_shape
    if not shape:
        return
    other = (shape[0], shape[1] + 1, shape[2] + 3) if len(shape) == 3 else tuple(d + 1 for d in shape)
    step = f"netdsl.check / build_source(input_shape={other})"
    with ctx.guard("codegen", step, (netdsl.SpecError,)):
        r = netdsl.check(str(ctx.path), input_shape=other)
        if r.ok and r.graphs:
            netdsl.build_source(str(ctx.path), input_shape=other)
    ctx.cli("check", ["check", str(ctx.path), "--input", "x".join(map(str, other)), "--format", "json"],
            json_out=True)


def _bounded(g, limit: int = 4_000_000) -> bool:
    acts = sum(math.prod(n.shape) for n in g.nodes if n.shape is not None)
    return g.total_params <= limit and 2 * acts <= 8 * limit


def stage_build(ctx: Ctx):
    import torch
    if ctx.result is None or not ctx.result.ok:
        return
    for g in ctx.result.graphs[:2]:
        if not g.input_shape or any(not isinstance(d, int) or d < 1 for d in g.input_shape):
            continue
        ctx.built = True
        try:
            _forward(ctx, g, torch, "meta")
        except _MetaUnsupported as e:
            if _bounded(g):
                try:
                    _forward(ctx, g, torch, "cpu")
                except _MetaUnsupported as e2:
                    ctx.failures.append(_exc_failure("build", "forward on cpu", e2.__cause__))
            else:
                ctx.failures.append(_exc_failure("build", "forward on meta (too large for cpu)", e.__cause__))


class _MetaUnsupported(Exception):
    pass


def _forward(ctx: Ctx, g, torch, device: str):
    from netdsl.backends import build as B
    step = f"netdsl.load({g.network}) on {device}"
    try:
        with torch.device(device):
            model = netdsl.load(str(ctx.path), network=g.network if len(ctx.result.graphs) > 1 else None)
    except netdsl.SpecError as e:
        ctx.failures.append(_exc_failure("build", step + ": SpecError for a clean spec", e))
        return
    except (Slow, KeyboardInterrupt):
        raise
    except BaseException as e:      # noqa: BLE001
        ctx.failures.append(_exc_failure("build", step, e))
        return
    finally:
        # load() caches every module it made; a campaign loads thousands
        for cache in (getattr(B, "_MODULES", None), getattr(B, "_COMPILED", None)):
            if isinstance(cache, dict):
                cache.clear()
        for k in [k for k in sys.modules if k.startswith("netdsl_generated.")]:
            del sys.modules[k]
    n = sum(p.numel() for p in model.parameters())
    if n != g.total_params:
        ctx.fail("build", "ParamCountMismatch", _first_param_mismatch(model, g), step,
                 f"torch has {n:,} parameters, the graph {g.total_params:,}")
    model.eval()
    seen = []
    hooks = _shape_hooks(model, g, seen)
    try:
        x = torch.randn(2, *g.input_shape, device=device)
        with torch.no_grad():
            y = model(x)
    except (Slow, KeyboardInterrupt):
        raise
    except NotImplementedError as e:
        if device == "meta":
            raise _MetaUnsupported() from e
        ctx.failures.append(_exc_failure("build", f"forward on {device}", e))
        return
    except BaseException as e:      # noqa: BLE001
        if device == "meta":
            raise _MetaUnsupported() from e          # confirm on cpu when small enough
        ctx.failures.append(_exc_failure("build", f"forward on {device}", e))
        return
    finally:
        for h in hooks:
            h.remove()
    want, got = _expected_and_got(g, y)
    if got != want:
        where = seen[0] if seen else "-"
        ctx.fail("build", "ShapeMismatch", where, f"forward on {device}",
                 f"torch gives {got}, the graph says {want}")


def _expected_and_got(g, y):
    """The static outputs (one shape, a tuple of them for return(@a, @b), a dict for
    return(k=@a)) and what the forward pass gave, both with the batch of 2."""
    def shape(t):
        return tuple(t.shape) if hasattr(t, "shape") else type(t).__name__

    rets = g.returns
    if getattr(g, "outputs", None) is None:
        return (2, *g.output_shape), shape(y)
    if all(name is None for name, _ in rets):
        want = tuple((2, *s) if s is not None else None for _, s in rets)
        got = tuple(shape(t) for t in y) if isinstance(y, (tuple, list)) else shape(y)
        return want, got
    want = {name: (2, *s) if s is not None else None for name, s in rets}
    got = {k: shape(t) for k, t in y.items()} if isinstance(y, dict) else shape(y)
    return want, got


def _shape_hooks(model, g, seen: list):
    """Forward hooks on every named module: the first whose output shape differs from its node's."""
    by_name = {n.qualname: n for n in g.nodes if n.spec is not None and n.shape is not None}
    hooks = []
    for name, mod in model.named_modules():
        node = by_name.get(name)
        if node is None:
            continue

        def hook(m, inp, out, node=node, name=name):
            if hasattr(out, "shape") and tuple(out.shape[1:]) != tuple(node.shape) and not seen:
                seen.append(f"kind:{node.kind}")
        hooks.append(mod.register_forward_hook(hook))
    return hooks


def _first_param_mismatch(model, g) -> str:
    mods = dict(model.named_modules())
    for n in g.nodes:
        if n.spec is None or n.shape is None:
            continue
        m = mods.get(n.qualname)
        if m is not None and sum(p.numel() for p in m.parameters()) != n.params:
            return f"kind:{n.kind}"
    return "-"


STAGE_FUNCS = {"check": stage_check, "summary": stage_summary, "sizes": stage_sizes, "dot": stage_dot,
               "codegen": stage_codegen, "build": stage_build}


def _attribute(failures: list) -> list:
    """A build that fails inside the code generator is the code generator's failure (load runs
    it), and generated text Python cannot compile is the same failure however it is reached."""
    out, seen = [], set()
    for f in failures:
        if f.stage == "build" and f.frame.startswith("backends/codegen.py"):
            f.stage = "codegen"
        if f.exc == "SyntaxError" and f.frame in ("backends/build.py:exec_source", "generated:compile"):
            f.stage, f.frame = "codegen", "generated:compile"
        if f.key not in seen:
            seen.add(f.key)
            out.append(f)
    return out


def run_case(data, stages=STAGES, workdir: Path | None = None, build: bool = True, run_dot: bool = False,
             slow: float = 5.0, max_rss_mb: int = 1024, thorough: bool = False) -> Ctx:
    """Run one case through `stages` (check always runs first: the others need its result)."""
    own = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="netdsl-fzb-"))
    old = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        with LIMITS.override(max_layers=fz.FUZZ_MAX_LAYERS):
            ctx = Ctx(data, workdir, slow, max_rss_mb, thorough)
            ctx.timed("check", lambda: stage_check(ctx))
            for st in stages:
                if st == "check" or (st == "build" and not build):
                    continue
                if st == "dot":
                    ctx.timed(st, lambda: stage_dot(ctx, run_dot))
                else:
                    ctx.timed(st, lambda st=st: STAGE_FUNCS[st](ctx))
            if "check" not in stages:
                ctx.failures = [f for f in ctx.failures if f.stage != "check"]
            ctx.failures = _attribute(ctx.failures)
            return ctx
    finally:
        signal.signal(signal.SIGALRM, old)
        clear_click_caches()
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


# =============================================================================
# Minimising, naming and saving.
# =============================================================================

def ddmin(units: list, test, deadline: float) -> list:
    """Zeller's delta debugging: a 1-minimal sublist of `units` that still passes `test`."""
    n = 2
    while len(units) >= 2 and time.monotonic() < deadline:
        chunk = max(1, len(units) // n)
        reduced = False
        for i in range(0, len(units), chunk):
            cand = units[:i] + units[i + chunk:]
            if cand and test(cand):
                units, n, reduced = cand, max(n - 1, 2), True
                break
            if time.monotonic() >= deadline:
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(units), n * 2)
    return units


def minimise(data, key: tuple, budget_s: float = 60.0, slow: float = 5.0, workdir: Path | None = None):
    """The smallest variant of `data` (text or bytes) that still fails with class `key`."""
    stage = key[0]
    stages = ("check", stage) if stage != "check" else ("check",)
    binary = isinstance(data, bytes)
    deadline = time.monotonic() + budget_s
    probes = [0]

    def fails(candidate) -> bool:
        probes[0] += 1
        try:
            ctx = run_case(candidate, stages, workdir, build=True, run_dot=True, slow=slow, thorough=True)
        except Exception as e:      # noqa: BLE001 - a broken candidate is just not a reproducer
            print(f"    (probe raised {type(e).__name__}: {e})", file=sys.stderr)
            return False
        return any(f.key == key for f in ctx.failures)

    join = (lambda u: b"".join(u)) if binary else (lambda u: "".join(u))
    if not fails(data):
        return data, -1             # does not reproduce here (the code changed since?)
    lines = ddmin(data.splitlines(keepends=True), lambda u: fails(join(u)), deadline)
    cur = join(lines)
    if not binary:
        # tokens, each with the white space after it, so what is left stays readable
        units: list[str] = []
        for t in fz.tokens(cur):
            if t.isspace() and units:
                units[-1] += t
            else:
                units.append(t)
        units = ddmin(units, lambda u: fails(join(u)), deadline)
        # ddmin's chunks are aligned; also try every short run (an `add { x }`, a `, k=v`)
        for width in (16, 12, 8, 6, 4, 3, 2):
            i = 0
            while i + width <= len(units) and time.monotonic() < deadline:
                cand = units[:i] + units[i + width:]
                if cand and fails(join(cand)):
                    units = cand
                else:
                    i += 1
        cur = join(units)
        tidy = re.sub(r"[ \t]+\n", "\n", re.sub(r"\n{3,}", "\n\n", cur)).strip() + "\n"
        if tidy != cur and fails(tidy):
            cur = tidy
    return cur, probes[0]


def short_name(key: tuple) -> str:
    stage, exc, frame = key
    where = frame.split(":")[-1] if frame != "-" else ""
    where = where.replace("kind:", "")
    base = "-".join(x for x in (stage, _snake(exc), _snake(where)) if x)
    return re.sub(r"[^a-z0-9-]+", "-", base.lower()).strip("-")[:60]


def _snake(s: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", s.strip("_")).replace("_", "-").lower()


def header(f: Failure) -> str:
    msg = f.message.replace("\n", " ")[:160]
    return f"# fuzz_backends: stage={f.stage}; {f.exc} at {f.frame}; step: {f.step}; {msg}\n"


def save_reproducer(out_dir: Path, f: Failure, data, slow: float = 5.0) -> Path:
    """Write the reproducer with its header line; checks that the header does not hide the failure."""
    out_dir.mkdir(parents=True, exist_ok=True)
    name = short_name(f.key)
    path = out_dir / f"{name}.net"
    i = 2
    while path.exists() and path.read_bytes().split(b"\n", 1)[0].startswith(b"# fuzz_backends: stage=") \
            and _file_key(path) != f.key:
        path = out_dir / f"{name}-{i}.net"
        i += 1
    head = header(f)
    body = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    full = head.encode("utf-8") + body
    stages = ("check", f.stage) if f.stage != "check" else ("check",)
    ctx = run_case(full if isinstance(data, bytes) else full.decode("utf-8", "surrogatepass"), stages, slow=slow,
                   thorough=True)
    if not any(x.key == f.key for x in ctx.failures):
        # the comment changes the case (it moves line 1); keep the bare reproducer and say so
        full = body + ("\n" + head).encode("utf-8")
    path.write_bytes(full)
    return path


def _file_key(path: Path):
    m = re.match(rb"# fuzz_backends: stage=(\w+); (\w+) at (\S+);", path.read_bytes())
    return tuple(x.decode() for x in m.groups()) if m else None


# =============================================================================
# The campaign.
# =============================================================================

def warm_up(workdir: Path):
    """Import torch, graphviz and networkx before timing anything."""
    run_case(fz.ZOO_TEXTS["lenet.net"], STAGES, workdir, build=True, run_dot=False, slow=120)


def worker(args_dict: dict) -> dict:
    """One process of the campaign: runs cases until the time or case budget is spent."""
    a = argparse.Namespace(**args_dict)
    try:
        os.nice(a.nice)
    except (OSError, AttributeError):
        pass
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass
    workdir = Path(tempfile.mkdtemp(prefix=f"netdsl-fzb-{a.seed}-"))
    warm_up(workdir)
    cpu0 = time.process_time()
    stats = {"cases": 0, "by_gen": Counter(), "stage_runs": Counter(), "stage_seconds": Counter(), "clean": 0,
             "built": 0, "failing_cases": 0, "classes": {}, "counts": Counter(), "slowest": []}
    cases = Cases(a.seed, a.gens)
    start = time.monotonic()
    rss_start = _rss_mb()
    try:
        for i, (gen, data) in enumerate(cases):
            if time.monotonic() - start > a.seconds or (a.cases and i >= a.cases):
                break
            build = "build" in a.stages and i % a.build_every == 0
            run_dot = i % a.dot_every == 0
            t0 = time.perf_counter()
            ctx = run_case(data, a.stages, workdir, build=build, run_dot=run_dot, slow=a.slow,
                           max_rss_mb=a.max_rss_mb)
            dt = time.perf_counter() - t0
            stats["cases"] += 1
            stats["by_gen"][gen] += 1
            for st, sec in ctx.stage_time.items():
                stats["stage_runs"][st] += 1
                stats["stage_seconds"][st] += sec
            if ctx.built:
                stats["built"] += 1
            if ctx.result is not None and ctx.result.ok and ctx.result.graphs:
                stats["clean"] += 1
            stats["slowest"] = sorted(stats["slowest"] + [(round(dt, 3), gen, i)], reverse=True)[:5]
            if ctx.failures:
                stats["failing_cases"] += 1
            for f in ctx.failures:
                k = "|".join(f.key)
                stats["counts"][k] += 1
                if k not in stats["classes"]:
                    stats["classes"][k] = {"key": list(f.key), "step": f.step, "message": f.message,
                                           "trace": f.trace, "gen": gen, "case": i,
                                           "data": data.hex() if isinstance(data, bytes) else data,
                                           "binary": isinstance(data, bytes)}
                    if a.verbose:
                        print(f"  [{a.seed}] new class {k}: {f.message[:150]}", flush=True)
            if a.verbose and stats["cases"] % 500 == 0:
                el = time.monotonic() - start
                print(f"  [{a.seed}] {stats['cases']:,} cases, {len(stats['classes'])} classes, "
                      f"{stats['cases'] / el:.1f} cases/s, rss {_rss_mb()} MB", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    stats["cpu_seconds"] = time.process_time() - cpu0
    stats["wall_seconds"] = time.monotonic() - start
    stats["rss_mb"] = [rss_start, _rss_mb()]
    stats["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return stats


def _rss_mb() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // (1 << 20)
    except OSError:
        return -1


def merge_stats(parts: list[dict]) -> dict:
    out = {"cases": 0, "by_gen": Counter(), "stage_runs": Counter(), "stage_seconds": Counter(), "clean": 0,
           "built": 0, "failing_cases": 0, "classes": {}, "counts": Counter(), "cpu_seconds": 0.0,
           "wall_seconds": 0.0, "rss_mb": [], "peak_rss_mb": 0, "slowest": []}
    for p in parts:
        for k in ("cases", "clean", "built", "failing_cases", "cpu_seconds"):
            out[k] += p[k]
        out["wall_seconds"] = max(out["wall_seconds"], p["wall_seconds"])
        for k in ("by_gen", "stage_runs", "stage_seconds", "counts"):
            out[k].update(p[k])
        for k, v in p["classes"].items():
            out["classes"].setdefault(k, v)
        out["rss_mb"].append(p["rss_mb"])
        out["peak_rss_mb"] = max(out["peak_rss_mb"], p["peak_rss_mb"])
        out["slowest"] = sorted(out["slowest"] + [tuple(x) for x in p["slowest"]], reverse=True)[:5]
    return out


def replay(paths: list[Path], stages=STAGES, slow: float = 5.0) -> dict:
    """Run files through every stage (the build included). {path: [Failure]}."""
    out = {}
    for p in paths:
        data = p.read_bytes()
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        ctx = run_case(data, stages, build=True, run_dot=True, slow=slow, thorough=True)
        out[p] = ctx.failures
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=1.0, help="wall-clock minutes per process")
    ap.add_argument("--cases", type=int, default=None, help="stop each process after this many cases")
    ap.add_argument("--seed", type=int, default=None, help="random seed (process k uses seed + k)")
    ap.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    ap.add_argument("--gens", default=",".join(Cases.WEIGHTS), help="comma-separated generators")
    ap.add_argument("--out", type=Path, default=CORPUS_DIR, help="where minimised reproducers go")
    ap.add_argument("--report", type=Path, default=None, help="write the figures and classes as JSON here")
    ap.add_argument("--jobs", type=int, default=1, help="processes (use 1 on a shared machine)")
    ap.add_argument("--build-every", type=int, default=10, help="build and run 1 case in N (clean ones only)")
    ap.add_argument("--dot-every", type=int, default=25, help="run Graphviz on the DOT of 1 case in N")
    ap.add_argument("--slow", type=float, default=5.0, help="seconds after which a stage counts as too slow")
    ap.add_argument("--max-rss-mb", type=int, default=1024, help="peak RSS that counts as too much")
    ap.add_argument("--minimise-seconds", type=float, default=90.0, help="budget per new class")
    ap.add_argument("--no-minimise", action="store_true")
    ap.add_argument("--nice", type=int, default=0, help="os.nice() increment for the workers")
    ap.add_argument("--replay", nargs="*", type=Path, default=None, help="run these files and report, then exit")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    stages = tuple(s for s in args.stages.split(",") if s)
    bad = [s for s in stages if s not in STAGES]
    if bad:
        ap.error(f"unknown stage(s) {bad}; choose from {STAGES}")
    gens = [g for g in args.gens.split(",") if g]
    if any(g not in Cases.WEIGHTS for g in gens):
        ap.error(f"generators: {', '.join(Cases.WEIGHTS)}")

    if args.replay is not None:
        found = replay(args.replay, stages, args.slow)
        bad_files = 0
        for p, fs in found.items():
            print(f"{p}: {'ok' if not fs else ''}")
            for f in fs:
                print(f"    {f.stage}: {f.exc} at {f.frame}  [{f.step}] {f.message[:200]}")
            bad_files += bool(fs)
        print(f"{bad_files} of {len(found)} files fail")
        return 1 if bad_files else 0

    seed = args.seed if args.seed is not None else int(time.time())
    base = {"seconds": args.minutes * 60, "cases": args.cases, "stages": stages, "gens": gens,
            "build_every": max(1, args.build_every), "dot_every": max(1, args.dot_every), "slow": args.slow,
            "max_rss_mb": args.max_rss_mb, "verbose": not args.quiet, "nice": args.nice}
    print(f"netdsl backend fuzz: seed={seed} jobs={args.jobs} minutes={args.minutes} stages={','.join(stages)}",
          flush=True)
    # import every backend now, so the minimising below runs the code the workers ran
    # (others edit netdsl/ while a campaign runs)
    warm = Path(tempfile.mkdtemp(prefix="netdsl-fzb-warm-"))
    warm_up(warm)
    shutil.rmtree(warm, ignore_errors=True)
    if args.jobs <= 1:
        parts = [worker({**base, "seed": seed})]
    else:
        import multiprocessing as mp
        with mp.get_context("spawn").Pool(args.jobs) as pool:
            parts = pool.map(worker, [{**base, "seed": seed + k} for k in range(args.jobs)])
    st = merge_stats(parts)

    # minimise each class's first case, in this process
    saved = {}
    if not args.no_minimise:
        workdir = Path(tempfile.mkdtemp(prefix="netdsl-fzb-min-"))
        for k, c in sorted(st["classes"].items()):
            data = bytes.fromhex(c["data"]) if c["binary"] else c["data"]
            key = tuple(c["key"])
            t0 = time.monotonic()
            small, probes = minimise(data, key, args.minimise_seconds, args.slow, workdir)
            ctx = run_case(small, ("check", key[0]) if key[0] != "check" else ("check",), workdir, run_dot=True,
                           slow=args.slow, thorough=True)
            f = next((x for x in ctx.failures if x.key == key), None)
            if f is None:          # not reproducible now (the code changed since?): keep the original
                small = data
                f = Failure(*key, c["step"], c["message"] + " [did not reproduce when minimised]", c["trace"])
                c["stale"] = True
            path = save_reproducer(args.out, f, small, args.slow)
            c["minimal"] = small.hex() if isinstance(small, bytes) else small
            c["file"] = str(path)
            saved[k] = path
            print(f"  minimised {k}: {len(data)} -> {len(small)} chars in {probes} probes, "
                  f"{time.monotonic() - t0:.0f} s -> {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}",
                  flush=True)
        shutil.rmtree(workdir, ignore_errors=True)

    rate = st["cases"] / st["cpu_seconds"] if st["cpu_seconds"] else 0
    print(f"\ndone: {st['cases']:,} cases in {st['cpu_seconds'] / 60:.1f} CPU-minutes ({rate:.1f} cases per "
          f"CPU-second), {st['clean']:,} clean, {st['built']:,} built, {st['failing_cases']:,} failing cases, "
          f"{len(st['classes'])} classes; peak RSS {st['peak_rss_mb']} MB")
    print("cases per generator: " + ", ".join(f"{k} {v:,}" for k, v in sorted(st["by_gen"].items())))
    print("stage runs (seconds): " + ", ".join(f"{k} {st['stage_runs'][k]:,} ({st['stage_seconds'][k]:.0f} s)"
                                               for k in STAGES if k in st["stage_runs"]))
    for k, n in sorted(st["counts"].items(), key=lambda kv: -kv[1]):
        print(f"  {n:6,}  {k}")
    if args.report:
        st2 = {**st, "seed": seed, "jobs": args.jobs, "stages": stages}
        args.report.write_text(json.dumps(st2, indent=1, default=list))
    return 1 if st["classes"] else 0


if __name__ == "__main__":
    sys.exit(main())
