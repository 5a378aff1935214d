"""The expression language written as Python source, with values.evaluate's semantics.

Code generation writes a block's arithmetic (`planes * 4`, `(k - 1) // 2 * dilation`)
into the constructor of its class. This module is the one place that decides what
an expression becomes in Python, next to the evaluator whose meaning it must keep:
`/` is true division and `//` floors in both, `round`, `int`, `min`, `max`, `abs`
and `sum` are Python's builtins (values.BUILTINS calls exactly those), `x == none`
becomes `x is None` (None equals only itself), and a user function
`let f(v, d) = ...` becomes a module-level `def`.

Nothing from a spec is pasted: only the AST node types below are translated,
names must be ones the caller maps to Python names it chose, and constants go
through `literal`, which only writes inert literals. Anything else raises
Untranslatable, and code generation falls back to a class per specialisation.
Semantics the translation keeps only for values `check` accepts (an `and` of
bools, numbers in arithmetic): the class is built from values that passed it.
"""
from __future__ import annotations

import keyword
import math
import unicodedata

from .frontend import ast as A


class Untranslatable(Exception):
    """This expression has no Python translation here (the message says why)."""


def literal(v) -> str:
    """Python source for a value. Only inert literal types; anything else is refused."""
    if v is None or isinstance(v, bool):
        return repr(v)
    if type(v) is int:
        return repr(v)
    if type(v) is float:
        if not math.isfinite(v):
            raise Untranslatable(f"cannot emit the non-finite number {v!r}")
        return repr(v)
    if type(v) is str:
        return string_literal(v)
    if type(v) is tuple:
        items = [literal(x) for x in v]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    what = _KINDS.get(type(v).__name__)
    raise Untranslatable(what or f"cannot emit a value of type {type(v).__name__}")


# the language's words for values that have no literal (E0220's message)
_KINDS = {"ShapeValue": "a shape (`in` or `@name` as an argument) has no Python literal; pass its numbers "
                        "(`in.c`, `in.h`)"}


def string_literal(s: str) -> str:
    """A str as `ruff format` writes it: in double quotes unless the text holds more double
    quotes than single ones. Each character is escaped as repr escapes it (repr of one
    character is inert: a printable one itself, any other an escape), the chosen quote too."""
    quote = '"' if s.count('"') <= s.count("'") else "'"
    if s.isprintable() and "\\" not in s and quote not in s:
        return quote + s + quote        # the usual case, without a pass over every character
    return quote + "".join("\\" + c if c == quote else c if c in "'\"" else repr(c)[1:-1] for c in s) + quote


# The builtins whose Python namesakes compute what values.BUILTINS computes for the
# arguments it accepts.
PYTHON_BUILTINS = frozenset({"int", "min", "max", "abs", "round", "sum", "len"})

# The builtins that compute it through Python's `math` (the file then imports it, as
# torchvision's regnet.py does): math.floor and math.ceil return ints, as values.py's
# calls of the same functions do; sqrt and log are math.sqrt and math.log.
MATH_FUNCTIONS = frozenset({"floor", "ceil", "sqrt", "log"})
MATH = "math"

# The builtins that make a sequence: values.py makes tuples, Python iterators or ranges.
# Where the result is only gone through (a comprehension's iterable, the argument of
# sum, min, max, any or all) Python's own is written; elsewhere it is made a tuple.
_SEQUENCE_BUILTINS = frozenset({"range", "zip", "enumerate"})
_TRUTH_BUILTINS = frozenset({"any", "all"})
_CONSUMERS = frozenset({"sum", "min", "max", "any", "all"})
_SIZED = "sized"    # len's argument: a list or a range has its length, zip's iterator none

# Names generated expressions may refer to besides the spec's: no spec name may become them.
RESERVED = PYTHON_BUILTINS | MATH_FUNCTIONS | _SEQUENCE_BUILTINS | _TRUTH_BUILTINS | {MATH, "tuple", "str"}

# Python's precedence, loosest first; each level's operands print at a tighter one.
_COND, _OR, _AND, _NOT, _CMP, _ADD, _MUL, _UNARY, _POW, _ATOM = range(10)
_BINARY = {"+": _ADD, "-": _ADD, "*": _MUL, "/": _MUL, "//": _MUL, "%": _MUL, "**": _POW,
           "==": _CMP, "!=": _CMP, "<": _CMP, "<=": _CMP, ">": _CMP, ">=": _CMP}
_AXES = {"c": 0, "channels": 0}     # what a block class reads of its input: its channels


class Names:
    """How the spec's names read in Python: `vars` maps a variable to its Python name,
    `functions` a user function to its Python name (a module-level def), and
    `in_channels` is the Python name of the block's input channels (None: `in` is not
    available). `constant(name)`: a value for a name bound outside (a file constant),
    or raises KeyError; `called`: filled with the builtins and functions used."""

    def __init__(self, vars: dict, functions: dict, in_channels: str | None = None, constant=None):
        self.vars, self.functions, self.in_channels = vars, functions, in_channels
        self.constant = constant
        self.called: set[str] = set()


def source(e, names: Names) -> str:
    """The Python expression for `e`; raises Untranslatable."""
    return _source(e, names)[0]


def _wrap(text_level, level: int) -> str:
    text, own = text_level
    return f"({text})" if own < level else text


def _source(e, names: Names, gone_through=False) -> tuple[str, int]:
    """(text, precedence level). `gone_through`: True where the value is only iterated
    over (see _SEQUENCE_BUILTINS), so a Python list, range or iterator means what the
    tuple does; _SIZED where it is only measured (a list or range, no iterator)."""
    t = type(e)
    if t is A.Const:
        return literal(e.value), _ATOM
    if t is A.Var:
        if e.name in names.vars:
            return names.vars[e.name], _ATOM
        if names.constant is not None:
            try:
                return literal(names.constant(e.name)), _ATOM
            except KeyError:
                pass
        raise Untranslatable(f"the name `{e.name}` has no Python counterpart here")
    if t is A.Attr and type(e.value) is A.InShape:
        if e.name in _AXES and names.in_channels is not None:
            return names.in_channels, _ATOM
        raise Untranslatable(f"`in.{e.name}` depends on the input's size, not only its channels")
    if t is A.BinOp:
        level = _BINARY.get(e.op)
        if level is None:
            raise Untranslatable(f"operator `{e.op}`")
        if level == _CMP and e.op in ("==", "!=") and (_is_none(e.left) or _is_none(e.right)):
            other = e.right if _is_none(e.left) else e.left
            word = "is" if e.op == "==" else "is not"
            return f"{_wrap(_source(other, names), _CMP + 1)} {word} None", _CMP
        # comparisons do not chain and ** binds to the right in Python: parenthesise both sides there
        left = level + 1 if level in (_CMP, _POW) else level
        right = level + 1
        return f"{_wrap(_source(e.left, names), left)} {e.op} {_wrap(_source(e.right, names), right)}", level
    if t is A.Unary:
        if e.op == "not":
            return f"not {_wrap(_source(e.operand, names), _NOT)}", _NOT
        if e.op not in ("-", "+"):
            raise Untranslatable(f"unary `{e.op}`")
        return f"{e.op}{_wrap(_source(e.operand, names), _POW + 1)}", _UNARY
    if t is A.BoolOp:
        chained = _chained(e, names)
        if chained is not None:
            return chained, _CMP
        level = _AND if e.op == "and" else _OR
        return f" {e.op} ".join(_wrap(_source(o, names), level + 1) for o in e.operands), level
    if t is A.CondExpr:
        return (f"{_wrap(_source(e.then, names), _OR)} if {_wrap(_source(e.test, names), _OR)} "
                f"else {_wrap(_source(e.orelse, names), _COND)}"), _COND
    if t is A.TupleExpr:
        items = [_wrap(_source(x, names), _COND) for x in e.items]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")", _ATOM
    if t is A.Index:
        return f"{_wrap(_source(e.value, names), _ATOM)}[{_wrap(_source(e.index, names), _COND)}]", _ATOM
    if t is A.Comprehension:
        return _comprehension(e, names, gone_through)
    if t is A.FunCall:
        if e.name == "int" and len(e.args) == 1 and type(e.args[0]) is A.FunCall \
                and e.args[0].name in ("round", "ceil", "floor") and len(e.args[0].args) == 1 \
                and not {"int", e.args[0].name} & (set(names.vars) | set(names.functions)):
            return _source(e.args[0], names)    # round(x), math.ceil(x), math.floor(x) are ints: ruff's RUF046
        if e.name in names.functions:
            fn = names.functions[e.name]
        elif e.name in names.vars:
            raise Untranslatable(f"the function `{e.name}` has no Python counterpart here")
        elif e.name in PYTHON_BUILTINS or e.name in _SEQUENCE_BUILTINS or e.name in _TRUTH_BUILTINS:
            fn = e.name
        elif e.name in MATH_FUNCTIONS:
            if MATH in names.vars.values() or MATH in names.functions.values():
                raise Untranslatable(f"`{e.name}` is math.{e.name}, and `math` names something else here")
            fn = f"{MATH}.{e.name}"
        else:
            raise Untranslatable(f"the function `{e.name}` has no Python counterpart here")
        names.called.add(e.name)
        # a single list argument of sum/min/max/any/all is only gone through; len's only measured
        inner = (True if fn in _CONSUMERS else _SIZED if fn == "len" else False) if len(e.args) == 1 else False
        text = f"{fn}({', '.join(_wrap(_source(a, names, inner), _COND) for a in e.args)})"
        if fn in _SEQUENCE_BUILTINS and not (gone_through is True or (gone_through and fn == "range")):
            return f"tuple({text})", _ATOM      # values.py's range, zip and enumerate are tuples
        return text, _ATOM
    raise Untranslatable(f"it has a {t.__name__.lower()} expression")


def _comprehension(e: A.Comprehension, names: Names, gone_through) -> tuple[str, int]:
    """`[f(x) for x in xs if c]`. values.py builds a tuple: Python's list comprehension
    where it is only gone through, else `tuple(...)` of the same generator. The targets
    are Python names of their own, scoped to the comprehension as in values.py; one that
    is the Python name of something else the comprehension reads is refused."""
    for target in e.targets:
        if not _python_local(target):
            raise Untranslatable(f"the comprehension variable `{target}` cannot be a Python name")
    taken = {v for k, v in names.vars.items() if k not in e.targets} | set(names.functions.values())
    if names.in_channels is not None:
        taken.add(names.in_channels)
    if taken & set(e.targets):
        raise Untranslatable("a comprehension variable has the Python name of another value")
    iterable = _wrap(_source(e.iterable, names, True), _OR)
    inner = Names({**names.vars, **{n: n for n in e.targets}}, names.functions, names.in_channels, names.constant)
    inner.called = names.called
    element = _wrap(_source(e.element, inner), _OR)
    if e.destructure:
        target = "(" + ", ".join(e.targets) + ("," if len(e.targets) == 1 else "") + ")"
    else:
        target = e.targets[0]
    text = f"{element} for {target} in {iterable}"
    if e.condition is not None:
        text += f" if {_wrap(_source(e.condition, inner), _OR)}"
    return (f"[{text}]" if gone_through else f"tuple({text})"), _ATOM


def _python_local(name) -> bool:
    """A comprehension variable as written: an identifier Python reads as written (no
    keyword, NFKC-stable) that is none of the builtins expressions call. Inside the
    comprehension it may shadow anything else (`x`, `nn`): what it reads is only
    expression text, which names none of those."""
    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name) \
        and not keyword.issoftkeyword(name) and not name.startswith("_") and name not in RESERVED \
        and (name.isascii() or unicodedata.normalize("NFKC", name) == name)


_ORDER = ("<", "<=", ">", ">=")


def _chained(e, names) -> str | None:
    """`1 <= stride and stride <= 3` as Python's `1 <= stride <= 3` (ruff's PLR1716): the
    same value, the middle operand (an expression without effects) read once."""
    if e.op != "and" or len(e.operands) != 2 or any(type(o) is not A.BinOp or o.op not in _ORDER
                                                     for o in e.operands):
        return None
    first, second = e.operands
    middle = _source(first.right, names)
    if middle[0] != _source(second.left, names)[0]:
        return None
    return (f"{_wrap(_source(first.left, names), _CMP + 1)} {first.op} {_wrap(middle, _CMP + 1)} {second.op} "
            f"{_wrap(_source(second.right, names), _CMP + 1)}")


def _is_none(e) -> bool:
    return type(e) is A.Const and e.value is None


def free_names(e) -> set[str]:
    """The variable names an expression reads (functions' own bodies excluded)."""
    return {n.name for n in A.walk(e) if type(n) is A.Var}


def reads_input(e) -> bool:
    return any(type(n) in (A.InShape, A.RefShape) for n in A.walk(e))
