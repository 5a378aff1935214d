"""Frame: where the walk is inside one network or block use."""
from __future__ import annotations

from ..record import Record


class Frame(Record):
    """The state the walk threads through the statements of one body.

    `flow` is the node whose tensor the next item takes (None before the input);
    `refs` the tensors named so far in this network or block use (`@name`);
    `origin` the block uses being expanded, innermost first (labels on diagnostics);
    `scope` the module new layers land in; `env` the names in reach."""
    __slots__ = _fields = ("flow", "refs", "origin", "scope", "env")
