"""Loading a spec and its imports into one Program: every block and network by name."""
from __future__ import annotations

from pathlib import Path

from .. import namespace
from ..diagnostics import ERROR, Diagnostic, Label, error
from ..diagnostics.codes import E0100, E0101, E0104, E0106, E0107, E0203, E0206
from ..errors import SpecIOError
from ..frontend import ast as A
from ..frontend.source import DecodeError, Source, Span
from ..frontend.syntax import parse
from ..limits import LIMITS
from ..record import Value
from ..values import Env, EvalError, evaluate

MAX_FILE_BYTES = 16 * 2 ** 20


class Definition(Value):
    """A block or network, with the constants of the file that defines it."""
    _fields = ("ast", "env")
    # env: the defining file's constants


class Program(Value):
    """A file and everything it imports: blocks and networks by name. `own_networks`:
    the root file's, in order; `files`: every file read, by resolved path, with the
    text that was parsed (what a cache of compiled output must be checked against)."""
    _fields = ("root", "blocks", "networks", "own_networks", "diagnostics", "files")
    _defaults = {"blocks": dict, "networks": dict, "own_networks": list, "diagnostics": list, "files": dict}

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def read_source(path: str) -> Source:
    if path == "-":
        import sys
        data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        name = "<stdin>"
        if len(data) > MAX_FILE_BYTES:
            raise SpecIOError(f"cannot read <stdin>: larger than {MAX_FILE_BYTES // 2 ** 20} MiB")
    else:
        p = Path(path)
        try:
            if p.is_dir():
                raise SpecIOError(f"cannot read {path}: is a directory")
            if p.stat().st_size > MAX_FILE_BYTES:
                raise SpecIOError(f"cannot read {path}: larger than {MAX_FILE_BYTES // 2 ** 20} MiB")
            with p.open("rb") as f:       # bounded: /dev/zero reports a size of 0
                data = f.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                raise SpecIOError(f"cannot read {path}: larger than {MAX_FILE_BYTES // 2 ** 20} MiB")
        except OSError as e:
            raise SpecIOError(f"cannot read {path}: {e.strerror or e}") from None
        except ValueError as e:         # e.g. a NUL byte in the path
            raise SpecIOError(f"cannot read {path!r}: {e}") from None
        name = path
    return _decode(name, data)


def _decode(name: str, data: bytes) -> Source:
    try:
        return Source.from_bytes(name, data)
    except DecodeError as e:
        # A lossy copy of the text lets the diagnostic show the line with the bad byte.
        bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        src = Source.from_text(name, data[bom:].decode("utf-8", "replace"))
        before = data[bom:e.offset].decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
        src.bad_at = len(before)
        raise _BadBytes(src, e) from None


class _BadBytes(Exception):
    def __init__(self, src, err):
        self.src, self.err = src, err


def _bad_bytes_diag(name: str, err: DecodeError, src: Source | None = None) -> Diagnostic:
    labels = []
    if src is not None and getattr(src, "bad_at", None) is not None:
        pos = src.bad_at
        labels.append(Label(Span(src, pos, min(pos + 1, len(src.text))), f"byte 0x{err.byte:02x}"))
    return Diagnostic(ERROR, E0100, f"{name} is not UTF-8 text: {err}", labels, file=name,
                      help=["save the file as UTF-8"])


def load(source: Source, base_dir: Path | None = None) -> Program:
    prog = Program(source)
    if source.name not in ("<stdin>", "<string>"):
        path = Path(source.name).resolve()
        prog.files[str(path)] = source
        base_dir = base_dir or path.parent
    _Loader(prog).load_file(source, base_dir or Path.cwd(), (), True)
    return prog


def load_path(path: str) -> Program:
    """Read and load a file; I/O problems raise SpecIOError, bad bytes become E0100."""
    try:
        src = read_source(path)
    except _BadBytes as e:
        prog = Program(None)
        prog.diagnostics.append(_bad_bytes_diag("<stdin>" if path == "-" else path, e.err, e.src))
        return prog
    return load(src)


class _Loader:
    def __init__(self, prog: Program):
        self.prog = prog
        self.loaded: dict[Path, Env | None] = {}
        self.where: dict[str, Span] = {}

    def load_file(self, src: Source, base: Path, stack: tuple, is_root: bool):
        if "\x00" in src.text:
            pos = src.text.index("\x00")
            self.prog.diagnostics.append(error(E0101, "the file contains a NUL byte", Span(src, pos, pos + 1),
                                               "NUL here", notes=[f"at character offset {pos}"],
                                               help=["is this a binary file?"]))
            return
        module, diags = parse(src)
        self.prog.diagnostics.extend(diags)
        if module is None:
            return None
        env = Env()
        for imp in module.imports:
            imported = self.load_import(imp, base, stack + ((src.name, imp.span),))
            if imported is not None:  # a library's constants are visible to its importer
                env.vars.update(imported.vars)
        for let in module.lets:
            try:
                env.vars[let.name] = evaluate(let.value, env)
            except EvalError as e:
                self.prog.diagnostics.append(Diagnostic(ERROR, e.code, e.message, [Label(e.span)], list(e.notes), list(e.help)))
        for d in module.definitions:
            self.define(d, env, is_root)
        return env

    def define(self, d: A.Definition, env: Env, is_root: bool):
        bad = namespace.definition_name_problem(d.name)
        if bad:
            self.prog.diagnostics.append(error(E0206, f"`{d.name}` cannot name a {d.kind}: {bad}", d.name_span, "rename this"))
            return
        if d.name in self.where:
            first = self.where[d.name]
            diag = error(E0203, f"`{d.name}` is defined twice", d.name_span, "defined again here")
            diag.labels.append(Label(first, "first defined here", primary=False))
            self.prog.diagnostics.append(diag)
            return
        seen = {}
        for p in d.params:
            problem = namespace.parameter_name_problem(p.name)
            if problem or p.name in seen:
                self.prog.diagnostics.append(error(
                    E0206 if problem else E0203,
                    f"parameter `{p.name}` {problem or 'is declared twice'}", p.span))
            seen[p.name] = p
        from ..catalogue import lookup
        if lookup(d.name) is not None:
            self.prog.diagnostics.append(error(E0203, f"`{d.name}` is already a layer kind", d.name_span,
                                               "choose another name"))
            return
        self.where[d.name] = d.name_span
        target = self.prog.networks if d.kind == "network" else self.prog.blocks
        target[d.name] = Definition(d, env)
        if is_root and d.kind == "network":
            self.prog.own_networks.append(d.name)

    def load_import(self, imp: A.Import, base: Path, stack: tuple):
        try:
            path = (base / imp.path).resolve()
        except (OSError, RuntimeError) as e:      # symlink loops
            self.prog.diagnostics.append(error(E0106, f"cannot import \"{imp.path}\": {e}", imp.span))
            return
        if len(stack) > LIMITS.max_import_depth:
            self.prog.diagnostics.append(error(
                E0104, f"imports nested more than {LIMITS.max_import_depth} files deep", imp.span,
                "too deep here", notes=[f"the chain starts at {stack[0][0]}"],
                help=["import shared files from the top-level spec instead of through a chain"]))
            return
        chain_files = [s[0] for s in stack]
        if any(Path(name).resolve() == path for name in chain_files if name not in ("<stdin>", "<string>")):
            names = " \u2192 ".join([Path(n).name for n in chain_files] + [path.name])
            diag = error(E0107, f"import cycle: {names}", imp.span, "this import closes the cycle",
                         help=["move the shared blocks into a file that neither imports"])
            for _, span in stack[:-1]:
                diag.labels.append(Label(span, "imported here", primary=False))
            self.prog.diagnostics.append(diag)
            return
        if path in self.loaded:
            return self.loaded[path]
        self.loaded[path] = None
        try:
            data = _read_regular(path)
        except (OSError, ValueError) as e:
            self.prog.diagnostics.append(error(E0106, f"cannot import \"{imp.path}\": {getattr(e, 'strerror', None) or e}",
                                               imp.span, f"looked for {path}"))
            return
        try:
            src = _decode(_display_path(path), data)
        except _BadBytes as e:
            self.prog.diagnostics.append(_bad_bytes_diag(str(path), e.err, e.src))
            return
        self.prog.files[str(path)] = src
        self.loaded[path] = self.load_file(src, path.parent, stack, False)
        return self.loaded[path]


def _read_regular(path: Path) -> bytes:
    """Read an imported file. Only regular files of bounded size: a spec that imports
    /dev/zero or a FIFO must get a diagnostic, not a hang."""
    st = path.stat()
    import stat as _stat
    if _stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "is a directory")
    if not _stat.S_ISREG(st.st_mode):
        raise OSError(0, "not a regular file")
    if st.st_size > MAX_FILE_BYTES:
        raise OSError(0, f"larger than {MAX_FILE_BYTES // 2 ** 20} MiB")
    return path.read_bytes()


def _display_path(path: Path) -> str:
    """Show imported files relative to the working directory when they are below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
