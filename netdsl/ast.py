"""The syntax tree: frozen dataclasses, each carrying the Span it came from.

Only netdsl/syntax.py builds these from Lark's parse tree; everything after parsing
works on this tree and never sees lark.Tree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

from .source import Span


# ---- expressions ------------------------------------------------------------
@dataclass(frozen=True)
class Const:          # int, float, str, bool or None literal
    value: Any
    span: Span


@dataclass(frozen=True)
class Var:
    name: str
    span: Span


@dataclass(frozen=True)
class InShape:        # `in`: the shape entering the current block (or network)
    span: Span


@dataclass(frozen=True)
class RefShape:       # `@name` inside an expression: that tensor's shape
    name: str
    span: Span


@dataclass(frozen=True)
class BinOp:
    op: str
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True)
class Unary:
    op: str           # "-", "+" or "not"
    operand: "Expr"
    span: Span


@dataclass(frozen=True)
class BoolOp:
    op: str           # "and" / "or"
    operands: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True)
class CondExpr:
    test: "Expr"
    then: "Expr"
    orelse: "Expr"
    span: Span


@dataclass(frozen=True)
class Attr:
    value: "Expr"
    name: str
    span: Span


@dataclass(frozen=True)
class Index:
    value: "Expr"
    index: "Expr"
    span: Span


@dataclass(frozen=True)
class FunCall:
    name: str
    args: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True)
class TupleExpr:      # (a, b) and [a, b] alike: values are immutable tuples
    items: tuple["Expr", ...]
    span: Span
    brackets: str = "()"


Expr = Union[Const, Var, InShape, RefShape, BinOp, Unary, BoolOp, CondExpr, Attr,
             Index, FunCall, TupleExpr]


# ---- chain items and statements ---------------------------------------------
@dataclass(frozen=True)
class Arg:
    name: Optional[str]
    value: Expr
    span: Span        # the whole argument, `kernel=5` or `5`


@dataclass(frozen=True)
class Call:           # a layer or block use: `conv2d(6, kernel=5)`, `add { ... }`
    name: str
    args: tuple[Arg, ...]
    branches: Optional[tuple["Stmt", ...]]
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Template:       # `"denselayer{i + 1}"`: a layer name computed per use
    parts: tuple      # literal strings and Exprs, in order
    span: Span


@dataclass(frozen=True)
class Named:          # `conv1: conv2d(...)`
    name: Union[str, Template]
    item: "Item"
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Sequence:       # `[ ... ]`: a grouping; named, it becomes nn.Sequential
    body: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True)
class If:
    test: Expr
    then: tuple["Stmt", ...]
    orelse: Optional[tuple["Stmt", ...]]
    span: Span


@dataclass(frozen=True)
class For:
    targets: tuple[str, ...]
    destructure: bool
    iterable: Expr
    body: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True)
class Repeat:
    count: Expr
    index: Optional[str]
    body: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True)
class Ref:            # `@enc4`: continue from a named tensor
    name: str
    span: Span


@dataclass(frozen=True)
class Expect:         # `expect [64, 56, 56]`
    shape: Expr
    span: Span


Item = Union[Call, Named, Sequence, If, For, Repeat, Ref, Expect]


@dataclass(frozen=True)
class Chain:
    items: tuple[Item, ...]
    span: Span


@dataclass(frozen=True)
class Let:
    name: str
    value: Expr
    span: Span


@dataclass(frozen=True)
class Input:
    shape: Expr
    span: Span


Stmt = Union[Chain, Let, Input]


# ---- definitions ------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    name: str
    type: Optional[Union[str, tuple]]   # "int", ("int", "int"), or None
    default: Optional[Expr]
    span: Span


@dataclass(frozen=True)
class Definition:     # a `network` or a `block`
    kind: str         # "network" | "block"
    name: str
    params: tuple[Param, ...]
    accepts: Optional[Expr]
    returns: Optional[Expr]
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Import:
    path: str
    span: Span


@dataclass(frozen=True)
class Module:         # one .net file
    imports: tuple[Import, ...]
    definitions: tuple[Definition, ...]
    lets: tuple[Let, ...]
