"""Resource limits. Each one turns hostile or accidental input into a diagnostic
instead of a hang, a RecursionError or runaway memory. All are configurable
(`netdsl check --max-layers N`, or `netdsl.limits.LIMITS` from Python)."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, fields, replace

from .record import Value


# A dataclass (dataclasses.replace/fields work on LIMITS), but with __eq__ and
# __repr__ from record.Value, the same as the generated ones: generating them cost
# 0.13 ms on every run. (The docstring spares @dataclass computing one, too.)
@dataclass(eq=False, repr=False)
class Limits(Value):
    """The limits in force."""
    max_layers: int = 1_000_000        # expanded layers in one network
    max_nesting: int = 100             # brackets / braces in the text
    max_tokens: int = 1_000_000        # tokens in one file (parse memory is ~1 KB per token)
    max_depth: int = 200               # expression / body nesting levels (see docs/limits.md)
    max_block_depth: int = 64          # block uses inside block uses
    max_import_depth: int = 64         # files importing files importing files
    max_int_digits: int = 18           # integer literals (keeps values below 2**63)
    max_value: int = 2 ** 63 - 1       # any computed integer
    max_layer_params: int = 10 ** 10   # warn when one layer has more parameters

    @contextmanager
    def override(self, **changes):
        """Change some limits for the duration of a `with` block (None leaves one as it is)."""
        saved = replace(self)
        for name, value in changes.items():
            if value is not None:
                setattr(self, name, value)
        try:
            yield self
        finally:
            self.__dict__.update(saved.__dict__)


Limits._fields = tuple(f.name for f in fields(Limits))
LIMITS = Limits()
