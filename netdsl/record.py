"""Base classes for netdsl's small record types, in place of @dataclass.

A record class lists its fields in `_fields` (usually also its `__slots__`, so a
million IR nodes carry no per-instance dict) and the defaults of the trailing
ones in `_defaults`; the one generic `__init__` here fills them, positionally or
by keyword. `list` or `dict` as a default means a fresh empty one per record.
bench/README.md says why this and not @dataclass (start-up time).

- Record:    a repr of the fields in `_fields`; compared by identity  (eq=False)
- Immutable: a Record whose fields cannot be set (frozen=True, eq=False: the AST nodes)
- Value:     compared by field values, unhashable                      (eq=True)
- Frozen:    compared and hashed by field values; fields cannot be set (frozen=True)
"""
from __future__ import annotations

from reprlib import recursive_repr

# How __init__ writes a field, past an Immutable record's guard.
set_field = object.__setattr__


class Record:
    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _defaults: dict = {}

    def __init__(self, *args, **kwargs):
        fields = self._fields
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__} takes {len(fields)} fields, {len(args)} given")
        for name, value in zip(fields, args):
            set_field(self, name, value)
        if len(args) == len(fields) and not kwargs:
            return
        defaults = self._defaults
        for name in fields[len(args):]:
            if name in kwargs:
                value = kwargs.pop(name)
            elif name in defaults:
                value = defaults[name]
                if value is list or value is dict:
                    value = value()
            else:
                raise TypeError(f"{type(self).__name__} needs a value for {name!r}")
            set_field(self, name, value)
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected or repeated fields {sorted(kwargs)}")

    def _values(self) -> tuple:
        return tuple(getattr(self, k) for k in self._fields)

    @recursive_repr()        # a Scope's children refer back to it
    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._fields)
        return f"{type(self).__qualname__}({fields})"


def short(text: str, width: int = 80) -> str:
    """`text` cut to `width` characters with a `…`: public objects' reprs stay one short
    line whatever a spec names its layers (notebooks print every repr they are given)."""
    text = str(text)
    return text if len(text) <= width else text[:width - 1] + "\u2026"


class Immutable(Record):
    """Fields cannot be set or deleted once __init__ has written them."""
    __slots__ = ()

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name):
        raise AttributeError(f"cannot delete field {name!r}")

    def __reduce__(self):       # copy, deepcopy and pickle rebuild through __init__, past the guard
        return type(self), self._values()


class Value(Record):
    __slots__ = ()
    __hash__ = None          # mutable and compared by value: unhashable, as a dataclass

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented


class Frozen(Immutable, Value):
    __slots__ = ()

    def __hash__(self) -> int:
        return hash(self._values())
