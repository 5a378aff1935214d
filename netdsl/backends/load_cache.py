"""What netdsl.load generated for a spec file, kept between runs: a spec loaded again,
unchanged, in a new process skips parsing, checking and generating (bench/README.md:
that was most of a cold load's time above torch's own construction).

An entry is used only when everything the generated source depends on is as it was:

- the request: the spec's real path, the network, `init`, the input shape, the
  parameters, the search path (`--include`, $NETDSL_PATH) and the limits in force;
- netdsl itself: its version, the Python that runs it, and the size and modification
  time of every file of the package (cache.package_stamp);
- every file the check read, by the digest of the very text it parsed
  (program/files.fingerprint), read again now;
- every import, resolved again now from the same directory to the same real file (a
  file put earlier on the search path, or a symlink changed, finds another).

Entries live in this user's cache directory (netdsl/cache.py: trusted only if this
user's and nobody else can write it), behind a checksum; anything damaged, or from
another format, is ignored and the spec is checked again. Only spec files get
entries (spec text would pile them up, one per text); load keeps the same entries in
memory for the process.
"""
from __future__ import annotations

import hashlib
import marshal
import os
from pathlib import Path

from .. import cache
from ..limits import LIMITS, Limits
from ..program.files import current_fingerprint, fingerprint
from ..program.imports import ImportNotFound, ImportPolicy, ImportRefused

# Bump when the entry's layout changes.
FORMAT = 1
# Entries kept (the least recently written go first).
MAX_ENTRIES = 200


class Entry:
    """What one load generated, and what it depended on."""
    __slots__ = ("dependencies", "resolved", "tree", "include", "source", "network")

    def __init__(self, dependencies: dict, resolved: list, tree: str, include: tuple, source: str, network: str):
        self.dependencies = dependencies    # {real path: fingerprint of the text parsed}
        self.resolved = resolved            # [(written, importing directory, real path)]
        self.tree = tree                    # the spec's directory, where its imports may read
        self.include = include
        self.source = source
        self.network = network

    @classmethod
    def of(cls, result, include, source: str, network: str) -> Entry:
        """The entry for a check result (program.load: a file's imports resolve from its
        directory, spec text's from the working directory)."""
        root = result.program.root
        text = root is None or root.name in ("<stdin>", "<string>")
        tree = Path.cwd() if text else Path(root.name).resolve().parent
        return cls(spec_dependencies(result), list(result.program.resolved), str(tree), tuple(map(str, include)),
                   source, network)

    def current(self) -> bool:
        """Whether every file read still has the text parsed, and every import still finds
        the same file."""
        return unchanged(self.dependencies) and imports_unchanged(self.resolved, self.tree, self.include)

    def dump(self) -> tuple:
        return (self.dependencies, self.resolved, self.tree, self.include, self.source, self.network)


def spec_dependencies(result) -> dict:
    """{absolute path: fingerprint} of the spec and every file it read, of the very text parsed."""
    return {path: fingerprint(src.text) for path, src in result.program.files.items()}


def unchanged(dependencies: dict) -> bool:
    """Whether every file still has the text that was parsed (for the import hook's cache too)."""
    return all(current_fingerprint(path) == digest for path, digest in dependencies.items())


def imports_unchanged(resolved, tree: str, include=()) -> bool:
    """Whether each import recorded as (written, importing directory, real path) still
    resolves to the same real file (program/imports.py), in the same order; for the
    import hook's cache too."""
    policy = ImportPolicy(Path(tree), include)
    try:
        return all(str(policy.resolve(written, Path(where))) == real for written, where, real in resolved)
    except (ImportRefused, ImportNotFound, OSError, ValueError, TypeError):
        return False


def code_stamp() -> str | None:
    """netdsl's own code, as the stamp of every cache of compiled output has it."""
    stamp = cache.package_stamp()
    return None if stamp is None else f"{FORMAT}:{stamp}"


def _request(key: tuple) -> str:
    return repr((key, tuple(getattr(LIMITS, f) for f in Limits._fields)))


def _where(key: tuple) -> str | None:
    folder = cache.directory()
    if folder is None:
        return None
    digest = hashlib.sha256(_request(key).encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return os.path.join(folder, f"netdsl-load-{digest}.marshal")


def lookup(key: tuple) -> Entry | None:
    """The entry an earlier run stored for this request, if it is intact and current."""
    stamp = code_stamp()
    where = _where(key) if stamp is not None else None
    payload = cache.read_checked(where) if where is not None else None
    if payload is None:
        return None
    try:
        stamped, request, fields = marshal.loads(payload)
        if stamped != stamp or request != _request(key):
            return None
        entry = Entry(*fields)
        if not (isinstance(entry.source, str) and isinstance(entry.network, str)
                and isinstance(entry.dependencies, dict) and isinstance(entry.resolved, list)):
            return None
        return entry if entry.current() else None
    except Exception:       # marshal's errors, a malformed entry: check the spec again
        return None


def store(key: tuple, entry: Entry) -> None:
    stamp = code_stamp()
    where = _where(key) if stamp is not None else None
    if where is not None:
        cache.store_entry(where, marshal.dumps((stamp, _request(key), entry.dump())), MAX_ENTRIES)
