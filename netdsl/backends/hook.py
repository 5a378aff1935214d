"""Import .net specs as Python modules.

    import netdsl.hook          # or netdsl.hook.install()
    import lenet               # finds lenet.net on sys.path
    model = lenet.LeNet(num_classes=10)

The module's contents are exactly what `netdsl compile lenet.net` writes. The
compiled text is cached in `__pycache__/<name>.netdsl.py` next to the spec (in
memory only when that directory is read-only, or under `python -B` /
PYTHONDONTWRITEBYTECODE). The cache records every file the spec read, with a
digest of exactly the text that was compiled, and is reused only while each is
unchanged and netdsl itself (the whole package) is the same; a cache file that
another user owns, or that others can write, is ignored. A spec with errors
raises netdsl.SpecError at import, its message holding the diagnostics.

The finder runs after Python's own, so a real `lenet.py` or package still wins.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import linecache
import sys
from pathlib import Path

from ..cache import package_stamp, store
from ..cache import read as read_trusted
from ..version import __version__
from .build import check_spec, compile_result
from .load_cache import imports_unchanged, spec_dependencies, unchanged

CACHE_TAG = "# netdsl-cache: "


def _netdsl_stamp() -> str | None:
    """netdsl's version and a stamp of the whole installed package (every module, the
    grammar, the explanations: cache.package_stamp): any change to netdsl recompiles.
    None when the package's files cannot be listed: then nothing is cached."""
    stamp = package_stamp()
    return None if stamp is None else f"{__version__}:{stamp[:32]}"


def _cache_path(spec_path: Path) -> Path:
    return spec_path.parent / "__pycache__" / f"{spec_path.stem}.netdsl.py"


def _read_cache(cache: Path, spec_path: Path) -> str | None:
    """The cached source if it is trusted and everything it was compiled from is unchanged."""
    blob = read_trusted(str(cache))      # this user's, and nobody else can write it (netdsl/cache.py)
    try:
        text = blob.decode("utf-8") if blob is not None else None
    except UnicodeDecodeError:
        return None
    if text is None:
        return None
    first, _, body = text.partition("\n")
    if not first.startswith(CACHE_TAG):
        return None
    try:
        meta = json.loads(first[len(CACHE_TAG):])
    except ValueError:
        return None
    stamp = _netdsl_stamp()
    if stamp is None or not isinstance(meta, dict) or meta.get("netdsl") != stamp:
        return None
    deps, resolved = meta.get("deps"), meta.get("imports")
    # The spec itself is always among the inputs: an empty list would trust anything.
    if not isinstance(deps, dict) or str(spec_path) not in deps or not unchanged(deps):
        return None
    # and each import must still find the same file (one put earlier on the search path would not)
    if not isinstance(resolved, list) or not imports_unchanged(resolved, str(spec_path.parent)):
        return None
    return body


def compile_spec(spec_path: Path) -> tuple[str, dict, list]:
    """(generated source, {every file read: fingerprint of the text compiled}, the imports
    as resolved). Raises SpecError."""
    result = check_spec(str(spec_path))
    return compile_result(result, None, spec_path.name), spec_dependencies(result), list(result.program.resolved)


class SpecLoader(importlib.abc.Loader):
    def __init__(self, spec_path: Path):
        self.spec_path = spec_path

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        cache = _cache_path(self.spec_path)
        source = _read_cache(cache, self.spec_path)
        filename = str(cache)
        if source is None:
            source, deps, resolved = compile_spec(self.spec_path)
            meta = json.dumps({"netdsl": _netdsl_stamp(), "deps": deps, "imports": resolved}, sort_keys=True)
            filename = f"<netdsl {self.spec_path}>"
            if not sys.dont_write_bytecode:     # python -B, PYTHONDONTWRITEBYTECODE: keep it in memory
                try:
                    cache.parent.mkdir(mode=0o755, exist_ok=True)
                except OSError:
                    pass
                if store(str(cache), f"{CACHE_TAG}{meta}\n{source}"):     # else a read-only location
                    filename = str(cache)
        # inspect (and so torch.jit.script) finds the generated text under this name;
        # the cache file carries one header line before it
        lines = source.splitlines(True)
        if filename == str(cache):
            lines = ["\n", *lines]
        linecache.cache[filename] = (sum(map(len, lines)), None, lines, filename)
        module.__file__ = filename
        code = compile("\n" * (filename == str(cache)) + source, filename, "exec")
        exec(code, module.__dict__)  # noqa: S102 - netdsl's own codegen output
        # a network class takes any values of its parameters (isinstance holds); one that
        # could only be written for its compiled values recompiles for others
        from .codegen import specialised_networks
        names = module.__dict__.get("__all__", ())
        for name in specialised_networks(source, names):
            module.__dict__[name] = _recompiling(module.__dict__[name], self.spec_path)


def _recompiling(cls, spec_path: Path):
    """A network class written for its compiled values only, except that other values
    recompile the spec.

    Such a class refuses other values; here netdsl is at hand, so `vgg11.VGG11(num_classes=10)`
    builds that network with netdsl.load instead (an instance of a class generated for
    those values, not of `vgg11.VGG11`).
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
