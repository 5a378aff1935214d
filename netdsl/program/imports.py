"""Where `import "x.net"` may read from.

A spec reads only specs: an import names a `.net` file, found first relative to
the importing file, then in each directory of the search path (`--include DIR`,
then the directories in $NETDSL_PATH). Wherever it is found, the real file (with
every symlink resolved) must lie inside the top-level spec's directory tree or a
search-path directory; anything else is refused without being opened, so a spec
from someone else cannot make netdsl read, and quote, `/proc/self/environ` or
`~/.aws/credentials`. docs/limits.md states the policy for users.
"""
from __future__ import annotations

import os
from pathlib import Path

SEARCH_PATH_VARIABLE = "NETDSL_PATH"


class ImportRefused(Exception):
    """The import names something a spec may not read (the message says why)."""


class ImportNotFound(Exception):
    def __init__(self, looked: list[Path]):
        super().__init__("not found")
        self.looked = looked


def search_path(include=()) -> list[Path]:
    """`--include` directories first, then $NETDSL_PATH's."""
    env = os.environ.get(SEARCH_PATH_VARIABLE, "")
    return [Path(d) for d in (*include, *env.split(os.pathsep)) if d]


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


class ImportPolicy:
    def __init__(self, tree: Path, include=()):
        self.search = search_path(include)
        # (written, importing directory, real path) of each import resolved: what a cache of
        # compiled output replays to know the imports would find the same files (build.py)
        self.resolved: list[tuple[str, str, str]] = []
        self.roots = []
        for d in (tree, *self.search):
            try:
                self.roots.append(Path(os.path.realpath(d)))
            except (OSError, ValueError):
                continue

    def resolve(self, written: str, importing_dir: Path) -> Path:
        """The real path of the file `import "written"` names, from a file in `importing_dir`.
        `zoo:lib/ops.net` names a file of the zoo shipped with netdsl (program/zoo.py)."""
        real = self._resolve(written, importing_dir)
        self.resolved.append((written, str(importing_dir), str(real)))
        return real

    def _resolve(self, written: str, importing_dir: Path) -> Path:
        if written.startswith("zoo:"):
            from .zoo import zoo_dir
            zoo = zoo_dir()
            if zoo is None:
                raise ImportRefused("this installation of netdsl has no zoo")
            root = Path(os.path.realpath(zoo))
            real = Path(os.path.realpath(root / written[len("zoo:"):]))
            if not written.endswith(".net") or not _inside(real, [root]):
                raise ImportRefused("`zoo:` imports name a `.net` file of the zoo, like \"zoo:lib/ops.net\"")
            if not os.path.lexists(real):
                raise ImportNotFound([real])
            if root not in self.roots:      # the zoo's own imports (lib/...) stay inside it
                self.roots.append(root)
            return real
        if not written.endswith(".net"):
            raise ImportRefused("only `.net` files can be imported")
        candidate = Path(written)
        places = [candidate] if candidate.is_absolute() else [importing_dir / candidate,
                                                              *(d / candidate for d in self.search)]
        outside = False
        for place in places:
            try:
                real = Path(os.path.realpath(place))
            except (OSError, ValueError) as e:
                raise ImportRefused(str(e)) from None
            if not _inside(real, self.roots):
                # Refused whether or not it exists: what lies outside is not even probed.
                outside = True
                continue
            if os.path.lexists(real):
                return real
        if outside:
            raise ImportRefused("the file is outside the spec's directory and the search path")
        raise ImportNotFound(places)
