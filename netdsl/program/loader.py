"""Loading: each file parsed, its imports followed, its blocks and networks defined."""
from __future__ import annotations

from pathlib import Path

from .. import namespace
from ..catalogue import lookup
from ..diagnostics import ERROR, Diagnostic, Label, error
from ..diagnostics.codes import E0101, E0104, E0106, E0107, E0109, E0203, E0206
from ..frontend import ast as A
from ..frontend import parse_cache
from ..frontend.source import Source, Span
from ..frontend.syntax import parse
from ..limits import LIMITS
from ..values import Env, EvalError, Function, evaluate
from .definitions import Definition, Program
from .files import BadBytes, NotReadable, decode, read_bytes
from .imports import ImportNotFound, ImportPolicy, ImportRefused


class Loader:
    def __init__(self, prog: Program, tree: Path, include=(), texts=None):
        self.prog = prog
        self.texts = texts or {}        # resolved path -> text that stands for the file
        self.policy = ImportPolicy(tree, include)
        self.loaded: dict[Path, Env | None] = {}
        self.where: dict[str, Span] = {}

    def load_file(self, src: Source, base: Path, stack: tuple, is_root: bool, real_path: Path | None = None):
        """`real_path`: where the text was read from, for the parse cache (frontend/parse_cache.py);
        None for text that is not a file's (a string, stdin, a fix being verified)."""
        if "\x00" in src.text:
            pos = src.text.index("\x00")
            self.prog.diagnostics.append(error(E0101, "the file contains a NUL byte", Span(src, pos, pos + 1),
                                               "NUL here", notes=[f"at character offset {pos}"],
                                               help=["is this a binary file?"]))
            return
        module = parse_cache.load(src, str(real_path)) if real_path is not None else None
        if module is None:
            module, diags = parse(src)
            self.prog.diagnostics.extend(diags)
            if module is None:
                return None
            if real_path is not None and not diags:
                parse_cache.store(src, str(real_path), module)
        env = Env()
        for imp in module.imports:
            imported = self.load_import(imp, base, stack + ((src.name, imp.span),))
            if imported is not None:  # a library's constants are visible to its importer
                env.vars.update(imported.vars)
        for let in module.lets:
            if isinstance(let, A.Function):
                env.vars[let.name] = Function(let, env)
                continue
            try:
                env.vars[let.name] = evaluate(let.value, env)
            except EvalError as e:
                self.prog.diagnostics.append(Diagnostic(ERROR, e.code, e.message, [Label(e.span)], list(e.notes),
                                                        list(e.help)))
                if e.final:         # a budget is spent: evaluate nothing more
                    break
        for d in module.definitions:
            self.define(d, env, is_root)
        return env

    def finish(self) -> None:
        """Checks that need every definition: a parameter named like a block or network
        would hide that class inside the generated constructor."""
        names = set(self.prog.blocks) | set(self.prog.networks)
        for table in (self.prog.blocks, self.prog.networks):
            for definition in table.values():
                for p in definition.ast.params:
                    if p.name in names:
                        self.prog.diagnostics.append(error(
                            E0206, f"parameter `{p.name}` {namespace.parameter_name_problem(p.name, names)}",
                            p.span, "rename this", help=[f"call it `{namespace.snake_case(p.name)}`, say"]))

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
        if len(stack) > LIMITS.max_import_depth:
            self.prog.diagnostics.append(error(
                E0104, f"imports nested more than {LIMITS.max_import_depth} files deep", imp.span,
                "too deep here", notes=[f"the chain starts at {stack[0][0]}"],
                help=["import shared files from the top-level spec instead of through a chain"]))
            return
        try:
            path = self.policy.resolve(imp.path, base)
        except ImportRefused as e:
            self.prog.diagnostics.append(error(
                E0109, f"cannot import \"{imp.path}\": {e}", imp.span, "not allowed",
                help=["a spec imports only `.net` files inside its own directory tree; add other "
                      "directories with --include DIR or $NETDSL_PATH"]))
            return
        except ImportNotFound as e:
            others = [str(p) for p in e.looked[1:]]
            self.prog.diagnostics.append(error(
                E0106, f"cannot import \"{imp.path}\": No such file or directory", imp.span,
                f"looked for {e.looked[0]}", notes=[f"also looked in: {', '.join(others)}"] if others else []))
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
            if path in self.texts:
                src = Source.from_text(_display_path(path), self.texts[path])
            else:
                src = decode(_display_path(path), read_bytes(path))
        except NotReadable as e:
            self.prog.diagnostics.append(error(E0106, f"cannot import \"{imp.path}\": {e}", imp.span,
                                               f"looked for {path}"))
            return
        except BadBytes as e:
            self.prog.diagnostics.append(e.diagnostic(str(path)))
            return
        self.prog.files[str(path)] = src
        # an edited text standing for the file (a fix being verified) is not the file: not cached
        self.loaded[path] = self.load_file(src, path.parent, stack, False, None if path in self.texts else path)
        return self.loaded[path]


def _display_path(path: Path) -> str:
    """Show imported files relative to the working directory when they are below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
