"""The syntax tree: immutable nodes, each carrying the Span it came from.

Only netdsl/syntax.py builds these from the parse tree; everything after parsing
works on this tree and never sees the parser's own tree.
"""
from __future__ import annotations

from typing import Any

from ..record import Immutable, set_field
from .source import Span

# Plain classes with __slots__ and a hand-written __init__, not dataclasses: this
# module is imported on every `netdsl check`, and @dataclass costs about 0.2 ms per
# class (it generates and compiles methods, and inspects a signature for the
# docstring) -- 6 ms for these 31 classes. The nodes behave as before: the same
# positional/keyword constructors and defaults, fields that cannot be reassigned,
# comparison by identity (nothing compares syntax trees by value), one shared repr.
_set = set_field        # how __init__ writes a field past the immutability guard


class _Node(Immutable):
    """Shared by every AST class: immutability, identity comparison and one generic
    repr (netdsl/record.py), over the fields each class lists in __slots__."""
    __slots__ = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._fields = cls.__slots__


# ---- expressions ------------------------------------------------------------
class Const(_Node):          # int, float, str, bool or None literal
    __slots__ = ("value", "span")

    def __init__(self, value: Any, span: Span):
        _set(self, "value", value)
        _set(self, "span", span)


class Var(_Node):
    __slots__ = ("name", "span")

    def __init__(self, name: str, span: Span):
        _set(self, "name", name)
        _set(self, "span", span)


class InShape(_Node):        # `in`: the shape entering the current block (or network)
    __slots__ = ("span",)

    def __init__(self, span: Span):
        _set(self, "span", span)


class RefShape(_Node):       # `@name` inside an expression: that tensor's shape
    __slots__ = ("name", "span")

    def __init__(self, name: str, span: Span):
        _set(self, "name", name)
        _set(self, "span", span)


class BinOp(_Node):
    __slots__ = ("op", "left", "right", "span")

    def __init__(self, op: str, left: Expr, right: Expr, span: Span):
        _set(self, "op", op)
        _set(self, "left", left)
        _set(self, "right", right)
        _set(self, "span", span)


class Unary(_Node):
    __slots__ = ("op", "operand", "span")

    def __init__(self, op: str, operand: Expr, span: Span):
        _set(self, "op", op)               # "-", "+" or "not"
        _set(self, "operand", operand)
        _set(self, "span", span)


class BoolOp(_Node):
    __slots__ = ("op", "operands", "span")

    def __init__(self, op: str, operands: tuple[Expr, ...], span: Span):
        _set(self, "op", op)               # "and" / "or"
        _set(self, "operands", operands)
        _set(self, "span", span)


class CondExpr(_Node):
    __slots__ = ("test", "then", "orelse", "span")

    def __init__(self, test: Expr, then: Expr, orelse: Expr, span: Span):
        _set(self, "test", test)
        _set(self, "then", then)
        _set(self, "orelse", orelse)
        _set(self, "span", span)


class Attr(_Node):
    __slots__ = ("value", "name", "span")

    def __init__(self, value: Expr, name: str, span: Span):
        _set(self, "value", value)
        _set(self, "name", name)
        _set(self, "span", span)


class Index(_Node):
    __slots__ = ("value", "index", "span")

    def __init__(self, value: Expr, index: Expr, span: Span):
        _set(self, "value", value)
        _set(self, "index", index)
        _set(self, "span", span)


class FunCall(_Node):
    __slots__ = ("name", "args", "span")

    def __init__(self, name: str, args: tuple[Expr, ...], span: Span):
        _set(self, "name", name)
        _set(self, "args", args)
        _set(self, "span", span)


class TupleExpr(_Node):      # (a, b) and [a, b] alike: values are immutable tuples
    __slots__ = ("items", "span", "brackets")

    def __init__(self, items: tuple[Expr, ...], span: Span, brackets: str = "()"):
        _set(self, "items", items)
        _set(self, "span", span)
        _set(self, "brackets", brackets)


Expr = (Const | Var | InShape | RefShape | BinOp | Unary | BoolOp | CondExpr | Attr
        | Index | FunCall | TupleExpr)


# ---- chain items and statements ---------------------------------------------
class Arg(_Node):
    __slots__ = ("name", "value", "span")

    def __init__(self, name: str | None, value: Expr, span: Span):
        _set(self, "name", name)
        _set(self, "value", value)
        _set(self, "span", span)           # the whole argument, `kernel=5` or `5`


class Call(_Node):           # a layer or block use: `conv2d(6, kernel=5)`, `add { ... }`
    __slots__ = ("name", "args", "branches", "span", "name_span")

    def __init__(self, name: str, args: tuple[Arg, ...], branches: tuple[Stmt, ...] | None, span: Span,
                 name_span: Span):
        _set(self, "name", name)
        _set(self, "args", args)
        _set(self, "branches", branches)
        _set(self, "span", span)
        _set(self, "name_span", name_span)


class Template(_Node):       # `"denselayer{i + 1}"`: a layer name computed per use
    __slots__ = ("parts", "span")

    def __init__(self, parts: tuple, span: Span):
        _set(self, "parts", parts)         # literal strings and Exprs, in order
        _set(self, "span", span)


class Named(_Node):          # `conv1: conv2d(...)`
    __slots__ = ("name", "item", "span", "name_span")

    def __init__(self, name: str | Template, item: Item, span: Span, name_span: Span):
        _set(self, "name", name)
        _set(self, "item", item)
        _set(self, "span", span)
        _set(self, "name_span", name_span)


class Sequence(_Node):       # `[ ... ]`: a grouping; named, it becomes nn.Sequential
    __slots__ = ("body", "span")

    def __init__(self, body: tuple[Stmt, ...], span: Span):
        _set(self, "body", body)
        _set(self, "span", span)


class If(_Node):
    __slots__ = ("test", "then", "orelse", "span")

    def __init__(self, test: Expr, then: tuple[Stmt, ...], orelse: tuple[Stmt, ...] | None, span: Span):
        _set(self, "test", test)
        _set(self, "then", then)
        _set(self, "orelse", orelse)
        _set(self, "span", span)


class For(_Node):
    __slots__ = ("targets", "destructure", "iterable", "body", "span")

    def __init__(self, targets: tuple[str, ...], destructure: bool, iterable: Expr, body: tuple[Stmt, ...],
                 span: Span):
        _set(self, "targets", targets)
        _set(self, "destructure", destructure)
        _set(self, "iterable", iterable)
        _set(self, "body", body)
        _set(self, "span", span)


class Repeat(_Node):
    __slots__ = ("count", "index", "body", "span")

    def __init__(self, count: Expr, index: str | None, body: tuple[Stmt, ...], span: Span):
        _set(self, "count", count)
        _set(self, "index", index)
        _set(self, "body", body)
        _set(self, "span", span)


class Ref(_Node):            # `@enc4`: continue from a named tensor
    __slots__ = ("name", "span")

    def __init__(self, name: str, span: Span):
        _set(self, "name", name)
        _set(self, "span", span)


class Expect(_Node):         # `expect [64, 56, 56]`
    __slots__ = ("shape", "span")

    def __init__(self, shape: Expr, span: Span):
        _set(self, "shape", shape)
        _set(self, "span", span)


Item = Call | Named | Sequence | If | For | Repeat | Ref | Expect


class Chain(_Node):
    __slots__ = ("items", "span")

    def __init__(self, items: tuple[Item, ...], span: Span):
        _set(self, "items", items)
        _set(self, "span", span)


class Let(_Node):
    __slots__ = ("name", "value", "span")

    def __init__(self, name: str, value: Expr, span: Span):
        _set(self, "name", name)
        _set(self, "value", value)
        _set(self, "span", span)


class Input(_Node):
    __slots__ = ("shape", "span")

    def __init__(self, shape: Expr, span: Span):
        _set(self, "shape", shape)
        _set(self, "span", span)


Stmt = Chain | Let | Input


# ---- definitions ------------------------------------------------------------
class Param(_Node):
    __slots__ = ("name", "type", "default", "span")

    def __init__(self, name: str, type: str | tuple | None, default: Expr | None, span: Span):
        _set(self, "name", name)
        _set(self, "type", type)           # "int", ("int", "int"), or None
        _set(self, "default", default)
        _set(self, "span", span)


class Definition(_Node):     # a `network` or a `block`
    __slots__ = ("kind", "name", "params", "accepts", "returns", "body", "span", "name_span")

    def __init__(self, kind: str, name: str, params: tuple[Param, ...], accepts: Expr | None,
                 returns: Expr | None, body: tuple[Stmt, ...], span: Span, name_span: Span):
        _set(self, "kind", kind)           # "network" | "block"
        _set(self, "name", name)
        _set(self, "params", params)
        _set(self, "accepts", accepts)
        _set(self, "returns", returns)
        _set(self, "body", body)
        _set(self, "span", span)
        _set(self, "name_span", name_span)


class Import(_Node):
    __slots__ = ("path", "span")

    def __init__(self, path: str, span: Span):
        _set(self, "path", path)
        _set(self, "span", span)


class Module(_Node):         # one .net file
    __slots__ = ("imports", "definitions", "lets")

    def __init__(self, imports: tuple[Import, ...], definitions: tuple[Definition, ...],
                 lets: tuple[Let, ...]):
        _set(self, "imports", imports)
        _set(self, "definitions", definitions)
        _set(self, "lets", lets)
