"""The walk: one pass over a network's statements that expands and shape-checks it.

Blocks are bound to their arguments, repeats and loops unrolled, conditions
decided, branches merged, and every layer's shape computed by its catalogue rule
as the node is created. One walk, because a block's structure may depend on the
shape flowing into it (ResNet's `if stride != 1 or in.c != c`).

Errors never stop the walk: the failing node's shape becomes unknown, and
everything downstream of an unknown shape is skipped silently, so each run
reports every independent problem once. Where something cannot be expanded at
all (an unknown layer, a block use that does not bind), a stand-in node takes its
place so that the tensor flow stays connected.

The walk's helpers live beside it: binding.py binds arguments, rules.py runs a
layer kind's rules, budget.py bounds the expansion, report.py collects the
diagnostics, and netdsl/namespace.py decides every module name.
"""
from __future__ import annotations

from types import SimpleNamespace

from .. import namespace
from ..catalogue import ALIASES, LAYERS, LayerSpec, lookup
from ..diagnostics import ERROR, WARNING, Diagnostic, Label
from ..diagnostics.codes import (
    E0201,
    E0204,
    E0205,
    E0206,
    E0207,
    E0213,
    E0214,
    E0215,
    E0217,
    E0218,
    E0219,
    E0221,
    E0308,
    E0309,
    E0313,
    E0314,
    E0315,
    E0321,
    W0406,
)
from ..diagnostics.fixes import Edit, Fix
from ..diagnostics.suggest import suggest
from ..frontend import ast as A
from ..frontend.source import Span
from ..ir import INIT_CHOICES, INIT_PARAMETER, Graph, Loop, Node, Scope, Signature
from ..limits import LIMITS
from ..program import Definition, Program
from ..record import Value, short
from ..values import (
    UNKNOWN,
    Env,
    EvalError,
    ExpectRelation,
    Function,
    Relation,
    ShapeValue,
    depends_on_unknown,
    evaluate,
    flat_vars,
    note_guard,
    recording_guards,
    show,
    show_shape,
    type_name,
    unguarded,
)
from . import rules
from .binding import LayerArgs, bind_params, eval_args
from .budget import Budget
from .frame import Frame
from .report import Reporter, Stop
from .template import signature_of

STAND_IN = lookup("identity")       # what a stand-in node computes: its input, unchanged


_REFUSED = object()      # what `statement` returns after a failed assert: stop that body


class Declared(Value):
    """The network at its declared input, for a walk at another one: `shape`, and
    `held`, the keys (Walk.expect) of the `expect`s that held there."""
    _fields = ("shape", "held")


class Walk:
    """Expands one network. `check_expects`: whether `expect` statements are checked.
    `declared`: with an input other than the declared one, what held at the declared
    input: an `expect` with literal sizes that held there with the same sizes is
    written for it, and a mismatch is warning W0406 rather than error E0308."""

    def __init__(self, program: Program, reporter: Reporter, check_expects: bool = True,
                 declared: Declared | None = None):
        self.program = program
        self.reporter = reporter
        self.report = reporter.report
        self.budget = Budget(reporter, program.blocks)
        self.layer_args = LayerArgs(reporter)
        self.check_expects = check_expects
        self.declared = declared
        self.expects_held: set = set()      # keys of the `expect`s that held (Walk.expect)
        self.nodes: list[Node] = []
        self.scope_count = 0
        self.loop_count = 0
        self.loop_frames: list = []         # (Loop, iteration) of the repeats/fors being expanded
        self.block_stack: list[str] = []
        self.accepts_stack: list = []       # the `accepts` pattern of each block being expanded
        self.signatures: dict[str, Signature] = {}
        self._names_used: dict[str, frozenset] = {}
        self.graph_outputs: tuple | None = None

    # ---- the network ----------------------------------------------------------
    def network(self, definition: Definition, overrides: dict, input_override: tuple | None) -> Graph:
        d = definition.ast
        root = Scope(0, "network", d.name, None, d.name_span)
        graph = Graph(d.name, {}, self.nodes, root, definitions=self.signatures)
        self.signature(definition)
        env = Env(definition.env)
        refs: dict[str, Node] = {}
        env.refs = self._ref_lookup(refs)
        failure = bind_params(self.reporter, d, None, overrides, env, d.name_span, ())
        graph.params = dict(env.vars)
        if failure is None:
            self.init_choice(d, graph.params)       # a wrong choice does not stop the shape check
        frame = Frame(None, refs, (), root, env)
        try:
            if failure is None:
                self.network_body(d, frame, input_override)
        except Stop:
            pass
        if frame.flow is not None:
            graph.output = frame.flow.id
        if self.graph_outputs is not None and len(self.graph_outputs) > 1 or \
                self.graph_outputs is not None and self.graph_outputs[0][0] is not None:
            graph.outputs = self.graph_outputs
        for s in reversed(graph.scopes()):
            namespace.name_children(s.children, s.numbered, s.explicit)
        root.out_shape = graph.output_shape
        graph.unused = graph.find_unused()
        graph.diagnostics = self.reporter.diagnostics
        graph.omitted = self.reporter.omitted
        return graph

    def init_choice(self, d: A.Definition, params: dict) -> Diagnostic | None:
        """A network parameter `init` selects the weight initialisation: only its choices compile."""
        value = params.get(INIT_PARAMETER, INIT_CHOICES[0])
        if value in INIT_CHOICES and type(value) is str:
            return None
        p = next(p for p in d.params if p.name == INIT_PARAMETER)
        return self.report(ERROR, E0214, f"network parameter `init` must be one of "
                           f"{', '.join(repr(c) for c in INIT_CHOICES)}, got {show(value)}",
                           p.default.span if p.default is not None else p.span, "selects the weight initialisation",
                           help=('write init = "xavier" (Xavier-uniform conv and linear weights) or "default"',))

    def network_body(self, d: A.Definition, frame: Frame, input_override: tuple | None):
        seen_input: Span | None = None
        returned = False
        for i, stmt in enumerate(d.body):
            if isinstance(stmt, A.Input):
                if seen_input is not None:
                    self.report(ERROR, E0314, "the network declares its input twice", stmt.span, "second input",
                                notes=(f"the first is on line {seen_input.line}",))
                    continue
                seen_input = stmt.span
                if frame.flow is not None:
                    self.report(ERROR, E0314, "`input` must come before the first layer", stmt.span)
                    continue
                shape = input_override if input_override is not None else self.input_shape(stmt, frame.env)
                self.input_node(frame, stmt.span, shape)
                continue
            if frame.flow is None and isinstance(stmt, A.Chain):
                if input_override is not None:
                    self.input_node(frame, d.name_span, input_override)
                else:
                    late = next((s for s in d.body if isinstance(s, A.Input)), None)
                    if late is not None:
                        # The input exists but comes too late: say that, at the input.
                        self.reporter.add(Diagnostic(
                            ERROR, E0314, "`input` must come before the first layer",
                            [Label(late.span, "declared here"), Label(stmt.span, "first layer", primary=False)],
                            help=[f"move `{late.span.text()}` to the top of `{d.name}`"]))
                        return
                    self.report(ERROR, E0313, f"network `{d.name}` has no input shape", stmt.span,
                                "the first layer needs to know its input",
                                help=("declare it before the first layer, e.g. `input [3, 224, 224]`",
                                      "or pass one on the command line: --input 3x224x224"))
                    return
            if isinstance(stmt, A.Output):
                # The network ends with one or more returns; the first whose `when` holds is taken.
                if not all(isinstance(s, A.Output) for s in d.body[i:]):
                    self.report(ERROR, E0315, "`return(...)` must be the last statement of the network",
                                stmt.span, help=("move it to the end: it says what the network returns",))
                    continue
                if returned or frame.flow is None:
                    continue
                if stmt.guard is not None and not self.guard_holds(stmt, frame):
                    continue
                self.outputs(stmt, frame)
                returned = True
                continue
            if self.statement(stmt, frame) is _REFUSED:
                return
        if frame.flow is None:
            if input_override is not None:
                self.input_node(frame, d.name_span, input_override)
            else:
                self.report(ERROR, E0313, f"network `{d.name}` has no input shape", d.name_span, "",
                            help=("declare it in the body, e.g. `input [3, 224, 224]`",))

    def input_node(self, frame: Frame, span: Span, shape: tuple | None) -> None:
        node = self.new_node(None, None, (), frame, span)
        node.name, node.shape = "input", shape
        frame.scope.in_shape = shape
        frame.env.in_shape = ShapeValue(shape, node.id) if shape is not None else UNKNOWN
        frame.refs["in"] = node            # `@in`: the network's input, from anywhere in it
        frame.flow = node

    def outputs(self, stmt: A.Output, frame: Frame) -> None:
        """`output(@x)`, `output(@p3, @p4)` or `output(out=@x, aux=@y)`: what the network returns."""
        named = {a.name is not None for a in stmt.args}
        if not stmt.args or len(named) > 1:
            self.report(ERROR, E0315, "`return(...)` names its tensors all by position or all by keyword",
                        stmt.span, help=("write return(@a, @b) for a tuple, return(out=@a, aux=@b) for a dict",))
            return
        found = []
        for arg in stmt.args:
            try:
                value = evaluate(arg.value, frame.env)
            except EvalError as e:
                self.reporter.eval_error(e)
                return
            if value is UNKNOWN:
                return
            if not isinstance(value, ShapeValue) or value.node is None:
                self.report(ERROR, E0315, f"`return` takes tensors like `@name`, got {type_name(value)} {show(value)}",
                            arg.value.span)
                return
            found.append((arg.name, value.node))
        if len({name for name, _ in found}) != len(found) and named == {True}:
            self.report(ERROR, E0213, "an output name is given twice", stmt.span)
            return
        self.graph_outputs = tuple(found)
        frame.flow = self.nodes[found[0][1]]

    def input_shape(self, stmt: A.Input, env: Env) -> tuple | None:
        try:
            v = evaluate(stmt.shape, env)
        except EvalError as e:
            self.reporter.eval_error(e)
            return None
        if isinstance(v, ShapeValue):
            v = v.dims
        ints = isinstance(v, tuple) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
        if not (ints and 1 <= len(v) <= 3):
            hint = "write `input [channels, height, width]` or `input [features]`"
            if ints and len(v) == 4:            # torch's (N, C, H, W): the batch is not part of a spec's shapes
                per_sample = "[" + ", ".join(map(str, v[1:])) + "]"
                hint = Fix(f"drop the batch dimension: shapes are per sample, `input {per_sample}` "
                           "(the batch comes with the tensor at run time)",
                           (Edit(stmt.shape.span, per_sample),)) if stmt.shape.span.text().startswith("[") else \
                    f"drop the batch dimension: shapes are per sample, `input {per_sample}`"
            self.report(ERROR, E0214, f"an input shape is a list of 1 to 3 integers, got {show(v)}", stmt.shape.span,
                        help=(hint,))
            return None
        for x in v:
            if x < 1:
                self.report(ERROR, E0215, f"input sizes must be positive, got {show(v)}", stmt.shape.span)
                return None
            if x > LIMITS.max_value // 2 ** 20:
                self.report(ERROR, E0217, "input size is too large", stmt.shape.span)
                return None
        return tuple(v)

    def signature(self, definition: Definition) -> None:
        """Record a definition's parameters, with their constant defaults, for the backends."""
        d = definition.ast
        if d.name in self.signatures:
            return
        self.signatures[d.name] = signature_of(definition, self.program.blocks)

    # ---- nodes and scopes -------------------------------------------------------
    def new_node(self, spec: LayerSpec | None, args, inputs, frame: Frame, span: Span, label: str | None = None,
                 stand_in: bool = False) -> Node:
        self.budget.spend_node(span)
        node = Node(len(self.nodes), spec, args, tuple(inputs), frame.scope, span, origin=frame.origin,
                    label=label, stand_in=stand_in)
        node.loops = tuple(self.loop_frames)
        self.nodes.append(node)
        if node.has_module:
            frame.scope.children.append(node)
        return node

    def new_scope(self, kind: str, definition: str, parent: Scope, span: Span, numbered: bool = False) -> Scope:
        self.scope_count += 1
        s = Scope(self.scope_count, kind, definition, parent, span, numbered=numbered)
        parent.children.append(s)
        return s

    def stand_in(self, frame: Frame, span: Span, failure: Diagnostic | None = None) -> Node:
        """A node for what could not be expanded; `failure` is why (None: an unknown
        value upstream, already reported there)."""
        node = self.new_node(STAND_IN, SimpleNamespace(), (frame.flow.id,) if frame.flow else (), frame, span,
                             stand_in=True)
        node.failure = failure
        return node

    def claim_name(self, scope: Scope, name: str, span: Span, origin) -> bool:
        """Take a name written in the spec for a child of `scope` (namespace invariants 2, 3)."""
        problem = namespace.module_name_problem(name)
        if problem:
            self.report(ERROR, E0206, f"`{name}` cannot name a layer: {problem}", span, "rename this",
                        origin=origin,
                        help=(f"names become torch module attributes; try `{namespace.legal_alternative(name)}`",))
            return False
        if name in scope.explicit:
            first = scope.explicit[name]
            d = self.report(ERROR, E0204, f"`{name}` names two layers in the same module", span,
                            "second use", origin=origin,
                            help=("give each layer its own name; inside a repeat, wrap the body in a named "
                                  "sequence `name: [ ... ]` so each copy gets an index",))
            if first is not span and not any(lab.span == first for lab in d.labels):
                d.labels.insert(1, Label(first, "first named here", primary=False))
            return False
        scope.explicit[name] = span
        return True

    # ---- statements and items -----------------------------------------------------
    def statement(self, stmt, frame: Frame):
        if isinstance(stmt, A.Chain):
            if stmt.guard is not None and not self.guard_holds(stmt, frame):
                return
            for item in stmt.items:
                self.item(item, frame, None)
        elif isinstance(stmt, A.Let):
            try:
                frame.env.vars[stmt.name] = evaluate(stmt.value, frame.env)
            except EvalError as e:
                self.reporter.eval_error(e, frame.origin)
                frame.env.vars[stmt.name] = UNKNOWN
        elif isinstance(stmt, A.Function):
            frame.env.vars[stmt.name] = Function(stmt, frame.env)
        elif isinstance(stmt, A.Input):
            self.report(ERROR, E0314, "`input` belongs at the top of a network", stmt.span,
                        help=("a block takes its input from where it is used; declare accepted shapes "
                              "with `block Name(...) : [c, h, w] -> [...]`",), origin=frame.origin)
        elif isinstance(stmt, A.Output):
            self.report(ERROR, E0315, "`return(...)` belongs at the end of a network", stmt.span,
                        help=("a block returns the tensor its last item makes",), origin=frame.origin)
        elif isinstance(stmt, A.Assert):
            return self.assertion(stmt, frame)
        return None

    def assertion(self, stmt: A.Assert, frame: Frame):
        """`assert test, "message"`: the spec refuses values for which `test` is false (E0221),
        showing the values of the names the test reads, as pytest does."""
        try:
            test = evaluate(stmt.test, frame.env)
            message = evaluate(stmt.message, frame.env) if stmt.message is not None else None
        except EvalError as e:
            self.reporter.eval_error(e, frame.origin)
            return
        if test is UNKNOWN:
            return
        if not isinstance(test, bool):
            self.report(ERROR, E0218, f"`assert` needs a bool, got {type_name(test)} {show(test)}", stmt.test.span,
                        help=("compare explicitly, e.g. `assert groups > 0`",), origin=frame.origin)
            return
        if test:
            return
        text = message if isinstance(message, str) else (show(message) if message is not None else None)
        values = []
        names = sorted((n for n in A.walk(stmt.test) if isinstance(n, A.Var)), key=lambda n: n.span.start)
        for name in dict.fromkeys(n.name for n in names):
            try:
                values.append(f"{name} = {show(frame.env.lookup(name))}")
            except KeyError:
                pass
        d = self.report(ERROR, E0221, f"assertion failed: {text}" if text else "assertion failed", stmt.test.span,
                        "this is false", notes=(f"with {', '.join(values)}",) if values else (), origin=frame.origin)
        if frame.flow is not None:      # what follows was written for values that hold: no cascade from it
            frame.flow = self.stand_in(frame, stmt.span, d)
        return _REFUSED

    def guard_holds(self, stmt: A.Chain | A.Output, frame: Frame) -> bool | None:
        """`... when cond`: True, False, or None when the condition reads an unknown shape."""
        try:
            test = evaluate(stmt.guard, frame.env)
        except EvalError as e:
            self.reporter.eval_error(e, frame.origin)
            return False
        if test is UNKNOWN:
            return None
        if not isinstance(test, bool):
            self.report(ERROR, E0218, f"`when` needs a bool, got {type_name(test)} {show(test)}", stmt.guard.span,
                        help=("compare explicitly, e.g. `identity when stride == 1`",), origin=frame.origin)
            return False
        return test

    def body(self, stmts, frame: Frame):
        saved = frame.env
        frame.env = Env(saved)
        try:
            for stmt in stmts:
                if self.statement(stmt, frame) is _REFUSED:
                    break           # a failed assert: the rest was written for values that hold
        finally:
            frame.env = saved

    def item(self, item, frame: Frame, label: str | None, label_span: Span | None = None):
        t = type(item)
        if t is A.Call:
            self.call(item, frame, label, label_span)
        elif t is A.Named:
            name = item.name if type(item.name) is str else self.computed_name(item.name, frame)
            self.item(item.item, frame, name, item.name_span)
        elif t is A.Sequence:
            self.sequence(item, frame, label, label_span)
        elif t is A.If:
            self.if_item(item, frame)
        elif t is A.For:
            self.for_item(item, frame)
        elif t is A.Repeat:
            self.repeat_item(item, frame)
        elif t is A.Ref:
            node = frame.refs.get(item.name)
            if node is None:
                d = self.report(ERROR, E0205, f"no tensor named `{item.name}` before this point", item.span,
                                help=suggest(item.name, frame.refs, "name a layer with `name: layer(...)` to "
                                             "continue from its output with `@name`", sigil="@"),
                                origin=frame.origin)
                frame.flow = self.stand_in(frame, item.span, d)
            else:
                frame.flow = node
        elif t is A.Expect:
            self.expect(item, frame)
        if label is not None and t in (A.If, A.For, A.Repeat, A.Ref, A.Expect):
            self.register_ref(frame, label)

    def computed_name(self, template: A.Template, frame: Frame) -> str | None:
        """Evaluate `"denselayer{i + 1}"`; None (no name) when it cannot be computed."""
        pieces = []
        for part in template.parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            try:
                v = evaluate(part, frame.env)
            except EvalError as err:
                self.reporter.eval_error(err, frame.origin)
                return None
            if v is UNKNOWN:
                return None
            if not isinstance(v, (int, str)) or isinstance(v, bool):
                self.report(ERROR, E0214, f"a name can be built from integers and strings, not {type_name(v)}",
                            part.span, origin=frame.origin)
                return None
            pieces.append(str(v))
            if sum(map(len, pieces)) > LIMITS.max_name_length:    # before the string is built
                self.report(ERROR, E0206, f"computed name is longer than {LIMITS.max_name_length} characters",
                            template.span, origin=frame.origin)
                return None
        name = "".join(pieces)
        if not namespace.is_module_name(name):
            self.report(ERROR, E0206, f"`{name}` is not a valid name", template.span,
                        "letters, digits, `_` and `-`, starting with a letter", origin=frame.origin)
            return None
        return name

    def register_ref(self, frame: Frame, label: str):
        if frame.flow is not None:
            frame.refs[label] = frame.flow

    def _ref_lookup(self, refs: dict):
        def lookup_ref(name, span):
            node = refs.get(name)
            if node is None:
                raise EvalError(E0205, f"no tensor named `{name}` before this point", span,
                                help=suggest(name, refs, "name a layer with `name: layer(...)` to refer to its "
                                             "output as `@name`", sigil="@"))
            return ShapeValue(node.shape, node.id) if node.shape is not None else UNKNOWN
        return lookup_ref

    # ---- calls: layers and blocks ----------------------------------------------------
    def call(self, call: A.Call, frame: Frame, label, label_span):
        if frame.flow is None:
            return
        spec = lookup(call.name)
        block = self.program.blocks.get(call.name) if spec is None else None
        if spec is None and block is None:
            if call.name in self.program.networks:
                d = self.report(ERROR, E0201, f"`{call.name}` is a network, not a block", call.name_span,
                                help=("declare it with `block` to use it inside another network",),
                                origin=frame.origin)
            else:
                d = self.report(ERROR, E0201, f"unknown layer or block `{call.name}`", call.name_span, "not defined",
                                help=suggest(call.name, set(LAYERS) | set(ALIASES) | set(self.program.blocks),
                                             "`netdsl layers` lists the layer kinds", span=call.name_span,
                                             prefer=ALIASES), origin=frame.origin)
            frame.flow = self.stand_in(frame, call.span, d)
            return
        args, failure = eval_args(call, frame.env, self.reporter, frame.origin)
        if block is not None:
            self.block_call(block, call, args, failure, frame, label, label_span)
        else:
            self.layer_call(spec, call, args, failure, frame, label, label_span)
        if label is not None:
            self.register_ref(frame, label)

    def layer_call(self, spec: LayerSpec, call: A.Call, args, failure, frame: Frame, label, label_span):
        values, spans, unknown, refs = {}, {}, False, []
        if failure is None:
            values, spans, failure, unknown, refs = self.layer_args.bind(spec, call, args, frame.origin)
        # tensors passed as arguments (`center_crop(@up)`) are inputs after the one flowing in
        inputs = ([frame.flow] if spec.inputs != "none" else []) + [self.nodes[r] for r in refs]
        kept = call.branches
        if spec.state is not None and frame.scope.numbered:
            failure = failure or self.report(
                ERROR, E0206, f"`{spec.name}` cannot be numbered in a sequence: an nn.Sequential holds modules only",
                call.span, origin=frame.origin,
                help=("name it inside a block, e.g. `layer_scale: parameter([c, 1, 1], init=1e-6)`",))
        if spec.inputs == "many":
            if not call.branches:
                failure = failure or self.report(
                    ERROR, E0219, f"`{spec.name}` merges branches: write `{spec.name} {{ ... }}` "
                    "with one branch per line", call.span, origin=frame.origin)
            else:
                holder = None
                if label is not None:       # a named merge: its branches are an nn.ModuleList
                    holder = self.new_scope("list", "", frame.scope, call.span, numbered=True)
                    if self.claim_name(frame.scope, label, label_span, frame.origin):
                        holder.name = label
                    holder.in_shape, holder.input = frame.flow.shape, frame.flow.id
                inputs, kept = self.branches(call, frame, holder)
                if not inputs:
                    failure = failure or self.report(
                        ERROR, E0219, f"every branch of `{spec.name}` is left out (`when`)", call.span,
                        origin=frame.origin, help=("keep at least one branch",))
                    inputs = [frame.flow]
                elif len(inputs) == 1 and failure is None:
                    frame.flow = inputs[0]      # one branch left: it is the merge's result
                    return
        elif call.branches is not None:
            failure = failure or self.report(ERROR, E0219, f"`{spec.name}` does not take branches", call.span,
                                             help=("only merges (add, concat) take `{ ... }`",), origin=frame.origin)
        # Arguments that did not bind are not kept: nothing may read half a layer's settings.
        args_ns = self.layer_args.shared(spec, values) if failure is None else None
        node = self.new_node(spec, args_ns, [i.id for i in inputs], frame, call.span, label)
        if label is not None and node.has_module and self.claim_name(frame.scope, label, label_span, frame.origin):
            node.name = label
        frame.flow = node
        if failure is not None or unknown:      # unknown: an argument reads a shape that could not be computed
            node.failure = failure
            return
        if not rules.validate(spec, node, self.reporter, spans):
            return
        shapes = [i.shape for i in inputs]
        if any(s is None for s in shapes):
            return
        if call.branches is not None and spec.inputs == "many":
            # Merge rules point at the branch at fault: `at="branch2"`.
            spans = {**spans, **{f"branch{k}": b.span for k, b in enumerate(kept, 1)}}
        node.arg_spans = spans
        rules.apply(spec, node, shapes, self.reporter, spans, call.name_span, self.nodes,
                    frame.env if frame.origin else None)

    def branches(self, call: A.Call, frame: Frame, holder: Scope | None = None) -> tuple[list[Node], list]:
        """The output of each branch that is not left out (`... when cond` false), and
        its statement. A branch line that is a `for` or `repeat` gives one branch per
        iteration (torchvision's ASPP builds its ModuleList with such a loop). With
        `holder` (a named merge's list), each branch is a numbered sequence inside it;
        one that makes a single module is that module itself."""
        start = frame.flow
        outs, kept = [], []
        for stmt in call.branches:
            frame.flow = start
            if isinstance(stmt, A.Chain) and stmt.guard is not None:
                holds = self.guard_holds(stmt, frame)
                if holds is False:
                    continue
                if holds is None:           # the condition reads an unknown shape
                    outs.append(self.stand_in(frame, stmt.span))
                    kept.append(stmt)
                    continue
                stmt = A.Chain(stmt.items, stmt.span)
            loop = stmt.items[0] if isinstance(stmt, A.Chain) and len(stmt.items) == 1 else None
            if isinstance(loop, (A.For, A.Repeat)):
                def branch(body, loop=loop):
                    frame.flow = start
                    outs.append(self.branch(A.Chain((A.Sequence(body, loop.span),), loop.span), frame, start, holder))
                    kept.append(loop)
                self.loop_item(loop, frame, branch)
                continue
            outs.append(self.branch(stmt, frame, start, holder))
            kept.append(stmt)
        frame.flow = start
        return outs, kept

    def branch(self, stmt, frame: Frame, start: Node, holder: Scope | None) -> Node:
        """Run one merge branch from `start`; its output."""
        if holder is None:
            self.body((stmt,), frame)
            return frame.flow
        scope = self.new_scope("sequence", "", holder, stmt.span, numbered=True)
        scope.in_shape, scope.input = start.shape, start.id
        outer, frame.scope = frame.scope, scope
        first = len(self.nodes)
        try:
            self.body((stmt,), frame)
        finally:
            frame.scope = outer
        scope.out_shape = frame.flow.shape if frame.flow else None
        scope.output = frame.flow.id if frame.flow else None
        if len(scope.children) == 1:        # a lone module stands for its branch
            (only,) = scope.children
            holder.children[-1] = only
            for name, span in scope.explicit.items():   # its name is now the holder's to give once
                self.claim_name(holder, name, span, frame.origin)
            if only.is_scope:
                only.parent = holder
            for n in self.nodes[first:]:    # the module, and any layer without one (identity)
                if n.scope is scope:
                    n.scope = holder
        return frame.flow

    def block_call(self, block: Definition, call: A.Call, args, failure, frame: Frame, label, label_span):
        d = block.ast
        if call.branches is not None:
            self.report(ERROR, E0219, f"block `{d.name}` does not take branches", call.span, origin=frame.origin)
        if d.name in self.block_stack:
            chain = " \u2192 ".join(self.block_stack[self.block_stack.index(d.name):] + [d.name])
            failure = self.report(ERROR, E0207, f"block `{d.name}` uses itself: {chain}", call.name_span,
                                  "recursive use", notes=("blocks are expanded at each use, so recursion never ends",),
                                  help=("use `repeat` or a loop for repeated structure",), origin=frame.origin)
            frame.flow = self.stand_in(frame, call.span, failure)
            return
        if len(self.block_stack) >= LIMITS.max_block_depth:
            failure = self.report(ERROR, E0321, f"blocks are nested more than {LIMITS.max_block_depth} deep",
                                  call.name_span, origin=frame.origin,
                                  help=("let one block use sequences, `repeat` or loops instead of "
                                        "a new block for each level",))
            frame.flow = self.stand_in(frame, call.span, failure)
            raise Stop()
        self.signature(block)
        in_node = frame.flow
        scope = self.new_scope("block", d.name, frame.scope, call.span, numbered=d.sequential)
        if label is not None and self.claim_name(frame.scope, label, label_span, frame.origin):
            scope.name = label
        origin = (call.span, *frame.origin)
        env = Env(block.env, in_shape=ShapeValue(in_node.shape, in_node.id) if in_node.shape is not None else UNKNOWN)
        refs: dict[str, Node] = {"in": in_node}        # `@in`: the block's input
        env.refs = self._ref_lookup(refs)
        if failure is None:
            failure = bind_params(self.reporter, d, args, {}, env, call.span, frame.origin)
        for p in d.params:              # `skip: tensor` parameters: `@skip` inside, inputs of the use
            value = env.vars.get(p.name)
            if p.type == "tensor" and isinstance(value, ShapeValue) and value.node is not None:
                refs[p.name] = self.nodes[value.node]
                scope.inputs[p.name] = value.node
        scope.args = {k: v for k, v in env.vars.items() if k not in scope.inputs}
        scope.input = in_node.id
        scope.in_shape = in_node.shape
        inner = Frame(in_node, refs, origin, scope, env)
        if failure is not None:
            frame.flow = self.stand_in(frame, call.span, failure)
            return
        params = dict(env.vars)
        if d.accepts is not None and in_node.shape is not None:
            failure = self.match(d.accepts, in_node, env, bind=True, what=f"`{d.name}` accepts",
                                 use=call.span, origin=frame.origin, guarded=self.names_used(block))
            if failure is not None:
                frame.flow = self.stand_in(frame, call.span, failure)
                return
        self.budget.precharge(d.body, call.span, frame.origin)
        self.block_stack.append(d.name)
        self.accepts_stack.append(d.accepts)
        try:
            self.body(d.body, inner)
        finally:
            self.block_stack.pop()
            self.accepts_stack.pop()
        out = inner.flow
        scope.out_shape, scope.output = out.shape, out.id
        if d.returns is not None and out.shape is not None:
            failure = self.match(d.returns, out, env, bind=False, what=f"`{d.name}` returns",
                                 use=call.span, origin=frame.origin, guarded=frozenset())
            if failure is not None:
                out = self.stand_in(inner, call.span, failure)
        if (d.accepts is not None or d.returns is not None) and in_node.shape is not None:
            # A size scan re-checks the signature itself at each size (replay.py),
            # rather than guarding every height and width the patterns read.
            note_guard(Relation(d.accepts, d.returns, block.env, params, in_node.id, out.id))
        frame.flow = out

    def names_used(self, block: Definition) -> frozenset:
        """The names a block's body reads: a size read by its `accepts` pattern into one
        of these shapes the expansion (a guard, values.ShapeValue); the others only feed
        the signature check."""
        names = self._names_used.get(block.ast.name)
        if names is None:
            found = {n.name for stmt in block.ast.body for n in A.walk(stmt) if isinstance(n, A.Var)}
            names = self._names_used[block.ast.name] = frozenset(found)
        return names

    def sequence(self, seq: A.Sequence, frame: Frame, label, label_span):
        if label is None:
            self.body(seq.body, frame)
            return
        scope = self.new_scope("sequence", "", frame.scope, seq.span, numbered=True)
        if self.claim_name(frame.scope, label, label_span, frame.origin):
            scope.name = label
        scope.in_shape = frame.flow.shape if frame.flow else None
        scope.input = frame.flow.id if frame.flow else None
        outer = frame.scope
        frame.scope = scope
        try:
            self.body(seq.body, frame)
        finally:
            frame.scope = outer
        scope.out_shape = frame.flow.shape if frame.flow else None
        scope.output = frame.flow.id if frame.flow else None
        self.register_ref(frame, label)

    # ---- control flow -------------------------------------------------------------------
    def if_item(self, item: A.If, frame: Frame):
        try:
            test = evaluate(item.test, frame.env)
        except EvalError as e:
            frame.flow = self.stand_in(frame, item.span, self.reporter.eval_error(e, frame.origin))
            return
        if test is UNKNOWN:
            frame.flow = self.stand_in(frame, item.span)
            return
        if not isinstance(test, bool):
            d = self.report(ERROR, E0218, f"`if` needs a bool, got {type_name(test)} {show(test)}", item.test.span,
                            help=("compare explicitly, e.g. `if stride != 1 { ... }`",), origin=frame.origin)
            frame.flow = self.stand_in(frame, item.span, d)
            return
        chosen = item.then if test else item.orelse
        if chosen:
            self.body(chosen, frame)

    def for_item(self, item: A.For, frame: Frame):
        self.loop_item(item, frame)

    def repeat_item(self, item: A.Repeat, frame: Frame):
        self.loop_item(item, frame)

    def loop_item(self, item: A.For | A.Repeat, frame: Frame, each=None):
        """A `for` or `repeat`: its body once per item, chained; with `each`, each
        iteration's body is handed to `each` instead (one merge branch per iteration)."""
        values, bind = self.for_values(item, frame) if isinstance(item, A.For) else self.repeat_values(item, frame)
        if values is not None:
            self.loop(item.span, values, bind, item.body, frame, each)

    def for_values(self, item: A.For, frame: Frame):
        try:
            values = evaluate(item.iterable, frame.env)
        except EvalError as e:
            frame.flow = self.stand_in(frame, item.span, self.reporter.eval_error(e, frame.origin))
            return None, None
        if depends_on_unknown(values):
            frame.flow = self.stand_in(frame, item.span)
            return None, None
        if not isinstance(values, tuple):
            d = self.report(ERROR, E0218, f"`for` needs a list or tuple, got {type_name(values)} {show(values)}",
                            item.iterable.span, origin=frame.origin,
                            help=("loop over a list, e.g. `for c in [64, 128]`, or use `repeat n { ... }`",))
            frame.flow = self.stand_in(frame, item.span, d)
            return None, None

        def bind(env, v):
            if not item.destructure:
                env.vars[item.targets[0]] = v
                return True
            if not isinstance(v, tuple) or len(v) != len(item.targets):
                self.report(ERROR, E0218, f"cannot unpack {show(v)} into ({', '.join(item.targets)})",
                            item.iterable.span, origin=frame.origin)
                return False
            env.vars.update(zip(item.targets, v))
            return True
        return values, bind

    def repeat_values(self, item: A.Repeat, frame: Frame):
        try:
            count = evaluate(item.count, frame.env)
        except EvalError as e:
            frame.flow = self.stand_in(frame, item.span, self.reporter.eval_error(e, frame.origin))
            return None, None
        if count is UNKNOWN:
            frame.flow = self.stand_in(frame, item.span)
            return None, None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            d = self.report(ERROR, E0218, f"`repeat` needs a count of 0 or more, got {show(count)}", item.count.span,
                            origin=frame.origin)
            frame.flow = self.stand_in(frame, item.span, d)
            return None, None
        self.budget.check_repeat_count(count, item.count.span, frame.origin)

        def bind(env, i):
            if item.index:
                env.vars[item.index] = i
            return True
        return range(count), bind

    def loop(self, span: Span, values, bind, body, frame: Frame, each=None):
        with self.budget.loop(span, len(values), body, frame.origin):
            self.loop_count += 1
            loop = Loop(self.loop_count, span, frame.scope, len(values))
            for i, v in enumerate(values):
                self.budget.iteration(span, frame.origin)
                env = Env(frame.env)
                if not bind(env, v):
                    return
                outer = frame.env
                frame.env = env
                self.loop_frames.append((loop, i))
                bound = ", ".join(f"{k} = {show(x)}" for k, x in env.vars.items())
                self.reporter.where.append(f"in iteration {i + 1} of {len(values)} of the loop at line {span.line}"
                                           + (f" ({bound})" if bound else ""))
                try:
                    if each is None:
                        self.body(body, frame)
                    else:
                        each(body)
                finally:
                    frame.env = outer
                    self.loop_frames.pop()
                    self.reporter.where.pop()

    # ---- shapes stated in the spec ----------------------------------------------------
    def expect(self, item: A.Expect, frame: Frame):
        """`expect [c, h, w]`. An expect whose sizes are written from the input (it reads
        `in` or `@name`, or a size its block's `accepts` pattern binds) is checked at
        every input. One with literal sizes that held at the declared input (self.declared)
        is written for that input: at another, a mismatch is warning W0406, not error
        E0308. A size scan re-checks each expect as a whole (an ExpectRelation), so the
        shapes read here are no guards."""
        node = frame.flow
        if node is None or node.shape is None or not self.check_expects:
            return
        items = item.shape.items if isinstance(item.shape, A.TupleExpr) else None
        with unguarded() as reads:
            try:
                wants = tuple(None if isinstance(e, A.Var) and e.name == "_" else evaluate(e, frame.env)
                              for e in items) if items is not None else None
            except EvalError:
                wants = None            # match() below reports it
        relative = bool(reads) or self.reads_signature(item)
        held = wants is not None and expect_holds(wants, node.shape)
        key = (item.span.source.name, item.span.start, wants)
        if wants is not None and recording_guards():
            in_shape = frame.env.in_shape
            note_guard(ExpectRelation(item, flat_vars(frame.env),
                                      in_shape.node if isinstance(in_shape, ShapeValue) else None,
                                      {k: n.id for k, n in frame.refs.items()}, node.id, len(self.nodes) - 1, key,
                                      held, relative))
        if held:
            self.expects_held.add(key)
            return
        if not relative and self.declared is not None and key in self.declared.held:
            self.report(WARNING, W0406, declared_expect_message(item, self.declared.shape), item.span,
                        "holds at the declared input",
                        notes=(f"here the input is {times(self.nodes[0].shape)} and the shape is "
                               f"{show_shape(node.shape, 'unknown')}",),
                        help=("to check it at every input size, write its sizes from the input: "
                              "`in.h`, `in.w` (docs/language.md, shape assertions)",),
                        origin=frame.origin, node=node)
            return
        with unguarded():
            failure = self.match(item.shape, node, frame.env, bind=False, what="expected", use=None,
                                 origin=frame.origin, guarded=frozenset())
        if failure is not None:
            frame.flow = self.stand_in(frame, item.span, failure)

    def reads_signature(self, item: A.Expect) -> bool:
        """Whether an `expect` in a block names a size the block's `accepts` pattern binds."""
        accepts = self.accepts_stack[-1] if self.accepts_stack else None
        if not isinstance(accepts, A.TupleExpr):
            return False
        bound = {e.name for e in accepts.items if isinstance(e, A.Var) and e.name != "_"}
        return any(isinstance(n, A.Var) and n.name in bound for n in A.walk(item.shape))

    def match(self, pattern: A.Expr, node: Node, env: Env, bind: bool, what: str, use,
              origin, guarded=None) -> Diagnostic | None:
        """Match a node's shape against `[a, b, _]`; the error if it does not. Unbound
        names bind when `bind` is set (a block's `accepts` pattern). Sizes are read
        through ShapeValue.axis, so a size scan sees what the expansion depends on;
        `guarded`: for a block signature, only the bound names the body reads are
        guarded (the signature check is re-run as a whole in a scan)."""
        items = pattern.items if isinstance(pattern, A.TupleExpr) else None
        if items is None:
            return self.report(ERROR, E0214, "a shape pattern is a list like `[c, h, w]`", pattern.span,
                               origin=origin)
        shape = ShapeValue(node.shape, node.id if guarded is None else None)
        guard = ShapeValue(node.shape, node.id)
        if len(items) != shape.rank:
            return self._mismatch(pattern, node, what, use, origin,
                                  f"{len(items)} dimension{'s' if len(items) != 1 else ''} vs {shape.rank}")
        for i, elem in enumerate(items):
            if isinstance(elem, A.Var) and elem.name == "_":
                continue
            if bind and isinstance(elem, A.Var):
                try:
                    env.lookup(elem.name)
                except KeyError:
                    read = guard if guarded is not None and elem.name in guarded else shape
                    env.vars[elem.name] = read.axis(i)
                    continue
            try:
                want = evaluate(elem, env)
            except EvalError as e:
                return self.reporter.eval_error(e, origin)
            if want is UNKNOWN:
                continue
            actual = shape.axis(i)
            if want != actual:
                # "112 is 112" says nothing: spell out the value only for expressions.
                text = elem.span.text()
                note = (f"{text} expected, but the actual size is {actual}" if text == show(want) else
                        f"{text} is {show(want)} but the actual size is {actual}")
                return self._mismatch(pattern, node, what, use, origin, note, elem.span, i)
        return None

    def _mismatch(self, pattern, node, what, use, origin, note, at=None, axis=None) -> Diagnostic:
        labels_origin = ((use,) if use is not None else ()) + tuple(origin)
        shape = node.shape
        return self.report(ERROR, E0309 if use is not None else E0308,
                           f"shape mismatch: {what} {pattern.span.text()}, but the shape is "
                           f"{show_shape(shape, 'unknown')}",
                           at or pattern.span, "does not match", notes=(note,), origin=labels_origin,
                           help=self._mismatch_help(node, axis))

    def _mismatch_help(self, node, axis) -> tuple:
        """Where the size that does not match was made: the last layer upstream that
        changed that axis (the one to look at first), by its line."""
        if axis is None or node.shape is None:
            return ()
        size = node.shape[axis]
        name = ("channels", "height", "width")[axis] if len(node.shape) == 3 else f"dim {axis}"
        plural = name == "channels"
        seen = 0
        while node.spec is not None and node.inputs and seen < 10_000:
            before = self.nodes[node.inputs[0]].shape
            if before is None or len(before) != len(node.shape) or before[axis] != node.shape[axis]:
                if node.span is None:
                    return ()
                text = short(node.span.text(), 60) if "\n" not in node.span.text() else node.kind
                return (f"the {name} {'become' if plural else 'becomes'} {size} at `{text}` on line "
                        f"{node.span.line}",)
            node = self.nodes[node.inputs[0]]
            seen += 1
        if node.spec is None and not node.inputs and node.span is not None and "\n" not in node.span.text():
            # Nothing on the way changed it: it is the network's input size (an empty repeat, say).
            return (f"the {name} {'are' if plural else 'is'} {size} from `{short(node.span.text(), 60)}` on line "
                    f"{node.span.line}: no layer before this point changes {'them' if plural else 'it'}",)
        return ()


def expect_holds(wants: tuple, shape: tuple) -> bool:
    """Whether an `expect`'s evaluated sizes (None for `_`) match a shape."""
    return len(wants) == len(shape) and all(w is None or w is UNKNOWN or w == a for w, a in zip(wants, shape))


def times(shape: tuple) -> str:
    return "×".join(map(str, shape))


def declared_expect_message(item: A.Expect, declared: tuple) -> str:
    return f"`expect {item.shape.span.text()}` is written for the declared input {times(declared)}"


def expect_mismatch_message(item: A.Expect, shape: tuple) -> str:
    """The message of error E0308 as Walk.match words it for an `expect` (replay.py says the same)."""
    return f"shape mismatch: expected {item.shape.span.text()}, but the shape is {show_shape(shape, 'unknown')}"
