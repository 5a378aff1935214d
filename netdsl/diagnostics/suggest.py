""""Did you mean": the nearest known name to a misspelt one (elm's nearbyNames)."""
from __future__ import annotations

import functools
from collections.abc import Iterable


def suggest(name: str, candidates: Iterable[str], otherwise: str = "", sigil: str = "", span=None,
            prefer: dict | None = None) -> tuple:
    """The help for an unknown name: "did you mean `x`?" when one is close, else `otherwise`.
    With the `span` the name was written at, the help carries the rename as a Fix.
    `prefer` maps an alias to its canonical name: `conv` misspelt suggests `conv2d`."""
    guess = did_you_mean(name, candidates)
    if guess:
        guess = (prefer or {}).get(guess, guess)
        message = f"did you mean `{sigil}{guess}`?"
        if span is not None:
            from .fixes import rename
            skip = len(sigil) if span.source.text.startswith(sigil, span.start) else 0
            from ..frontend.source import Span
            return (rename(Span(span.source, span.start + skip, span.end), name, guess, message),)
        return (message,)
    return (otherwise,) if otherwise else ()


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """elm's nearbyNames: edit distance 1 for short names, 2 otherwise (ignoring case)."""
    if len(name) > 64:          # nobody mistypes a 64-character name
        return None
    limit = 1 if len(name) <= 3 else 2
    low = name.lower()
    names = frozenset(candidates)
    if len(names) <= _SCAN_ALL:
        pool = [c for c in names if abs(len(c) - len(name)) <= limit]
    else:
        # Thousands of names (and perhaps thousands of misspellings in one spec): look
        # up only the names that can be this close, instead of measuring every one.
        index = _deletion_index(names)
        if index is not None:
            pool = {c for key in _deletions(low, limit) for c in index.get(key, ())}
        else:                   # too many to index: a bounded look at the nearest lengths
            pool = sorted(names, key=lambda c: (abs(len(c) - len(name)), c))[:_SCAN_ALL]
    best, best_key = None, (limit + 1,)
    letters = sorted(low)
    for cand in sorted(pool):
        dist = _edit_distance(low, cand.lower(), best_key[0] + 1)
        # Between equally near names, the one with the same letters wins (`reul` is
        # `relu` with two letters swapped, not `mul`), then the one starting alike.
        key = (dist, sorted(cand.lower()) != letters, cand[:1].lower() != low[:1])
        if dist <= limit and key < best_key:
            best, best_key = cand, key
    return best


_SCAN_ALL = 200                 # up to this many names, just measure each one
_INDEX_CAP = 400_000            # deletion variants one index may hold (bounds its memory)


def _deletions(word: str, depth: int) -> set[str]:
    """`word` with any `depth` or fewer of its characters removed."""
    out, frontier = {word}, {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


@functools.lru_cache(maxsize=4)
def _deletion_index(names: frozenset) -> dict[str, tuple] | None:
    """Every name under each of its deletion variants (up to 2 removed characters).
    Two words within edit distance k share a variant with at most k removals from
    each (a substitution is a removal on both sides), so the variants of a
    misspelling find every name close enough to it. None when it would be too big."""
    index: dict[str, list] = {}
    size = 0
    for name in names:
        if len(name) > 66:      # beyond reach of any name did_you_mean looks up
            continue
        variants = _deletions(name.lower(), 2)
        size += len(variants)
        if size > _INDEX_CAP:
            return None
        for key in variants:
            index.setdefault(key, []).append(name)
    return {k: tuple(v) for k, v in index.items()}


def _edit_distance(a: str, b: str, cap: int) -> int:
    """Levenshtein distance, or `cap` when it is at least `cap`. Only the diagonal band
    |i - j| < cap can hold a smaller distance, so each row costs O(cap), not O(len(b))."""
    if abs(len(a) - len(b)) >= cap:
        return cap
    # A common prefix or suffix is always matched as it is: measure what lies between.
    start, shortest = 0, min(len(a), len(b))
    while start < shortest and a[start] == b[start]:
        start += 1
    end = 0
    while end < shortest - start and a[-1 - end] == b[-1 - end]:
        end += 1
    a, b = a[start:len(a) - end], b[start:len(b) - end]
    n = len(b)
    prev = [j if j < cap else cap for j in range(n + 1)]
    for i, ca in enumerate(a, 1):
        lo, hi = max(1, i - cap + 1), min(n, i + cap - 1)
        cur = [cap] * (n + 1)
        cur[0] = i if i < cap else cap
        for j in range(lo, hi + 1):
            cost = prev[j - 1] + (ca != b[j - 1])
            up, left = prev[j] + 1, cur[j - 1] + 1
            cur[j] = min(cost, up, left, cap)
        if min(cur[lo - 1:hi + 1]) >= cap:      # every path through this row costs `cap`
            return cap
        prev = cur
    return prev[n]
