"""The model zoo as part of the package: `netdsl check zoo:resnet18`,
`netdsl.load("zoo:resnet18")`, `import "zoo:lib/ops.net"` in a spec, `netdsl zoo`.

The specs live in the repository's specs/ (what the README's commands use); a
wheel ships the same files as netdsl/_zoo/ (pyproject maps the one to the other,
as it does the grammar), so an installed netdsl has them wherever it runs.
"""
from __future__ import annotations

import os
from pathlib import Path

PREFIX = "zoo:"


def zoo_dir() -> Path | None:
    """The zoo's directory: netdsl/_zoo in an installed wheel, specs/ in a checkout."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))      # netdsl/
    for candidate in (os.path.join(package, "_zoo"), os.path.join(os.path.dirname(package), "specs")):
        if os.path.isfile(os.path.join(candidate, "lenet.net")):
            return Path(candidate)
    return None


def names() -> list[str]:
    """The zoo's networks: its top-level specs, by name (`resnet18`); lib/ holds blocks."""
    d = zoo_dir()
    return sorted(p.stem for p in d.glob("*.net")) if d is not None else []


def resolve(written: str) -> str:
    """The file `zoo:NAME` (or `zoo:lib/ops.net`) names; OSError-like SpecIOError if none."""
    from ..errors import SpecIOError
    rest = written[len(PREFIX):]
    d = zoo_dir()
    if d is None:
        raise SpecIOError(f"cannot read {written}: this installation of netdsl has no zoo")
    name = rest if rest.endswith(".net") else rest + ".net"
    path = (d / name).resolve()
    if d.resolve() not in path.parents or not path.is_file():
        known = ", ".join(names())
        raise SpecIOError(f"cannot read {written}: no such spec in the zoo (it has {known}; `netdsl zoo` lists them)")
    return str(path)
