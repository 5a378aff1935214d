"""Reading spec files: bounded, regular files only, never blocking.

`netdsl check fifo.net` or an import of `/dev/zero` must end in a message, not a
hang: a path is stat-ed before it is opened, opened non-blocking, and checked
again on the open descriptor (the file may have been swapped in between). At most
MAX_FILE_BYTES are read.
"""
from __future__ import annotations

import os
import stat

from ..diagnostics import ERROR, Diagnostic, Label
from ..diagnostics.codes import E0100
from ..errors import SpecIOError
from ..frontend.source import DecodeError, Source, Span

MAX_FILE_BYTES = 16 * 2 ** 20


class NotReadable(Exception):
    """Why a path cannot be read as a spec (the message is for the user)."""


def _kind(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory"
    if stat.S_ISFIFO(mode):
        return "is a pipe (FIFO), not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a file"
    return "is not a regular file"


def read_bytes(path) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES; NotReadable otherwise."""
    try:
        problem = _kind(os.stat(path).st_mode)
        if problem:
            raise NotReadable(problem)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise NotReadable(e.strerror or str(e)) from None
    except ValueError as e:             # a NUL byte in the path
        raise NotReadable(str(e)) from None
    try:
        st = os.fstat(fd)
        problem = _kind(st.st_mode)
        if problem:
            raise NotReadable(problem)
        if st.st_size > MAX_FILE_BYTES:
            raise NotReadable(f"larger than {MAX_FILE_BYTES // 2 ** 20} MiB")
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_FILE_BYTES:
            raise NotReadable(f"larger than {MAX_FILE_BYTES // 2 ** 20} MiB")
        return b"".join(chunks)
    except OSError as e:
        raise NotReadable(e.strerror or str(e)) from None
    finally:
        os.close(fd)


def read_source(path: str) -> Source:
    """The spec a command was given ("-" is stdin). SpecIOError if it cannot be read;
    BadBytes if it is not UTF-8."""
    if path == "-":
        import sys
        data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise SpecIOError(f"cannot read <stdin>: larger than {MAX_FILE_BYTES // 2 ** 20} MiB")
        return decode("<stdin>", data)
    try:
        return decode(path, read_bytes(path))
    except NotReadable as e:
        raise SpecIOError(f"cannot read {path}: {e}") from None


def decode(name: str, data: bytes) -> Source:
    try:
        return Source.from_bytes(name, data)
    except DecodeError as e:
        # A lossy copy of the text lets the diagnostic show the line with the bad byte.
        bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        src = Source.from_text(name, data[bom:].decode("utf-8", "replace"))
        before = data[bom:e.offset].decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
        raise BadBytes(src, e, len(before)) from None


def fingerprint(text: str) -> str:
    """What a cache of compiled output records for each file: the digest of exactly
    the text that was parsed (never of a second read, which an editor's save may race)."""
    import hashlib
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def current_fingerprint(path) -> str | None:
    """The fingerprint of the file as it is now; None if it cannot be read as a spec."""
    try:
        return fingerprint(decode(str(path), read_bytes(path)).text)
    except (NotReadable, BadBytes):
        return None


class BadBytes(Exception):
    """Not UTF-8: `src` is a lossy copy of the text, `at` the bad byte's character offset."""

    def __init__(self, src: Source, err: DecodeError, at: int):
        self.src, self.err, self.at = src, err, at

    def diagnostic(self, name: str) -> Diagnostic:
        pos = self.at
        labels = [Label(Span(self.src, pos, min(pos + 1, len(self.src.text))), f"byte 0x{self.err.byte:02x}")]
        return Diagnostic(ERROR, E0100, f"{name} is not UTF-8 text: {self.err}", labels, file=name,
                          help=["save the file as UTF-8"])
