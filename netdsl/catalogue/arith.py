"""Torch's window arithmetic (conv, pool, transposed conv), with the formula
written out with its numbers, for notes and `summary --explain`."""
from __future__ import annotations

from ..diagnostics.codes import W0401

M = "\u2212"  # the minus sign used in formulas


def _signed(x: int) -> str:
    return f"{M}{-x}" if x < 0 else str(x)


def window_out(n: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> tuple[int, str, bool]:
    """Output length of a sliding window, exactly as aten's pooling_output_shape /
    conv output size. Returns (out, formula, dropped) where `dropped` is True when
    ceil_mode's extra window was removed because it would start in the padding."""
    eff = d * (k - 1) + 1
    num = n + 2 * p - eff + (s - 1 if ceil else 0)
    out = num // s + 1
    dropped = False
    if ceil and (out - 1) * s >= n + p:
        out -= 1
        dropped = True
    if d == 1 and not ceil:
        formula = f"\u230a({n} {M} {k} + 2\u00b7{p} + {s})/{s}\u230b = {out}"
    else:
        bracket = ("\u2308", "\u2309") if ceil else ("\u230a", "\u230b")
        formula = (f"{bracket[0]}({n} + 2\u00b7{p} {M} {d}\u00b7({k} {M} 1) {M} 1)/{s}{bracket[1]} + 1"
                   f"{' ' + M + ' 1' if dropped else ''} = {out}")
    return out, formula, dropped


def _plus(n, c: int):
    """n + c, written without `+ -1` when n is symbolic (backends/blockclass.py's Sym)."""
    return n if c == 0 else n + c if c > 0 else n - (-c)


def window_size(n, k: int, s: int, p: int, d: int = 1, ceil: bool = False):
    """window_out's size by arithmetic alone, for LayerSpec.out_spatial: `n` may be a
    symbolic size, for which ceil_mode's comparison refuses (torch's formula again)."""
    if type(n) is int:
        return window_out(n, k, s, p, d, ceil)[0]
    span = 2 * p - d * (k - 1)
    if ceil:
        out = _plus(n, span - 1 + s - 1) // s + 1
        if (out - 1) * s >= n + p:      # a symbolic size refuses the comparison
            out -= 1
        return out
    return _plus(n, span) if s == 1 else _plus(n, span - 1) // s + 1


def transpose_out(n: int, k: int, s: int, p: int, op: int, d: int = 1) -> tuple[int, str]:
    out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
    formula = f"({n} {M} 1)\u00b7{s} {M} 2\u00b7{p} + {d}\u00b7({k} {M} 1) + {op} + 1 = {_signed(out)}"
    return out, formula


def unused_tail(n: int, k: int, s: int, p: int, d: int = 1) -> int:
    """Rows/columns of the *input* that no window reaches because floor drops them.
    Only real rows count: a dropped row of padding loses nothing (ResNet's 7×7/2
    stem on 224 drops one padding row, which is fine)."""
    eff = d * (k - 1) + 1
    span = n + 2 * p - eff
    if span < 0 or eff < s:
        # With a kernel smaller than the stride, rows are skipped throughout by
        # design (ResNet's 1×1/2 projection); the tail is no special loss.
        return 0
    return max(0, span % s - p)


def same_padding(k: int, d: int = 1) -> tuple[int, int]:
    """Torch's padding='same' split: total d·(k−1), the extra one on the right/bottom."""
    total = d * (k - 1)
    return total // 2, total - total // 2


def fold_axes(items: list) -> list:
    """Group per-axis findings [(axis, *facts)]: when height and width have the
    same facts, report them once as "height and width"."""
    if len(items) == 2 and items[0][1:] == items[1][1:]:
        return [(f"{items[0][0]} and {items[1][0]}", *items[0][1:])]
    return items


def warn_lost_rows(ctx, losses: list, at: str, fix: str) -> None:
    """One W0401 per layer for input rows/columns that floor division drops.
    `losses` holds (axis, n, k, s, p, d, lost) for each axis that loses some;
    identical height and width losses are reported once."""
    if not losses:
        return
    axes = [loss[0] for loss in losses]
    same = len(losses) == 2 and losses[0][1:] == losses[1][1:]
    groups = [losses[:1]] if same else [[loss] for loss in losses]
    for group in groups:
        axis, n, k, s, p, d, lost = group[0]
        where = " and ".join(axes) if same else axis
        one, many = ("row and column", "rows and columns") if same else \
            (("row", "rows") if axis == "height" else ("column", "columns"))
        unit = one if lost == 1 else many
        eff = d * (k - 1) + 1
        tail = (n + 2 * p - eff) % s
        notes = [f"({n} + 2\u00b7{p} {M} {eff}) mod {s} = {tail}: windows stop {tail} short of the padded end"]
        if p:
            notes.append(f"{p} of those are padding, so {lost} real {unit} {'is' if lost == 1 else 'are'} lost")
        ctx.warn(W0401, f"stride {s} does not divide the {where}: the last input {unit} "
                 f"({lost}) {'is' if lost == 1 else 'are'} never used", at,
                 notes=tuple(notes),
                 help=(f"use an input {where} of {n - lost} or {n - lost + s}, or {fix}",))
