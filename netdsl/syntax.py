"""The front end: Lark grammar -> parse tree -> AST.

This is the only module that touches lark.Tree. Parse errors become Diagnostics
with plain-word expectations; Lark's terminal names never reach the user.
"""
from __future__ import annotations

import functools
import math
import os
import re
import sys

_OPTIONAL = ("regex", "interegular")


def _import_lark():
    # Lark imports two optional packages whenever they are installed: `regex` for
    # Lark(regex=True), which netdsl does not use, and `interegular`, which only
    # checks terminal collisions while a grammar is *built* (netdsl loads a cached
    # parser). Hiding them during the import saves ~10 ms of start-up on every
    # command; enable_strict_checks() brings interegular back for grammar tests.
    hidden = [name for name in _OPTIONAL if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None         # makes `import name` raise ImportError
    try:
        import lark
    finally:
        for name in hidden:
            del sys.modules[name]
    return lark


def enable_strict_checks() -> None:
    """Let Lark use interegular again (strict=True grammar builds, collision checks)."""
    import interegular
    import lark.lexer
    lark.lexer.interegular = interegular
    lark.lexer.has_interegular = True


_import_lark()
from lark import Lark, Token, Transformer, Tree, v_args  # noqa: E402
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from . import ast as A
from .diagnostics import Diagnostic, Label, error
from .limits import LIMITS
from .source import Source, Span

# Python 3.11 recursion is cheap on the C stack; the limit only needs headroom
# for the tree transformer on legitimately nested specs (depth is capped below).
sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))

_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_VALUE_TOKENS = {"NAME", "STRING", "INT", "FLOAT", "REF"}


class LayoutError(Exception):
    def __init__(self, code: str, message: str, token: Token, label: str = "",
                 other: Token | None = None, other_label: str = "", help: str = ""):
        super().__init__(message)
        self.code, self.message, self.token, self.label = code, message, token, label
        self.other, self.other_label, self.help = other, other_label, help


class Layout:
    """Post-lexer: decides which newlines end statements and which `[` opens a sequence."""

    always_accept = ("NEWLINE", "SEMI")
    version = "4"

    def process(self, stream):
        stack: list[tuple[str, Token]] = []      # (kind, opener); kind in ( list { seq
        last: str | None = None               # value/kind of the last token emitted
        pending: Token | None = None          # a newline that may end a statement

        def nl(borrow):
            return Token.new_borrow_pos("_NL", "\n", borrow)

        count, cap = 0, LIMITS.max_tokens
        for tok in stream:
            count += 1
            if count > cap:         # bounds parse memory (about 1 KB per token)
                raise LayoutError("E0108", f"the file has more than {cap:,} tokens", tok, "the limit is reached here",
                                  help="use `repeat` or `for` for long runs of layers")
            kind = tok.type
            is_punct = kind not in _VALUE_TOKENS
            value = tok.value if is_punct else None
            if kind in ("NEWLINE", "SEMI"):
                if stack and stack[-1][0] in ("(", "list"):
                    if kind == "SEMI":
                        raise LayoutError("E0101", "unexpected `;` inside brackets", tok, "statements cannot end here")
                    continue
                if last in (None, "_NL", "{", "seq", "->", "else"):
                    continue
                # `;` always ends the statement; a newline may be cancelled by a continuation.
                pending = tok if kind == "SEMI" or pending is None else pending
                continue
            if pending is not None:
                # A line that starts with one of these continues the previous one.
                if pending.type == "SEMI" or value not in ("->", "else", ":", "{"):
                    yield nl(pending)
                    last = "_NL"
                pending = None
            if value in _OPENERS:
                if len(stack) >= LIMITS.max_nesting:
                    raise LayoutError("E0104", f"brackets nested deeper than {LIMITS.max_nesting} levels",
                                      tok, "too deep here", help="split the expression or the structure into blocks")
                if value == "[":
                    in_body = not stack or stack[-1][0] in ("{", "seq")
                    # A `[` that starts an item opens a layer sequence; elsewhere it is a list.
                    if stack and in_body and last in ("_NL", "{", "seq", "->", ":"):
                        stack.append(("seq", tok))
                        tok = Token.new_borrow_pos("LSEQ", "[", tok)
                        yield tok
                        last = "seq"
                        continue
                    stack.append(("list", tok))
                else:
                    stack.append((value, tok))
                yield tok
                last = value
                continue
            if value in _CLOSERS:
                if not stack:
                    raise LayoutError("E0103", f"unmatched `{value}`", tok, "nothing to close here")
                open_kind, opener = stack[-1]
                want = {"(": ")", "list": "]", "seq": "]", "{": "}"}[open_kind]
                if value != want:
                    raise LayoutError("E0103", f"mismatched `{value}`: expected `{want}`", tok,
                                      f"expected `{want}`", other=opener,
                                      other_label=f"`{opener.value}` opened here")
                stack.pop()
                if open_kind in ("{", "seq") and last not in ("_NL", "{", "seq"):
                    yield nl(tok)
                if open_kind == "seq":
                    tok = Token.new_borrow_pos("RSEQ", "]", tok)
                yield tok
                last = value
                continue
            yield tok
            last = value if is_punct else kind
        if stack:
            kind, opener = stack[-1]
            raise LayoutError("E0102", f"unclosed `{opener.value}`", opener,
                              "opened here and never closed",
                              help=f"add the matching `{ {'(': ')', 'list': ']', 'seq': ']', '{': '}'}[kind] }`")
        if last not in (None, "_NL"):
            yield Token("_NL", "\n", start_pos=getattr(pending, "start_pos", None))


@functools.lru_cache(maxsize=1)
def grammar_text() -> str:
    # Plain file reads first (a source checkout or editable install has grammars/
    # beside the package; a wheel maps it to netdsl/_grammars/): importlib.resources
    # costs start-up time and is only needed for zipped installs.
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, "_grammars", "netdsl.lark"),
                      os.path.join(os.path.dirname(here), "grammars", "netdsl.lark")):
        try:
            with open(candidate, encoding="utf-8") as f:
                return f.read()
        except OSError:
            continue
    from importlib import resources
    return resources.files("netdsl._grammars").joinpath("netdsl.lark").read_text(encoding="utf-8")


def _cache_dir() -> str:
    # tempfile.gettempdir() would do, but importing tempfile costs start-up time.
    for var in ("NETDSL_CACHE_DIR", "TMPDIR", "TEMP", "TMP"):
        d = os.environ.get(var)
        if d and os.path.isdir(d):
            return d
    if os.name == "posix" and os.path.isdir("/tmp"):
        return "/tmp"
    import tempfile
    return tempfile.gettempdir()


@functools.lru_cache(maxsize=1)
def parser() -> Lark:
    import hashlib
    text = grammar_text()
    # The cache key must cover the post-lexer too (Lark's own key does not).
    key = hashlib.sha256((text + Layout.version).encode()).hexdigest()[:16]
    cache = os.path.join(_cache_dir(), f"netdsl-grammar-{key}.lark")
    return Lark(text, parser="lalr", lexer="basic", postlex=Layout(),
                propagate_positions=True, maybe_placeholders=True, cache=cache)


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
    for term in parser().terminals:
        if term.name == name and term.pattern.type == "str":
            return f"`{term.pattern.value}`"
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


def _syntax_error(source: Source, e: UnexpectedInput) -> Diagnostic:
    if isinstance(e, UnexpectedCharacters):
        pos = e.pos_in_stream
        ch = source.text[pos] if pos < len(source.text) else ""
        shown = repr(ch)[1:-1] if ch.isprintable() and ch not in "'\"" else f"U+{ord(ch):04X}" if ch else "end of file"
        if ch in "'\"":
            return error("E0101", "unterminated string", Span(source, pos, pos + 1),
                         "this string is not closed on the same line",
                         help=[f"close it with {ch}"])
        return error("E0101", f"unexpected character `{shown}`", Span(source, pos, pos + 1),
                     "not part of the language")
    tok = e.token if isinstance(e, UnexpectedToken) else Token("$END", "")
    if tok.type == "$END" and tok.start_pos is None:
        tok = Token("$END", "", start_pos=len(source.text), end_pos=len(source.text))
    exp = set(getattr(e, "expected", ()) or ())
    try:   # LALR's default reductions over-approximate `expected`; ask the parser itself.
        exp = set(e.interactive_parser.accepts()) - {"$END"} or exp
    except Exception:       # accepts() re-runs the parser; any failure just keeps the coarse set
        pass
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
        return Diagnostic("error", "E0101", msg, [Label(span, "nothing follows this arrow")],
                          help=["remove the `->`, or continue the chain with a layer"])
    if "COMMA" in exp and "OPERATOR" in exp and tok.type in ("NAME", "INT", "FLOAT", "STRING", "REF"):
        helps.append("separate arguments with `,`")
    elif "_NL" in exp and tok.type in ("NAME", "LSEQ", "REF"):
        msg = f"expected `->` or the end of the statement, found {found}"
        helps.append("join layers with `->`, or start a new line for the next statement")
    elif tok.type == "EQUAL" and "COLON" in exp:
        helps.append("name a layer with `name: layer(...)`; bind a value with `let name = value`")
    return Diagnostic("error", "E0101", msg, [Label(span, "unexpected here")], help=helps)


# ---- tree -> AST ------------------------------------------------------------
_HOLE = re.compile(r"\{([^{}]*)\}")


class _BadTemplate(Exception):
    def __init__(self, tok: Token, message: str):
        self.tok, self.message = tok, message


class _ToAst(Transformer):
    def __init__(self, source: Source):
        super().__init__()
        self.src = source
        self.shift = 0          # for expressions parsed out of a name template

    def _span(self, meta_or_tok) -> Span:
        if isinstance(meta_or_tok, Token):
            return Span(self.src, meta_or_tok.start_pos + self.shift, meta_or_tok.end_pos + self.shift)
        if getattr(meta_or_tok, "empty", False):
            return Span(self.src, 0, 0)
        return Span(self.src, meta_or_tok.start_pos + self.shift, meta_or_tok.end_pos + self.shift)

    # --- top level
    def start(self, items):
        imports = tuple(i for i in items if isinstance(i, A.Import))
        defs = tuple(i for i in items if isinstance(i, A.Definition))
        lets = tuple(i for i in items if isinstance(i, A.Let))
        return A.Module(imports, defs, lets)

    @v_args(meta=True)
    def import_stmt(self, meta, children):
        (s,) = children
        return A.Import(s.value[1:-1], self._span(meta))

    @v_args(meta=True)
    def network_def(self, meta, children):
        name, params, body = children
        return A.Definition("network", name.value, params or (), None, None, body,
                            self._span(meta), self._span(name))

    @v_args(meta=True)
    def block_def(self, meta, children):
        name, params, sig, body = children
        accepts, returns = sig if sig else (None, None)
        return A.Definition("block", name.value, params or (), accepts, returns, body,
                            self._span(meta), self._span(name))

    def signature(self, children):
        return tuple(children)

    def params(self, children):
        return tuple(c for c in children if c is not None)

    @v_args(meta=True)
    def param(self, meta, children):
        name, typ, default = children
        return A.Param(name.value, typ, default, self._span(meta))

    def type_name(self, children):
        return children[0].value

    def type_tuple(self, children):
        return tuple(c for c in children if c is not None)

    def body(self, children):
        return tuple(children)

    @v_args(meta=True)
    def let_stmt(self, meta, children):
        name, value = children
        return A.Let(name.value, value, self._span(meta))

    @v_args(meta=True)
    def input_stmt(self, meta, children):
        return A.Input(children[0], self._span(meta))

    @v_args(meta=True)
    def chain(self, meta, children):
        return A.Chain(tuple(children), self._span(meta))

    @v_args(meta=True)
    def named(self, meta, children):
        name, item = children
        label = self._template(name) if name.type == "STRING" else name.value
        return A.Named(label, item, self._span(meta), self._span(name))

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
            tree = parser().parse(prefix + code + "\n")
        except (UnexpectedInput, LayoutError):
            raise _BadTemplate(tok, f"`{{{code}}}` is not an expression") from None
        sub = _ToAst(self.src)
        sub.shift = offset - len(prefix)
        module = sub.transform(tree)
        return module.lets[0].value

    @v_args(meta=True)
    def call(self, meta, children):
        name, args, body = children
        return A.Call(name.value, args or (), body, self._span(meta), self._span(name))

    def arglist(self, children):
        return tuple(c for c in children if c is not None)

    @v_args(meta=True)
    def pos_arg(self, meta, children):
        return A.Arg(None, children[0], self._span(meta))

    @v_args(meta=True)
    def kw_arg(self, meta, children):
        name, value = children
        return A.Arg(name.value, value, self._span(meta))

    @v_args(meta=True)
    def sequence(self, meta, children):
        return A.Sequence(tuple(c for c in children if not isinstance(c, Token)), self._span(meta))

    @v_args(meta=True)
    def if_item(self, meta, children):
        test, then, orelse = children
        if isinstance(orelse, A.If):
            orelse = (A.Chain((orelse,), orelse.span),)
        return A.If(test, then, orelse, self._span(meta))

    @v_args(meta=True)
    def for_item(self, meta, children):
        target, iterable, body = children
        names, destructure = target
        return A.For(names, destructure, iterable, body, self._span(meta))

    def target(self, children):
        names = tuple(c.value for c in children if c is not None)
        return names, len(children) > 1

    @v_args(meta=True)
    def repeat_item(self, meta, children):
        count, index, body = children
        return A.Repeat(count, index.value if index else None, body, self._span(meta))

    @v_args(meta=True)
    def ref(self, meta, children):
        return A.Ref(children[0].value[1:], self._span(meta))

    @v_args(meta=True)
    def expect(self, meta, children):
        return A.Expect(children[0], self._span(meta))

    # --- expressions
    @v_args(meta=True)
    def cond_expr(self, meta, children):
        then, test, orelse = children
        return A.CondExpr(test, then, orelse, self._span(meta))

    @v_args(meta=True)
    def or_chain(self, meta, children):
        return A.BoolOp("or", tuple(children), self._span(meta)) if len(children) > 1 else children[0]

    @v_args(meta=True)
    def and_chain(self, meta, children):
        return A.BoolOp("and", tuple(children), self._span(meta)) if len(children) > 1 else children[0]

    @v_args(meta=True)
    def not_expr(self, meta, children):
        return A.Unary("not", children[0], self._span(meta))

    @v_args(meta=True)
    def compare(self, meta, children):
        if len(children) == 1:
            return children[0]
        left, op, right = children
        return A.BinOp(op.value, left, right, self._span(meta))

    @v_args(meta=True)
    def arith(self, meta, children):
        node = children[0]
        start = self._span(meta).start
        for i in range(1, len(children), 2):
            right = children[i + 1]
            node = A.BinOp(children[i].value, node, right, Span(self.src, start, right.span.end))
        return node

    @v_args(meta=True)
    def unary(self, meta, children):
        op, operand = children
        return A.Unary(op.value, operand, self._span(meta))

    @v_args(meta=True)
    def power(self, meta, children):
        if len(children) == 1 or children[-1] is None:
            return children[0]
        return A.BinOp("**", children[0], children[-1], self._span(meta))

    @v_args(meta=True)
    def attr(self, meta, children):
        return A.Attr(children[0], children[1].value, self._span(meta))

    @v_args(meta=True)
    def index(self, meta, children):
        return A.Index(children[0], children[1], self._span(meta))

    @v_args(meta=True)
    def funcall(self, meta, children):
        name, *args = children
        return A.FunCall(name.value, tuple(a for a in args if a is not None), self._span(meta))

    @v_args(meta=True)
    def int_lit(self, meta, children):
        tok = children[0]
        if len(tok.value.lstrip("0")) > LIMITS.max_int_digits:
            raise _LiteralTooLarge(tok)
        return A.Const(int(tok.value), self._span(tok))

    @v_args(meta=True)
    def float_lit(self, meta, children):
        tok = children[0]
        value = float(tok.value) if len(tok.value) <= 64 else math.inf
        if not math.isfinite(value):        # 1e400 would silently become inf
            raise _LiteralTooLarge(tok)
        return A.Const(value, self._span(tok))

    @v_args(meta=True)
    def str_lit(self, meta, children):
        return A.Const(children[0].value[1:-1], self._span(children[0]))

    @v_args(meta=True)
    def true_lit(self, meta, children):
        return A.Const(True, self._span(meta))

    @v_args(meta=True)
    def false_lit(self, meta, children):
        return A.Const(False, self._span(meta))

    @v_args(meta=True)
    def none_lit(self, meta, children):
        return A.Const(None, self._span(meta))

    @v_args(meta=True)
    def var(self, meta, children):
        return A.Var(children[0].value, self._span(children[0]))

    @v_args(meta=True)
    def ref_expr(self, meta, children):
        return A.RefShape(children[0].value[1:], self._span(children[0]))

    @v_args(meta=True)
    def in_shape(self, meta, children):
        return A.InShape(self._span(meta))

    @v_args(meta=True)
    def tuple_lit(self, meta, children):
        return A.TupleExpr(tuple(c for c in children if c is not None), self._span(meta))

    @v_args(meta=True)
    def list_lit(self, meta, children):
        return A.TupleExpr(tuple(c for c in children if c is not None), self._span(meta), "[]")


class _LiteralTooLarge(Exception):
    def __init__(self, tok: Token):
        self.tok = tok


# Rules that add a level of nesting; the others pass a single child through.
# A flat chain `a + b + c` counts one level per operator, because the AST (and
# so evaluation) nests it left-deep.
_NESTING_RULES = frozenset({"unary", "not_expr", "power", "attr", "index", "cond_expr", "funcall",
                            "list_lit", "tuple_lit", "arith", "compare", "or_chain", "and_chain",
                            "body", "sequence", "if_item", "for_item", "repeat_item", "named", "arglist"})


def _too_deep(tree: Tree, limit: int):
    """The first subtree nested more than `limit` levels deep, or None. Iterative, so
    hostile depth (`- - - … x`, `a.b.c…`, `2**2**…`) is caught before the recursive
    tree transformer or the evaluator could hit Python's recursion limit."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, Tree):
            continue
        kids = [c for c in node.children if isinstance(c, Tree)]
        if node.data in _NESTING_RULES and len(node.children) > 1 or node.data == "not_expr":
            depth += max(1, len(node.children) // 2) if node.data == "arith" else 1
            if depth > limit:
                return node
        stack.extend((c, depth) for c in kids)
    return None


def _first_pos(node) -> int:
    while isinstance(node, Tree):
        if not getattr(node.meta, "empty", True):
            return node.meta.start_pos
        kids = [c for c in node.children if c is not None]
        if not kids:
            return 0
        node = kids[0]
    return node.start_pos if isinstance(node, Token) and node.start_pos is not None else 0


def parse(source: Source) -> tuple[A.Module | None, list[Diagnostic]]:
    """Parse one file. Returns (module or None, diagnostics)."""
    try:
        tree = parser().parse(source.text)
        deep = _too_deep(tree, LIMITS.max_depth)
        if deep is not None:
            pos = _first_pos(deep)
            return None, [error("E0104", f"nested more than {LIMITS.max_depth} levels deep",
                                Span(source, pos, min(pos + 1, len(source.text))), "too deep here",
                                notes=["operators, calls, lists and bodies each add a level; "
                                       "a chain `a + b + c` adds one per operator"],
                                help=["split the expression with `let`, or the structure into blocks"])]
        return _ToAst(source).transform(tree), []
    except LayoutError as e:
        labels = [Label(_token_span(source, e.token), e.label)]
        if e.other is not None:
            labels.append(Label(_token_span(source, e.other), e.other_label, primary=False))
        return None, [Diagnostic("error", e.code, e.message, labels, help=[e.help] if e.help else [])]
    except UnexpectedInput as e:
        return None, [_syntax_error(source, e)]
    except VisitError as e:
        inner = e.orig_exc
        if isinstance(inner, _BadTemplate):
            return None, [error("E0101", inner.message, Span(source, inner.tok.start_pos, inner.tok.end_pos),
                                "in this name", help=['write a computed name like "layer{i + 1}"'])]
        if isinstance(inner, _LiteralTooLarge):
            tok = inner.tok
            is_int = tok.type == "INT"
            return None, [error("E0105", "number literal is too large",
                                Span(source, tok.start_pos, tok.end_pos),
                                f"more than {LIMITS.max_int_digits} digits" if is_int else "not a finite number",
                                notes=["netdsl keeps every size below 2**63" if is_int
                                       else "floats must stay below about 1.8e308"])]
        if isinstance(inner, RecursionError):
            return None, [error("E0104", "the file is nested too deeply to parse", Span(source, 0, 0))]
        raise
    except RecursionError:
        return None, [error("E0104", "the file is nested too deeply to parse", Span(source, 0, 0))]
