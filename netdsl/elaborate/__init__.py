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
from ..frontend import ast as A
from ..ir import Graph
from ..program import Program
from ..values import from_python, reset_work
from .report import Reporter, Stop
from .walk import Declared, Walk

AUTO = object()     # elaborate(declared=AUTO): find what holds at the declared input when it is overridden


def elaborate(program: Program, network: str, overrides: dict | None = None, input_shape: tuple | None = None,
              expects: bool = True, stop_when: Callable[[Diagnostic], bool] | None = None,
              declared: Declared | None = AUTO) -> Graph:
    """Expand `network` of `program`. `overrides`: network parameter values (`--param`);
    `input_shape`: replaces the declared input; `expects`: check `expect` statements;
    `stop_when`: end the walk at the first diagnostic for which it is true (the graph
    is then partial: see report.py). `declared`: what held at the declared input
    (walk.Declared); by default, when `input_shape` replaces another declared input
    and expects are checked, the network is first expanded at its declared input to
    find out (a size scan passes its own, found once)."""
    definition = program.networks[network]
    if overrides:           # from Python: a list is a tuple, as in a spec
        overrides = {k: from_python(v) for k, v in overrides.items()}
    if declared is AUTO:
        declared = declared_expects(program, network, overrides, input_shape) if expects else None
    reset_work()            # the budget for building values (values.charge) is per network
    walk = Walk(program, Reporter(stop_when), check_expects=expects, declared=declared)
    return walk.network(definition, overrides or {}, input_shape)


def declared_expects(program: Program, network: str, overrides: dict | None,
                     input_shape: tuple | None) -> Declared | None:
    """What held at the network's declared input, if `input_shape` replaces another one."""
    if input_shape is None or not any(isinstance(n, A.Expect) for n in _statements(program)):
        return None
    reset_work()
    walk = Walk(program, Reporter(), check_expects=True)
    graph = walk.network(program.networks[network], overrides or {}, None)
    if graph.input_shape is None or tuple(graph.input_shape) == tuple(input_shape):
        return None
    return Declared(tuple(graph.input_shape), frozenset(walk.expects_held))


def _statements(program: Program):
    """Every AST node of the program's blocks and networks (is there an `expect` at all?)."""
    for definition in (*program.networks.values(), *program.blocks.values()):
        yield from A.walk(definition.ast)


__all__ = ["AUTO", "Declared", "Reporter", "Stop", "declared_expects", "elaborate"]
