"""The command line. The only module that prints or exits.

Exit codes: 0 clean (warnings allowed), 1 errors in a spec, 2 usage or I/O error,
3 internal error (a bug in netdsl: please report it).
"""
from __future__ import annotations

import errno
import gc
import os
import sys

from .collector import paused

with paused(lasting=True):      # click's import makes thousands of lasting objects too
    import click

EXIT_OK, EXIT_SPEC, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
BUG_URL = "https://github.com/netdsl/netdsl/issues"


def out(text: str = "", err: bool = False, nl: bool = True, raw: bool = False, color: bool | None = None):
    """Print a line. Text that may hold what a spec wrote (paths, names, source) is
    made terminal-safe: escape sequences in a spec never reach the terminal. `raw`:
    the caller made it safe itself (coloured diagnostics, JSON, generated Python)."""
    from .diagnostics.render import terminal_safe
    click.echo(text if raw else terminal_safe(text), err=err, nl=nl, color=color)


def _use_color(choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def parse_shape(text: str) -> tuple:
    cleaned = text.strip().strip("[]()").replace("×", "x").replace(",", "x").replace(" ", "")
    try:
        dims = tuple(int(p) for p in cleaned.split("x") if p)
    except ValueError:
        raise click.BadParameter(f"{text!r}: write sizes like 3x224x224") from None
    if not 1 <= len(dims) <= 3 or any(d < 1 or d > 2 ** 40 for d in dims):
        raise click.BadParameter(f"{text!r}: 1 to 3 positive sizes, like 3x224x224")
    return dims


def parse_params(items: tuple) -> dict:
    from .frontend.source import Source
    from .frontend.syntax import parse
    from .values import Env, EvalError, evaluate
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise click.BadParameter(f"{item!r}: write NAME=VALUE, e.g. num_classes=100")
        if "\n" in value or "\r" in value:
            raise click.BadParameter(f"{item!r}: a value is one line")
        module, diags = parse(Source.from_text("--param", f"let {key} = {value}\n"))
        if module is None or len(module.lets) != 1 or module.definitions or module.imports:
            raise click.BadParameter(f"{item!r}: {diags[0].message if diags else 'one value, e.g. num_classes=100'}")
        try:
            out[key] = evaluate(module.lets[0].value, Env())
        except EvalError as e:
            raise click.BadParameter(f"{item!r}: {e.message}") from None
    return out


def emit_diagnostics(diags, fmt: str, color: bool, err: bool = False):
    """Print diagnostics; `err`: on stderr (when stdout carries the command's output)."""
    from .diagnostics.render import render, render_short
    for d in diags:
        if fmt == "short":
            out(render_short(d), raw=True, err=err)
        else:
            # color= stops click stripping the codes when --color always meets a pipe.
            out(render(d, color), color=color, raw=True, err=err)
            out(err=err)


def _counts(diags) -> str:
    e = sum(d.is_error for d in diags)
    w = len(diags) - e
    parts = []
    if e:
        parts.append(f"{e} error{'s' if e != 1 else ''}")
    if w:
        parts.append(f"{w} warning{'s' if w != 1 else ''}")
    return ", ".join(parts)


common_options = [
    click.option("--network", "-n", default=None, help="Check only this network."),
    click.option("--input", "input_shape", default=None, help="Override the input shape, e.g. 3x32x32."),
    click.option("--param", "params", multiple=True, help="Override a network parameter: NAME=VALUE (repeatable)."),
    click.option("--max-layers", type=click.IntRange(1), default=None, help="Expansion limit (default 100,000 layers)."),
    click.option("--include", "-I", "include", multiple=True, metavar="DIR",
                 help="Another directory imports may come from (repeatable; also $NETDSL_PATH)."),
    click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True),
]


def with_common(f):
    for opt in reversed(common_options):
        f = opt(f)
    return f


def run_check(path: str, network, input_shape, params, max_layers, include=()):
    from .limits import LIMITS
    from .pipeline import check_file
    shape = parse_shape(input_shape) if input_shape else None
    with LIMITS.override(max_layers=max_layers):     # for this run only
        result = check_file(path, include, network=network, params=params or None, input_shape=shape)
        if shape is not None and not result.ok:
            from .backends.advice import input_too_small
            input_too_small(result, shape, params or None)
    return result


def stop(message: str, code: int, fmt: str = "text", diagnostics=()):
    """End the command: the message on stderr and, with --format json, one JSON
    document on stdout all the same (a script reading stdout always gets JSON)."""
    out(message, err=True)
    if fmt == "json":
        import json
        out(json.dumps({"ok": False, "error": message, "diagnostics": [d.to_json() for d in diagnostics]},
                       indent=2), raw=True)
    sys.exit(code)


def check_or_exit(file, network, input_shape, params, max_layers, include=(), fmt: str = "text"):
    """run_check, with an unreadable path reported as a usage error (exit 2)."""
    from .errors import SpecIOError
    try:
        return run_check(file, network, input_shape, params, max_layers, include)
    except SpecIOError as e:
        stop(f"error: {e}", EXIT_USAGE, fmt)


def one_graph_or_exit(file, result, verb: str, fmt: str = "text"):
    """The file's one network (the one --network chose), or exit with the reason."""
    if not result.graphs:
        stop(f"{file}: nothing to {verb}" + (f" ({_counts(result.diagnostics)})" if result.diagnostics
                                             else ": the file defines no networks"),
             EXIT_SPEC if not result.ok else EXIT_USAGE, fmt, result.diagnostics)
    if len(result.graphs) > 1:
        names = ", ".join(g.network for g in result.graphs)
        stop(f"error: {file} has several networks ({names}); choose one with --network", EXIT_USAGE, fmt)
    return result.graphs[0]


def output_path(spec: str, output: str | None, fmt: str, force: bool) -> str | None:
    """Where `compile` and `render` write. `-o PATH`: there. `-o -`, or a spec read from
    standard input: standard output (None). Else the spec's name with `fmt` as its
    extension, beside the spec (`zoo:NAME`: in the current directory, the zoo being
    inside the package). An existing file by that name is replaced only if netdsl wrote
    it (it carries output.py's mark) or with --force, and never if it is the spec."""
    from .output import OutputError, generated_by_netdsl, refuse_inputs
    if output == "-" or (output is None and spec == "-"):
        return None
    if output is not None:
        return output
    directory, name = ("", spec[len("zoo:"):]) if spec.startswith("zoo:") else os.path.split(spec)
    path = os.path.join(directory, f"{os.path.splitext(os.path.basename(name))[0]}.{fmt}")
    try:
        refuse_inputs(path, [spec], "the spec")
    except OutputError as e:
        stop(f"error: {e}; name the output with -o", EXIT_USAGE)
    readable = spec.startswith("zoo:") or os.path.exists(spec)      # else reading it fails first, and says why
    if readable and os.path.lexists(path) and not force and not generated_by_netdsl(path, fmt):
        stop(f"error: {path} exists and netdsl did not write it, so it is left alone; "
             "--force replaces it, -o names another file", EXIT_USAGE)
    return path


def _wrote(path: str, note: str = ""):
    out(f"wrote {path}{note}", err=True)      # on stderr: stdout carries only a command's output


force_option = click.option("--force", is_flag=True,
                            help="Replace the default output file even if netdsl did not write it.")


class _Group(click.Group):
    def format_commands(self, ctx, formatter):
        """Each command's first sentence whole (click cuts it at 45 characters: "e.g.")."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=200)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx):
        # Here, before click's own handler, which turns a closed pipe into exit 1
        # (netdsl's code for "the spec has errors").
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _closed_pipe()


def _closed_pipe():
    """The reader went away (`netdsl summary ... | head`): end quietly, with the status
    of a program SIGPIPE ends, and keep the interpreter from complaining at exit."""
    _silence_stdout()
    sys.exit(141)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="netdsl")
def cli():
    """netdsl: describe a CNN in a .net file; check, summarise, render and compile it."""


@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "short", "json", "github", "sarif"]), default="text",
              show_default=True, help="text for people; short: one line each; json (docs/formats.md); github: "
              "workflow annotations for GitHub Actions; sarif: SARIF 2.1.0 for code-scanning tools.")
@click.option("--quiet", "-q", is_flag=True, help="Print only problems.")
@click.option("--fix", is_flag=True, help="Apply the fixes that are unambiguous (each verified), writing the file "
                                          "atomically; then check again.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff instead of writing them.")
@with_common
def check(files, fmt, quiet, fix, diff, network, input_shape, params, max_layers, include, color):
    """Check FILES (`-` reads stdin): every layer's shape, before any tensor exists."""
    from .errors import SpecIOError
    color = _use_color(color)
    params = parse_params(params)
    worst = EXIT_OK
    json_out = {"diagnostics": [], "networks": [], "files": [], "errors": []}
    ci_diagnostics: list = []
    for path in files:
        try:
            result = run_check(path, network, input_shape, params, max_layers, include)
            if fix or diff:
                result = _apply_fixes(path, result, diff, lambda p=path: run_check(p, network, input_shape, params,
                                                                                   max_layers, include))
        except SpecIOError as e:
            out(f"error: {e}", err=True)
            json_out["errors"].append({"file": path, "message": str(e)})
            if fmt == "github":
                from .diagnostics.ci import github_message
                out(github_message("error", str(e)), raw=True)
            worst = max(worst, EXIT_USAGE)
            continue
        omitted = sum(g.omitted for g in result.graphs)
        if fmt == "json":
            _json_result(json_out, path, result, omitted)
        elif fmt == "sarif":
            ci_diagnostics.extend(result.diagnostics)
        elif fmt == "github":
            from .diagnostics.ci import github_annotation
            for d in result.diagnostics:
                out(github_annotation(d), raw=True)
        else:
            emit_diagnostics(result.diagnostics, fmt, color)
            if omitted:
                from .limits import LIMITS
                out(f"{path}: ... and {omitted:,} more diagnostics (netdsl keeps the first "
                    f"{LIMITS.max_diagnostics:,} of a network)")
            if not quiet or not result.ok:
                _print_networks(path, result, color)
        if not result.ok:
            worst = max(worst, EXIT_SPEC)
    if fmt == "json":
        import json  # only for --format json (bench/README.md: start-up)
        out(json.dumps(json_out, indent=2), raw=True)
    elif fmt == "sarif":
        import json

        from .diagnostics.ci import sarif_log
        from .version import __version__
        failures = [e["message"] for e in json_out["errors"]]
        out(json.dumps(sarif_log(ci_diagnostics, __version__, failures), indent=2), raw=True)
    sys.exit(worst)


def _json_result(json_out: dict, path: str, result, omitted: int) -> None:
    """One file's part of `check --format json` (the schema: docs/formats.md): every
    diagnostic in the flat list, and again under the network it belongs to; those of no
    network (syntax, imports, an unknown --network) under the file."""
    json_out["diagnostics"].extend(d.to_json() for d in result.diagnostics)
    json_out["omitted_diagnostics"] = json_out.get("omitted_diagnostics", 0) + omitted
    of_networks = {id(d) for g in result.graphs for d in g.diagnostics}
    json_out["files"].append({"file": path, "ok": result.ok, "networks": [g.network for g in result.graphs],
                              "diagnostics": [d.to_json() for d in result.diagnostics if id(d) not in of_networks]})
    for g in result.graphs:
        errors = sum(d.is_error for d in g.diagnostics)
        json_out["networks"].append(
            {"file": path, "network": g.network, "input_shape": list(g.input_shape or []) or None,
             "output_shape": list(g.output_shape) if g.output_shape else None,
             **({"outputs": [{"name": n, "shape": list(s) if s else None} for n, s in g.returns]}
                if g.outputs is not None else {}),
             "params": g.total_params, "ok": g.ok, "errors": errors, "warnings": len(g.diagnostics) - errors,
             "diagnostics": [d.to_json() for d in g.diagnostics], "omitted_diagnostics": g.omitted})


def _apply_fixes(path: str, result, diff: bool, recheck):
    """`check --fix` / `--diff` for one file: the unambiguous fixes. --diff shows them all,
    in imported files too; --fix writes only the file named (an edit in an imported file
    is listed, not written: other specs may import it). Returns the check result to
    report (of the fixed file when it was written)."""
    from .diagnostics.fixes import apply, unambiguous
    from .errors import SpecIOError
    root = result.program.root
    every = unambiguous(result.diagnostics)
    chosen = [f for f in every if all(e.span.source is root for e in f.edits)]
    elsewhere = [f for f in every if f not in chosen and len({e.span.source for e in f.edits}) == 1]
    if diff:
        import difflib
        import os
        by_source = {}
        for f in chosen + elsewhere:
            by_source.setdefault(f.edits[0].span.source, []).extend(f.edits)
        for source, edits in by_source.items():
            text = apply(source.text, edits)
            if text is None:
                continue
            name = path if source is root else source.name
            names = (name, name) if os.path.isabs(name) else (f"a/{name}", f"b/{name}")   # `patch -p1` reads these
            out("".join(difflib.unified_diff(source.text.splitlines(True), text.splitlines(True), *names)), nl=False)
        return result
    for f in elsewhere:
        e = f.edits[0]
        out(f"{e.span.source.name}:{e.span.line}:{e.span.column}: not written (an imported file): {f.message}")
    if not chosen or root is None:
        out(f"{path}: nothing to fix automatically")
        return result
    text = apply(root.text, [e for f in chosen for e in f.edits])
    if text is None:
        return result
    if path == "-":
        raise SpecIOError("cannot --fix standard input: use --diff")
    from .output import OutputError, write_file
    try:
        write_file(path, text)
    except OutputError as e:
        raise SpecIOError(str(e)) from None
    for f in chosen:
        e = f.edits[0]
        out(f"{path}:{e.span.line}:{e.span.column}: fixed: {f.message}")
    return recheck()


def _print_networks(path, result, color):
    from .diagnostics.render import terminal_safe
    from .values import show_shape
    style = (lambda s, **k: click.style(s, **k)) if color else (lambda s, **k: s)
    path = terminal_safe(path)
    if not result.graphs:
        if result.ok:
            blocks = len(result.program.blocks)
            out(f"{path}: ok, no networks ({blocks} block{'s' if blocks != 1 else ''})")
        else:
            out(f"{path}: {style(_counts(result.diagnostics), fg='red', bold=True)}", color=color, raw=True)
        return
    for g in result.graphs:
        tail = f"{g.total_params:,} params" if g.ok else style("has errors", fg="red", bold=True)
        out(f"{path}: {style(terminal_safe(g.network), bold=True)}  {show_shape(g.input_shape)} \u2192 "
            f"{_returns(g)}  {tail}", color=color, raw=True)
    if result.diagnostics:
        out(f"{path}: {_counts(result.diagnostics)}")


def _returns(g) -> str:
    """`[1000]`, or `{out: [21, 224, 224], aux: [21, 224, 224]}`, or `([..], [..])`."""
    from .values import show_shape
    shown = g.returns
    if len(shown) == 1 and shown[0][0] is None and g.outputs is None:
        return show_shape(shown[0][1])
    if shown[0][0] is None:
        return "(" + ", ".join(show_shape(s) for _, s in shown) + ")"
    return "{" + ", ".join(f"{n}: {show_shape(s)}" for n, s in shown) + "}"


def _terminal_markdown(text: str) -> str:
    """An explanation page for a terminal: headings underlined, code indented, no
    Markdown punctuation (`--markdown` prints the page as written)."""
    lines, fenced = [], False
    for line in text.rstrip().splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            lines.append("    " + line)
        elif line.startswith("#"):
            title = line.lstrip("#").strip().replace("`", "")
            lines += [title, ("=" if line.startswith("# ") else "-") * len(title)]
        else:
            lines.append(line.replace("`", ""))
    return "\n".join(lines)


@cli.command()
@click.argument("code", required=False)
@click.option("--markdown", is_flag=True, help="Print the page as Markdown.")
def explain(code, markdown):
    """Explain a diagnostic code (for example `netdsl explain E0301`); without one, list the codes."""
    from .diagnostics.codes import REGISTRY, lookup
    if code is None:
        for c in REGISTRY.values():
            out(f"{c}  {c.title}")
        return
    found = lookup(code)
    text = found.explanation() if found is not None else None
    if text is None:
        out(f"error: unknown code {code!r}; `netdsl explain` lists them", err=True)
        sys.exit(EXIT_USAGE)
    out(text.rstrip() if markdown else _terminal_markdown(text))


@cli.command()
@click.argument("kind", required=False)
def layers(kind):
    """List the layer kinds, or show one with its parameters."""
    from .catalogue import LAYERS, lookup
    from .values import show
    if kind is None:
        width = max(map(len, LAYERS))
        for name, spec in LAYERS.items():
            out(f"{name.ljust(width)}  {spec.doc}")
        return
    spec = lookup(kind)
    if spec is None:
        from .diagnostics.suggest import did_you_mean
        guess = did_you_mean(kind, LAYERS)
        out(f"error: no layer kind {kind!r}" + (f"; did you mean {guess!r}?" if guess else ""), err=True)
        sys.exit(EXIT_USAGE)
    out(f"{spec.name}: {spec.doc}")
    if spec.aliases:
        out(f"  aliases: {', '.join(spec.aliases)}")
    # Parameters alike in all but name (permute's d1 ... d7) are one line.
    lines: list = []
    for p in spec.params:
        default = "required" if p.required else f"default {show(p.default)}"
        alias = f" (also {', '.join(p.aliases)})" if p.aliases else ""
        text = f"{alias}: {p.type.describe}; {default}. {p.doc}"
        if lines and lines[-1][2] == text and not alias:
            lines[-1][1] = p.name
        else:
            lines.append([p.name, None, text])
    for first, last, text in lines:
        out(f"  {first}{f' ... {last}' if last else ''}{text}")


@cli.command()
@click.argument("file")
@click.option("--output", "-o", default=None,
              help="Output file: .svg, .png, .pdf or .dot; `-` prints SVG or DOT (default: FILE's name with the "
                   "format's extension, beside FILE).")
@click.option("--format", "fmt", type=click.Choice(["svg", "png", "pdf", "dot"], case_sensitive=False),
              default=None, help="Output format (default: from the -o extension, else svg).")
@click.option("--depth", default=None, metavar="N|full",
              help="Draw blocks, named sequences and loops nested deeper than N as single nodes; `full`: every "
                   "layer (default: the deepest that fits a page; DOT: every layer).")
@click.option("--direction", type=click.Choice(["TB", "LR"], case_sensitive=False), default="TB",
              show_default=True, help="Top to bottom, or left to right.")
@click.option("--params", "show_params", is_flag=True, help="Show parameter counts on the nodes.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=None, metavar="SECONDS",
              help="How long Graphviz may take to lay out the diagram (default 60).")
@click.option("--style", type=click.Choice(["graph", "blocks"], case_sensitive=False), default="graph",
              show_default=True, help="graph: every layer, laid out by Graphviz. blocks: the paper figure, "
              "feature maps as 3-D boxes (svg or pdf, no Graphviz needed; docs/figure.md).")
@force_option
@with_common
def render(file, output, fmt, depth, direction, show_params, timeout, style, force, network, input_shape, params,
           max_layers, include, color):
    """Draw FILE as a diagram: layers, tensor shapes on the edges, blocks as clusters.

    A spec with errors still renders, with the failing layer in red (exit 1)."""
    from .backends import render as R
    try:
        depth = R.parse_depth(depth)
    except R.RenderError as e:
        raise click.BadParameter(str(e), param_hint="'--depth'") from None
    common = (network, input_shape, params, max_layers, include, color)
    if style.lower() == "blocks":
        # The figure's own depth: None picks what fits; `full` is every level.
        from .backends import figure as F
        depth = sys.maxsize if depth == "full" else depth
        _draw(file, output, fmt, force, common, F.FORMATS, ("svg",),
              lambda g, fmt, notes: F.render_bytes(g, fmt, depth, notes),
              lambda g, path, fmt, inputs: F.render_file(g, path, fmt, inputs=inputs, depth=depth, source=file),
              note="note: ")

    def check_dot(fmt):
        if fmt != "dot" and not R.have_dot():
            out(R.DOT_MISSING, err=True)
            sys.exit(EXIT_USAGE)
    options = {"depth": depth, "direction": direction, "show_params": show_params}
    from .limits import LIMITS
    with LIMITS.override(dot_timeout=timeout):
        _draw(file, output, fmt, force, common, R.FORMATS, ("svg", "dot"),
              lambda g, fmt, notes: R.render_bytes(g, fmt, notes, **options),
              lambda g, path, fmt, inputs: R.render_file(g, path, fmt, inputs=inputs, source=file, **options),
              before_check=check_dot)


def _draw(file, output, fmt, force, common, formats, text_formats, to_bytes, to_file, note="", before_check=None):
    """What both styles of `render` do: the format (from -o's extension unless --format
    says), the output path, the check, then the drawing on standard output (`to_bytes`,
    text formats only) or into the file (`to_file`, returning its notes). Exits."""
    from .backends.render import DotNotFound, RenderError, output_format
    from .output import mark
    network, input_shape, params, max_layers, include, color = common
    if output is None or output == "-":
        fmt = (fmt or "svg").lower()
    else:
        try:
            fmt = output_format(output, fmt)
        except RenderError as e:
            raise click.BadParameter(str(e), param_hint="'--output'") from None
    if fmt not in formats:
        raise click.BadParameter(f"this style draws {' or '.join(formats)}, not {fmt}", param_hint="'--format'")
    output = output_path(file, output, fmt, force)
    if output is None and fmt not in text_formats:
        raise click.BadParameter(f"{fmt} is binary: write it to a file with -o", param_hint="'--format'")
    if before_check is not None:
        before_check(fmt)
    result = check_or_exit(file, network, input_shape, parse_params(params), max_layers, include)
    emit_diagnostics(result.diagnostics, "text", _use_color(color), err=output is None)
    g = one_graph_or_exit(file, result, "draw")
    notes: list = []
    try:
        if output is None:
            data = mark(to_bytes(g, fmt, notes), fmt, file).decode()
        else:
            notes = to_file(g, output, fmt, [file, *result.program.files])
    except RenderError as e:
        out(str(e) if isinstance(e, DotNotFound) else f"error: {e}", err=True)
        sys.exit(EXIT_USAGE)
    if output is None:          # text on standard output, as `dot -Tsvg` does
        out(data, nl=False, raw=True)
    for text in notes:
        out(f"{note}{text}", err=True)
    if output is not None:
        _wrote(output, "" if g.ok else " (the spec has errors: drawn in red)")
    sys.exit(EXIT_OK if result.ok else EXIT_SPEC)


@cli.command("compile")
@click.argument("file")
@click.option("--output", "-o", default=None,
              help="The .py file to write; `-` prints it (default: FILE's name with .py, beside FILE).")
@click.option("--init", type=click.Choice(["default", "xavier"]), default=None,
              help="Weight initialisation (default: the spec's `init` parameter, else torch's).")
@force_option
@with_common
def compile_cmd(file, output, init, force, network, input_shape, params, max_layers, include, color):
    """Compile FILE to a standalone PyTorch module (imports only torch). Writes nothing on errors."""
    from .backends.build import check_spec, compile_result
    from .diagnostics.render import render
    from .errors import SpecError
    from .limits import LIMITS
    from .output import OutputError, write_file
    output = output_path(file, output, "py", force)
    try:
        with LIMITS.override(max_layers=max_layers):     # for this run only
            result = check_spec(file, network, parse_shape(input_shape) if input_shape else None, include,
                                **parse_params(params))
            text = compile_result(result, network, file, init)
    except SpecError as e:
        emit_diagnostics(e.diagnostics, "text", _use_color(color))
        out(f"{file}: {_counts(e.diagnostics)}; nothing written", err=True)
        sys.exit(EXIT_SPEC)
    except OSError as e:          # SpecIOError among them
        out(f"error: {e}", err=True)
        sys.exit(EXIT_USAGE)
    for d in result.warnings:     # on stderr, so `-o -` output stays pure Python
        out(render(d, _use_color(color)) + "\n", err=True, raw=True)
    if output is None:
        out(text, nl=False, raw=True)          # generated Python: every literal escaped
        return
    try:
        write_file(output, text, inputs=[file, *result.program.files])
    except OutputError as e:
        out(f"error: {e}", err=True)
        sys.exit(EXIT_USAGE)
    _wrote(output)


@cli.command()
@click.argument("file")
@click.option(
    "--depth", type=click.IntRange(1), default=None, help="Fold layers nested deeper than N into their block's row."
)
@click.option("--batch", type=click.IntRange(1), default=1, show_default=True, help="Batch size for the memory and MAC totals.")
@click.option("--flops", is_flag=True, help="Report FLOPs (2 × MACs) instead of MACs.")
@click.option("--convention", type=click.Choice(["torchvision", "fvcore", "ptflops", "thop", "torchinfo"]),
              default="torchvision", show_default=True, help="Which tool's MAC counting to reproduce (docs/costs.md).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv", "markdown"]), default="text",
              show_default=True)
@click.option("--explain", is_flag=True, help="Show each layer's arithmetic (output size, parameters, MACs).")
@with_common
def summary(file, depth, batch, flops, convention, fmt, explain, network, input_shape, params, max_layers, include,
            color):
    """Per-layer shapes, parameters, MACs, memory and receptive fields of FILE (static: no torch)."""
    from .backends import summary as S
    result = check_or_exit(file, network, input_shape, parse_params(params), max_layers, include, fmt)
    color = _use_color(color)
    if fmt == "text":
        emit_diagnostics(result.diagnostics, "text", color)
    elif result.diagnostics:
        from .diagnostics.render import render_short
        for d in result.diagnostics:
            out(render_short(d), err=True, raw=True)
    g = one_graph_or_exit(file, result, "summarise", fmt)
    table = S.build(g, convention=convention, batch=batch, flops=flops, depth=depth, explain=explain)
    if fmt == "json":
        out(S.to_json(table, g.diagnostics), raw=True)
    else:
        out(S.FORMATS[fmt](table))
    sys.exit(EXIT_OK if result.ok else EXIT_SPEC)


@cli.command()
@click.argument("file")
@click.option("--min", "lo", type=click.IntRange(1, 1 << 20), default=1, show_default=True, help="Smallest size to try.")
@click.option("--max", "hi", type=click.IntRange(1, 1 << 20), default=1024, show_default=True, help="Largest size to try.")
@click.option("--height", type=click.IntRange(1, 1 << 20), default=None, help="Fix the height; scan the width.")
@click.option("--width", type=click.IntRange(1, 1 << 20), default=None, help="Fix the width; scan the height.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--network", "-n", default=None, help="The network to scan (when the file has several).")
@click.option("--param", "params", multiple=True, help="Override a network parameter: NAME=VALUE (repeatable).")
@click.option("--include", "-I", "include", multiple=True, metavar="DIR",
              help="Another directory imports may come from (repeatable; also $NETDSL_PATH).")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True)
def sizes(file, lo, hi, height, width, fmt, network, params, include, color):
    """Which input sizes FILE's network accepts (no errors, no lost rows), H = W from --min to --max."""
    import json

    from .backends import sizes as Z
    from .errors import SpecIOError
    from .program import load_path
    if lo > hi:
        raise click.BadParameter(f"--min {lo} is larger than --max {hi}", param_hint="'--min'")
    if height is not None and width is not None:
        raise click.BadParameter("fix at most one of --height and --width", param_hint="'--height'")
    params = parse_params(params)
    try:
        program = load_path(file, include)
    except SpecIOError as e:
        stop(f"error: {e}", EXIT_USAGE, fmt)
    if not program.ok:
        if fmt == "json":
            stop(f"{file}: {_counts(program.diagnostics)}", EXIT_SPEC, fmt, program.diagnostics)
        emit_diagnostics(program.diagnostics, "text", _use_color(color))
        sys.exit(EXIT_SPEC)
    names = [network] if network else program.own_networks
    if not names or (network and network not in program.networks):
        stop(f"error: {file}: " + (f"no network named {network!r}" if network else "no networks"), EXIT_USAGE, fmt)
    if len(names) > 1:
        stop(f"error: {file} has several networks ({', '.join(names)}); choose one with --network", EXIT_USAGE, fmt)
    try:
        result = Z.scan(program, names[0], params or None, lo, hi, height=height, width=width)
    except Z.NoImageInput as e:
        if fmt != "json":
            emit_diagnostics(e.diagnostics, "text", _use_color(color))
        stop(f"error: {file}: {e}", EXIT_SPEC if e.diagnostics else EXIT_USAGE, fmt, e.diagnostics)
    if fmt == "json":
        out(json.dumps(Z.to_json(result), indent=2), raw=True)
    else:
        out(Z.to_text(result))
    sys.exit(EXIT_OK if result.accepted else EXIT_SPEC)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def zoo(fmt):
    """List the model zoo shipped with netdsl.

    Use a spec as `zoo:NAME`: `netdsl check zoo:resnet18`, `netdsl.load("zoo:resnet18")`,
    `import "zoo:lib/ops.net"` in your own spec."""
    from .pipeline import check_file
    from .program.zoo import names
    from .values import show_shape
    rows = []
    for name in names():
        result = check_file(f"zoo:{name}")
        for g in result.graphs:
            rows.append({"spec": f"zoo:{name}", "network": g.network, "input_shape": list(g.input_shape or []),
                         "output_shape": list(g.output_shape or []), "params": g.total_params, "ok": g.ok})
    if fmt == "json":
        import json
        out(json.dumps(rows, indent=2), raw=True)
        return
    width = max((len(r["spec"]) for r in rows), default=0)
    for r in rows:
        out(f"{r['spec']:{width}}  {r['network']}  {show_shape(r['input_shape'])} \u2192 "
            f"{show_shape(r['output_shape'])}  {r['params']:,} params")


def main(argv: list | None = None):
    if argv is None:
        # The program's own run (console script, python -m netdsl): everything imported
        # so far lives until the process ends. Frozen, the collector never scans it
        # again: not during the command, and not in the full collections of interpreter
        # shutdown (bench/README.md has the cost). Objects the command makes are
        # collected as usual. (Callers passing argv keep their collector as is.)
        gc.freeze()
    try:
        cli.main(args=argv, prog_name="netdsl", standalone_mode=False)
    except SystemExit:
        if argv is None:
            # The command is done and the process ends: freeze what it made as well, so
            # shutdown's full collections skip it (a large graph costs them much time).
            # Teardown still frees it all by reference counting.
            gc.freeze()
        raise
    except click.exceptions.Exit as e:          # --help, --version
        sys.exit(e.exit_code)
    except click.ClickException as e:           # a usage error: click's own message, exit 2
        e.show()
        sys.exit(e.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        out("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        _closed_pipe()
    except OSError as e:
        if e.errno not in _OUTPUT_ERRNOS:
            _internal(e)
        _silence_stdout()
        out(f"error: cannot write the output: {e.strerror or e}", err=True)
        sys.exit(EXIT_USAGE)
    except Exception as e:     # a bug in netdsl, never a problem in the user's spec
        _internal(e)


# What writing stdout fails with when the disk (or the pipe's far end) gives up.
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EPIPE, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _silence_stdout():
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _internal(e: BaseException):
    if os.environ.get("NETDSL_DEBUG"):
        raise e
    out(f"internal error: {type(e).__name__}: {e}\n"
        f"This is a bug in netdsl, not in your spec. Please file it at {BUG_URL} "
        "with the spec and the command (NETDSL_DEBUG=1 shows the traceback).", err=True)
    sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
