"""Lark's own parser, through its public API only: the fallback for the tables.

netdsl normally runs the LALR tables grammar.py reads out of Lark's private details,
which any Lark release may change. When they cannot be had, this adapter parses
with Lark itself and hands its tree to the same builder the runtime (lalr.py)
feeds: the same names, the same (children, start, end) spans, the same nesting
count and the same errors, so a spec parses identically either way
(tests/test_lark_contract.py). Only start-up suffers: Lark compiles the grammar
on every run (~0.2 s).
"""
from __future__ import annotations

import threading

import lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from . import lalr
from .layout import Layout, LayoutError

_recording = threading.local()


class _Tree(lark.Tree):
    """Lark's tree node, noted as the parser makes it (in reduction order), so that
    what a failed parse had reduced can still be built (see LarkParser.parse)."""

    def __init__(self, data, children, meta=None):
        super().__init__(data, children, meta)
        made = getattr(_recording, "made", None)
        if made is not None:
            made.append(self)


def make_lark(text: str, strict: bool = False) -> lark.Lark:
    return lark.Lark(text, parser="lalr", lexer="basic", postlex=Layout(), propagate_positions=True,
                     maybe_placeholders=True, strict=strict, tree_class=_Tree)


class LarkParser:
    """Parses as lalr.parse does, with a Lark parser built by make_lark."""

    def __init__(self, parser: lark.Lark):
        self.lark = parser
        # The grammar's literal terminals, for naming them in syntax errors.
        self.literals = {str(t.name): str(t.pattern.value) for t in parser.terminals if t.pattern.type == "str"}

    def parse(self, text: str, build, nesting=None, max_depth: int | None = None):
        made = _recording.made = []
        try:
            tree = self.lark.parse(text)
        except (UnexpectedCharacters, UnexpectedToken, UnexpectedEOF, LayoutError) as e:
            error = e
        else:
            error = None
        finally:
            _recording.made = None      # before the builder runs: it parses `{...}` holes itself
        if error is None:
            return _build(_post_order(tree), build, nesting, max_depth)
        # The runtime builds as it reduces, so an error in what was reduced before the
        # parse failed (a number too large, nesting too deep) is the one it reports.
        # (`_rule` nodes are skipped: Lark splices their children into the parent.)
        _build([t for t in made if not t.data.startswith("_")], build, nesting, max_depth)
        raise _translate(error) from None


def _post_order(root):
    # Iterative: trees may nest thousands deep. Reversed, a pre-order that takes the
    # last child first is a post-order: the order the parser reduced in.
    out, todo = [], [root]
    while todo:
        tree = todo.pop()
        out.append(tree)
        todo.extend(c for c in tree.children if isinstance(c, lark.Tree))
    out.reverse()
    return out


def _build(trees, build, nesting, max_depth):
    """Build each of `trees` (children first) as lalr.parse does on a reduction."""
    done = {}           # id(tree) -> (value, nesting depth)
    value = None
    for tree in trees:
        children, depth = [], 0
        for child in tree.children:
            if isinstance(child, lark.Tree):
                child, below = done[id(child)]
                depth = max(depth, below)
            elif child is not None:
                child = _token(child)
            children.append(child)
        name = str(tree.data)
        meta = tree.meta
        start, end = (None, None) if meta.empty else (meta.start_pos, meta.end_pos)
        if nesting is not None and name in nesting:
            depth += nesting[name](children)
            if max_depth is not None and depth > max_depth:
                raise lalr.TooDeep(0 if start is None else start)
        value = build(name, children, start, end)
        done[id(tree)] = value, depth
    return value


def _token(tok) -> lalr.Token:
    return lalr.Token(tok.type, str(tok.value), tok.start_pos, tok.end_pos)


def _translate(e: Exception) -> Exception:
    """Lark's parse errors as the runtime's; the post-lexer's LayoutError as it is."""
    if isinstance(e, UnexpectedCharacters):
        return lalr.UnexpectedCharacter(e.pos_in_stream)
    if isinstance(e, UnexpectedToken):
        expected = set(e.expected)
        accepts = e.interactive_parser.accepts() if e.interactive_parser is not None else expected
        return lalr.UnexpectedToken(_token(e.token), expected, set(accepts))
    if isinstance(e, UnexpectedEOF):        # Lark's LALR reports a $END token instead; kept for safety
        expected = set(e.expected)
        return lalr.UnexpectedToken(lalr.Token("$END", ""), expected, expected)
    return e
