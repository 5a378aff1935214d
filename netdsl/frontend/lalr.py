"""A small LALR(1) runtime for the tables Lark builds from grammars/netdsl.lark.

Lark stays the grammar's compiler: it reads the grammar, checks it and computes
the lexer pattern and the LALR(1) tables (netdsl/grammar.py caches them). This
module only runs those tables: importing lark costs more than parsing a whole
ResNet (bench/README.md), and `netdsl check` is meant to run on every save.

The runtime reproduces exactly what Lark does with the options netdsl uses
(lexer="basic", propagate_positions=True, maybe_placeholders=True): the lexer's
first-alternative matching and keyword callbacks, the shift/reduce loop, and the
tree shaping (anonymous tokens filtered, `_rule`s inlined, `?rule`s collapsed, None
for a missing `[optional]`, positions spanning each node's text).
tests/test_lalr.py checks every shape of this against Lark itself.
"""
from __future__ import annotations

import re


class Token:
    """A lexed token. Positions are character offsets into the text."""

    __slots__ = ("type", "value", "start_pos", "end_pos")

    def __init__(self, type: str, value: str, start_pos: int | None = None, end_pos: int | None = None):
        self.type, self.value, self.start_pos, self.end_pos = type, value, start_pos, end_pos

    @classmethod
    def new_borrow_pos(cls, type_: str, value: str, borrow) -> Token:
        # The name and signature of lark.Token's, so that the post-lexer serves both.
        return cls(type_, value, borrow.start_pos, borrow.end_pos)

    def __repr__(self):
        return f"Token({self.type!r}, {self.value!r}, {self.start_pos}, {self.end_pos})"


class UnexpectedCharacter(Exception):
    """No terminal matches at `pos`."""

    def __init__(self, pos: int):
        super().__init__(f"no token matches at offset {pos}")
        self.pos = pos


class UnexpectedToken(Exception):
    """The parser cannot take `token` in its current state."""

    def __init__(self, token: Token, expected: set[str], accepts: set[str]):
        super().__init__(f"unexpected {token.type}")
        # `expected`: every terminal the state has an action for (what Lark reports);
        # `accepts`: those the parser really takes after its default reductions
        # (Lark's interactive_parser.accepts()).
        self.token, self.expected, self.accepts = token, expected, accepts


class Tables:
    """Everything the runtime needs, as plain data (see grammar.build_tables)."""

    def __init__(self, data: dict):
        self.pattern = re.compile(data["pattern"], data["flags"])
        self.keywords: dict[str, dict[str, str]] = data["keywords"]
        self.ignore = frozenset(data["ignore"])
        self.literals: dict[str, str] = data["literals"]
        # states[s][symbol] = next state (shift or goto) when >= 0, or ~rule to reduce by.
        self.states: list[dict[str, int]] = data["states"]
        # rules[r] = (lhs, size, name, mode, include, nones_after); see grammar._shape.
        self.rules: list[tuple] = data["rules"]
        self.start, self.end = data["start"], data["end"]
        self.plain = frozenset(r for r, (_, size, _, _, include, nones_after) in enumerate(self.rules)
                               if include == tuple((i, False, 0) for i in range(size)) and not nones_after)
        self.units = frozenset(r for r, (_, size, _, mode, include, nones_after) in enumerate(self.rules)
                               if size == 1 and mode == COLLAPSE and include == ((0, False, 0),)
                               and not nones_after)


# Rule modes: how a reduction shapes its children (Lark's parse-tree builder).
INLINE = 0    # `_rule`: its children are spliced into the parent
COLLAPSE = 1  # `?rule` without an alias: a single child stands for the node
NODE = 2      # a node named after the rule or its alias


def tokens(tables: Tables, text: str, make=Token):
    """Lex `text` with Lark's rules: at each offset the first alternative of the
    pattern that matches wins; keywords are names whose text is a keyword."""
    match, ignore, keywords = tables.pattern.match, tables.ignore, tables.keywords
    pos, end = 0, len(text)
    while pos < end:
        m = match(text, pos)
        if m is None:
            raise UnexpectedCharacter(pos)
        kind, stop = m.lastgroup, m.end()
        if kind not in ignore:
            value = m.group()
            if kind in keywords:
                kind = keywords[kind].get(value, kind)
            yield make(kind, value, pos, stop)
        pos = stop


def parse(tables: Tables, stream, build, nesting=None, max_depth: int | None = None):
    """Run the LALR tables over a token stream.

    build(name, children, start, end) makes each node; `start`/`end` span the node's
    text, None when it has none. With `nesting` (rule name -> function of the
    children giving the levels that node adds), a node nested more than
    `max_depth` levels deep raises TooDeep before anything recurses over it.
    """
    states, rules, plain = tables.states, tables.rules, tables.plain
    stack = [tables.start]       # states
    values: list = []            # node values
    spans: list = []             # (start, end) of each value's text, or None
    depths: list[int] = []
    units = tables.units
    token = None

    def reduce(rule):
        lhs, size, name, mode, include, nones_after = rules[rule]
        if size:
            raw = values[-size:]
            raw_spans = spans[-size:]
            depth = max(depths[-size:])
            del stack[-size:], values[-size:], spans[-size:], depths[-size:]
            first, last = raw_spans[0], raw_spans[-1]
            if first is None or last is None:
                first = next((s for s in raw_spans if s is not None), None)
                last = next((s for s in reversed(raw_spans) if s is not None), None)
            span = None if first is None else (first[0], last[1])
        else:
            raw, depth, span = [], 0, None
        if rule in plain:                    # every child kept as it is: the common case
            children = raw
        else:
            children = []
            for index, splice, nones in include:
                if nones:
                    children += [None] * nones
                if splice:
                    if children:
                        children += raw[index]
                    else:
                        children = raw[index]    # left recursion: reuse the list, stay linear
                else:
                    children.append(raw[index])
            if nones_after:
                children += [None] * nones_after
        if mode == INLINE:
            value = children
        elif mode == COLLAPSE and len(children) == 1:
            value = children[0]
            if isinstance(value, Token):     # a token keeps its own position
                span = (value.start_pos, value.end_pos)
        else:
            if nesting is not None and name in nesting:
                depth += nesting[name](children)
                if max_depth is not None and depth > max_depth:
                    raise TooDeep(span[0] if span else 0)
            value = build(name, children, span[0], span[1]) if span else build(name, children, None, None)
        stack.append(states[stack[-1]][lhs])
        values.append(value)
        spans.append(span)
        depths.append(depth)

    def fail(tok):
        row = states[stack[-1]]
        expected = {s for s in row if s.isupper()}
        raise UnexpectedToken(tok, expected, _accepts(tables, list(stack)))

    for token in stream:
        kind = token.type
        while True:
            action = states[stack[-1]].get(kind)
            if action is None:
                fail(token)
            if action >= 0:
                stack.append(action)
                values.append(token)
                spans.append((token.start_pos, token.end_pos))
                depths.append(0)
                break
            rule = ~action
            if rule in units:       # `?a: b` passes b through untouched: only the state changes
                stack.pop()
                stack.append(states[stack[-1]][rules[rule][0]])
            else:
                reduce(rule)
    end = Token.new_borrow_pos("$END", "", token) if token is not None else Token("$END", "", 0)
    while True:
        action = states[stack[-1]].get("$END")
        if action is None or action >= 0:
            fail(end)
        reduce(~action)
        if stack[-1] == tables.end:
            return values[-1]


class TooDeep(Exception):
    def __init__(self, pos: int):
        super().__init__(f"nested too deeply at offset {pos}")
        self.pos = pos


def _accepts(tables: Tables, stack: list[int]) -> set[str]:
    """The terminals the parser would take next: each candidate is tried on a copy
    of the state stack, through whatever reductions it causes, until it is shifted
    (or, for the end of the input, until the start rule is complete)."""
    states, rules = tables.states, tables.rules
    out = set()
    for kind in states[stack[-1]]:
        if not kind.isupper():
            continue
        trial = list(stack)
        while True:
            action = states[trial[-1]].get(kind)
            if action is None:
                break
            if action >= 0:
                out.add(kind)
                break
            lhs, size = rules[~action][:2]
            if size:
                del trial[-size:]
            trial.append(states[trial[-1]][lhs])
            if trial[-1] == tables.end:     # only the end of the input gets here
                out.add(kind)
                break
    return out
