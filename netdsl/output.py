"""The one way netdsl writes a file: `netdsl compile -o`, `netdsl render -o` and the import hook's cache.

- Never over an input: a path that is (or links to, or is a hard link of) a file the
  command read is refused, before anything is written.
- Atomic: a regular file is replaced through a temporary file in its own directory,
  so a reader sees the old file or the new one, never half of either.
- A symlink is followed (the link stays a link; its target gets the new text), and a
  device, FIFO or socket is written directly, never replaced by a regular file.
- Permissions: a new file gets 0o666 less the process umask (applied by the kernel
  when the file is created; the umask is never read or changed); an existing file
  keeps its mode, so a write never widens it.
"""
from __future__ import annotations

import os
import stat


class OutputError(OSError):
    """A file could not be written, or must not be: the message says which and why."""


def _identity(path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)          # follows symlinks: a link to the input is the input
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def refuse_inputs(path: str, inputs, what: str = "an input of this command") -> None:
    """Raise OutputError if writing `path` would overwrite one of `inputs` (paths read)."""
    target = _identity(path)
    if target is None:
        return
    for name in inputs:
        if _identity(name) == target:
            raise OutputError(f"refusing to write {path}: it is {what} ({name})")


def write_file(path: str, data: bytes | str, inputs=(), mode: int | None = None, private: bool = False) -> None:
    """Write `data` (str is written as UTF-8) to `path` as the module docstring says.
    `mode`: the file's mode whatever was there before. `private`: a file netdsl keeps
    for itself (a cache): whatever is at the path, even a FIFO, is replaced."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    refuse_inputs(path, inputs)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"cannot write {path}: it is a directory")
        if not private:
            _write_special(path, data)
            return
        st = None
    real = os.path.realpath(path)
    directory = os.path.dirname(real) or "."
    keep = mode is None and st is not None
    if mode is None:
        mode = st.st_mode & 0o777 if st is not None else 0o666     # never setuid bits
    fd, tmp = _create_temporary(directory, os.path.basename(real), mode, path)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if keep:
                os.fchmod(fd, mode)      # exactly the old mode: the umask applied at creation may narrow it
        finally:
            os.close(fd)
        os.replace(tmp, real)
    except BaseException as e:          # Ctrl-C too: never leave the temporary file behind
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
        raise


def _create_temporary(directory: str, base: str, mode: int, shown: str) -> tuple[int, str]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".{base}.{os.urandom(4).hex()}.tmp")
        try:
            return os.open(tmp, flags, mode & 0o777), tmp
        except FileExistsError:
            continue
        except OSError as e:
            raise OutputError(f"cannot write {shown}: {e.strerror or e}") from None
    raise OutputError(f"cannot write {shown}: no free temporary name in {directory}")


def _write_special(path: str, data: bytes) -> None:
    """A device, FIFO or socket: written in place (`-o /dev/stdout`, `-o /dev/null`)."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        os.close(fd)
