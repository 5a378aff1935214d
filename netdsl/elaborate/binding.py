"""Binding arguments: a call's values to a block's or a layer kind's parameters.

Each binder reports what is wrong (unknown, missing, repeated or extra
arguments; wrong types; values the catalogue's checks refuse) and returns the
first error it reported, or None when everything bound: the caller turns that
error into the failure of the node it makes.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ..catalogue import LayerSpec, TypeMismatch
from ..catalogue.spec import REQUIRED, TensorRef
from ..diagnostics import Diagnostic
from ..diagnostics.codes import E0210, E0211, E0212, E0213, E0214, E0215
from ..diagnostics.fixes import Edit, Fix, drop_argument
from ..diagnostics.suggest import suggest
from ..frontend import ast as A
from ..frontend.source import Span
from ..record import short
from ..values import (
    UNKNOWN,
    Env,
    EvalError,
    ShapeValue,
    conforms,
    depends_on_unknown,
    describe_type,
    evaluate,
    show,
    type_name,
)
from .report import Reporter

# A concrete fix for the catalogue's validation messages (spec.positive, ...).
_VALUE_HELP = {"must be positive": "use {0}=1 or more", "must not be negative": "use {0}=0 or more",
               "must be between 0 and 1": "use a {0} from 0 to 1, e.g. {0}=0.5"}


def _first(current: Diagnostic | None, new: Diagnostic) -> Diagnostic:
    return current if current is not None else new


def signature(spec: LayerSpec) -> str:
    """`conv2d(channels, kernel, stride=1, ...)`, for help lines."""
    parts = []
    for p in spec.params:
        parts.append(p.name if p.required else f"{p.name}={show(p.default) if p.default is not REQUIRED else ''}")
    return f"{spec.name}({', '.join(parts)})"


def eval_args(call: A.Call, env: Env, reporter: Reporter, origin) -> tuple[list, Diagnostic | None]:
    """The call's arguments evaluated: [(keyword or None, value, span)], and the first error."""
    out, failure = [], None
    for arg in call.args:
        try:
            out.append((arg.name, evaluate(arg.value, env), arg.span))
        except EvalError as e:
            failure = _first(failure, reporter.eval_error(e, origin))
    return out, failure


def bind_params(reporter: Reporter, d: A.Definition, args: list | None, overrides: dict, env: Env, use: Span,
                origin) -> Diagnostic | None:
    """Bind a definition's parameters in `env`. `args` are evaluated call arguments
    (see eval_args); `overrides` come from the CLI/API (`--param`)."""
    failure = None
    given: dict[str, tuple[Any, Span]] = {}
    names = [p.name for p in d.params]
    if args is not None:
        pos = 0
        for name, value, span in args:
            if name is None:
                if pos >= len(names):
                    sig = ", ".join(p.span.text() for p in d.params)
                    failure = _first(failure, reporter.error(
                        E0212, f"`{d.name}` takes {len(names)} argument{'s' if len(names) != 1 else ''}, "
                        f"but more were given", span, "extra argument", help=(f"signature: {d.name}({sig})",),
                        origin=origin))
                    continue
                key = names[pos]
                pos += 1
            else:
                key = name
                if key not in names:
                    failure = _first(failure, reporter.error(
                        E0210, f"`{d.name}` has no parameter `{key}`", span, "unknown parameter",
                        help=suggest(key, names, f"parameters: {', '.join(names) or 'none'}", span=span),
                        origin=origin))
                    continue
            if key in given:
                failure = _first(failure, reporter.error(E0213, f"argument `{key}` is given twice", span,
                                                         origin=origin))
                continue
            given[key] = (value, span)
    for key, value in overrides.items():
        if key not in names:
            failure = _first(failure, reporter.error(
                E0210, f"`{d.name}` has no parameter `{key}`", d.name_span, f"--param {key}=… does not match",
                help=suggest(key, names, f"parameters: {', '.join(names) or 'none'}")))
            continue
        given[key] = (value, d.name_span)
    for p in d.params:
        if p.name in given:
            value, span = given[p.name]
        elif p.default is not None:
            try:
                value = evaluate(p.default, env)
            except EvalError as e:
                failure = _first(failure, reporter.eval_error(e, origin))
                continue
            span = p.default.span
        else:
            failure = _first(failure, reporter.error(
                E0211, f"`{d.name}` needs a value for `{p.name}`", use, f"missing `{p.name}`",
                help=(f"write `{d.name}({p.name}=…)`",) if d.kind == "block"
                else (f"give it a default in the spec, or pass --param {p.name}=…",), origin=origin))
            continue
        if p.type is not None and value is not UNKNOWN and not depends_on_unknown(value):
            coerced = conforms(value, p.type)
            if coerced is None and not (value is None and p.type == "any"):   # `any` admits none
                failure = _first(failure, reporter.error(
                    E0214, f"`{p.name}` must be {describe_type(p.type)}, got {type_name(value)} {show(value)}",
                    span, f"expected {describe_type(p.type)}", origin=origin))
                continue
            value = coerced
        env.vars[p.name] = value
    return failure


def _floor_division(call: A.Call, span: Span, value) -> tuple:
    """A float where an integer is wanted, made by `/`: the fix writes `//` (Python's
    floor division) for each `/` of that argument, in the words of the spec's source."""
    if type(value) is not float:
        return ()
    arg = next((a for a in call.args if a.span == span), None)
    if arg is None:
        return ()
    edits = []
    text = span.source.text
    for node in A.walk(arg.value):
        if isinstance(node, A.BinOp) and node.op == "/":
            gap = text.find("/", node.left.span.end, node.right.span.start)
            if gap < 0 or text.startswith("//", gap):
                return ()
            edits.append(Edit(Span(span.source, gap, gap + 1), "//"))
    if not edits:
        return ()
    return (Fix("`/` is true division and gives a float: write `//` to divide and round down",
                tuple(sorted(edits, key=lambda e: e.span.start))),)


def name_of(span: Span) -> str | None:
    """The keyword of an argument written `name=value`, else None."""
    import re
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)", span.text())
    return m[1] if m else None


def _drop_argument(call: A.Call, span: Span, message: str) -> Fix:
    return drop_argument(span, call.span, message)


def _torch_positional(spec: LayerSpec, call: A.Call, args: list, bad: Span) -> tuple:
    """torch's `nn.Linear(16, 10)` written as `linear(16, 10)`: the first positional
    argument is what netdsl takes from the input (spec.infers), and every positional
    argument after it lands one parameter too far. The fix drops the first one."""
    positional = [(v, s) for name, v, s in args if name is None]
    if not spec.infers or len(positional) < 2 or not any(s == bad for _, s in positional[1:]):
        return ()
    shifted = spec.params[:len(positional) - 1]
    for p, (v, _) in zip(shifted, positional[1:]):
        try:
            p.type.coerce(v)
        except TypeMismatch:
            return ()
    first = positional[0][1]
    return (_drop_argument(call, first, f"`{spec.name}` takes `{spec.infers[0]}` from its input's shape, as torch "
                                        f"needs it written: remove the first argument `{short(first.text(), 60)}`"),)


def _quoted_number(span: Span, value) -> tuple:
    """`conv2d("16", 3)`: a number in quotes is a string; the fix unquotes it."""
    if not isinstance(value, str) or not value.strip().lstrip("-").isdigit():
        return ()
    text = span.text()
    for quote in "'\"":
        q = f"{quote}{value}{quote}"
        if text.endswith(q):
            start = span.start + len(text) - len(q)
            return (Fix(f"a number in quotes is a string: write {short(value.strip(), 30)}",
                        (Edit(Span(span.source, start, span.end), value.strip()),)),)
    return ()


class LayerArgs:
    """Binds calls to layer kinds; keeps each kind's coerced defaults (they never change)."""

    def __init__(self, reporter: Reporter):
        self.reporter = reporter
        self._defaults: dict[str, dict] = {}
        self._shared: dict = {}

    def bind(self, spec: LayerSpec, call: A.Call, args: list, origin):
        """-> (values, spans, first error or None, unknown, refs). `unknown`: an argument
        depends on a shape that could not be computed, so the layer cannot be checked;
        refs: the ids of the tensors passed to parameters that take one (ParamType.tensor),
        which become the layer's inputs 1, 2, ... (its arguments hold TensorRefs)."""
        report = self.reporter.error
        values: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        failure = None
        pos = 0
        for name, value, span in args:
            if name is None:
                if pos >= len(spec.params):
                    many = (f"takes at most {len(spec.params)} argument{'s' if len(spec.params) != 1 else ''}"
                            if spec.params else "takes no arguments")
                    failure = _first(failure, report(E0212, f"`{spec.name}` {many}", span, "extra argument",
                                                     help=(f"signature: {signature(spec)}",), origin=origin))
                    continue
                p = spec.params[pos]
                pos += 1
            else:
                p = spec.param(name)
                if p is None:
                    names = [q.name for q in spec.params] + [a for q in spec.params for a in q.aliases]
                    canonical = {a: q.name for q in spec.params for a in q.aliases}
                    help = ((_drop_argument(call, span, f"`{spec.name}` takes `{name}` from its input's shape: "
                                            f"remove `{short(span.text(), 60)}`"),) if name in spec.infers else
                            suggest(name, names, f"signature: {signature(spec)}", span=span, prefer=canonical))
                    failure = _first(failure, report(E0210, f"`{spec.name}` has no parameter `{name}`", span,
                                                     "unknown parameter", help=help, origin=origin))
                    continue
            if p.name in values:
                failure = _first(failure, report(
                    E0213, f"argument `{p.name}` of `{spec.name}` is given twice", span, "given again here",
                    notes=(f"`{p.name}` was already given at column {spans[p.name].column}",),
                    help=(f"remove one of the two; positional arguments fill {signature(spec)} in order",),
                    origin=origin))
                continue
            values[p.name] = value
            spans[p.name] = span
        defaults = self._defaults.get(spec.name)
        if defaults is None:
            defaults = self._defaults[spec.name] = {
                p.name: p.type.coerce(p.default) if p.default is not None else None
                for p in spec.params if not p.required}
        unknown = False
        refs = []
        for p in spec.params:
            if p.name in values and getattr(p.type, "tensor", False) and isinstance(values[p.name], ShapeValue) \
                    and values[p.name].node is not None:
                refs.append(values[p.name].node)
                values[p.name] = TensorRef(len(refs), spans[p.name].text().split("=", 1)[-1].strip())
                continue
            if p.name not in values:
                if p.required:
                    failure = _first(failure, report(E0211, f"`{spec.name}` needs `{p.name}` ({p.doc})", call.span,
                                                     f"missing `{p.name}`", help=(f"signature: {signature(spec)}",),
                                                     origin=origin))
                    continue
                values[p.name] = defaults[p.name]
                continue
            value = values[p.name]
            if value is UNKNOWN or (isinstance(value, tuple) and depends_on_unknown(value)):
                unknown = True
                continue
            written = value
            try:
                value = p.type.coerce(value)
            except TypeMismatch as e:
                written_as = spans[p.name].text().split("=", 1)[-1].strip() if name_of(spans[p.name]) else \
                    spans[p.name].text()
                # An expression's value differs between uses and iterations; the mistake does not:
                # one message for all of them (the Reporter then labels each use once).
                message = (f"`{p.name}` must be {e.expected}, got {show(value)}" if written_as == show(value) else
                           f"`{p.name}` must be {e.expected}, but `{short(written_as, 60)}` is a {type_name(value)}")
                failure = _first(failure, report(E0214, message,
                                                 spans[p.name], f"expected {e.expected}", origin=origin,
                                                 notes=() if written_as == show(value) else
                                                 (f"`{short(written_as, 60)}` = {show(value)}" + (" in the first use" if origin else ""),),
                                                 help=_floor_division(call, spans[p.name], value)
                                                 or _torch_positional(spec, call, args, spans[p.name])
                                                 or _quoted_number(spans[p.name], value)))
                continue
            if p.check is not None and value is not None:
                problem = p.check(value)
                if problem:
                    hint = _VALUE_HELP.get(problem, "").format(p.name)
                    failure = _first(failure, report(E0215, f"`{p.name}` {problem}, got {show(written)}",
                                                     spans[p.name], help=(hint,) if hint else (), origin=origin))
                    continue
            values[p.name] = value
        return values, spans, failure, unknown, refs

    def shared(self, spec: LayerSpec, values: dict) -> SimpleNamespace:
        """Layers repeated by `repeat`/loops mostly have equal arguments; they share one
        (read-only) namespace, which keeps a 1,000,000-layer expansion under 1 GB."""
        try:
            # Types are part of the key: True == 1 and 1.0 == 1, but they are different arguments.
            key = (spec.name, tuple(values.items()), tuple(map(type, values.values())))
            args = self._shared.get(key)
        except TypeError:           # an unhashable value: no sharing
            return SimpleNamespace(**values)
        if args is None:
            if len(self._shared) > 100_000:
                self._shared.clear()
            args = self._shared[key] = SimpleNamespace(**values)
        return args
