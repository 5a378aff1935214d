"""Expansion and the shape pass, in one walk.

Blocks are bound to their arguments, repeats and loops unrolled, conditions
decided, branches merged, and every layer's shape computed by its catalogue
rule as the node is created. One walk, because a block's structure may depend
on the shape flowing into it (ResNet's `if stride != 1 or in.c != c`).

Errors never stop the walk: the failing node's shape becomes unknown, and
everything downstream of an unknown shape is skipped silently, so each run
reports every independent problem once.
"""
from __future__ import annotations

import keyword
import sys
from types import SimpleNamespace
from typing import Any

from ..catalogue import LayerSpec, TypeMismatch, lookup
from ..catalogue.spec import REQUIRED
from ..diagnostics import ERROR, WARNING, Diagnostic, Label
from ..diagnostics.codes import (
    E0201,
    E0204,
    E0205,
    E0206,
    E0207,
    E0210,
    E0211,
    E0212,
    E0213,
    E0214,
    E0215,
    E0216,
    E0217,
    E0218,
    E0219,
    E0307,
    E0308,
    E0309,
    E0313,
    E0314,
    E0320,
    E0321,
    W0405,
)
from ..diagnostics.suggest import suggest
from ..frontend import ast as A
from ..frontend.source import Span
from ..ir import Graph, Loop, Node, Scope
from ..limits import LIMITS
from ..program import Definition, Program
from ..values import (
    UNKNOWN,
    Env,
    EvalError,
    ShapeValue,
    conforms,
    depends_on_unknown,
    describe_type,
    evaluate,
    shape_text,
    show,
    show_shape,
    type_name,
)

# Names a module attribute may not take: they would shadow nn.Module's own API
# (or be unusable as attributes in generated code).
RESERVED = frozenset("""forward training parameters named_parameters buffers named_buffers children
named_children modules named_modules state_dict load_state_dict to cpu cuda eval train apply
register_buffer register_parameter add_module zero_grad type float double half bfloat16 extra_repr
requires_grad_ share_memory get_submodule get_parameter get_buffer dump_patches call_super_init
register_module self torch nn F x T_destination compile get_extra_state set_extra_state ipu mtia xpu
to_empty set_submodule register_backward_hook register_forward_hook register_forward_pre_hook
register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_state_dict_post_hook register_state_dict_pre_hook""".split())


class _Abort(Exception):
    """Stops the walk of one network (expansion limit reached)."""


class _Ctx:
    """The RuleContext a shape rule reports through."""

    __slots__ = ("el", "node", "arg_spans", "failed")

    def __init__(self, el: Elaborator, node: Node, arg_spans: dict):
        self.el, self.node, self.arg_spans, self.failed = el, node, arg_spans, False

    def _span(self, at):
        if at is not None and at in self.arg_spans:
            return self.arg_spans[at]
        return self.node.span

    def error(self, code, message, at=None, *, notes=(), help=(), label=""):
        self.failed = True
        if self.node.error is None:
            self.node.error = message
        self.el.report(ERROR, code, message, self._span(at), label, notes, help, self.node.origin)

    def warn(self, code, message, at=None, *, notes=(), help=(), label=""):
        self.el.report(WARNING, code, message, self._span(at), label, notes, help, self.node.origin)

    def explain(self, text):
        self.node.explain.append(sys.intern(text))     # repeated layers repeat their formulas


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def valid_module_name(name: str) -> str | None:
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"`{name}` is a Python keyword"
    if name.startswith("_"):
        return "names may not start with `_`"
    if name in RESERVED:
        return f"`{name}` would shadow a torch.nn.Module attribute"
    return None


class Elaborator:
    def __init__(self, program: Program):
        self.program = program
        self.nodes: list[Node] = []
        self.diags: list[Diagnostic] = []
        self._seen: dict = {}
        self.work = 0
        self.block_stack: list[str] = []
        self.loop_span: Span | None = None
        self.scope_count = 0
        # (Loop, iteration) frames of the repeats/fors being expanded, for diagrams.
        self.loop_frames: list = []
        self.loop_count = 0
        # `expect` asserts the declared input's shapes; a size scan (netdsl sizes)
        # turns the assertions off, since other input sizes give other shapes.
        self.check_expects = True
        self._cost: dict[int, tuple[int, int]] = {}
        self._args: dict = {}
        self._defaults: dict = {}       # layer kind -> {parameter: coerced default}

    # ---- reporting ------------------------------------------------------
    def report(self, severity, code, message, span, label="", notes=(), help=(), origin=()):
        key = (severity, code, message, span.source.name if span else None, span.start if span else None)
        if key in self._seen:
            d = self._seen[key]
            if origin and len(d.labels) < 4 and not any(lb.span == origin[0] for lb in d.labels):
                d.labels.append(Label(origin[0], "and this use", primary=False))
            return
        labels = [Label(span, label)] if span is not None else []
        for i, use in enumerate(origin[:3]):
            labels.append(Label(use, "in this use of the block" if i == 0 else "used from here", primary=False))
        d = Diagnostic(severity, code, message, labels, list(notes), list(help))
        self._seen[key] = d
        self.diags.append(d)

    def eval_error(self, e: EvalError, origin=()):
        self.report(ERROR, e.code, e.message, e.span, "", e.notes, e.help, origin)

    # ---- nodes and scopes -----------------------------------------------
    def new_node(self, spec, args, inputs, scope, span, origin, label=None) -> Node:
        self.work += 1
        if len(self.nodes) >= LIMITS.max_layers or self.work > 4 * LIMITS.max_layers:
            self.report(ERROR, E0320, f"the network expands to more than {LIMITS.max_layers:,} layers",
                        self.loop_span or span, "expands too far",
                        notes=("netdsl stops here rather than run out of time or memory",),
                        help=("raise the limit with --max-layers if this is intended",))
            raise _Abort()
        node = Node(len(self.nodes), spec, args, tuple(inputs), scope, span, origin=origin, label=label)
        node.loops = tuple(self.loop_frames)
        self.nodes.append(node)
        if spec is None or spec.torch is not None:
            scope.children.append(node)
        return node

    def new_scope(self, kind, definition, parent, span) -> Scope:
        self.scope_count += 1
        s = Scope(self.scope_count, kind, definition, parent, span)
        parent.children.append(s)
        return s

    def claim_name(self, scope: Scope, name: str, span: Span, origin) -> bool:
        problem = valid_module_name(name)
        if problem:
            better = name.strip("_") or "layer"
            better = better if valid_module_name(better) is None else f"{better}_layer"
            self.report(ERROR, E0206, f"`{name}` cannot name a layer: {problem}", span, "rename this",
                        origin=origin, help=(f"names become torch module attributes; try `{better}`",))
            return False
        if name in scope.explicit:
            first = scope.explicit[name]
            self.report(ERROR, E0204, f"`{name}` names two layers in the same module", span,
                        "second use", origin=origin,
                        help=("give each layer its own name; inside a repeat, wrap the body in a named "
                              "sequence `name: [ ... ]` so each copy gets an index",))
            if first is not span:
                self.diags[-1].labels.insert(1, Label(first, "first named here", primary=False))
            return False
        scope.explicit[name] = span
        return True

    def close_scope(self, scope: Scope):
        """Give unnamed children their names: indices in a sequence, kind-derived names elsewhere."""
        if scope.kind == "sequence":
            for i, child in enumerate(scope.children):
                if child.name is None:
                    child.name = str(i)
            return
        taken = set(scope.explicit)
        counts: dict[str, int] = {}
        for child in scope.children:
            if child.name is not None:
                continue
            base = _snake(child.definition) if isinstance(child, Scope) else child.kind
            if valid_module_name(base):     # block `eval`, `forward`, `_x`: a usable attribute name
                base = f"{base.strip('_') or 'block'}_"
            n = counts.get(base, 0)
            name = base if n == 0 else f"{base}_{n}"
            while name in taken:
                n += 1
                name = f"{base}_{n}"
            counts[base] = n + 1
            taken.add(name)
            child.name = name

    # ---- entry point ----------------------------------------------------
    def network(self, definition: Definition, overrides: dict, input_override: tuple | None) -> Graph:
        d = definition.ast
        root = Scope(0, "network", d.name, None, d.name_span)
        graph = Graph(d.name, {}, self.nodes, root)
        env = Env(definition.env)
        refs: dict[str, Node] = {}
        env.refs = self._ref_lookup(refs, ())
        ok = self.bind_params(d, None, overrides, env, d.name_span, ())
        graph.params = {k: v for k, v in env.vars.items()}
        state = SimpleNamespace(flow=None, refs=refs, origin=(), scope=root, env=env)
        try:
            if ok:
                self.network_body(d, state, input_override)
        except _Abort:
            pass
        if state.flow is not None:
            graph.output = state.flow.id
        for s in reversed(graph.scopes()):
            self.close_scope(s)
        root.out_shape = graph.output_shape
        graph.diagnostics = self.diags
        return graph

    def network_body(self, d: A.Definition, st, input_override):
        seen_input: Span | None = None
        for stmt in d.body:
            if isinstance(stmt, A.Input):
                if seen_input is not None:
                    self.report(ERROR, E0314, "the network declares its input twice", stmt.span, "second input",
                                notes=(f"the first is on line {seen_input.line}",))
                    continue
                seen_input = stmt.span
                if st.flow is not None:
                    self.report(ERROR, E0314, "`input` must come before the first layer", stmt.span)
                    continue
                shape = input_override if input_override is not None else self.input_shape(stmt, st.env)
                node = self.new_node(None, None, (), st.scope, stmt.span, ())
                node.name = "input"
                node.shape = shape
                st.scope.children.remove(node)
                st.scope.in_shape = shape
                st.env.in_shape = ShapeValue(shape) if shape is not None else UNKNOWN
                st.flow = node
                continue
            if st.flow is None and isinstance(stmt, A.Chain):
                if input_override is not None:
                    node = self.new_node(None, None, (), st.scope, d.name_span, ())
                    node.name, node.shape = "input", input_override
                    st.scope.children.remove(node)
                    st.scope.in_shape = input_override
                    st.env.in_shape = ShapeValue(input_override)
                    st.flow = node
                else:
                    late = next((s for s in d.body if isinstance(s, A.Input)), None)
                    if late is not None:
                        # The input exists but comes too late: say that, at the input.
                        self.diags.append(Diagnostic(
                            ERROR, E0314, "`input` must come before the first layer",
                            [Label(late.span, "declared here"), Label(stmt.span, "first layer", primary=False)],
                            help=[f"move `{late.span.text()}` to the top of `{d.name}`"]))
                        return
                    self.report(ERROR, E0313, f"network `{d.name}` has no input shape", stmt.span,
                                "the first layer needs to know its input",
                                help=("declare it before the first layer, e.g. `input [3, 224, 224]`",
                                      "or pass one on the command line: --input 3x224x224"))
                    return
            self.statement(stmt, st)
        if st.flow is None:
            if input_override is not None:
                node = self.new_node(None, None, (), st.scope, d.name_span, ())
                node.name, node.shape = "input", input_override
                st.scope.children.remove(node)
                st.flow = node
            else:
                self.report(ERROR, E0313, f"network `{d.name}` has no input shape", d.name_span, "",
                            help=("declare it in the body, e.g. `input [3, 224, 224]`",))

    def input_shape(self, stmt: A.Input, env: Env) -> tuple | None:
        try:
            v = evaluate(stmt.shape, env)
        except EvalError as e:
            self.eval_error(e)
            return None
        if isinstance(v, ShapeValue):
            v = v.dims
        if not (
            isinstance(v, tuple) and 1 <= len(v) <= 3 and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
        ):
            self.report(ERROR, E0214, f"an input shape is a list of 1 to 3 integers, got {show(v)}", stmt.shape.span,
                        help=("write `input [channels, height, width]` or `input [features]`",))
            return None
        for x in v:
            if x < 1:
                self.report(ERROR, E0215, f"input sizes must be positive, got {show(v)}", stmt.shape.span)
                return None
            if x > LIMITS.max_value // 2 ** 20:
                self.report(ERROR, E0217, "input size is too large", stmt.shape.span)
                return None
        return tuple(v)

    def _ref_lookup(self, refs: dict, origin):
        def lookup_ref(name, span):
            node = refs.get(name)
            if node is None:
                raise EvalError(E0205, f"no tensor named `{name}` before this point", span,
                                help=suggest(name, refs, "name a layer with `name: layer(...)` to refer to its "
                                             "output as `@name`", sigil="@"))
            return ShapeValue(node.shape) if node.shape is not None else UNKNOWN
        return lookup_ref

    # ---- parameters -----------------------------------------------------
    def bind_params(self, d: A.Definition, args: tuple | None, overrides: dict, env: Env, use: Span, origin) -> bool:
        """Bind a definition's parameters in `env`. `args` are evaluated call arguments
        (list of (name|None, value, span)); `overrides` come from the CLI/API."""
        ok = True
        given: dict[str, tuple[Any, Span]] = {}
        names = [p.name for p in d.params]
        if args is not None:
            pos = 0
            for name, value, span in args:
                if name is None:
                    if pos >= len(names):
                        sig = ", ".join(p.span.text() for p in d.params)
                        self.report(ERROR, E0212, f"`{d.name}` takes {len(names)} argument{'s' if len(names) != 1 else ''}, "
                                    f"but more were given", span, "extra argument", origin=origin,
                                    help=(f"signature: {d.name}({sig})",))
                        ok = False
                        continue
                    key = names[pos]
                    pos += 1
                else:
                    key = name
                    if key not in names:
                        self.report(ERROR, E0210, f"`{d.name}` has no parameter `{key}`", span, "unknown parameter",
                                    help=suggest(key, names, f"parameters: {', '.join(names) or 'none'}"),
                                    origin=origin)
                        ok = False
                        continue
                if key in given:
                    self.report(ERROR, E0213, f"argument `{key}` is given twice", span, origin=origin)
                    ok = False
                    continue
                given[key] = (value, span)
        for key, value in overrides.items():
            if key not in names:
                self.report(
                    ERROR,
                    E0210,
                    f"`{d.name}` has no parameter `{key}`",
                    d.name_span,
                    f"--param {key}=… does not match",
                    help=suggest(key, names, f"parameters: {', '.join(names) or 'none'}"),
                )
                ok = False
                continue
            given[key] = (value, d.name_span)
        for p in d.params:
            if p.name in given:
                value, span = given[p.name]
            elif p.default is not None:
                try:
                    value = evaluate(p.default, env)
                except EvalError as e:
                    self.eval_error(e, origin)
                    ok = False
                    continue
                span = p.default.span
            else:
                self.report(
                    ERROR,
                    E0211,
                    f"`{d.name}` needs a value for `{p.name}`",
                    use,
                    f"missing `{p.name}`",
                    origin=origin,
                    help=(f"write `{d.name}({p.name}=…)`",)
                    if d.kind == "block"
                    else (f"give it a default in the spec, or pass --param {p.name}=…",),
                )
                ok = False
                continue
            if p.type is not None and value is not UNKNOWN and not depends_on_unknown(value):
                coerced = conforms(value, p.type)
                if coerced is None and not (value is None and p.type == "any"):   # `any` admits none
                    self.report(ERROR, E0214, f"`{p.name}` must be {describe_type(p.type)}, got {type_name(value)} {show(value)}",
                                span, f"expected {describe_type(p.type)}", origin=origin)
                    ok = False
                    continue
                value = coerced
            env.vars[p.name] = value
        return ok

    # ---- statements and items -------------------------------------------
    def statement(self, stmt, st):
        if isinstance(stmt, A.Chain):
            for item in stmt.items:
                self.item(item, st, None)
        elif isinstance(stmt, A.Let):
            try:
                st.env.vars[stmt.name] = evaluate(stmt.value, st.env)
            except EvalError as e:
                self.eval_error(e, st.origin)
                st.env.vars[stmt.name] = UNKNOWN
        elif isinstance(stmt, A.Input):
            self.report(ERROR, E0314, "`input` belongs at the top of a network", stmt.span,
                        help=("a block takes its input from where it is used; declare accepted shapes "
                              "with `block Name(...) : [c, h, w] -> [...]`",), origin=st.origin)

    def body(self, stmts, st):
        saved = st.env
        st.env = Env(saved)
        try:
            for stmt in stmts:
                self.statement(stmt, st)
        finally:
            st.env = saved

    def item(self, item, st, label: str | None, label_span: Span | None = None):
        t = type(item)
        if t is A.Call:
            self.call(item, st, label, label_span)
        elif t is A.Named:
            name = item.name if type(item.name) is str else self.computed_name(item.name, st)
            self.item(item.item, st, name, item.name_span)
        elif t is A.Sequence:
            self.sequence(item, st, label, label_span)
        elif t is A.If:
            self.if_item(item, st)
        elif t is A.For:
            self.for_item(item, st)
        elif t is A.Repeat:
            self.repeat_item(item, st)
        elif t is A.Ref:
            node = st.refs.get(item.name)
            if node is None:
                self.report(ERROR, E0205, f"no tensor named `{item.name}` before this point", item.span,
                            help=suggest(item.name, st.refs, "name a layer with `name: layer(...)` to continue "
                                         "from its output with `@name`", sigil="@"),
                            origin=st.origin)
                st.flow = self._unknown_flow(st, item.span)
            else:
                st.flow = node
        elif t is A.Expect:
            self.expect(item, st)
        if label is not None and t in (A.If, A.For, A.Repeat, A.Ref, A.Expect):
            self.register_ref(st, label, label_span)

    def computed_name(self, template: A.Template, st) -> str | None:
        """Evaluate `"denselayer{i + 1}"`; None (no name) when it cannot be computed."""
        pieces = []
        for part in template.parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            try:
                v = evaluate(part, st.env)
            except EvalError as err:
                self.eval_error(err, st.origin)
                return None
            if v is UNKNOWN:
                return None
            if not isinstance(v, (int, str)) or isinstance(v, bool):
                self.report(ERROR, E0214, f"a name can be built from integers and strings, not {type_name(v)}",
                            part.span, origin=st.origin)
                return None
            pieces.append(str(v))
        name = "".join(pieces)
        if not (name.isidentifier() and name.isascii()):
            self.report(ERROR, E0206, f"computed name `{name}` is not a valid name", template.span,
                        "letters, digits and `_`, not starting with a digit", origin=st.origin)
            return None
        return name

    def register_ref(self, st, label, span):
        if st.flow is not None:
            st.refs[label] = st.flow

    def _unknown_flow(self, st, span) -> Node:
        node = self.new_node(lookup("identity"), SimpleNamespace(), (st.flow.id,) if st.flow else (), st.scope, span,
                             st.origin)
        st.scope.children.remove(node)
        node.error = "unknown"
        return node

    def eval_args(self, call: A.Call, st):
        out, ok = [], True
        for arg in call.args:
            try:
                out.append((arg.name, evaluate(arg.value, st.env), arg.span))
            except EvalError as e:
                self.eval_error(e, st.origin)
                ok = False
        return out, ok

    def call(self, call: A.Call, st, label, label_span):
        if st.flow is None:
            return
        spec = lookup(call.name)
        block = self.program.blocks.get(call.name) if spec is None else None
        if spec is None and block is None:
            if call.name in self.program.networks:
                self.report(ERROR, E0201, f"`{call.name}` is a network, not a block", call.name_span,
                            help=("declare it with `block` to use it inside another network",), origin=st.origin)
            else:
                from ..catalogue import ALIASES, LAYERS
                self.report(ERROR, E0201, f"unknown layer or block `{call.name}`", call.name_span, "not defined",
                            help=suggest(call.name, set(LAYERS) | set(ALIASES) | set(self.program.blocks),
                                         "`netdsl layers` lists the layer kinds"), origin=st.origin)
            st.flow = self._unknown_flow(st, call.span)
            return
        args, ok = self.eval_args(call, st)
        if block is not None:
            self.block_call(block, call, args, ok, st, label, label_span)
        else:
            self.layer_call(spec, call, args, ok, st, label, label_span)
        if label is not None:
            self.register_ref(st, label, label_span)

    def bind_layer_args(self, spec: LayerSpec, call: A.Call, args, st):
        values: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        ok = True
        pos = 0
        for name, value, span in args:
            if name is None:
                if pos >= len(spec.params):
                    many = (f"takes at most {len(spec.params)} argument{'s' if len(spec.params) != 1 else ''}"
                            if spec.params else "takes no arguments")
                    self.report(ERROR, E0212, f"`{spec.name}` {many}", span, "extra argument",
                                help=(f"signature: {signature(spec)}",), origin=st.origin)
                    ok = False
                    continue
                p = spec.params[pos]
                pos += 1
            else:
                p = spec.param(name)
                if p is None:
                    names = [q.name for q in spec.params] + [a for q in spec.params for a in q.aliases]
                    self.report(ERROR, E0210, f"`{spec.name}` has no parameter `{name}`", span, "unknown parameter",
                                help=suggest(name, names, f"signature: {signature(spec)}"),
                                origin=st.origin)
                    ok = False
                    continue
            if p.name in values:
                self.report(ERROR, E0213, f"argument `{p.name}` of `{spec.name}` is given twice", span,
                            "given again here", origin=st.origin,
                            notes=(f"`{p.name}` was already given at column {spans[p.name].column}",),
                            help=(f"remove one of the two; positional arguments fill {signature(spec)} in order",))
                ok = False
                continue
            values[p.name] = value
            spans[p.name] = span
        defaults = self._defaults.get(spec.name)
        if defaults is None:
            # coerced once per layer kind: the catalogue's defaults never change
            defaults = self._defaults[spec.name] = {
                p.name: p.type.coerce(p.default) if p.default is not None else None
                for p in spec.params if not p.required}
        unknown = False
        for p in spec.params:
            if p.name not in values:
                if p.required:
                    self.report(ERROR, E0211, f"`{spec.name}` needs `{p.name}` ({p.doc})", call.span,
                                f"missing `{p.name}`", help=(f"signature: {signature(spec)}",), origin=st.origin)
                    ok = False
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
                self.report(ERROR, E0214, f"`{p.name}` must be {e.expected}, got {show(value)}", spans[p.name],
                            f"expected {e.expected}", origin=st.origin)
                ok = False
                continue
            if p.check is not None and value is not None:
                problem = p.check(value)
                if problem:
                    self.report(ERROR, E0215, f"`{p.name}` {problem}, got {show(written)}", spans[p.name],
                                origin=st.origin, help=tuple(h for h in (_VALUE_HELP.get(problem, "").format(p.name),) if h))
                    ok = False
                    continue
            values[p.name] = value
        return values, spans, ok, unknown

    def layer_call(self, spec: LayerSpec, call: A.Call, args, ok, st, label, label_span):
        values, spans, bound, unknown = self.bind_layer_args(spec, call, args, st) if ok else ({}, {}, False, False)
        ok = ok and bound
        inputs = [st.flow]
        if spec.inputs == "many":
            if not call.branches:
                self.report(ERROR, E0219, f"`{spec.name}` merges branches: write `{spec.name} {{ ... }}` "
                            "with one branch per line", call.span, origin=st.origin)
                ok = False
            else:
                inputs = self.branches(call, st)
        elif call.branches is not None:
            self.report(ERROR, E0219, f"`{spec.name}` does not take branches", call.span,
                        help=("only merges (add, concat) take `{ ... }`",), origin=st.origin)
            ok = False
        node = self.new_node(spec, self._shared_args(spec, values) if ok else SimpleNamespace(**values), [i.id for i in inputs], st.scope, call.span,
                             st.origin, label)
        if label is not None and spec.torch is not None and self.claim_name(st.scope, label, label_span, st.origin):
            node.name = label
        st.flow = node
        if not ok or unknown:       # unknown: an argument depends on a shape that could not be computed
            node.error = node.error or ("invalid arguments" if not ok else None)
            return
        if spec.validate is not None:
            # Checks between arguments that need no input shape: they run even
            # after an upstream error, so independent problems are all reported.
            vctx = _Ctx(self, node, spans)
            spec.validate(node.args, vctx)
            if vctx.failed:
                return
        shapes = [i.shape for i in inputs]
        if any(s is None for s in shapes):
            return
        if spec.rank is not None:
            for s in shapes:
                if len(s) != spec.rank:
                    want = {3: "[C, H, W]", 1: "[features]"}.get(spec.rank, f"{spec.rank} dimensions")
                    self.report(ERROR, E0307, f"`{spec.name}` needs a {want} input, but its input is {show_shape(s, 'unknown')}",
                                call.name_span, help=_rank_help(spec.rank, s),
                                origin=st.origin)
                    node.error = "wrong rank"
                    return
        if call.branches is not None and spec.inputs == "many":
            # Merge rules point at the branch at fault: `at="branch2"`.
            spans = {**spans, **{f"branch{k}": b.span for k, b in enumerate(call.branches, 1)}}
        ctx = _Ctx(self, node, spans)
        try:
            shape = spec.shape(node.args, shapes, ctx)
        except (ZeroDivisionError, OverflowError, ValueError) as e:     # rule guard: report, never crash
            ctx.error(E0216, f"`{spec.name}` cannot compute its output: {e}")
            shape = None
        if ctx.failed or shape is None:
            return
        too_large = LIMITS.max_value // 2 ** 20
        if any(x > too_large for x in shape):
            ctx.error(E0217, f"`{spec.name}` output {show_shape(shape, 'unknown')} is absurdly large")
            return
        node.shape = tuple(shape)
        node.params, node.buffers = spec.count_params(node.args, shapes, node.shape)
        node.macs = spec.macs(node.args, shapes, node.shape)
        if node.params > LIMITS.max_layer_params:
            ctx.warn(W0405, f"`{spec.name}` has {node.params:,} parameters",
                     notes=(f"that is {node.params * 4 / 2 ** 30:.1f} GiB in float32",),
                     help=("check the input size: is a flatten or pooling missing?",))

    def _shared_args(self, spec, values: dict) -> SimpleNamespace:
        """Layers repeated by `repeat`/loops mostly have equal arguments; they share one
        (read-only) namespace, which keeps a 1,000,000-layer expansion under 1 GB."""
        try:
            # Types are part of the key: True == 1 and 1.0 == 1, but they are different arguments.
            key = (spec.name, tuple(values.items()), tuple(map(type, values.values())))
            args = self._args.get(key)
        except TypeError:           # an unhashable value: no sharing
            return SimpleNamespace(**values)
        if args is None:
            if len(self._args) > 100_000:
                self._args.clear()
            args = self._args[key] = SimpleNamespace(**values)
        return args

    def branches(self, call: A.Call, st) -> list[Node]:
        start = st.flow
        outs = []
        for stmt in call.branches:
            st.flow = start
            self.body((stmt,), st)
            outs.append(st.flow)
        st.flow = start
        return outs

    def block_call(self, block: Definition, call: A.Call, args, ok, st, label, label_span):
        d = block.ast
        if call.branches is not None:
            self.report(ERROR, E0219, f"block `{d.name}` does not take branches", call.span, origin=st.origin)
        if d.name in self.block_stack:
            chain = " \u2192 ".join(self.block_stack[self.block_stack.index(d.name):] + [d.name])
            self.report(ERROR, E0207, f"block `{d.name}` uses itself: {chain}", call.name_span,
                        "recursive use", notes=("blocks are expanded at each use, so recursion never ends",),
                        help=("use `repeat` or a loop for repeated structure",), origin=st.origin)
            st.flow = self._unknown_flow(st, call.span)
            return
        if len(self.block_stack) >= LIMITS.max_block_depth:
            self.report(ERROR, E0321, f"blocks are nested more than {LIMITS.max_block_depth} deep", call.name_span,
                        origin=st.origin, help=("let one block use sequences, `repeat` or loops instead of "
                                                "a new block for each level",))
            st.flow = self._unknown_flow(st, call.span)
            raise _Abort()
        in_node = st.flow
        scope = self.new_scope("block", d.name, st.scope, call.span)
        if label is not None and self.claim_name(st.scope, label, label_span, st.origin):
            scope.name = label
        origin = (call.span, *st.origin)
        env = Env(block.env, in_shape=ShapeValue(in_node.shape) if in_node.shape is not None else UNKNOWN)
        refs: dict[str, Node] = {}
        env.refs = self._ref_lookup(refs, origin)
        bound = ok and self.bind_params(d, args, {}, env, call.span, st.origin)
        scope.args = dict(env.vars)
        scope.in_shape = in_node.shape
        inner = SimpleNamespace(flow=in_node, refs=refs, origin=origin, scope=scope, env=env)
        if not bound:
            st.flow = self._unknown_flow(st, call.span)
            return
        if d.accepts is not None and in_node.shape is not None:
            if not self.match(d.accepts, in_node.shape, env, bind=True, what=f"`{d.name}` accepts",
                              use=call.span, origin=st.origin):
                st.flow = self._unknown_flow(st, call.span)
                return
        self.block_stack.append(d.name)
        try:
            self.body(d.body, inner)
        finally:
            self.block_stack.pop()
        out = inner.flow
        scope.out_shape = out.shape
        if d.returns is not None and out.shape is not None:
            if not self.match(d.returns, out.shape, env, bind=False, what=f"`{d.name}` returns",
                              use=call.span, origin=st.origin):
                out = self._unknown_flow(inner, call.span)
        st.flow = out

    def sequence(self, seq: A.Sequence, st, label, label_span):
        if label is None:
            self.body(seq.body, st)
            return
        scope = self.new_scope("sequence", "", st.scope, seq.span)
        if self.claim_name(st.scope, label, label_span, st.origin):
            scope.name = label
        scope.in_shape = st.flow.shape if st.flow else None
        outer = st.scope
        st.scope = scope
        try:
            self.body(seq.body, st)
        finally:
            st.scope = outer
        scope.out_shape = st.flow.shape if st.flow else None
        self.register_ref(st, label, label_span)

    def if_item(self, item: A.If, st):
        try:
            test = evaluate(item.test, st.env)
        except EvalError as e:
            self.eval_error(e, st.origin)
            st.flow = self._unknown_flow(st, item.span)
            return
        if test is UNKNOWN:
            st.flow = self._unknown_flow(st, item.span)
            return
        if not isinstance(test, bool):
            self.report(ERROR, E0218, f"`if` needs a bool, got {type_name(test)} {show(test)}", item.test.span,
                        help=("compare explicitly, e.g. `if stride != 1 { ... }`",), origin=st.origin)
            st.flow = self._unknown_flow(st, item.span)
            return
        chosen = item.then if test else item.orelse
        if chosen:
            self.body(chosen, st)

    def _min_cost(self, stmts) -> tuple[int, int]:
        """A lower bound on (layers, loop iterations) one run of `stmts` creates, read
        from the syntax alone: unconditional layer calls, and repeats with literal counts.
        Lets `repeat 1000000 { repeat 1000000 { relu } }` fail at once instead of
        after building a million nodes."""
        key = id(stmts)
        if key in self._cost:
            return self._cost[key]
        self._cost[key] = (0, 0)         # a block reached again through itself costs nothing more
        layers = work = 0
        items = []
        for stmt in stmts:
            if isinstance(stmt, A.Chain):
                items.extend(stmt.items)
        while items:
            item = items.pop()
            t = type(item)
            if t is A.Named:
                items.append(item.item)
            elif t is A.Sequence:
                sub = self._min_cost(item.body)
                layers, work = layers + sub[0], work + sub[1]
            elif t is A.Call:
                block = self.program.blocks.get(item.name) if lookup(item.name) is None else None
                if block is None:
                    layers += 1
                else:
                    body = self._min_cost(block.ast.body)[0]
                    # A call that cannot fail to bind runs the body; any other call
                    # leaves at least one node (the body's, or the unknown placeholder).
                    sure = not block.ast.params and block.ast.accepts is None and not item.args
                    layers += body if sure else min(1, body)
            elif t is A.Repeat and type(item.count) is A.Const and type(item.count.value) is int \
                    and item.count.value > 0:
                sub = self._min_cost(item.body)
                n = item.count.value
                layers, work = layers + n * sub[0], work + n * (1 + sub[1])
        self._cost[key] = (layers, work)
        return layers, work

    def _too_big(self, span, st, message):
        self.report(ERROR, E0320, message, self.loop_span or span, "expands too far",
                    notes=("netdsl stops here rather than run out of time or memory",),
                    help=("raise the limit with --max-layers if this is intended",), origin=st.origin)
        raise _Abort()

    def _loop(self, span, values, bind, body, st):
        layers, work = self._min_cost(body)
        if len(self.nodes) + len(values) * layers > LIMITS.max_layers:
            self._too_big(span, st, f"the network expands to more than {LIMITS.max_layers:,} layers")
        if self.work + len(values) * (1 + work) > 4 * LIMITS.max_layers:
            self._too_big(span, st, f"the loops here run more than {4 * LIMITS.max_layers:,} times")
        saved = self.loop_span
        self.loop_span = self.loop_span or span
        self.loop_count += 1
        loop = Loop(self.loop_count, span, st.scope, len(values))
        try:
            for i, v in enumerate(values):
                self.work += 1
                if self.work > 4 * LIMITS.max_layers:
                    self._too_big(span, st, f"the loops here run more than {4 * LIMITS.max_layers:,} times")
                env = Env(st.env)
                if not bind(env, v):
                    return
                outer = st.env
                st.env = env
                self.loop_frames.append((loop, i))
                try:
                    self.body(body, st)
                finally:
                    st.env = outer
                    self.loop_frames.pop()
        finally:
            self.loop_span = saved

    def for_item(self, item: A.For, st):
        try:
            values = evaluate(item.iterable, st.env)
        except EvalError as e:
            self.eval_error(e, st.origin)
            st.flow = self._unknown_flow(st, item.span)
            return
        if depends_on_unknown(values):
            st.flow = self._unknown_flow(st, item.span)
            return
        if not isinstance(values, tuple):
            self.report(ERROR, E0218, f"`for` needs a list or tuple, got {type_name(values)} {show(values)}",
                        item.iterable.span, origin=st.origin,
                        help=("loop over a list, e.g. `for c in [64, 128]`, or use `repeat n { ... }`",))
            st.flow = self._unknown_flow(st, item.span)
            return

        def bind(env, v):
            if not item.destructure:
                env.vars[item.targets[0]] = v
                return True
            if not isinstance(v, tuple) or len(v) != len(item.targets):
                self.report(ERROR, E0218, f"cannot unpack {show(v)} into ({', '.join(item.targets)})",
                            item.iterable.span, origin=st.origin)
                return False
            env.vars.update(zip(item.targets, v))
            return True
        self._loop(item.span, values, bind, item.body, st)

    def repeat_item(self, item: A.Repeat, st):
        try:
            count = evaluate(item.count, st.env)
        except EvalError as e:
            self.eval_error(e, st.origin)
            st.flow = self._unknown_flow(st, item.span)
            return
        if count is UNKNOWN:
            st.flow = self._unknown_flow(st, item.span)
            return
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            self.report(ERROR, E0218, f"`repeat` needs a count of 0 or more, got {show(count)}", item.count.span,
                        origin=st.origin)
            st.flow = self._unknown_flow(st, item.span)
            return
        if count > LIMITS.max_layers:
            self.report(ERROR, E0320, f"repeat {count:,} is larger than the expansion limit ({LIMITS.max_layers:,})",
                        item.count.span, origin=st.origin, help=("raise the limit with --max-layers if this is intended",))
            raise _Abort()

        def bind(env, i):
            if item.index:
                env.vars[item.index] = i
            return True
        self._loop(item.span, range(count), bind, item.body, st)

    def expect(self, item: A.Expect, st):
        if st.flow is None or st.flow.shape is None or not self.check_expects:
            return
        if not self.match(item.shape, st.flow.shape, st.env, bind=False, what="expected", use=None, origin=st.origin):
            st.flow = self._unknown_flow(st, item.span)

    def match(self, pattern: A.Expr, shape: tuple, env: Env, bind: bool, what: str, use, origin) -> bool:
        """Match a shape against `[a, b, _]`. Unbound names bind when `bind` is set."""
        items = pattern.items if isinstance(pattern, A.TupleExpr) else None
        if items is None:
            self.report(ERROR, E0214, "a shape pattern is a list like `[c, h, w]`", pattern.span, origin=origin)
            return False
        if len(items) != len(shape):
            self._mismatch(pattern, shape, what, use, origin,
                           f"{len(items)} dimension{'s' if len(items) != 1 else ''} vs {len(shape)}")
            return False
        for elem, actual in zip(items, shape):
            if isinstance(elem, A.Var) and elem.name == "_":
                continue
            if bind and isinstance(elem, A.Var):
                try:
                    env.lookup(elem.name)
                except KeyError:
                    env.vars[elem.name] = actual
                    continue
            try:
                want = evaluate(elem, env)
            except EvalError as e:
                self.eval_error(e, origin)
                return False
            if want is UNKNOWN:
                continue
            if want != actual:
                # "112 is 112" says nothing: spell out the value only for expressions.
                text = elem.span.text()
                note = (f"{text} expected, but the actual size is {actual}" if text == show(want) else
                        f"{text} is {show(want)} but the actual size is {actual}")
                self._mismatch(pattern, shape, what, use, origin, note, elem.span)
                return False
        return True

    def _mismatch(self, pattern, shape, what, use, origin, note, at=None):
        labels_origin = ((use,) if use is not None else ()) + tuple(origin)
        self.report(ERROR, E0309 if use is not None else E0308,
                    f"shape mismatch: {what} {pattern.span.text()}, but the shape is {show_shape(shape, 'unknown')}",
                    at or pattern.span, "does not match", notes=(note,), origin=labels_origin,
                    help=("fix the layers before this point, or update the declared shape",))


def _rank_help(rank: int, shape: tuple) -> tuple:
    """What to do when a layer gets the wrong number of dimensions."""
    if rank == 3 and len(shape) == 1:
        return ("a flat input has no height or width: move this layer before `flatten`, "
                "or start the network from a [C, H, W] input",)
    if rank == 3:
        return ("2-D layers need a per-sample [C, H, W] input",)
    if rank == 1 and len(shape) > 1:
        return (f"add `flatten` before it to make [{shape_text(shape)}] one feature vector",)
    return ()


# A concrete fix for the catalogue's validation messages (spec.positive, ...).
_VALUE_HELP = {"must be positive": "use {0}=1 or more", "must not be negative": "use {0}=0 or more",
               "must be between 0 and 1": "use a {0} from 0 to 1, e.g. {0}=0.5"}


def signature(spec: LayerSpec) -> str:
    parts = []
    for p in spec.params:
        parts.append(p.name if p.required else f"{p.name}={show(p.default) if p.default is not REQUIRED else ''}")
    return f"{spec.name}({', '.join(parts)})"


def elaborate(program: Program, network: str, overrides: dict | None = None,
              input_shape: tuple | None = None, expects: bool = True) -> Graph:
    definition = program.networks[network]
    el = Elaborator(program)
    el.check_expects = expects
    graph = el.network(definition, overrides or {}, input_shape)
    return graph
