"""docs/porting.md's worked port quotes the zoo's MobileNetV2: every line of its spec fragments must be in those files, so the page
cannot drift from the specs that tests/test_zoo_reference.py proves equal to
torchvision. Its idiom table names netdsl kinds, which must exist."""
from __future__ import annotations

import re
from pathlib import Path

from netdsl.catalogue import ALIASES, LAYERS

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "porting.md").read_text(encoding="utf-8")
QUOTED = ("specs/mobilenet_v2.net",)


def test_the_fragments_quote_the_specs_line_by_line():
    lines = {line.strip() for f in QUOTED for line in (ROOT / f).read_text(encoding="utf-8").splitlines()}
    fragments = re.findall(r"^```netdsl fragment\n(.*?)^```", PAGE, re.DOTALL | re.MULTILINE)
    assert len(fragments) >= 2
    for fragment in fragments:
        for line in fragment.splitlines():
            if line.strip() and line.strip() != "...":
                assert line.strip() in lines, f"not in {QUOTED}: {line.strip()}"


def test_the_idioms_name_real_kinds():
    table = PAGE.split("## Idioms", 1)[1].split("## A worked port", 1)[0]
    netdsl_column = "\n".join(row.rsplit(" | ", 1)[-1] for row in table.splitlines() if row.startswith("| "))
    used = set(re.findall(r"`([a-z_0-9]+)\(", netdsl_column)) | set(re.findall(r"\b([a-z_0-9]+2d)\b", netdsl_column))
    kinds = set(LAYERS) | set(ALIASES)
    known_words = {"parameter", "return", "chunk", "make_divisible", "adjust", "concat", "add", "mul"}
    unknown = sorted(k for k in used if k not in kinds and k not in known_words and not k[0].isupper())
    assert unknown == [], unknown
