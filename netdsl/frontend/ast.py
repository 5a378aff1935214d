"""The syntax tree: immutable nodes, each carrying the Span it came from.

Only frontend/syntax.py builds these (from the parser's reductions); everything after parsing
works on this tree and never sees the parser's own tree.
"""
from __future__ import annotations

from ..record import Immutable

# Records (netdsl/record.py): each class lists its fields in __slots__, and the one
# generic constructor fills them. Fields cannot be reassigned; nodes compare by
# identity (nothing compares syntax trees by value).


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


class Var(_Node):
    __slots__ = ("name", "span")


class InShape(_Node):        # `in`: the shape entering the current block (or network)
    __slots__ = ("span",)


class RefShape(_Node):       # `@name` inside an expression: that tensor's shape
    __slots__ = ("name", "span")


class BinOp(_Node):
    __slots__ = ("op", "left", "right", "span")


class Unary(_Node):
    __slots__ = ("op", "operand", "span")
    # op: "-", "+" or "not"


class BoolOp(_Node):
    __slots__ = ("op", "operands", "span")
    # op: "and" / "or"


class CondExpr(_Node):
    __slots__ = ("test", "then", "orelse", "span")


class Attr(_Node):
    __slots__ = ("value", "name", "span")


class Index(_Node):
    __slots__ = ("value", "index", "span")


class FunCall(_Node):
    __slots__ = ("name", "args", "span")


class TupleExpr(_Node):      # (a, b) and [a, b] alike: values are immutable tuples
    __slots__ = ("items", "span", "brackets")
    _defaults = {"brackets": "()"}


class Comprehension(_Node):  # `[f(x) for x in xs if x > 0]`: a list built from another
    __slots__ = ("element", "targets", "destructure", "iterable", "condition", "span")
    # targets, destructure: as For's; condition: an Expr or None


Expr = (Const | Var | InShape | RefShape | BinOp | Unary | BoolOp | CondExpr | Attr
        | Index | FunCall | TupleExpr | Comprehension)


# ---- chain items and statements ---------------------------------------------
class Arg(_Node):
    __slots__ = ("name", "value", "span")
    # span: the whole argument, `kernel=5` or `5`


class Call(_Node):           # a layer or block use: `conv2d(6, kernel=5)`, `add { ... }`
    __slots__ = ("name", "args", "branches", "span", "name_span")


class Template(_Node):       # `"denselayer{i + 1}"`: a layer name computed per use
    __slots__ = ("parts", "span")
    # parts: literal strings and Exprs, in order


class Named(_Node):          # `conv1: conv2d(...)`
    __slots__ = ("name", "item", "span", "name_span")


class Sequence(_Node):       # `[ ... ]`: a grouping; named, it becomes nn.Sequential
    __slots__ = ("body", "span")


class If(_Node):
    __slots__ = ("test", "then", "orelse", "span")


class For(_Node):
    __slots__ = ("targets", "destructure", "iterable", "body", "span")


class Repeat(_Node):
    __slots__ = ("count", "index", "body", "span")


class Ref(_Node):            # `@enc4`: continue from a named tensor
    __slots__ = ("name", "span")


class Expect(_Node):         # `expect [64, 56, 56]`
    __slots__ = ("shape", "span")


Item = Call | Named | Sequence | If | For | Repeat | Ref | Expect


class Chain(_Node):
    __slots__ = ("items", "span", "guard")
    _defaults = {"guard": None}
    # guard: `relu when c > 1`: the statement runs only when it holds (a merge branch
    # whose guard fails is left out of the merge)


class Let(_Node):
    __slots__ = ("name", "value", "span")


class Function(_Node):       # `let make_divisible(v, d) = ...`: a pure function of its arguments
    __slots__ = ("name", "params", "body", "span")


class Output(_Node):         # `return(out=@x, aux=@y)`: what the network returns
    __slots__ = ("args", "span", "guard")
    _defaults = {"guard": None}
    # guard: `return(...) when aux`: the first trailing return whose guard holds is taken


class Input(_Node):
    __slots__ = ("shape", "span")


class Assert(_Node):         # `assert w_m > 1, "w_m must exceed 1"`: the spec refuses other values
    __slots__ = ("test", "message", "span")
    # message: an Expr or None


Stmt = Chain | Let | Function | Input | Output | Assert


# ---- definitions ------------------------------------------------------------
class Param(_Node):
    __slots__ = ("name", "type", "default", "span")
    # type: "int", ("int", "int"), or None


class Definition(_Node):     # a `network` or a `block`
    __slots__ = ("kind", "name", "params", "accepts", "returns", "body", "span", "name_span", "sequential")
    _defaults = {"sequential": False}
    # kind: "network" | "block"; sequential: `sequential block`, numbered as nn.Sequential


class Import(_Node):
    __slots__ = ("path", "span")


class Module(_Node):         # one .net file
    __slots__ = ("imports", "definitions", "lets")
    # lets: the file's constants and functions (Let, Function), in order


def walk(node: _Node):
    """Every node under `node` (itself included), depth first, without recursion."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        for field in n._fields:
            v = getattr(n, field)
            if isinstance(v, _Node):
                stack.append(v)
            elif isinstance(v, tuple):
                stack.extend(x for x in v if isinstance(x, _Node))
