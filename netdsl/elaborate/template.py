"""A block definition lowered for code generation: ir/template.py's records.

Code generation writes one class per block definition when the body lies in the
subset below, and a class per specialisation otherwise. The subset is what a
constructor can compute from the block's parameters and its input channels alone:
layer calls and block uses with expression arguments, named and unnamed
sequences, merges, `if`/`else`, `... when`, `let` and `assert`. A `repeat` and a `for` (over a list, a
parameter, a `let` or `range`) are lowered too; a class writes them as loops where
their items are numbered (a `sequential block`). Out of it (each refusal says
why, and the generated file repeats it): the input's height or width, and tensor
parameters. `@name` references (T.Ref), tensor arguments (`center_crop(@up4)`: T.TensorArg), named
merges, computed layer names (T.Name) and a network's `return(...)` (T.Output) are lowered;
blockclass.py decides what it can write. Expressions become Python through netdsl/pysource.py.
"""
from __future__ import annotations

from .. import namespace
from ..catalogue import lookup
from ..frontend import ast as A
from ..ir import NO_DEFAULT, Parameter, Signature
from ..ir import template as T
from ..program import Definition
from ..pysource import RESERVED, Names, Untranslatable, free_names, literal, reads_input, source
from ..values import UNKNOWN, Env, EvalError, Function, depends_on_unknown, evaluate


class _Refuse(Exception):
    pass


def lower(definition: Definition, blocks: dict) -> T.Template:
    """The Template of a block definition; one with `refused` set when it is outside the subset."""
    d = definition.ast
    try:
        return _Lowering(definition, blocks).template()
    except (_Refuse, Untranslatable) as e:
        return T.Template(d.name, refused=str(e))


def signature_of(definition: Definition, blocks: dict) -> Signature:
    """A definition's Signature: its parameters, with their constant defaults, and for a
    block its Template, lowered when code generation first asks (never during `check`)."""
    d = definition.ast
    params = []
    for p in d.params:
        if p.type == "tensor":          # a forward argument, not a constructor argument
            continue
        default = NO_DEFAULT
        if p.default is not None:
            try:    # evaluated where the definition stands: no other parameters, no `in`
                value = evaluate(p.default, Env(definition.env))
            except EvalError:
                value = UNKNOWN
            if not depends_on_unknown(value):
                default = value
        params.append(Parameter(p.name, default, p.default.span if p.default is not None else p.span))
    deferred = T.Deferred(d.name, lambda: lower(definition, blocks))
    return Signature(d.name, d.kind, tuple(params), tuple(p.name for p in d.params if p.type == "tensor"), deferred)


def _usable(name: str) -> bool:
    """A spec name that can be a Python local or parameter as written."""
    return namespace.is_identifier(name) and namespace.parameter_name_problem(name) is None \
        and name not in RESERVED


def _loop_names(stmts) -> set:
    """The names `for` and `repeat ... as` bind anywhere in a body: a local code generation
    introduces must not take one."""
    names = set()
    for stmt in stmts:
        for n in A.walk(stmt):
            if type(n) is A.For:
                names.update(n.targets)
            elif type(n) is A.Repeat and n.index:
                names.add(n.index)
    return names


class _Lowering:
    def __init__(self, definition: Definition, blocks: dict):
        self.definition = definition
        self.d = definition.ast
        self.blocks = blocks
        self.vars: dict[str, str | None] = {}      # spec name -> Python name (None: not available)
        self.functions: dict[str, T.Function] = {}
        self.fn_names: dict[str, str] = {}
        self.used: dict[str, Signature] = {}       # the blocks it uses
        self.nested_lets: set[str] = set()          # the names of `let`s inside nested bodies

    def template(self) -> T.Template:
        d = self.d
        for p in d.params:
            if p.type == "tensor":
                raise _Refuse(f"its parameter `{p.name}` is a tensor")
            if p.default is not None and not self.constant_default(p.default):
                raise _Refuse(f"the default of `{p.name}` is computed, not a constant")
            if not _usable(p.name):
                raise _Refuse(f"the parameter name `{p.name}` is not usable in Python")
            self.vars[p.name] = p.name
        lets = [s.name for s in d.body if isinstance(s, A.Let)]
        for name in lets:
            if name in self.vars or not _usable(name):
                raise _Refuse(f"`let {name}` rebinds a name or cannot be a Python local")
            self.vars[name] = name
        in_channels = namespace.fresh_local("in_channels", set(self.vars) | set(self.global_functions())
                                            | _loop_names(d.body))
        if d.accepts is not None:
            self.pattern(d.accepts, in_channels)
        self.in_channels = in_channels
        self.input = None
        if d.kind == "network":
            self.network_input(d.body)
        body = self.body([s for s in d.body if not isinstance(s, A.Input)], top=True)
        for name in self.fn_names:
            if name in self.vars or name in self.nested_lets:
                raise _Refuse(f"the function `{name}` has the name of a parameter or local")
        return T.Template(d.name, tuple(p.name for p in d.params), in_channels, body,
                          tuple(self.functions.values()), None, bool(d.sequential), tuple(self.used.values()),
                          self.input)

    def network_input(self, stmts) -> None:
        """A network's `input [...]`: the class builds for it unless given another size
        (the declared one must be a constant, and come first)."""
        inputs = [s for s in stmts if isinstance(s, A.Input)]
        first_layer = next((i for i, s in enumerate(stmts) if isinstance(s, A.Chain)), len(stmts))
        if len(inputs) != 1 or stmts.index(inputs[0]) > first_layer:
            raise _Refuse("its `input` does not come before its first layer")
        try:
            shape = evaluate(inputs[0].shape, Env(self.definition.env))
        except EvalError:
            shape = None
        shape = getattr(shape, "dims", shape)
        if not (isinstance(shape, tuple) and shape and all(type(x) is int for x in shape)):
            raise _Refuse("its input shape is computed")
        self.input = shape

    def global_functions(self):
        env = self.definition.env
        return {n for n in env.names() if isinstance(env.lookup(n), Function)} if env is not None else set()

    def constant_default(self, e) -> bool:
        try:
            v = evaluate(e, Env(self.definition.env))
        except EvalError:
            return False
        if depends_on_unknown(v):
            return False
        try:
            literal(v)
        except Untranslatable:
            return False
        return True

    def pattern(self, pattern, in_channels: str) -> None:
        """`block B : [c, h, w] -> ...`: `c` is the input channels; `h` and `w` are sizes
        a class does not know (a use of them refuses)."""
        items = pattern.items if isinstance(pattern, A.TupleExpr) else ()
        for i, elem in enumerate(items):
            if isinstance(elem, A.Var) and elem.name != "_" and elem.name not in self.vars:
                self.vars[elem.name] = in_channels if i == 0 else None

    # ---- expressions
    def names(self) -> Names:
        env = self.definition.env

        def constant(name):
            if env is None:
                raise KeyError(name)
            v = env.lookup(name)
            if isinstance(v, Function):
                raise KeyError(name)
            return v
        return Names({k: v for k, v in self.vars.items() if v is not None}, self.fn_names, self.in_channels,
                     constant=constant)

    def expr(self, e) -> T.Expr:
        unavailable = {k for k, v in self.vars.items() if v is None}
        if free_names(e) & unavailable:
            raise _Refuse(f"`{e.span.text()}` reads the input's height or width")
        self.declare_functions(e, self.definition.env)
        text = source(e, self.names())
        if not reads_input(e) and not (free_names(e) & set(self.vars)):
            try:
                v = evaluate(e, Env(self.definition.env))
            except EvalError:
                v = UNKNOWN
            if not depends_on_unknown(v):
                try:
                    return T.Expr(literal(v), v)
                except Untranslatable:
                    pass
        return T.Expr(text)

    def declare_functions(self, e, env) -> None:
        """Lower the user functions `e` calls (and those they call), dependencies first."""
        for n in A.walk(e):
            if type(n) is not A.FunCall or n.name in self.vars:
                continue
            try:
                fn = env.lookup(n.name) if env is not None else None
            except KeyError:
                fn = None
            if not isinstance(fn, Function):
                continue
            known = self.functions.get(n.name)
            if known is not None:
                continue
            self.function(n.name, fn)

    def function(self, name: str, fn: Function) -> None:
        f = fn.definition
        if not _usable(name) or any(not _usable(p) for p in f.params):
            raise _Refuse(f"the function `{name}` or its parameters cannot be Python names")
        self.fn_names[name] = name
        self.functions[name] = None         # being lowered: a call back to it is recursion (refused by check)
        self.declare_functions(f.body, fn.env)

        def constant(n):
            v = fn.env.lookup(n)
            if isinstance(v, Function):
                raise KeyError(n)
            return v
        names = Names({p: p for p in f.params}, self.fn_names, None, constant=constant)
        body = source(f.body, names)
        del self.functions[name]            # dependencies were added meanwhile: keep them first
        self.functions[name] = T.Function(name, tuple(f.params), body, tuple(sorted(names.called & set(self.fn_names))))

    def args(self, call: A.Call) -> tuple:
        spec = lookup(call.name)
        out, position = [], 0
        for a in call.args:
            out.append((a.name, self.tensor_arg(spec, position, a) or self.expr(a.value)))
            position += a.name is None
        return tuple(out)

    @staticmethod
    def tensor_arg(spec, position: int, arg):
        """`center_crop(@up4)`: a TensorArg where a layer's parameter takes a tensor, else None."""
        if spec is None or type(arg.value) is not A.RefShape:
            return None
        p = spec.param(arg.name) if arg.name is not None else \
            spec.params[position] if position < len(spec.params) else None
        return T.TensorArg(arg.value.name) if p is not None and getattr(p.type, "tensor", False) else None

    # ---- statements
    def body(self, stmts, top: bool = False) -> tuple:
        out, scoped = [], []
        try:
            return self.statements(stmts, top, out, scoped)
        finally:
            for name in scoped:     # a nested `let` is seen only after it, in its own body
                del self.vars[name]

    def nested_let(self, stmt: A.Let, scoped: list) -> T.Let:
        """`let` inside a loop, an `if` arm or a sequence: a local of the constructor, so
        its name must be one no other name of the definition has (Python has no block
        scope: two bodies' `let n` would be one local)."""
        name = stmt.name
        if name in self.vars or name in self.nested_lets or name == self.in_channels or not _usable(name):
            raise _Refuse(f"`let {name}` rebinds a name or cannot be a Python local")
        value = self.expr(stmt.value)
        self.vars[name] = name
        self.nested_lets.add(name)
        scoped.append(name)
        return T.Let(name, value)

    def statements(self, stmts, top: bool, out: list, scoped: list) -> tuple:
        for stmt in stmts:
            if isinstance(stmt, A.Chain):
                items = tuple(self.item(i, None) for i in stmt.items)
                items = tuple(i for i in items if i is not None)
                if stmt.guard is not None:
                    out.append(T.If(self.expr(stmt.guard), items, ()))
                else:
                    out.extend(items)
            elif isinstance(stmt, A.Let):
                if not top:
                    out.append(self.nested_let(stmt, scoped))
                    continue
                out.append(T.Let(stmt.name, self.expr(stmt.value)))
            elif isinstance(stmt, A.Assert):
                message = self.expr(stmt.message) if stmt.message is not None else None
                if message is not None and not (message.constant and isinstance(message.value, str)):
                    raise _Refuse("an `assert` whose message is computed")
                out.append(T.Assert(self.expr(stmt.test), message.value if message is not None else None))
            elif isinstance(stmt, A.Output) and top:
                out.append(self.output(stmt))
            else:
                raise _Refuse(f"it has a `{type(stmt).__name__.lower()}` statement")
        return tuple(out)

    def output(self, stmt: A.Output) -> T.Output:
        """`return(out=@out, aux=@aux) when aux`: the tensors by name (or position)."""
        refs = []
        for a in stmt.args:
            if type(a.value) is not A.RefShape:
                raise _Refuse("it returns something other than `@name`s")
            refs.append((a.name, a.value.name))
        return T.Output(tuple(refs), self.expr(stmt.guard) if stmt.guard is not None else None)

    def item(self, item, label):
        t = type(item)
        if t is A.Named:
            name = self.label(item.name)
            if type(item.item) is A.If:         # `result: if true { ... }`: names a tensor, adds no module
                if not isinstance(name, str):
                    raise _Refuse("a computed name for a tensor")
                lowered = self.item(item.item, None)
                return T.If(lowered.test, lowered.then, lowered.orelse, name)
            if type(item.item) not in (A.Call, A.Sequence):
                raise _Refuse("a `@name` that refers to something other than a layer")
            return self.item(item.item, name)
        if t is A.Call:
            spec = lookup(item.name)
            if spec is not None:
                branches = None
                if item.branches is not None:
                    branches = tuple(self.branch(b) for b in item.branches)
                return T.Layer(spec, self.args(item), label, branches)
            if item.name in self.blocks:
                if item.branches is not None:
                    raise _Refuse("a block use with branches")
                if item.name not in self.used:
                    self.used[item.name] = signature_of(self.blocks[item.name], self.blocks)
                return T.Use(item.name, self.args(item), label)
            raise _Refuse(f"`{item.name}` is no layer kind or block")
        if t is A.Sequence:
            return T.Sequence(label, self.body(item.body))
        if t is A.If:
            return T.If(self.expr(item.test), self.body(item.then), self.body(item.orelse or ()))
        if t is A.Expect:
            return None         # a statement about shapes: nothing to build
        if t is A.Repeat:
            count = self.expr(item.count)
            if item.index is None:
                return T.Repeat(count, None, self.body(item.body))
            if item.index in self.vars or not _usable(item.index):
                raise _Refuse(f"the loop counter `{item.index}` rebinds a name or cannot be a Python local")
            self.vars[item.index] = item.index
            try:
                return T.Repeat(count, item.index, self.body(item.body))
            finally:
                del self.vars[item.index]
        if t is A.For:
            return self.for_item(item)
        if t is A.Ref:
            return T.Ref(item.name)
        raise _Refuse(f"it has a {t.__name__}")

    def label(self, name):
        """A written module name: as written, or for a string (`"block": ...`,
        `"denselayer{i + 1}"`) its text when no part reads the values, else a T.Name.
        The literal parts must be module-name characters (elaboration checks the whole
        name): nothing else of the spec's text reaches the source."""
        if type(name) is str:
            return name
        parts = []
        for part in name.parts:
            if not isinstance(part, str):
                e = self.expr(part)
                if not e.constant:
                    parts.append(e)
                    continue
                if type(e.value) not in (int, str):
                    raise _Refuse("a computed layer name from a value that is no int or str")
                part = str(e.value)
            if part and not namespace.is_module_name("a" + part):
                raise _Refuse("a computed layer name has characters no module name has")
            if part:
                parts.append(part)
        if all(isinstance(p, str) for p in parts):
            text = "".join(parts)
            if not namespace.is_module_name(text) or namespace.module_name_problem(text):
                raise _Refuse("a layer name that is no module name")
            return text
        return T.Name(tuple(parts))

    def for_item(self, item: A.For) -> T.For:
        """`for (a, b) in xs { ... }`: a Python `for` over the same list; its targets are
        locals of the loop (a name of the spec's own, or `_`, which binds nothing)."""
        iterable = self.iterable(item.iterable)
        if iterable.constant and not isinstance(iterable.value, tuple):
            raise _Refuse("a `for` over something other than a list or tuple")
        bound = [name for name in item.targets if name != "_"]
        if len(set(bound)) != len(bound) or (not item.destructure and not bound):
            raise _Refuse("a `for` that binds a name twice or none")
        for name in bound:
            if name in self.vars or not _usable(name):
                raise _Refuse(f"the loop variable `{name}` rebinds a name or cannot be a Python local")
        for name in bound:
            self.vars[name] = name
        try:
            return T.For(tuple(item.targets), bool(item.destructure), iterable, self.body(item.body))
        finally:
            for name in bound:
                del self.vars[name]

    def iterable(self, e) -> T.Expr:
        """What a `for` runs over. `range(...)` there is Python's range: iterating it gives
        the items of netdsl's range, the only thing a `for` does with it."""
        if type(e) is not A.FunCall or e.name != "range" or "range" in self.vars or "range" in self.global_functions():
            return self.expr(e)
        args = [self.expr(a) for a in e.args]
        text = f"range({', '.join(a.text for a in args)})"
        try:
            value = evaluate(e, Env(self.definition.env)) if all(a.constant for a in args) else UNKNOWN
        except EvalError:
            value = UNKNOWN
        return T.Expr(text, value) if not depends_on_unknown(value) else T.Expr(text)

    def branch(self, stmt) -> T.Branch:
        if not isinstance(stmt, A.Chain):
            raise _Refuse("a merge branch that is not a chain of layers")
        if len(stmt.items) == 1 and type(stmt.items[0]) in (A.For, A.Repeat) and stmt.guard is not None:
            raise _Refuse("merge branches made by a loop under a `when`")
        # a loop line gives one branch per iteration (its body, a chain): a Branch whose
        # body is the lone loop (blockclass's named_merge writes it; elsewhere it refuses)
        guard = self.expr(stmt.guard) if stmt.guard is not None else None
        return T.Branch(guard, tuple(i for i in (self.item(i, None) for i in stmt.items) if i is not None))
