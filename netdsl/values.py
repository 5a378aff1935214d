"""Expression values and their evaluation.

Values are ints, floats, bools, strings, none, tuples, and ShapeValue (from `in`
or `@name`). A value that depends on a shape netdsl could not compute is UNKNOWN:
it flows through arithmetic silently, so one upstream error causes no cascade.
"""
from __future__ import annotations

import math
import operator
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from .diagnostics.codes import E0104, E0202, E0205, E0214, E0216, E0217, E0320
from .frontend import ast as A
from .frontend.source import Span
from .limits import LIMITS


class _Unknown:
    def __repr__(self):
        return "unknown"


UNKNOWN = _Unknown()

_AXES = {"c": 0, "channels": 0, "h": 1, "height": 1, "w": 2, "width": 2}


class ShapeValue:
    """A tensor's shape as a value (`in`, `@name`). `node`: the IR node it is the shape of.

    While guards are recorded (record_guards), every read of the dimensions is noted
    with the node and axis it came from and the value it gave: if the same reads give
    the same values at another input size, the network expands the same way, and
    `netdsl sizes` may re-run the shape rules alone (elaborate/replay.py)."""
    __slots__ = ("_dims", "node")

    def __init__(self, dims: tuple, node: int | None = None):
        self._dims, self.node = dims, node

    @property
    def dims(self) -> tuple:
        if _GUARDS is not None and self.node is not None:
            _GUARDS.append((self.node, None, self._dims))
        return self._dims

    def axis(self, i: int):
        if _GUARDS is not None and self.node is not None:
            _GUARDS.append((self.node, i, self._dims[i]))
        return self._dims[i]

    @property
    def rank(self) -> int:
        return len(self._dims)          # a size scan never changes the rank: no guard

    def __eq__(self, other):
        return isinstance(other, ShapeValue) and self.dims == other.dims

    def __hash__(self):
        return hash(self.dims)

    def __str__(self):
        return "[" + ", ".join(map(str, self.dims)) + "]"

    def __repr__(self):
        return f"ShapeValue({self._dims!r})"


# (node id, axis or None for the whole shape, value read) for every read of a shape's
# dimensions since record_guards() started; None when nothing is recorded.
_GUARDS: list | None = None


class Relation:
    """A block signature checked during an expansion that records guards: a size scan
    re-checks it at each size (replay.py) instead of guarding the sizes it read."""
    __slots__ = ("accepts", "returns", "env", "params", "input", "output")

    def __init__(self, accepts, returns, env, params: dict, input: int, output: int):
        self.accepts, self.returns, self.env, self.params = accepts, returns, env, params
        self.input, self.output = input, output


class ExpectRelation:
    """An `expect` checked during an expansion that records guards: a size scan
    re-checks it at each size (replay.py). `pattern`: the items; `vars`: every name in
    reach, flattened (later assignments must not change them); `in_node`: the node `in`
    is the shape of (None: `in` is not a tensor here); `refs`: `@name` -> node id;
    `node`: the tensor it states the shape of; `after`: the last node made before it
    (the walk's order, which decides the first rejection); `key`: (file, offset, wanted sizes), as
    Walk.expect names it; `held`: whether it held in this expansion; `relative`: whether
    its sizes are written from the input (Walk.expect); `replayable`: false
    when a name holds a shape, or a function defined where `in` is a tensor (they would
    read the reference expansion's shapes)."""
    __slots__ = ("item", "vars", "in_node", "refs", "node", "after", "key", "held", "relative", "replayable")

    def __init__(self, item, vars: dict, in_node, refs: dict, node: int, after: int, key: tuple, held: bool,
                 relative: bool):
        self.item, self.vars, self.in_node, self.refs, self.node = item, vars, in_node, refs, node
        self.after, self.key, self.held, self.relative = after, key, held, relative
        self.replayable = not any(_holds_shape(v) for v in vars.values())


def _holds_shape(v) -> bool:
    if isinstance(v, tuple):
        return any(_holds_shape(x) for x in v)
    if isinstance(v, Function):         # one defined where `in` is a tensor may read it
        return isinstance(v.env.in_shape, ShapeValue)
    return isinstance(v, ShapeValue)


def flat_vars(env: Env) -> dict:
    """Every name in reach of `env` with its value now, the nearest binding winning."""
    chain = []
    while env is not None:
        chain.append(env.vars)
        env = env.parent
    out: dict = {}
    for scope in reversed(chain):
        out.update(scope)
    return out


@contextmanager
def unguarded():
    """Reads of shapes in this block are not guards (an `expect` is re-checked as a
    whole at each size, as an ExpectRelation, rather than pinning every size it reads).
    Yields the list of the reads made, as guards would note them."""
    global _GUARDS
    saved, _GUARDS = _GUARDS, []
    reads = _GUARDS
    try:
        yield reads
    finally:
        _GUARDS = saved


def recording_guards() -> bool:
    return _GUARDS is not None


def note_guard(guard) -> None:
    if _GUARDS is not None:
        _GUARDS.append(guard)


def record_guards(on: bool) -> list | None:
    """Start (on) or stop recording shape reads; returns what was recorded."""
    global _GUARDS
    recorded = _GUARDS
    _GUARDS = [] if on else None
    return recorded


class EvalError(Exception):
    """An expression cannot be evaluated. `final`: a budget is spent, so whoever
    evaluates must stop rather than go on to the next expression."""

    def __init__(self, code, message: str, span: Span, notes=(), help=(), final: bool = False):
        super().__init__(message)
        self.code, self.message, self.span = code, message, span
        self.notes, self.help = tuple(notes), tuple(help)
        self.final = final


def from_python(v: Any, depth: int = 0) -> Any:
    """A value given from Python (`netdsl.load(spec, widths=[4, 8])`) as the language's
    own: lists become tuples, as `[4, 8]` written in a spec is. Nested past 100 levels,
    a value is left as it is (the walk then says what it cannot use)."""
    if isinstance(v, (list, tuple)) and depth < 100:
        return tuple(from_python(x, depth + 1) for x in v)
    return v


def type_name(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, tuple):
        return "tuple"
    if isinstance(v, ShapeValue):
        return "shape"
    return type(v).__name__


def show_shape(shape, unknown: str = "?") -> str:
    """`[3, 224, 224]`; `unknown` where the shape could not be computed."""
    return "[" + ", ".join(map(str, shape)) + "]" if shape is not None else unknown


def shape_text(shape, unknown: str = "?") -> str:
    """`64×56×56` for a [C, H, W] tensor, `1000` for features (diagram edges, messages)."""
    return "\u00d7".join(map(str, shape)) if shape is not None else unknown


SHOWN = 200         # characters of a value shown in a message or label; the rest is `…`


def show(v: Any, limit: int = SHOWN) -> str:
    """A value as the language writes it (`true`, `none`, `(1, 2)`), at most about
    `limit` characters: messages and labels that quote a value never grow with it."""
    out: list[str] = []
    size = 0
    todo = [v]
    while todo:
        x = todo.pop()
        if type(x) is _Piece:
            text = x.text
        elif isinstance(x, tuple):
            todo.append(_Piece(")" if len(x) != 1 else ",)"))
            for i in range(len(x) - 1, -1, -1):
                todo.append(x[i])
                if i:
                    todo.append(_Piece(", "))
            text = "("
        elif isinstance(x, str):
            text = repr(x) if len(x) <= limit else repr(x[:limit]) + "\u2026"
        elif isinstance(x, bool):
            text = "true" if x else "false"
        elif x is None:
            text = "none"
        else:
            text = str(x)
        out.append(text)
        size += len(text)
        if size > limit:
            return "".join(out)[:limit] + "\u2026"
    return "".join(out)


class _Piece:
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_size(v, span: Span):
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > LIMITS.max_value:
        raise EvalError(
            E0217,
            "value is too large",
            span,
            notes=(f"netdsl keeps integers within \u00b1(2**63 \u2212 1); this one has {len(str(abs(v)))} digits",),
        )
    if isinstance(v, float) and not math.isfinite(v):
        raise EvalError(E0217, "value is not a finite number", span)
    return v


def _div_check(op):
    def f(a, b, span, rspan):
        if b == 0:
            raise EvalError(E0216, "division by zero", rspan, notes=("the right-hand side is 0",))
        return op(a, b)
    return f


def _pow(a, b, span, rspan):
    if isinstance(b, int) and isinstance(a, int) and b > 0 and abs(a) > 1 and b * math.log2(abs(a)) > 63:
        raise EvalError(E0217, "value is too large", span,
                        notes=(f"{a} ** {b} has more than 63 bits",))
    if a == 0 and _num(b) and b < 0:
        raise EvalError(E0216, "division by zero", rspan, notes=("0 to a negative power",))
    try:
        result = a ** b
    except OverflowError:
        raise EvalError(E0217, "value is too large", span) from None
    if isinstance(result, complex):      # (-8) ** 0.5: no real value
        raise EvalError(E0216, "a negative number to a fractional power is not a real number", span,
                        notes=(f"({show(a)}) ** {show(b)}",))
    return result


_ARITH: dict[str, Callable] = {
    "+": lambda a, b, s, r: a + b,
    "-": lambda a, b, s, r: a - b,
    "*": lambda a, b, s, r: a * b,
    "/": _div_check(operator.truediv),
    "//": _div_check(operator.floordiv),
    "%": _div_check(operator.mod),
    "**": _pow,
}
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}


def _builtin_range(args, span):
    if not 1 <= len(args) <= 3 or not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        raise EvalError(E0214, "range takes 1 to 3 integers", span)
    if len(args) == 3 and args[2] == 0:
        raise EvalError(E0216, "range step must not be zero", span)
    r = range(*args)
    n = _range_length(r)
    if n > LIMITS.max_value_size:
        raise EvalError(E0320, f"range of {n:,} items is larger than the size limit ({LIMITS.max_value_size:,})",
                        span)
    charge(n, span)
    return _remember(tuple(r), n)


def _range_length(r: range) -> int:
    # len() refuses ranges longer than sys.maxsize: `range(-2**62, 2**62)`.
    if (r.step > 0 and r.start >= r.stop) or (r.step < 0 and r.start <= r.stop):
        return 0
    return (abs(r.stop - r.start) + abs(r.step) - 1) // abs(r.step)


def _builtin_len(args, span):
    if len(args) != 1 or not isinstance(args[0], (tuple, str, ShapeValue)):
        raise EvalError(E0214, "len takes one tuple, list, string or shape", span)
    v = args[0]
    return v.rank if isinstance(v, ShapeValue) else len(v)


def _real(fn, x, defined: bool, problem: str):
    if not defined:
        raise _Undefined(problem)
    return fn(x)


class _Undefined(Exception):
    pass


def _minmax(fn):
    def f(args, span):
        items = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
        if not items or not all(_num(x) for x in items):
            raise EvalError(E0214, f"{fn.__name__} takes numbers", span)
        return fn(items)
    return f


def _unary_num(fn, name):
    def f(args, span):
        if len(args) != 1 or not _num(args[0]):
            raise EvalError(E0214, f"{name} takes one number", span)
        try:
            return fn(args[0])
        except _Undefined as e:
            raise EvalError(E0216, f"{name}({show(args[0])}) is undefined: {e}", span) from None
        except OverflowError:           # int(1e308) is fine, round(float('inf')) cannot happen
            raise EvalError(E0217, "value is too large", span) from None
    return f


def _builtin_sum(args, span):
    items = args[0] if len(args) == 1 and isinstance(args[0], tuple) else None
    if items is None or not all(_num(x) for x in items):
        raise EvalError(E0214, "sum takes one list of numbers", span)
    return sum(items)


def _truth_of_all(fn, name):
    def f(args, span):
        if len(args) != 1 or not isinstance(args[0], tuple) or not all(isinstance(x, bool) for x in args[0]):
            raise EvalError(E0214, f"{name} takes one list of bools", span)
        return fn(args[0])
    return f


def _builtin_zip(args, span):
    if not args or not all(isinstance(a, tuple) for a in args):
        raise EvalError(E0214, "zip takes one or more lists", span)
    return _tuple_of(tuple(_tuple_of(t, span) for t in zip(*args)), span)


def _builtin_enumerate(args, span):
    if len(args) != 1 or not isinstance(args[0], tuple):
        raise EvalError(E0214, "enumerate takes one list", span)
    return _tuple_of(tuple(_tuple_of((i, v), span) for i, v in enumerate(args[0])), span)


BUILTINS: dict[str, Callable] = {
    "range": _builtin_range, "len": _builtin_len, "min": _minmax(min), "max": _minmax(max),
    "abs": _unary_num(abs, "abs"), "floor": _unary_num(math.floor, "floor"),
    "ceil": _unary_num(math.ceil, "ceil"), "round": _unary_num(round, "round"),
    "int": _unary_num(int, "int"),
    "sqrt": _unary_num(lambda x: _real(math.sqrt, x, x >= 0, "sqrt of a negative number"), "sqrt"),
    "log": _unary_num(lambda x: _real(math.log, x, x > 0, "log of a number that is not positive"), "log"),
    "sum": _builtin_sum, "any": _truth_of_all(any, "any"), "all": _truth_of_all(all, "all"),
    "zip": _builtin_zip, "enumerate": _builtin_enumerate,
}


class Function:
    """`let f(a, b) = expr`: a pure function of its arguments, evaluated where it is
    defined (`env`). Never recursive (a function calling itself, directly or through
    others, is an error), so every call ends; each call is charged to the budget
    for building values (charge), so chains of functions stay bounded too."""
    __slots__ = ("definition", "env")
    CALL_COST = 50          # elements' worth of work a call counts for (charge)

    def __init__(self, definition: A.Function, env: Env):
        self.definition, self.env = definition, env

    def call(self, args: list, span: Span):
        d = self.definition
        if len(args) != len(d.params):
            raise EvalError(E0214, f"`{d.name}` takes {len(d.params)} argument{'s' if len(d.params) != 1 else ''}, "
                            f"got {len(args)}", span, help=(f"defined as {d.span.text()}",))
        if self in _CALLING:
            raise EvalError(E0216, f"`{d.name}` calls itself", span,
                            notes=("functions cannot be recursive, so that every call ends",))
        charge(self.CALL_COST, span)
        env = Env(self.env)
        env.vars.update(zip(d.params, args))
        _CALLING.add(self)
        try:
            return evaluate(d.body, env)
        finally:
            _CALLING.discard(self)

    def __repr__(self):
        return f"<function {self.definition.name}>"


_CALLING: set = set()       # the functions being evaluated (no recursion)


class Env:
    """A chain of name -> value scopes, plus the current `in` shape and references."""

    __slots__ = ("vars", "parent", "in_shape", "refs")

    def __init__(self, parent: Env | None = None, in_shape: Any = None, refs=None):
        self.vars: dict[str, Any] = {}
        self.parent = parent
        self.in_shape = in_shape if in_shape is not None or parent is None else parent.in_shape
        self.refs = refs if refs is not None else (parent.refs if parent else None)

    def lookup(self, name: str):
        env = self
        while env is not None:
            if name in env.vars:
                return env.vars[name]
            env = env.parent
        raise KeyError(name)

    def names(self) -> set[str]:
        out, env = set(), self
        while env is not None:
            out.update(env.vars)
            env = env.parent
        return out


# ---- the size of values --------------------------------------------------------
# A value's weight is what printing it would cost: every element counted each time
# it occurs (`let b = (a, a)` counts `a` twice: 60 such lets make a value no
# traversal could finish) and every string by its length (`(s,) * 1000000` with a
# 10 KB string is 10 GB of text). No value may weigh more than LIMITS.max_value_size.
# Weights are computed from the operands' when a value is built, and remembered for
# the tuples built last only (a bounded memo, so that a loop doing `t = t + (x,)`
# stays linear without keeping every intermediate tuple alive).
_RECENT: OrderedDict[int, tuple] = OrderedDict()    # id -> (tuple, weight)
_RECENT_ELEMENTS = [0]
_RECENT_CAP = 1_000_000         # elements the memo keeps alive, at most


def weight(v) -> int:
    t = type(v)
    if t is str:
        return max(1, len(v))
    if t is not tuple:
        return 1
    hit = _RECENT.get(id(v))
    if hit is not None and hit[0] is v:
        return hit[1]
    w = _weigh(v, {})
    _remember(v, w)
    return w


def _weigh(v: tuple, seen: dict) -> int:
    """The weight of a tuple not in the memo; `seen` shares the work between the
    repeated parts of this one value."""
    total = 0
    for x in v:
        if type(x) is tuple:
            w = seen.get(id(x))
            if w is None:
                hit = _RECENT.get(id(x))
                w = hit[1] if hit is not None and hit[0] is x else _weigh(x, seen)
                seen[id(x)] = w
            total += w
        else:
            total += weight(x)
        if total > LIMITS.max_value_size:       # no need to finish counting
            return total
    return max(1, total)


def _remember(v: tuple, w: int) -> tuple:
    if len(v) > _RECENT_CAP:
        return v
    _RECENT[id(v)] = (v, w)
    _RECENT_ELEMENTS[0] += len(v)
    while _RECENT_ELEMENTS[0] > _RECENT_CAP:
        _, (old, _) = _RECENT.popitem(last=False)
        _RECENT_ELEMENTS[0] -= len(old)
    return v


def _within(w: int, span: Span) -> None:
    if w > LIMITS.max_value_size:
        raise EvalError(E0320, f"value is larger than the size limit ({LIMITS.max_value_size:,} elements)", span,
                        notes=("each element counts every time it occurs, and a string counts its characters",))


# Elements copied into new tuples since the last reset (each check resets it): a loop
# that grows a tuple one element at a time copies it whole each time.
_WORK = [0]


def reset_work() -> None:
    _WORK[0] = 0


def charge(elements: int, span: Span) -> None:
    _WORK[0] += elements
    if _WORK[0] > LIMITS.max_built_elements:
        raise EvalError(E0320, f"expressions here build more than {LIMITS.max_built_elements:,} elements in all",
                        span, notes=("a loop that copies a tuple copies all of it at every step",),
                        help=("build the list once, e.g. with range() or `*`",), final=True)


def _tuple_of(items: tuple, span: Span) -> tuple:
    _within(sum(weight(x) for x in items), span)
    charge(len(items), span)
    return _remember(items, _weigh(items, {}))


def evaluate(e: A.Expr, env: Env) -> Any:
    try:
        return _evaluate(e, env)
    except RecursionError:
        # The parser caps nesting (LIMITS.max_depth); this only guards a raised cap.
        raise EvalError(E0104, "the expression is nested too deeply to evaluate", e.span) from None


# Python's spellings of netdsl's constants, and the string values people forget to quote.
_PYTHON_CONSTANTS = {"True": "true", "False": "false", "None": "none"}
_UNQUOTED_STRINGS = frozenset({"same", "valid", "nearest", "bilinear", "bicubic", "trilinear"})


def _unknown_name_help(e: A.Var, env: Env) -> tuple:
    from .diagnostics.fixes import Edit, Fix, rename
    if e.name in _PYTHON_CONSTANTS:
        lower = _PYTHON_CONSTANTS[e.name]
        return (rename(e.span, e.name, lower, f"netdsl writes `{lower}` in lower case"),)
    if e.name in _UNQUOTED_STRINGS and e.name not in env.names():
        return (Fix(f"`{e.name}` is a string here: write '{e.name}'", (Edit(e.span, f"'{e.name}'"),)),)
    from .diagnostics.suggest import suggest
    return suggest(e.name, env.names() | set(BUILTINS))


def _evaluate(e: A.Expr, env: Env) -> Any:
    t = type(e)
    if t is A.Const:
        return e.value
    if t is A.Var:
        try:
            return env.lookup(e.name)
        except KeyError:
            raise EvalError(E0202, f"unknown name `{e.name}`", e.span, help=_unknown_name_help(e, env)) from None
    if t is A.BinOp:
        a = evaluate(e.left, env)
        b = evaluate(e.right, env)
        if a is UNKNOWN or b is UNKNOWN:
            return UNKNOWN
        if e.op in _COMPARE:
            if e.op in ("==", "!="):
                return _COMPARE[e.op](a, b)
            return _COMPARE[e.op](_order(a, b, e), 0)
        if _num(a) and _num(b):
            return _check_size(_ARITH[e.op](a, b, e.span, e.right.span), e.span)
        if e.op == "+" and isinstance(a, tuple) and isinstance(b, tuple):
            w = weight(a) + weight(b)
            _within(w, e.span)
            charge(len(a) + len(b), e.span)
            return _remember(a + b, w)
        if e.op == "*" and isinstance(a, tuple) and isinstance(b, int) and not isinstance(b, bool):
            w = weight(a) * max(b, 0)
            _within(w, e.span)
            charge(len(a) * max(b, 0), e.span)
            return _remember(a * b, max(1, w))
        raise EvalError(E0214, f"`{e.op}` does not apply to {type_name(a)} and {type_name(b)}", e.span)
    if t is A.Unary:
        v = evaluate(e.operand, env)
        if v is UNKNOWN:
            return UNKNOWN
        if e.op == "not":
            if not isinstance(v, bool):
                raise EvalError(E0214, f"`not` needs a bool, got {type_name(v)}", e.operand.span)
            return not v
        if not _num(v):
            raise EvalError(E0214, f"unary `{e.op}` needs a number, got {type_name(v)}", e.operand.span)
        return -v if e.op == "-" else v
    if t is A.BoolOp:
        result = e.op == "and"
        for operand in e.operands:
            v = evaluate(operand, env)
            if v is UNKNOWN:
                return UNKNOWN
            if not isinstance(v, bool):
                raise EvalError(E0214, f"`{e.op}` needs bools, got {type_name(v)}", operand.span)
            if e.op == "and" and not v:
                return False
            if e.op == "or" and v:
                return True
        return result
    if t is A.CondExpr:
        test = evaluate(e.test, env)
        if test is UNKNOWN:
            return UNKNOWN
        if not isinstance(test, bool):
            raise EvalError(E0214, f"the condition must be a bool, got {type_name(test)}", e.test.span)
        return evaluate(e.then if test else e.orelse, env)
    if t is A.TupleExpr:
        return _tuple_of(tuple(evaluate(x, env) for x in e.items), e.span)
    if t is A.InShape:
        if env.in_shape is None:
            raise EvalError(E0202, "`in` is only known after the input shape is declared", e.span)
        return env.in_shape
    if t is A.RefShape:
        if env.refs is None:
            raise EvalError(E0205, f"no tensor named `{e.name}` here", e.span)
        return env.refs(e.name, e.span)
    if t is A.Attr:
        v = evaluate(e.value, env)
        if v is UNKNOWN:
            return UNKNOWN
        if isinstance(v, ShapeValue):
            if e.name in _AXES and _AXES[e.name] < v.rank and (v.rank == 3 or e.name in ("c", "channels")):
                return v.axis(_AXES[e.name])
            if e.name in ("features", "f") and v.rank == 1:
                return v.axis(0)
            raise EvalError(E0216, f"shape {v} has no `.{e.name}`", e.span,
                            help=("use .c / .h / .w on [C, H, W] shapes, .features on flat ones, or index it: in[0]",))
        raise EvalError(E0216, f"{type_name(v)} has no attribute `.{e.name}`", e.span)
    if t is A.Index:
        v = evaluate(e.value, env)
        i = evaluate(e.index, env)
        if v is UNKNOWN or i is UNKNOWN:
            return UNKNOWN
        if isinstance(v, ShapeValue) and type(i) is int and -v.rank <= i < v.rank:
            return v.axis(i)
        seq = v.dims if isinstance(v, ShapeValue) else v
        if not isinstance(seq, (tuple, str)):
            raise EvalError(E0216, f"cannot index a {type_name(v)}", e.span)
        if not isinstance(i, int) or isinstance(i, bool):
            raise EvalError(E0214, f"an index must be an integer, got {type_name(i)}", e.index.span)
        if not -len(seq) <= i < len(seq):
            raise EvalError(E0216, f"index {i} is out of range for {show(v) if not isinstance(v, ShapeValue) else v} "
                            f"(length {len(seq)})", e.index.span)
        return seq[i]
    if t is A.FunCall:
        try:
            fn = env.lookup(e.name)
        except KeyError:
            fn = BUILTINS.get(e.name)
        if fn is None or not (isinstance(fn, Function) or callable(fn)):
            from .diagnostics.suggest import suggest
            known = set(BUILTINS) | {n for n in env.names() if isinstance(env.lookup(n), Function)}
            raise EvalError(E0202, f"unknown function `{e.name}`", e.span,
                            help=suggest(e.name, known, f"functions: {', '.join(sorted(known))}"))
        args = [evaluate(a, env) for a in e.args]
        if any(a is UNKNOWN for a in args):
            return UNKNOWN
        if isinstance(fn, Function):
            return fn.call(args, e.span)
        return _check_size(fn(args, e.span), e.span)
    if t is A.Comprehension:
        return _comprehension(e, env)
    raise AssertionError(f"unhandled expression {t.__name__}")


def _comprehension(e: A.Comprehension, env: Env) -> Any:
    """`[element for x in iterable if condition]`, as Python's, over a tuple or a shape.
    Each item is charged to the budget (charge), so nested comprehensions stay bounded."""
    items = evaluate(e.iterable, env)
    if depends_on_unknown(items):
        return UNKNOWN
    if isinstance(items, ShapeValue):
        items = items.dims
    if not isinstance(items, tuple):
        raise EvalError(E0214, f"a comprehension needs a list or tuple to go through, got {type_name(items)}",
                        e.iterable.span)
    out = []
    for v in items:
        charge(1, e.span)
        inner = Env(env)
        if e.destructure:
            if not isinstance(v, tuple) or len(v) != len(e.targets):
                raise EvalError(E0214, f"cannot unpack {show(v)} into ({', '.join(e.targets)})", e.iterable.span)
            inner.vars.update(zip(e.targets, v))
        else:
            inner.vars[e.targets[0]] = v
        if e.condition is not None:
            keep = evaluate(e.condition, inner)
            if keep is UNKNOWN:
                return UNKNOWN
            if not isinstance(keep, bool):
                raise EvalError(E0214, f"the condition must be a bool, got {type_name(keep)}", e.condition.span)
            if not keep:
                continue
        value = evaluate(e.element, inner)
        if value is UNKNOWN:
            return UNKNOWN
        out.append(value)
    return _tuple_of(tuple(out), e.span)


def _order(a, b, e) -> int:
    """-1, 0 or 1 as `a` sorts before, with or after `b`: numbers with numbers, strings
    with strings, tuples element by element; anything else cannot be ordered."""
    if (_num(a) and _num(b)) or (type(a) is str and type(b) is str):
        return (a > b) - (a < b)
    if type(a) is tuple and type(b) is tuple:
        for x, y in zip(a, b):
            if x != y or type(x) is not type(y):
                c = _order(x, y, e)
                if c:
                    return c
        return (len(a) > len(b)) - (len(a) < len(b))
    raise EvalError(E0214, f"cannot compare {type_name(a)} and {type_name(b)} with `{e.op}`", e.span)


def depends_on_unknown(v) -> bool:
    if v is UNKNOWN:
        return True
    if isinstance(v, tuple):
        return any(depends_on_unknown(x) for x in v)
    return False


TYPE_NAMES = {"int", "float", "bool", "str", "tuple", "list", "any", "shape", "tensor"}


def conforms(v: Any, typ) -> Any | None:
    """Check `v` against a declared parameter type; returns the (coerced) value or None."""
    if typ is None or typ == "any":
        return v
    if isinstance(typ, tuple):
        if isinstance(v, tuple) and len(v) == len(typ):
            out = tuple(conforms(x, t) for x, t in zip(v, typ))
            return None if any(o is None and x is not None for o, x in zip(out, v)) else out
        return None
    if typ == "int":
        return v if isinstance(v, int) and not isinstance(v, bool) else None
    if typ == "float":
        return float(v) if _num(v) else None
    if typ == "bool":
        return v if isinstance(v, bool) else None
    if typ == "str":
        return v if isinstance(v, str) else None
    if typ in ("tuple", "list"):
        return v if isinstance(v, tuple) else None
    if typ == "shape":
        return v if isinstance(v, ShapeValue) else None
    if typ == "tensor":         # `skip: tensor`: a tensor passed by reference, `@name`
        return v if isinstance(v, ShapeValue) and v.node is not None else None
    return None


def describe_type(typ) -> str:
    if isinstance(typ, tuple):
        return "(" + ", ".join(describe_type(t) for t in typ) + ")"
    return str(typ)
