"""The program: a spec and everything it imports, loaded into blocks and networks by name.

    definitions.py  Program and Definition
    files.py     reading a spec file (bounded, regular files only, never blocking)
    imports.py   where an import may read from (the spec's tree and the search path)
    loader.py    parsing each file, following its imports, defining its blocks and networks
"""
from __future__ import annotations

import os
from pathlib import Path

from ..frontend.source import Source
from ..values import reset_work
from .definitions import Definition, Program
from .files import BadBytes, read_source
from .loader import Loader


def load(source: Source, include=(), texts=None, from_file: bool = False) -> Program:
    """Load spec text. Imports resolve against the file's directory (the working
    directory for text without a file) and `include`, the search path. `texts`:
    resolved path -> text to use for that imported file instead of reading it (a fix
    in an imported file is re-checked in memory, diagnostics/fixes.py). `from_file`:
    the text is the file's named by source.name, as read (then its parse may be cached)."""
    reset_work()            # the budget for building values (values.charge)
    prog = Program(source, include=tuple(include))
    tree, path = Path.cwd(), None
    if source.name not in ("<stdin>", "<string>"):
        path = Path(source.name).resolve()
        prog.files[str(path)] = source
        tree = path.parent
    loader = Loader(prog, tree, include, texts)
    loader.load_file(source, tree, (), True, path if from_file else None)
    loader.finish()
    prog.resolved = loader.policy.resolved
    return prog


def load_path(path: str, include=()) -> Program:
    """Read and load a file ("-" is stdin); I/O problems raise SpecIOError, bad bytes are E0100.
    `path` may be a str or a pathlib.Path: file names in diagnostics are strs either way."""
    path = os.fspath(path)
    if path.startswith("zoo:"):             # a spec of the zoo shipped with netdsl (program/zoo.py)
        from .zoo import resolve
        path = resolve(path)
    try:
        src = read_source(path)
    except BadBytes as e:
        prog = Program(None)
        prog.diagnostics.append(e.diagnostic("<stdin>" if path == "-" else path))
        return prog
    return load(src, include, from_file=path != "-")


__all__ = ["Definition", "Program", "load", "load_path"]
