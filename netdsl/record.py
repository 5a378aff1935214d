"""Base classes for netdsl's small record types, in place of @dataclass.

`netdsl check` imports every record class on each run, and @dataclass costs about
0.2 ms per class (it generates and compiles __init__/__eq__/__repr__, and inspects
a signature for classes without a docstring). The records write their __init__ by
hand and take the rest from here, with the behaviour the dataclasses had:

- Record:    a repr of the fields in `_fields`; compared by identity  (eq=False)
- Immutable: a Record whose fields cannot be set (frozen=True, eq=False: the AST nodes)
- Value:     compared by field values, unhashable                      (eq=True)
- Frozen:    compared and hashed by field values; fields cannot be set (frozen=True)
"""
from __future__ import annotations

from reprlib import recursive_repr


class Record:
    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def _values(self) -> tuple:
        return tuple(getattr(self, k) for k in self._fields)

    @recursive_repr()        # a Scope's children refer back to it
    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._fields)
        return f"{type(self).__qualname__}({fields})"


class Immutable(Record):
    """Fields cannot be set or deleted once __init__ has written them (with set_field)."""
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


# __init__ of an Immutable record writes its fields past the __setattr__ guard with this.
set_field = object.__setattr__
