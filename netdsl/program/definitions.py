"""A loaded program: its blocks and networks by name, and the files it was read from."""
from __future__ import annotations

from ..record import Value


class Definition(Value):
    """A block or network (its AST), with the constants of the file that defines it (env)."""
    _fields = ("ast", "env")


class Program(Value):
    """A file and everything it imports: blocks and networks by name. `own_networks`:
    the root file's, in order; `files`: every file read, by resolved path, with the
    text that was parsed (what a cache of compiled output must be checked against);
    `resolved`: each import as resolved, (written, importing directory, real path)."""
    _fields = ("root", "blocks", "networks", "own_networks", "diagnostics", "files", "include", "resolved")
    _defaults = {"blocks": dict, "networks": dict, "own_networks": list, "diagnostics": list, "files": dict,
                 "include": tuple, "resolved": list}

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    def __repr__(self) -> str:
        from ..record import short
        name = self.root.name if self.root is not None else "?"
        counts = [(len(self.own_networks), "network"), (len(self.blocks), "block"), (len(self.files), "file")]
        return f"<Program {short(name, 60)}: " + ", ".join(f"{n} {w}{'s' if n != 1 else ''}" for n, w in counts) + ">"
