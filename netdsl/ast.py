"""The syntax tree: frozen dataclasses, each carrying the Span it came from.

Only netdsl/syntax.py builds these from Lark's parse tree; everything after parsing
works on this tree and never sees lark.Tree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .source import Span


class _Node:
    """Shared by every AST class: one generic repr instead of a generated one per class."""
    __slots__ = ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__dataclass_fields__)
        return f"{type(self).__name__}({fields})"


# Frozen, compared by identity: nothing compares syntax trees by value, and skipping
# the generated __eq__/__hash__/__repr__ makes importing this module (on every
# `netdsl check`) about twice as fast.
_node = dataclass(frozen=True, eq=False, repr=False)


# ---- expressions ------------------------------------------------------------
@_node
class Const(_Node):          # int, float, str, bool or None literal
    value: Any
    span: Span


@_node
class Var(_Node):
    name: str
    span: Span


@_node
class InShape(_Node):        # `in`: the shape entering the current block (or network)
    span: Span


@_node
class RefShape(_Node):       # `@name` inside an expression: that tensor's shape
    name: str
    span: Span


@_node
class BinOp(_Node):
    op: str
    left: Expr
    right: Expr
    span: Span


@_node
class Unary(_Node):
    op: str           # "-", "+" or "not"
    operand: Expr
    span: Span


@_node
class BoolOp(_Node):
    op: str           # "and" / "or"
    operands: tuple[Expr, ...]
    span: Span


@_node
class CondExpr(_Node):
    test: Expr
    then: Expr
    orelse: Expr
    span: Span


@_node
class Attr(_Node):
    value: Expr
    name: str
    span: Span


@_node
class Index(_Node):
    value: Expr
    index: Expr
    span: Span


@_node
class FunCall(_Node):
    name: str
    args: tuple[Expr, ...]
    span: Span


@_node
class TupleExpr(_Node):      # (a, b) and [a, b] alike: values are immutable tuples
    items: tuple[Expr, ...]
    span: Span
    brackets: str = "()"


Expr = (Const | Var | InShape | RefShape | BinOp | Unary | BoolOp | CondExpr | Attr
        | Index | FunCall | TupleExpr)


# ---- chain items and statements ---------------------------------------------
@_node
class Arg(_Node):
    name: str | None
    value: Expr
    span: Span        # the whole argument, `kernel=5` or `5`


@_node
class Call(_Node):           # a layer or block use: `conv2d(6, kernel=5)`, `add { ... }`
    name: str
    args: tuple[Arg, ...]
    branches: tuple[Stmt, ...] | None
    span: Span
    name_span: Span


@_node
class Template(_Node):       # `"denselayer{i + 1}"`: a layer name computed per use
    parts: tuple      # literal strings and Exprs, in order
    span: Span


@_node
class Named(_Node):          # `conv1: conv2d(...)`
    name: str | Template
    item: Item
    span: Span
    name_span: Span


@_node
class Sequence(_Node):       # `[ ... ]`: a grouping; named, it becomes nn.Sequential
    body: tuple[Stmt, ...]
    span: Span


@_node
class If(_Node):
    test: Expr
    then: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] | None
    span: Span


@_node
class For(_Node):
    targets: tuple[str, ...]
    destructure: bool
    iterable: Expr
    body: tuple[Stmt, ...]
    span: Span


@_node
class Repeat(_Node):
    count: Expr
    index: str | None
    body: tuple[Stmt, ...]
    span: Span


@_node
class Ref(_Node):            # `@enc4`: continue from a named tensor
    name: str
    span: Span


@_node
class Expect(_Node):         # `expect [64, 56, 56]`
    shape: Expr
    span: Span


Item = Call | Named | Sequence | If | For | Repeat | Ref | Expect


@_node
class Chain(_Node):
    items: tuple[Item, ...]
    span: Span


@_node
class Let(_Node):
    name: str
    value: Expr
    span: Span


@_node
class Input(_Node):
    shape: Expr
    span: Span


Stmt = Chain | Let | Input


# ---- definitions ------------------------------------------------------------
@_node
class Param(_Node):
    name: str
    type: str | tuple | None   # "int", ("int", "int"), or None
    default: Expr | None
    span: Span


@_node
class Definition(_Node):     # a `network` or a `block`
    kind: str         # "network" | "block"
    name: str
    params: tuple[Param, ...]
    accepts: Expr | None
    returns: Expr | None
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span


@_node
class Import(_Node):
    path: str
    span: Span


@_node
class Module(_Node):         # one .net file
    imports: tuple[Import, ...]
    definitions: tuple[Definition, ...]
    lets: tuple[Let, ...]
