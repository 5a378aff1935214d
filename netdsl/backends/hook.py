"""Import .net specs as Python modules.

    import netdsl.hook          # or netdsl.hook.install()
    import lenet               # finds lenet.net on sys.path
    model = lenet.LeNet(num_classes=10)

The module's contents are exactly what `netdsl compile lenet.net` writes. The
compiled text is cached in `__pycache__/<name>.netdsl.py` next to the spec
(when that directory is writable; otherwise in memory only) and reused while the
spec and every file it imports are byte-for-byte unchanged; any edit, or another
netdsl version, recompiles. A spec with errors raises netdsl.SpecError at import,
its message holding the diagnostics.

The finder runs after Python's own, so a real `lenet.py` or package still wins.
"""
from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import json
import linecache
import sys
from pathlib import Path

from ..version import __version__

CACHE_TAG = "# netdsl-cache: "


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _codegen_stamp() -> str:
    # the generator's own text is part of the key, so an upgraded netdsl recompiles
    here = Path(__file__).with_name("codegen.py")
    return f"{__version__}:{_digest(here)}"


def _cache_path(spec_path: Path) -> Path:
    return spec_path.parent / "__pycache__" / f"{spec_path.stem}.netdsl.py"


def _read_cache(cache: Path) -> str | None:
    """The cached source if its recorded dependencies are all unchanged."""
    try:
        text = cache.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    first, _, body = text.partition("\n")
    if not first.startswith(CACHE_TAG):
        return None
    try:
        meta = json.loads(first[len(CACHE_TAG):])
    except ValueError:
        return None
    if not isinstance(meta, dict) or meta.get("netdsl") != _codegen_stamp() or not isinstance(meta.get("deps"), dict):
        return None
    if any(_digest(Path(p)) != h for p, h in meta["deps"].items()):
        return None
    return body


def compile_spec(spec_path: Path) -> tuple[str, dict]:
    """(generated source, {dependency path: sha256}). Raises SpecError."""
    from .build import check_spec, compile_result, spec_dependencies
    result = check_spec(str(spec_path))
    return compile_result(result, None, spec_path.name), spec_dependencies(result)


class SpecLoader(importlib.abc.Loader):
    def __init__(self, spec_path: Path):
        self.spec_path = spec_path

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        from .build import write_atomically
        cache = _cache_path(self.spec_path)
        source = _read_cache(cache)
        filename = str(cache)
        if source is None:
            source, deps = compile_spec(self.spec_path)
            meta = json.dumps({"netdsl": _codegen_stamp(), "deps": deps}, sort_keys=True)
            try:
                cache.parent.mkdir(exist_ok=True)
                write_atomically(str(cache), f"{CACHE_TAG}{meta}\n{source}")
            except OSError:     # read-only location: keep it in memory
                filename = f"<netdsl {self.spec_path}>"
        # inspect (and so torch.jit.script) finds the generated text under this name;
        # the cache file carries one header line before it
        lines = source.splitlines(True)
        if filename == str(cache):
            lines = ["\n", *lines]
        linecache.cache[filename] = (sum(map(len, lines)), None, lines, filename)
        module.__file__ = filename
        code = compile("\n" * (filename == str(cache)) + source, filename, "exec")
        exec(code, module.__dict__)  # noqa: S102 - netdsl's own codegen output
        for name in module.__dict__.get("__all__", ()):
            module.__dict__[name] = _recompiling(module.__dict__[name], self.spec_path)


def _recompiling(cls, spec_path: Path):
    """The network class, except that other parameter values recompile the spec.

    The generated class only accepts the values it was compiled for; here netdsl is
    at hand, so `lenet.LeNet(num_classes=100)` builds that network with
    netdsl.load instead (an instance of a class generated for those values).
    """
    import inspect
    signature = inspect.signature(cls)
    compiled = {k: p.default for k, p in signature.parameters.items()
                if k != "init" and p.default is not inspect.Parameter.empty}

    def __new__(klass, *args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return super(wrapper, klass).__new__(klass)     # let __init__ report the mistake
        bound.apply_defaults()
        values = {k: v for k, v in bound.arguments.items() if k != "init"}
        if values != compiled:
            from .build import load
            return load(str(spec_path), network=cls.__name__, init=bound.arguments.get("init"), **values)
        return super(wrapper, klass).__new__(klass)

    wrapper = type(cls.__name__, (cls,), {"__new__": __new__, "__doc__": cls.__doc__,
                                          "__module__": cls.__module__, "__qualname__": cls.__qualname__})
    return wrapper


class SpecFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        stem = fullname.rpartition(".")[2]
        for entry in (path if path is not None else sys.path):
            try:
                candidate = Path(entry or ".") / f"{stem}.net"
                if candidate.is_file():
                    return importlib.machinery.ModuleSpec(fullname, SpecLoader(candidate.resolve()),
                                                          origin=str(candidate.resolve()))
            except (OSError, TypeError, ValueError):
                continue
        return None


_FINDER = SpecFinder()


def install() -> None:
    """Let `import name` find `name.net` on sys.path (idempotent)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)


def uninstall() -> None:
    while _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
