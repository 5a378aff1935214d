"""netdsl.load: spec -> torch.nn.Module, by executing the generated source.

Like torch.fx's GraphModule, the module is built by running the text that
`netdsl compile` would write (codegen.generate), never by a second
interpretation of the IR; so a loaded model and a compiled file cannot differ.
"""
from __future__ import annotations

import hashlib
import linecache
import marshal
import os
import sys
import types
from pathlib import Path

from .. import cache
from ..collector import paused
from ..diagnostics import error
from ..diagnostics.codes import E0209, E0220
from ..errors import SpecError
from ..ir import INIT_CHOICES
from ..pipeline import CheckResult, check_file, check_source, is_source_text
from ..program.imports import search_path
from . import load_cache
from .codegen import CodegenError, generate

# generated source text -> its module; the same spec loads the same classes twice
_MODULES: dict[str, types.ModuleType] = {}


def check_spec(path_or_source: str, network: str | None = None, input_shape: tuple | None = None,
               include=(), **params) -> CheckResult:
    """Parse and check. A path that cannot be read raises SpecIOError (an OSError, not a spec error)."""
    kw = {"network": network, "params": params or None, "input_shape": input_shape, "include": include}
    if is_source_text(path_or_source):
        return check_source(path_or_source, **kw)
    return check_file(path_or_source, **kw)


def spec_init(init: str | None) -> str | None:
    """The init= argument, which wins over a network parameter `init` (checked by elaboration)."""
    if init is not None and init not in INIT_CHOICES:
        raise ValueError(f"init must be one of {', '.join(INIT_CHOICES)}, not {init!r}")
    return init


def source_for(result: CheckResult, network: str | None, source_name: str,
               init: str | None = None) -> tuple[str, list]:
    """Generated Python for the checked file's network(s); SpecError on any problem."""
    if not result.ok:
        raise SpecError(result.errors + result.warnings)
    if network is None and len(result.graphs) != 1:
        names = [g.network for g in result.graphs]
        raise SpecError([error(E0209, f"the file has {len(names)} networks; name one of them"
                               f" ({', '.join(names) or 'none'})", None)])
    graphs = [result.graph(network)] if network is not None else result.graphs
    return generated(graphs, source_name, init), graphs


def generated(graphs: list, source_name: str, init: str | None) -> str:
    """generate(), a refusal becoming E0220 at the layer or block use it was writing."""
    init = spec_init(init)
    try:
        return generate(graphs, source_name, init)
    except CodegenError as e:
        raise SpecError([error(E0220, f"cannot generate PyTorch code: {e}", e.span,
                               "this cannot be written as PyTorch" if e.span is not None else "")]) from None


def exec_source(source: str, filename_hint: str = "spec", slot: str | None = None) -> types.ModuleType:
    """Run generated source as a real module, registered so inspect/jit.script can read its text.
    `slot`: what the source was generated from (a spec file and network), naming its entry
    in the cache of compiled code (compiled_code)."""
    cached = _MODULES.get(source)
    if cached is not None:
        return cached
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    stem = "".join(c if c.isalnum() else "_" for c in Path(filename_hint).stem) or "spec"
    name = f"netdsl_generated.{stem}_{digest}"
    filename = f"<netdsl-generated {stem} {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    try:
        # the text is our own codegen output: every name validated, every literal repr-safe
        exec(compiled_code(source, filename, slot), module.__dict__)  # noqa: S102
    except BaseException:
        sys.modules.pop(name, None)
        raise
    _MODULES[source] = module
    return module


# Bump when the entry's layout changes.
CODE_FORMAT = 1
# Entries kept (the least recently written go first).
MAX_CODE_ENTRIES = 200


def compiled_code(source: str, filename: str, slot: str | None = None) -> types.CodeType:
    """compile(source, filename, "exec"), or the code object an earlier run compiled
    from exactly this text: compile() is a tenth of a cold netdsl.load (bench/README.md).

    One entry per slot (a spec file and network; at most MAX_CODE_ENTRIES) in this user's cache directory
    (netdsl/cache.py: trusted only if this user's and nobody else can write it),
    behind a checksum, holding the exact source and file name it was compiled from
    and the Python version and optimisation level that compiled it; anything else,
    or anything damaged, is compiled again. Unlike the import hook's cache beside the
    spec, this one is written under `python -B` too: like the parser tables it lives
    in netdsl's own directory, not among the user's files."""
    where = None
    if slot is not None:
        folder = cache.directory()
        if folder is not None:
            key = hashlib.sha256(slot.encode("utf-8", "surrogatepass")).hexdigest()[:24]
            where = os.path.join(folder, f"netdsl-code-{key}.marshal")
    stamp = (CODE_FORMAT, sys.implementation.cache_tag, sys.hexversion, sys.flags.optimize, filename)
    payload = cache.read_checked(where) if where is not None else None
    if payload is not None:
        try:
            stamped, text, blob = marshal.loads(payload)
            if stamped == stamp and text == source:
                code = marshal.loads(blob)
                if isinstance(code, types.CodeType):
                    return code
        except Exception:       # marshal's errors, a malformed entry: compile instead
            pass
    code = compile(source, filename, "exec")
    if where is not None:
        cache.store_entry(where, marshal.dumps((stamp, source, marshal.dumps(code))), MAX_CODE_ENTRIES)
    return code


# (spec, network, init, input shape, params, search path) -> load_cache.Entry: a spec loaded
# again unchanged skips parsing, checking and generating (a spec file's entries are kept on
# disk too, for the next process)
_COMPILED: dict = {}


def _cache_key(path_or_source, network, init, input_shape, params, include):
    try:
        frozen = tuple(sorted((k, repr(v)) for k, v in params.items()))
    except TypeError:
        return None
    where = tuple(map(str, search_path(include)))
    if is_source_text(path_or_source):
        spec = ("text", hashlib.sha256(path_or_source.encode("utf-8", "surrogatepass")).hexdigest(), str(Path.cwd()))
    else:
        spec = ("file", str(Path(path_or_source).resolve()))
    return (*spec, network, init, input_shape, frozen, where)


def _slot(key, network: str) -> str | None:
    """The entry of compiled_code for a spec file's network; None for spec text, whose
    entries would pile up (one per text)."""
    if key is None or key[0] != "file":
        return None
    return f"{key[1]}\0{network}"


def load(path_or_source: str, network: str | None = None, init: str | None = None,
         input_shape: tuple | None = None, include=(), **params):
    """Build a torch.nn.Module from a .net path or spec text.

    Picks the file's only network, or `network`. `params` override the network's
    parameters; `input_shape` overrides its input; `include`: more directories
    imports may come from. `init`: "default" (torch's) or "xavier" (Xavier-uniform
    conv/linear weights); None lets a network parameter `init` decide. Raises
    SpecError with the diagnostics `netdsl check` prints.
    """
    name = "<string>" if is_source_text(path_or_source) else str(path_or_source)
    key = _cache_key(path_or_source, network, init, input_shape, params, include)
    hit = _COMPILED.get(key) if key is not None else None
    if hit is None or not hit.current():
        hit = load_cache.lookup(key) if key is not None and key[0] == "file" else None
    if hit is not None:
        _COMPILED[key] = hit
        module = exec_source(hit.source, name, _slot(key, hit.network))
        return getattr(module, hit.network)()
    # check_file pauses the cyclic collector while it builds; keep it paused through
    # codegen and compile too, which otherwise rescan that young heap again and again,
    # and drop the check result before it runs (one collection instead of many).
    with paused():
        result = check_spec(path_or_source, network, input_shape, include, **params)
        source, graphs = source_for(result, network, name, init)
        net = graphs[0].network
        if key is not None:
            entry = load_cache.Entry.of(result, include, source, net)
            _COMPILED[key] = entry
            if key[0] == "file":
                load_cache.store(key, entry)
        del result, graphs
        module = exec_source(source, name, _slot(key, net))
    return getattr(module, net)()


def build_source(path_or_source: str, network: str | None = None, init: str | None = None,
                 input_shape: tuple | None = None, warnings: list | None = None, include=(), **params) -> str:
    """The text `netdsl compile` writes: every network of the file, unless one is named.
    The spec's warnings are appended to `warnings` when a list is given."""
    result = check_spec(path_or_source, network, input_shape, include, **params)
    if warnings is not None:
        warnings.extend(result.warnings)
    name = "<string>" if is_source_text(path_or_source) else str(path_or_source)
    return compile_result(result, network, name, init)


def compile_result(result: CheckResult, network: str | None, source_name: str, init: str | None = None) -> str:
    if network is None and len(result.graphs) > 1 and result.ok:
        return generated(result.graphs, source_name, init)
    return source_for(result, network, source_name, init)[0]
