"""The front end: tokens -> layout -> LALR parse -> AST.

Lark compiles grammars/netdsl.lark into tables (grammar.py) and lalr.py runs them
(or, when the tables cannot be had, Lark's own parser does: lark_fallback.py);
this module turns each reduction straight into an AST node (ast.py) with its
span. Parse errors become Diagnostics with plain-word expectations; the grammar's
terminal names never reach the user.
"""
from __future__ import annotations

import math
import re
import sys

from ..diagnostics import Diagnostic, Label, error
from ..diagnostics.codes import E0101, E0104, E0105
from ..diagnostics.fixes import Edit, Fix
from ..limits import LIMITS
from . import ast as A
from . import lalr
from .grammar import grammar_text, parser, tables  # noqa: F401  (re-exported)
from .lalr import Token, TooDeep, UnexpectedCharacter, UnexpectedToken
from .layout import Layout, LayoutError
from .source import Source, Span

# Parsing is iterative, but the passes after it recurse over the AST; nesting is
# capped (LIMITS.max_depth) and Python 3.11 recursion is cheap on the C stack, so
# the limit only needs headroom for legitimately nested specs.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))

# ---- friendly parse errors --------------------------------------------------
_ITEM_STARTS = {"NAME", "LSEQ", "REF"}
_VALUE_STARTS = {"LPAR", "ADD_OP", "LSQB", "FALSE", "TRUE", "NONE", "IN", "NOT", "NAME", "INT", "FLOAT",
                 "STRING", "REF"}
_OPERATORS = {"ADD_OP", "MUL_OP", "POW", "COMP_OP", "AND", "OR", "DOT", "LSQB", "IF", "AS"}
_TERMINAL_WORDS = {
    "ITEM": "a layer", "VALUE": "a value", "OPERATOR": "an operator",
    "NAME": "a name", "INT": "a number", "FLOAT": "a number", "STRING": "a string",
    "REF": "a reference like `@name`", "_NL": "the end of the statement", "LSEQ": "`[`",
    "RSEQ": "`]`", "COMP_OP": "a comparison", "ADD_OP": "`+` or `-`", "MUL_OP": "`*`, `/`, `//` or `%`",
    "$END": "the end of the file",
}


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    literal = parser().literals.get(name)
    if literal is not None:
        return f"`{literal}`"
    return name.lower().replace("_", " ")


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the file"
    if tok.type == "_NL":
        return "the end of the line"
    if tok.type in ("NAME", "INT", "FLOAT", "STRING", "REF"):
        return f"`{tok.value}`"
    return f"`{tok.value}`"


def _expected_words(expected) -> list[str]:
    # Closing punctuation first: it is what people most often forgot.
    words = {_describe_terminal(t) for t in expected if t not in ("NEWLINE", "SEMI")}
    return sorted(words, key=lambda w: (not w.startswith("`"), w))


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    if len(words) > 8:
        return ", ".join(words[:8]) + ", …"
    return ", ".join(words[:-1]) + " or " + words[-1]


def _token_span(source: Source, tok: Token) -> Span:
    start = tok.start_pos if tok.start_pos is not None else len(source.text)
    end = tok.end_pos if tok.end_pos is not None else start
    if tok.type == "_NL":      # point at where the line ends, not at the next line
        end = start + 1 if start < len(source.text) else start
    return Span(source, start, max(end, start))


def _syntax_error(source: Source, e: UnexpectedCharacter | UnexpectedToken) -> Diagnostic:
    if isinstance(e, UnexpectedCharacter):
        pos = e.pos
        ch = source.text[pos] if pos < len(source.text) else ""
        shown = repr(ch)[1:-1] if ch.isprintable() and ch not in "'\"" else f"U+{ord(ch):04X}" if ch else "end of file"
        if ch in "'\"":
            return error(E0101, "unterminated string", Span(source, pos, pos + 1),
                         "this string is not closed on the same line",
                         help=[f"close it with {ch}"])
        return error(E0101, f"unexpected character `{shown}`", Span(source, pos, pos + 1),
                     "not part of the language")
    tok = e.token
    if tok.type == "$END" and tok.start_pos is None:
        tok = Token("$END", "", len(source.text), len(source.text))
    # LALR's default reductions over-approximate `expected`; `accepts` is what the
    # parser really takes next.
    exp = e.accepts - {"$END"} or set(e.expected)
    found = _describe_token(tok)
    span = _token_span(source, tok)
    before = source.text[:tok.start_pos if tok.start_pos is not None else len(source.text)].rstrip()
    if _ITEM_STARTS <= exp:
        exp = (exp - _ITEM_STARTS - {"EXPECT", "FOR", "IF", "REPEAT"}) | {"ITEM"}
    if {"NAME", "INT", "LPAR"} <= exp:
        exp = (exp - _VALUE_STARTS) | {"VALUE"}
    if {"ADD_OP", "MUL_OP"} <= exp:
        exp = (exp - _OPERATORS) | {"OPERATOR"}
    expected = _expected_words(exp)
    msg = f"expected {_join(expected)}, found {found}" if expected else f"unexpected {found}"
    helps = []
    if before.endswith("->") and "ITEM" in exp:
        msg = f"expected a layer after `->`, found {found}"
        span = Span(source, len(before) - 2, len(before))
        return Diagnostic("error", E0101, msg, [Label(span, "nothing follows this arrow")],
                          help=["remove the `->`, or continue the chain with a layer"])
    if "COMMA" in exp and "OPERATOR" in exp and tok.type in ("NAME", "INT", "FLOAT", "STRING", "REF"):
        helps.append("separate arguments with `,`")
    elif "_NL" in exp and tok.type in ("NAME", "LSEQ", "REF"):
        msg = f"expected `->` or the end of the statement, found {found}"
        helps.append("join layers with `->`, or start a new line for the next statement")
    elif tok.type == "EQUAL" and "COLON" in exp:
        helps.append("name a layer with `name: layer(...)`; bind a value with `let name = value`")
    labels = [Label(span, "unexpected here")]
    fixes = []
    unclosed = _unclosed_brace(source, tok.start_pos) if tok.value in _TOP_LEVEL_WORDS else None
    if unclosed is not None:
        # `network` (or `block`, `import`) can only start a file's top-level item: the
        # body before it was never closed. Point at its `{` and offer the `}`.
        labels.append(Label(Span(source, unclosed, unclosed + 1), "this `{` is never closed", primary=False))
        at = len(before)
        fix = Fix(f"close it with `}}` before line {span.line}", (Edit(Span(source, at, at), "\n}"),))
        helps.append(fix.message)
        fixes.append(fix)
    return Diagnostic("error", E0101, msg, labels, help=helps, fixes=fixes)


_TOP_LEVEL_WORDS = frozenset({"network", "block", "import", "sequential"})


def _unclosed_brace(source: Source, end: int) -> int | None:
    """The offset of the innermost `{` still open at `end` (strings and comments
    skipped), or None."""
    text, stack, i = source.text, [], 0
    while i < end:
        ch = text[i]
        if ch == "#":
            nl = text.find("\n", i)
            i = end if nl < 0 else nl
            continue
        if ch in "'\"":
            close = text.find(ch, i + 1)
            i = end if close < 0 else close + 1
            continue
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            stack.pop()
        i += 1
    return stack[-1] if stack else None


# ---- reductions -> AST ------------------------------------------------------------
_HOLE = re.compile(r"\{([^{}]*)\}")


class _BadTemplate(Exception):
    def __init__(self, tok: Token, message: str):
        self.tok, self.message = tok, message


class _Builder:
    """Makes the AST node for each reduction the parser reports: one method per
    rule or alias name, called with the rule's children and the span of its text."""

    def __init__(self, source: Source, shift: int = 0):
        self.src = source
        self.shift = shift      # for expressions parsed out of a name template
        self.handlers = {}

    def __call__(self, name, children, start, end):
        handler = self.handlers.get(name)
        if handler is None:
            handler = self.handlers[name] = getattr(self, name)
        return handler(children, start, end)

    def span(self, start, end) -> Span:
        if start is None:       # a node with no text of its own (an empty file)
            return Span(self.src, 0, 0)
        return Span(self.src, start + self.shift, end + self.shift)

    def _span(self, tok: Token) -> Span:
        return Span(self.src, tok.start_pos + self.shift, tok.end_pos + self.shift)

    # --- top level
    def start(self, items, start, end):
        imports = tuple(i for i in items if isinstance(i, A.Import))
        defs = tuple(i for i in items if isinstance(i, A.Definition))
        lets = tuple(i for i in items if isinstance(i, (A.Let, A.Function)))
        return A.Module(imports, defs, lets)

    def import_stmt(self, children, start, end):
        (s,) = children
        return A.Import(s.value[1:-1], self.span(start, end))

    def network_def(self, children, start, end):
        name, params, body = children
        return A.Definition("network", name.value, params or (), None, None, body,
                            self.span(start, end), self._span(name))

    def block_def(self, children, start, end):
        sequential, name, params, sig, body = children
        accepts, returns = sig if sig else (None, None)
        return A.Definition("block", name.value, params or (), accepts, returns, body,
                            self.span(start, end), self._span(name), sequential is not None)

    def signature(self, children, start, end):
        return tuple(children)

    def params(self, children, start, end):
        return tuple(c for c in children if c is not None)

    def param(self, children, start, end):
        name, typ, default = children
        return A.Param(name.value, typ, default, self.span(start, end))

    def type_name(self, children, start, end):
        return children[0].value

    def type_tuple(self, children, start, end):
        return tuple(c for c in children if c is not None)

    def body(self, children, start, end):
        return tuple(children)

    def let_stmt(self, children, start, end):
        name, value = children
        return A.Let(name.value, value, self.span(start, end))

    def func_def(self, children, start, end):
        name, *params, body = children
        return A.Function(name.value, tuple(p.value for p in params if p is not None), body, self.span(start, end))

    def input_stmt(self, children, start, end):
        return A.Input(children[0], self.span(start, end))

    def output_stmt(self, children, start, end):
        args, guard = children
        return A.Output(args or (), self.span(start, end), guard)

    def assert_stmt(self, children, start, end):
        test, message = children
        return A.Assert(test, message, self.span(start, end))

    def chain(self, children, start, end):
        *items, guard = children
        return A.Chain(tuple(items), self.span(start, end), guard)

    def guard(self, children, start, end):
        return children[0]

    def named(self, children, start, end):
        name, item = children
        label = self._template(name) if name.type == "STRING" else name.value
        return A.Named(label, item, self.span(start, end), self._span(name))

    def _template(self, tok: Token) -> A.Template:
        """Split "denselayer{i + 1}" into literal text and expressions. Each `{...}`
        is parsed as an expression, with spans pointing into this file."""
        parts, text, start = [], tok.value[1:-1], tok.start_pos + 1
        pos = 0
        for m in _HOLE.finditer(text):
            if m.start() > pos:
                parts.append(text[pos:m.start()])
            parts.append(self._hole(m.group(1), start + m.start(1), tok))
            pos = m.end()
        if pos < len(text):
            parts.append(text[pos:])
        if any(ch in "{}" for p in parts if isinstance(p, str) for ch in p):
            raise _BadTemplate(tok, "unbalanced `{` or `}` in a layer name")
        return A.Template(tuple(parts), self._span(tok))

    def _hole(self, code: str, offset: int, tok: Token):
        prefix = "let _ = "
        try:
            module = _parse(prefix + code + "\n", _Builder(self.src, offset - len(prefix)))
        except (UnexpectedCharacter, UnexpectedToken, LayoutError, TooDeep):
            raise _BadTemplate(tok, f"`{{{code}}}` is not an expression") from None
        return module.lets[0].value

    def call(self, children, start, end):
        name, args, body = children
        return A.Call(name.value, args or (), body, self.span(start, end), self._span(name))

    def arglist(self, children, start, end):
        return tuple(c for c in children if c is not None)

    def pos_arg(self, children, start, end):
        return A.Arg(None, children[0], self.span(start, end))

    def kw_arg(self, children, start, end):
        name, value = children
        return A.Arg(name.value, value, self.span(start, end))

    def sequence(self, children, start, end):
        return A.Sequence(tuple(c for c in children if not isinstance(c, Token)), self.span(start, end))

    def if_item(self, children, start, end):
        test, then, orelse = children
        if isinstance(orelse, A.If):
            orelse = (A.Chain((orelse,), orelse.span),)
        return A.If(test, then, orelse, self.span(start, end))

    def for_item(self, children, start, end):
        target, iterable, body = children
        names, destructure = target
        return A.For(names, destructure, iterable, body, self.span(start, end))

    def target(self, children, start, end):
        names = tuple(c.value for c in children if c is not None)
        return names, len(children) > 1

    def repeat_item(self, children, start, end):
        count, index, body = children
        return A.Repeat(count, index.value if index else None, body, self.span(start, end))

    def ref(self, children, start, end):
        return A.Ref(children[0].value[1:], self.span(start, end))

    def expect(self, children, start, end):
        return A.Expect(children[0], self.span(start, end))

    # --- expressions
    def cond_expr(self, children, start, end):
        then, test, orelse = children
        return A.CondExpr(test, then, orelse, self.span(start, end))

    def or_chain(self, children, start, end):
        return A.BoolOp("or", tuple(children), self.span(start, end)) if len(children) > 1 else children[0]

    def and_chain(self, children, start, end):
        return A.BoolOp("and", tuple(children), self.span(start, end)) if len(children) > 1 else children[0]

    def not_expr(self, children, start, end):
        return A.Unary("not", children[0], self.span(start, end))

    def compare(self, children, start, end):
        if len(children) == 1:
            return children[0]
        left, op, right = children
        return A.BinOp(op.value, left, right, self.span(start, end))

    def arith(self, children, start, end):
        node = children[0]
        start = self.span(start, end).start
        for i in range(1, len(children), 2):
            right = children[i + 1]
            node = A.BinOp(children[i].value, node, right, Span(self.src, start, right.span.end))
        return node

    def unary(self, children, start, end):
        op, operand = children
        return A.Unary(op.value, operand, self.span(start, end))

    def power(self, children, start, end):
        if len(children) == 1 or children[-1] is None:
            return children[0]
        return A.BinOp("**", children[0], children[-1], self.span(start, end))

    def attr(self, children, start, end):
        return A.Attr(children[0], children[1].value, self.span(start, end))

    def index(self, children, start, end):
        return A.Index(children[0], children[1], self.span(start, end))

    def funcall(self, children, start, end):
        name, *args = children
        return A.FunCall(name.value, tuple(a for a in args if a is not None), self.span(start, end))

    def int_lit(self, children, start, end):
        tok = children[0]
        if len(tok.value.lstrip("0")) > LIMITS.max_int_digits:
            raise _LiteralTooLarge(tok)
        return A.Const(int(tok.value), self._span(tok))

    def float_lit(self, children, start, end):
        tok = children[0]
        value = float(tok.value) if len(tok.value) <= 64 else math.inf
        if not math.isfinite(value):        # 1e400 would silently become inf
            raise _LiteralTooLarge(tok)
        return A.Const(value, self._span(tok))

    def str_lit(self, children, start, end):
        return A.Const(children[0].value[1:-1], self._span(children[0]))

    def true_lit(self, children, start, end):
        return A.Const(True, self.span(start, end))

    def false_lit(self, children, start, end):
        return A.Const(False, self.span(start, end))

    def none_lit(self, children, start, end):
        return A.Const(None, self.span(start, end))

    def var(self, children, start, end):
        return A.Var(children[0].value, self._span(children[0]))

    def ref_expr(self, children, start, end):
        return A.RefShape(children[0].value[1:], self._span(children[0]))

    def in_shape(self, children, start, end):
        return A.InShape(self.span(start, end))

    def tuple_lit(self, children, start, end):
        return A.TupleExpr(tuple(c for c in children if c is not None), self.span(start, end))

    def list_lit(self, children, start, end):
        return A.TupleExpr(tuple(c for c in children if c is not None), self.span(start, end), "[]")

    def list_comp(self, children, start, end):
        element, (names, destructure), iterable, condition = children
        return A.Comprehension(element, names, destructure, iterable, condition, self.span(start, end))


class _LiteralTooLarge(Exception):
    def __init__(self, tok: Token):
        self.tok = tok


# Rules that add a level of nesting; the others pass a single child through.
# A flat chain `a + b + c` counts one level per operator, because the AST (and
# so evaluation) nests it left-deep. The parser builds bottom-up without
# recursion, so a hostile depth (`- - - … x`, `a.b.c…`, `2**2**…`) is caught here,
# before the evaluator could hit Python's recursion limit.
def _levels(children) -> int:
    return 1 if len(children) > 1 else 0


_NESTING = {name: _levels for name in (
    "unary", "power", "attr", "index", "cond_expr", "funcall", "list_lit", "list_comp", "tuple_lit", "compare",
    "or_chain", "and_chain", "body", "sequence", "if_item", "for_item", "repeat_item", "named", "arglist")}
_NESTING["not_expr"] = lambda children: 1
_NESTING["arith"] = lambda children: max(1, len(children) // 2) if len(children) > 1 else 0


def _parse(text: str, build: _Builder):
    active = parser()
    if isinstance(active, lalr.Tables):
        stream = Layout().process(lalr.tokens(active, text))
        return lalr.parse(active, stream, build, _NESTING, LIMITS.max_depth)
    return active.parse(text, build, _NESTING, LIMITS.max_depth)     # Lark's own parser (grammar.parser)


def parse(source: Source) -> tuple[A.Module | None, list[Diagnostic]]:
    """Parse one file. Returns (module or None, diagnostics)."""
    try:
        return _parse(source.text, _Builder(source)), []
    except TooDeep as e:
        return None, [error(E0104, f"nested more than {LIMITS.max_depth} levels deep",
                            Span(source, e.pos, min(e.pos + 1, len(source.text))), "too deep here",
                            notes=["operators, calls, lists and bodies each add a level; "
                                   "a chain `a + b + c` adds one per operator"],
                            help=["split the expression with `let`, or the structure into blocks"])]
    except LayoutError as e:
        labels = [Label(_token_span(source, e.token), e.label)]
        if e.other is not None:
            labels.append(Label(_token_span(source, e.other), e.other_label, primary=False))
        return None, [Diagnostic("error", e.code, e.message, labels, help=[e.help] if e.help else [])]
    except (UnexpectedCharacter, UnexpectedToken) as e:
        return None, [_syntax_error(source, e)]
    except _BadTemplate as e:
        return None, [error(E0101, e.message, Span(source, e.tok.start_pos, e.tok.end_pos),
                            "in this name", help=['write a computed name like "layer{i + 1}"'])]
    except _LiteralTooLarge as e:
        tok = e.tok
        is_int = tok.type == "INT"
        return None, [error(E0105, "number literal is too large",
                            Span(source, tok.start_pos, tok.end_pos),
                            f"more than {LIMITS.max_int_digits} digits" if is_int else "not a finite number",
                            notes=["netdsl keeps every size below 2**63" if is_int
                                   else "floats must stay below about 1.8e308"])]
