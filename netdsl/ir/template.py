"""A block or network definition as code generation reads it: its body before expansion.

Elaboration expands each use of a block with its values; code generation can also
write one class per definition, whose constructor computes the body from its
parameters (issue 13). For that it needs the definition itself, in a form free of
the syntax tree (backends never read the AST): these records, made by
elaborate/template.py. Expressions are already Python source (netdsl/pysource.py
decides it); an expression that reads no parameter carries its value too, so that
constant arguments are written as the specialised classes write them.

A definition outside the translatable subset has no template, but a reason
(`Template.refused`), which the generated file states next to the class it falls
back to.
"""
from __future__ import annotations

from ..record import Frozen

NO_VALUE = object()     # an Expr that depends on a parameter or the input


class Expr(Frozen):
    """`text`: Python source; `value`: its value when it reads no parameter, else NO_VALUE."""
    __slots__ = _fields = ("text", "value")
    _defaults = {"value": NO_VALUE}

    @property
    def constant(self) -> bool:
        return self.value is not NO_VALUE


class Name(Frozen):
    """A module name computed from the values, `"denselayer{i + 1}"`: `parts`, in order,
    are literal text (only characters a module name may have: letters, digits, `_`
    and `-`) and Exprs (Python source whose value, an int or a str, is written in)."""
    __slots__ = _fields = ("parts",)


class Layer(Frozen):
    """A layer call: its catalogue entry, its arguments ((keyword or None, Expr), ...) in
    the order written, the name written for it (a str, a computed Name, or None), and
    for a merge its Branches."""
    __slots__ = _fields = ("spec", "args", "label", "branches")
    _defaults = {"label": None, "branches": None}


class Branch(Frozen):
    """One branch of a merge: its body, and the `when` guard that leaves it out (or None)."""
    __slots__ = _fields = ("guard", "body")


class Use(Frozen):
    """A block use: the block's name, its arguments as Layer's, the name written."""
    __slots__ = _fields = ("definition", "args", "label")
    _defaults = {"label": None}


class Sequence(Frozen):
    """`[ ... ]`: a named one is a module (nn.Sequential), an unnamed one only groups."""
    __slots__ = _fields = ("label", "body")


class If(Frozen):
    """`if test { then } else { orelse }`, and `item when test` (orelse empty). `label`: the
    name written for the tensor it yields (`result: if true { ... }`: no module), or None."""
    __slots__ = _fields = ("test", "then", "orelse", "label")
    _defaults = {"label": None}


class Ref(Frozen):
    """`@name` as a chain item: the chain continues from that tensor (`in`: the input)."""
    __slots__ = _fields = ("name",)


class Output(Frozen):
    """`return(out=@out, aux=@aux) when aux`: `args`: ((name or None, tensor name), ...);
    `guard`: an Expr, or None. A network's last statements; the first whose guard holds
    says what forward returns (a dict by name, a tuple by position)."""
    __slots__ = _fields = ("args", "guard")


class TensorArg(Frozen):
    """A layer argument that is another tensor (`center_crop(@up4)`, `upsample(size=@in)`):
    the layer reads its size at run time. `name`: the tensor's (`in`: the input)."""
    __slots__ = _fields = ("name",)
    constant = False        # as an Expr that reads the input


class Assert(Frozen):
    """`assert test, "message"`: the class refuses the values the spec refuses. `message`:
    the text (a constant), or None."""
    __slots__ = _fields = ("test", "message")


class Repeat(Frozen):
    """`repeat count [as index] { body }`: `index` is the Python name of the counter, or None."""
    __slots__ = _fields = ("count", "index", "body")


class For(Frozen):
    """`for t in iterable { body }` and `for (a, b) in ... { }`: `targets`, the Python names
    bound per item (with `destructure`, each item is unpacked into them); `iterable`:
    an Expr whose value is a list or tuple (a literal, a parameter or a `let`)."""
    __slots__ = _fields = ("targets", "destructure", "iterable", "body")


class Let(Frozen):
    """`let name = value`: `name` is the Python name of the local it becomes."""
    __slots__ = _fields = ("name", "value")


class Function(Frozen):
    """`let f(a, b) = body` of the definition's file: a module-level def. `name`, `params`:
    Python names; `body`: Python source; `calls`: the user functions its body calls."""
    __slots__ = _fields = ("name", "params", "body", "calls")


class Template(Frozen):
    """A block definition for code generation. `params`: the Python names of its
    constructor parameters (the spec's); `in_channels`: the Python name of its input
    channels parameter; `body`: the statements; `functions`: the user functions the
    body needs, dependencies first; `refused`: why there is no translation (then
    body is empty); `sequential`: a `sequential block`; `uses`: the Signatures of the
    blocks it uses (some may have no use in the graph: under an `if` no use took);
    `input`: for a network, its declared input shape (a tuple of ints), else None."""
    __slots__ = _fields = ("name", "params", "in_channels", "body", "functions", "refused", "sequential", "uses",
                           "input")
    _defaults = {"params": (), "in_channels": "in_channels", "body": (), "functions": (), "refused": None,
                 "sequential": False, "uses": (), "input": None}


class Deferred:
    """A definition's Template, made when code generation first asks for it (`get`):
    `check` never pays for it. Compared by the definition's name, as the Signature
    that holds it."""
    __slots__ = ("name", "_make", "_template")

    def __init__(self, name: str, make):
        self.name, self._make, self._template = name, make, None

    def get(self) -> Template:
        if self._template is None:
            self._template = self._make()
            self._make = None
        return self._template

    def __eq__(self, other):
        return isinstance(other, Deferred) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f"<template of {self.name}>"
