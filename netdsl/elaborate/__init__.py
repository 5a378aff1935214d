"""Elaboration: a program's network -> the graph IR, expanded and shape-checked in one walk.

    walk.py      the walk over statements: calls, blocks, sequences, control flow
    binding.py   binding arguments to block and layer parameters
    rules.py     running a layer kind's catalogue rules on a node
    budget.py    the expansion budget (LIMITS.max_layers)
    report.py    collecting diagnostics; the policy for stopping early
    frame.py     the state the walk threads through a body

Module names come from netdsl/namespace.py. docs/architecture.md has the map.
"""
from __future__ import annotations

from collections.abc import Callable

from ..diagnostics import Diagnostic
from ..ir import Graph
from ..program import Program
from ..values import reset_work
from .report import Reporter, Stop
from .walk import Walk


def elaborate(program: Program, network: str, overrides: dict | None = None, input_shape: tuple | None = None,
              expects: bool = True, stop_when: Callable[[Diagnostic], bool] | None = None) -> Graph:
    """Expand `network` of `program`. `overrides`: network parameter values (`--param`);
    `input_shape`: replaces the declared input; `expects`: check `expect` statements;
    `stop_when`: end the walk at the first diagnostic for which it is true (the graph
    is then partial: see report.py)."""
    reset_work()            # the budget for building values (values.charge) is per network
    walk = Walk(program, Reporter(stop_when), check_expects=expects)
    return walk.network(program.networks[network], overrides or {}, input_shape)


__all__ = ["Reporter", "Stop", "elaborate"]
