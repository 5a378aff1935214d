"""Resource limits. Each one turns hostile or accidental input into a diagnostic or a
clear message instead of a hang, a RecursionError or runaway memory. All are
configurable (`netdsl check --max-layers N`, or `netdsl.limits.LIMITS` from
Python); docs/limits.md lists every limit and what the user sees when it is reached.
"""
from __future__ import annotations

from contextlib import contextmanager

from .record import Value


class Limits(Value):
    """The limits in force."""
    _fields = ("max_layers", "max_nesting", "max_tokens", "max_depth", "max_block_depth", "max_import_depth",
               "max_int_digits", "max_value", "max_layer_params", "max_value_size", "max_built_elements", "max_name_length",
               "max_diagnostics", "max_scan_work", "dot_timeout")
    _defaults = {
        "max_layers": 100_000,           # expanded layers in one network (about 1 s of checking)
        "max_nesting": 100,              # brackets / braces in the text
        "max_tokens": 1_000_000,         # tokens in one file (parse memory is ~1 KB per token)
        "max_depth": 200,                # expression / body nesting levels
        "max_block_depth": 64,           # block uses inside block uses
        "max_import_depth": 64,          # files importing files importing files
        "max_int_digits": 18,            # integer literals (keeps values below 2**63)
        "max_value": 2 ** 63 - 1,        # any computed integer
        "max_layer_params": 10 ** 10,    # warn when one layer has more parameters
        "max_value_size": 1_000_000,     # elements of one value (each occurrence), characters of its strings
        "max_built_elements": 50_000_000,  # elements copied into tuples by expressions, in one check
        "max_name_length": 256,          # characters in a layer or module name
        "max_diagnostics": 10_000,       # diagnostics kept per network; the rest are counted
        "max_scan_work": 500_000,        # layer evaluations `netdsl sizes` may spend on all the sizes it tries
        "dot_timeout": 60.0,             # seconds Graphviz may take to lay out a diagram
    }

    def copy(self) -> Limits:
        return Limits(*self._values())

    @contextmanager
    def override(self, **changes):
        """Change some limits for the duration of a `with` block (None leaves one as it is)."""
        saved = self.copy()
        for name, value in changes.items():
            if name not in self._fields:
                raise AttributeError(f"no limit named {name!r}")
            if value is not None:
                setattr(self, name, value)
        try:
            yield self
        finally:
            self.__dict__.update(saved.__dict__)


LIMITS = Limits()
