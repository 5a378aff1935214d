"""Regenerate docs/gallery/ and docs/gallery.md: every zoo spec at --depth 0, 1 and
every layer, as thumbnails, with the size of each layout and what `netdsl render`
draws by default.

    python tools/gallery.py          (needs Graphviz's dot; a few minutes)
    python tools/gallery.py inception_v3 unet      (only these specs' images and rows)
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

INTRO = """\
# Gallery: the zoo as `netdsl render` draws it

Every network in `specs/` at `--depth 0`, `--depth 1` and every layer (`--depth full`),
drawn by the code in this checkout (`python tools/gallery.py` regenerates this page).
The pictures are thumbnails at most 360 × 1008 pixels: a diagram longer than that is
scaled down to fit, so the long ones are too small to read here; they show the shape
of the network. Render one yourself for the real size, e.g.
`netdsl render specs/googlenet.net -o googlenet.svg --depth full`.

The sizes are of the layout in points (1/72 inch), longer side last. *Default* is
what `netdsl render` draws without `--depth`: every layer when that fits a page
(4,000 pt on its longer side), else the deepest depth that does. See
[render.md](render.md) for what the depths mean.

Looked at, spec by spec, and fixed: loops fold like blocks (`DenseLayer(32, 4)  ×6`,
`conv 3×3, 256, p1 → relu  ×2`); `identity` branches are skip edges, not nodes;
skips fork inside their block's box; no edge runs through a cluster label; block
arguments too long for a label show as `(…)`; computed floats show 6 digits; U-Net is
a U; an edge that carries only a size (DeepLabV3's `upsample(size=@in)`) is light and
dashed, and no skip. Still short of a hand-drawn slide: at full depth the big networks
(DenseNet, EfficientNet, ConvNeXt) are long by nature, so the default draws fewer levels; a pad
that keeps an edge off a long label leaves blank space beside the main path; a loop
of one iteration (`repeat layers as j  ×1`) still gets its dotted box.

| network | levels | default | `--depth 0` | `--depth 1` | every layer |
|---|---|---|---|---|---|
"""


def size_text(w: float, h: float) -> str:
    return f"{w:,.0f} × {h:,.0f}"


def main(only: list[str]) -> None:
    import netdsl
    from netdsl.backends.digraph import full_depth
    from netdsl.backends.render import _source, fit_depth
    out = ROOT / "docs" / "gallery"
    out.mkdir(parents=True, exist_ok=True)
    specs = sorted((ROOT / "specs").glob("*.net"))
    unknown = set(only) - {spec.stem for spec in specs}
    if unknown:
        sys.exit(f"no such spec in specs/: {', '.join(sorted(unknown))}")
    # With names, the other rows stay as the page has them.
    kept = {}
    if only:
        for line in (ROOT / "docs" / "gallery.md").read_text(encoding="utf-8").splitlines():
            for spec in specs:
                if line.startswith("| ") and f"(`{spec.name}`)" in line:
                    kept[spec.stem] = line
    rows = []
    for spec in specs:
        if only and spec.stem not in only:
            rows.append(kept[spec.stem])
            continue
        G = netdsl.graph(str(spec))
        cells = []
        for depth, tag in ((0, "0"), (1, "1"), ("full", "full")):
            # What `render` draws (labels an edge would cross moved right), as a thumbnail at
            # most 5 x 14 inches at 72 dpi; -Tplain first gives the real size.
            data = subprocess.run(["dot", "-Tplain", "-Tpng", "-Gdpi=72", "-Gsize=5,14"],
                                  input=_source(G, depth, "png", [], {}).encode(), capture_output=True, check=True,
                                  timeout=900).stdout
            plain, png = data.split(b"\x89PNG", 1)
            w, h = (float(x) * 72 for x in plain.split(b"\n", 1)[0].split()[2:4])
            name = f"{spec.stem}-{tag}.png"
            (out / name).write_bytes(b"\x89PNG" + png)
            cells.append(f"[<img src=\"gallery/{name}\" width=\"110\" alt=\"{G.graph['network']} at depth {tag}\">]"
                         f"(gallery/{name})<br>{size_text(w, h)}")
            print(spec.stem, tag, size_text(w, h), flush=True)
        chosen = fit_depth(G)[0]
        default = "every layer" if chosen is None else f"`--depth {chosen}`"
        rows.append(f"| {G.graph['network']} (`{spec.name}`) | {full_depth(G)} | {default} | " + " | ".join(cells) + " |")
    (ROOT / "docs" / "gallery.md").write_text(INTRO + "\n".join(rows) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
