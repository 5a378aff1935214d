"""Files netdsl keeps between runs (the parser tables, parsed spec files, compiled
generated code, the import hook's compiled specs), and when it may trust what it
reads back.

A cache file is used only if it is a regular file (never followed through a symlink,
never a FIFO or a device: opened non-blocking and checked on the descriptor) owned
by this user and not writable by anyone else, in a directory with the same
properties. Anything else is ignored and rebuilt, so another user cannot plant
content that changes how a spec parses or what `import spec` runs, nor hang netdsl.

The per-user directory is $NETDSL_CACHE_DIR if set, else the platform's user cache
directory (~/.cache/netdsl, ~/Library/Caches/netdsl, %LOCALAPPDATA%\\netdsl\\Cache),
else a private folder in the temp dir; netdsl creates it with mode 0700.
"""
from __future__ import annotations

import functools
import os
import stat
import sys
import zlib

from .output import OutputError, write_file


def _safe(st) -> bool:
    if not hasattr(os, "getuid"):
        return True
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def _usable_directory(path: str) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and _safe(st)


def _candidates() -> list[str]:
    own = os.environ.get("NETDSL_CACHE_DIR")
    if own:
        return [own]
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        base = os.path.join(home, "Library", "Caches")
    elif os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    temp = os.environ.get("TMPDIR") or ("/tmp" if os.name == "posix" else os.environ.get("TEMP", "."))
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return [os.path.join(base, "netdsl") + (os.sep + "Cache" if os.name == "nt" else ""),
            os.path.join(temp, f"netdsl-{user}")]


def directory() -> str | None:
    """This user's cache directory, created if need be; None if no safe one can be had."""
    for path in _candidates():
        if not os.path.lexists(path):
            try:
                os.makedirs(path, mode=0o700, exist_ok=True)
            except OSError:
                continue
        if _usable_directory(path):
            return path
    return None


def read(path: str, limit: int = 64 * 2 ** 20) -> bytes | None:
    """The bytes of a trusted cache file (see the module docstring), else None."""
    if not _usable_directory(os.path.dirname(path) or "."):
        return None
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError):
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not _safe(st) or st.st_size > limit:
            return None
        chunks, size = [], 0
        while size < st.st_size:
            chunk = os.read(fd, st.st_size - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def store(path: str, data: bytes | str) -> bool:
    """Write a cache file (atomically, through netdsl/output.py); False if it cannot be."""
    try:
        write_file(path, data, mode=0o600, private=True)
    except OutputError:
        return False
    return True


def checksum(data: bytes) -> int:
    """64 bits against a damaged file (truncated, a flipped bit), not an attacker: the
    directory is this user's alone. zlib is loaded anyway; hashlib would cost ~3 ms
    of start-up."""
    return zlib.crc32(data) << 32 | zlib.adler32(data)


def read_checked(path: str) -> bytes | None:
    """What store_checked wrote at `path`, if the file is trusted (see read) and intact."""
    blob = read(path)
    if blob is None or len(blob) < 8 or int.from_bytes(blob[:8], "big") != checksum(blob[8:]):
        return None
    return blob[8:]


def store_checked(path: str, payload: bytes) -> bool:
    """Write `payload` behind its checksum, for read_checked; False if it cannot be written."""
    return store(path, checksum(payload).to_bytes(8, "big") + payload)


def store_entry(path: str, payload: bytes, keep: int) -> bool:
    """store_checked, for caches with one entry per spec file (or network) named
    `<prefix>-<key>.<ext>`: when the entry is new and more than `keep` of its kind are
    in the directory, the least recently written go, so that specs read once (a test
    suite's temporary files) cannot pile up for ever."""
    new = not os.path.lexists(path)
    if not store_checked(path, payload):
        return False
    if new:
        folder, name = os.path.split(path)
        _prune(folder, name.rpartition("-")[0] + "-", keep)
    return True


def _prune(folder: str, prefix: str, keep: int) -> None:
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix)]
        if len(names) <= keep:
            return
        aged = []
        for n in names:
            try:
                aged.append((os.lstat(os.path.join(folder, n)).st_mtime_ns, n))
            except OSError:
                continue
        for _, n in sorted(aged)[:len(aged) - keep]:
            try:
                os.unlink(os.path.join(folder, n))
            except OSError:
                continue
    except OSError:
        return


@functools.lru_cache(maxsize=1)
def package_stamp() -> str | None:
    """What compiled output depends on besides the spec: netdsl's version, the Python's
    cache tag, and the path, size and modification time of every module, grammar and
    explanation of the package (and of the grammar beside it in a source checkout).
    Size and time are what Python's own bytecode cache trusts (PEP 552's default);
    reading every text instead would cost a cold netdsl.load about 2 ms more
    (bench/README.md). Once per process; None when the files cannot be listed."""
    import hashlib  # here, not at the top: `netdsl check` reads caches but never needs it

    from .version import __version__
    package = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256(f"{__version__}\0{sys.implementation.cache_tag}".encode())
    try:
        for top in (package, os.path.join(os.path.dirname(package), "grammars")):
            start = len(os.path.dirname(top)) + 1
            folders = [top] if os.path.isdir(top) else []
            while folders:      # scandir, not os.walk: a third of the time (bench/README.md)
                with os.scandir(folders.pop()) as it:
                    entries = sorted(it, key=lambda e: e.name)
                for e in entries:
                    if e.is_dir(follow_symlinks=False):
                        if e.name != "__pycache__":
                            folders.append(e.path)
                    elif e.name.endswith((".py", ".lark", ".md")):
                        st = e.stat()
                        h.update(f"{e.path[start:]}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    except OSError:
        return None
    return h.hexdigest()
