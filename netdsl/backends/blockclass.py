"""One class per block definition: a block's class written from its definition.

codegen.py writes a class per *specialisation* from the expanded IR. This module
writes, where it can, one class for the block definition itself (issue 13), from
the block's Template (ir/template.py): its constructor takes the input channels
and the block's parameters with the spec's defaults, and computes the body with
them as elaboration would, so that any values give the module `netdsl.load` gives.

- Channels flow as Python expressions: each layer's output channels come from
  its catalogue entry's `out_channels`, run on `Sym`s, which build expression text
  under arithmetic and refuse everything that would need a value (a comparison,
  `bool`, an index...). Constructor arguments come from `LayerSpec.torch` run on
  the same stand-ins, with the spatial sizes as stand-ins that refuse any use. Any
  refusal means the block is not written this way (NotSymbolic).
- Module names are those elaboration gives (namespace.name_children), computed
  here from the template; a name that would depend on which `if` arm runs refuses.
- `if` becomes a Python `if` in __init__; forward tests what __init__ stored
  (`self.downsample = None` when absent, torchvision's style).
- `repeat` and `for` in a numbered scope become Python loops appending to a list;
  the channels entering each iteration live in one local, updated at the end of
  the body. What it holds after the loops is followed in the class's own names
  (`_Class.close`) so that a class's output channels never name it; where they
  depend on the loop's values the class keeps them as `self.out_channels`.

Everything written is either a validated name, a literal (pysource.literal), an
expression pysource.py wrote, or text built here from those.
"""
from __future__ import annotations

import ast
import io
import re
import tokenize
from types import SimpleNamespace

from .. import namespace
from ..catalogue import TypeMismatch
from ..ir import NO_DEFAULT
from ..ir import template as T
from ..namespace import is_identifier, require_argument, require_attribute, require_class
from ..pysource import Untranslatable, literal

# Each named sequence opens up to four brackets in one expression, and Python refuses
# 200: deeper nests are left to the class per specialisation, which names inner ones.
_MAX_INLINE_DEPTH = 16


class NotSymbolic(Exception):
    """The block cannot be written as one class (the message says why)."""


# Python's precedence levels (as pysource.py's), loosest first.
_COND, _OR, _AND, _NOT, _CMP, _ADD, _MUL, _UNARY, _POW, _ATOM = range(10)
_AST_LEVEL = {ast.IfExp: _COND, ast.Compare: _CMP, ast.Constant: _ATOM, ast.Name: _ATOM, ast.Call: _ATOM,
              ast.Tuple: _ATOM, ast.Subscript: _ATOM, ast.Attribute: _ATOM}
_OP_LEVEL = {ast.Add: _ADD, ast.Sub: _ADD, ast.Mult: _MUL, ast.Div: _MUL, ast.FloorDiv: _MUL, ast.Mod: _MUL,
             ast.Pow: _POW}


def _level(text: str) -> int:
    """The precedence of an expression's outermost operator (parsed, never run)."""
    node = ast.parse(text, mode="eval").body
    if isinstance(node, ast.BinOp):
        return _OP_LEVEL.get(type(node.op), _COND)
    if isinstance(node, ast.BoolOp):
        return _AND if isinstance(node.op, ast.And) else _OR
    if isinstance(node, ast.UnaryOp):
        return _NOT if isinstance(node.op, ast.Not) else _UNARY
    return _AST_LEVEL.get(type(node), _COND)


def _refuse(*_args, **_kwargs):
    raise NotSymbolic("a value known only when the class is built is needed here")


_NEUTRAL = {(1, "*"), (0, "+"), (0, "-"), (1, "//")}


def symbolic(text: str):
    """Sym(text), or the int when the text is an integer literal (an inner block's output
    channels written with constant arguments: `512`, not `512 * 1 * 1` after flatten)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return Sym(text)
    return value if type(value) is int else Sym(text)


class Sym:
    """A value the generated constructor computes: its Python source."""
    __slots__ = ("text", "level")

    def __init__(self, text: str, level: int | None = None):
        self.text = text
        self.level = _level(text) if level is None else level

    def _op(self, op, other, level, reflected=False):
        if isinstance(other, Spatial):      # a size not known: the result is not either
            return SPATIAL
        if type(other) is int and (other, op) in _NEUTRAL and not (reflected and op != "*" and op != "+"):
            return self                     # `c * 1`, `h + 0`, `h // 1`: ints stay ints
        a, b = (other, self) if reflected else (self, other)
        right = level + 1 if op != "**" else level
        left = level if op != "**" else level + 1
        return Sym(f"{_operand(a, left)} {op} {_operand(b, right)}", level)

    __add__ = lambda self, o: self._op("+", o, _ADD)
    __radd__ = lambda self, o: self._op("+", o, _ADD, True)
    __sub__ = lambda self, o: self._op("-", o, _ADD)
    __rsub__ = lambda self, o: self._op("-", o, _ADD, True)
    __mul__ = lambda self, o: self._op("*", o, _MUL)
    __rmul__ = lambda self, o: self._op("*", o, _MUL, True)
    __floordiv__ = lambda self, o: self._op("//", o, _MUL)
    __rfloordiv__ = lambda self, o: self._op("//", o, _MUL, True)
    __truediv__ = lambda self, o: self._op("/", o, _MUL)
    __rtruediv__ = lambda self, o: self._op("/", o, _MUL, True)
    __mod__ = lambda self, o: self._op("%", o, _MUL)
    __rmod__ = lambda self, o: self._op("%", o, _MUL, True)

    def __neg__(self):
        return Sym(f"-{_operand(self, _POW + 1)}", _UNARY)

    # anything that needs the value refuses
    __bool__ = __index__ = __int__ = __float__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __hash__ = __iter__ = __len__ = __getitem__ = __contains__ = __pow__ = __rpow__ = _refuse

    def __repr__(self):
        return f"<Sym {self.text}>"


def _operand(v, level: int) -> str:
    if isinstance(v, Sym):
        return f"({v.text})" if v.level < level else v.text
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise NotSymbolic(f"arithmetic on {type(v).__name__}")
    text = literal(v)
    return f"({text})" if v < 0 and level > _ADD else text


def _unknown(*_args):
    return SPATIAL


class Spatial:
    """A height or width the class does not know (a block's; a network's after a block
    use): arithmetic on it gives another unknown size (a window formula on it), and
    anything that needs its value refuses (writing it, comparing it)."""
    __slots__ = ()
    __bool__ = __index__ = __int__ = __float__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __hash__ = __iter__ = __len__ = __getitem__ = __pow__ = __rpow__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __floordiv__ = __rfloordiv__ = _unknown
    __truediv__ = __rtruediv__ = __mod__ = __rmod__ = __neg__ = _unknown


SPATIAL = Spatial()


def text_of(v) -> str:
    if isinstance(v, Spatial) or (type(v) is tuple and any(isinstance(x, Spatial) for x in v)):
        raise NotSymbolic("a layer needs the height or width of its input, which the class does not take")
    return v.text if isinstance(v, Sym) else literal(v)


def substitute(text: str, mapping: dict) -> str:
    """`text` with each name of `mapping` replaced by that expression (parsed and
    unparsed with Python's own ast: never run). Names outside the mapping stay (the
    builtins and module-level functions); used to write an inner block's output
    channels in the words of the class that uses it."""
    tree = ast.parse(text, mode="eval")

    class Swap(ast.NodeTransformer):
        def visit_Name(self, node):
            if node.id in mapping:
                return ast.parse(f"({mapping[node.id]})", mode="eval").body
            return node
    return ast.unparse(Swap().visit(tree))


def fold(text: str) -> str:
    """`text` with each `a if test else b` whose test compares literals replaced by the arm
    it chooses: an inner block's output channels with constant arguments
    (`out // 2 + out // 2`, not `... if 2 == 1 else out // 2 + out // 2`). The test is
    decided here from the parsed literals, never run."""
    tree = ast.parse(text, mode="eval")

    class Fold(ast.NodeTransformer):
        def visit_IfExp(self, node):
            self.generic_visit(node)
            test = _decide(node.test)
            return node if test is None else (node.body if test else node.orelse)
    return ast.unparse(Fold().visit(tree))


_COMPARE = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
            ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b}


def _decide(node):
    """True or False for a test of literals (ints, floats, bools: comparisons, and, or,
    not), else None."""
    if isinstance(node, ast.Constant) and type(node.value) in (bool, int, float):
        return bool(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        v = _decide(node.operand)
        return None if v is None else not v
    if isinstance(node, ast.BoolOp):
        values = [_decide(v) for v in node.values]
        if None in values:
            return None
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        a, b = node.left, node.comparators[0]
        if all(isinstance(x, ast.Constant) and type(x.value) in (int, float) for x in (a, b)):
            return _COMPARE[type(node.ops[0])](a.value, b.value)
    return None


# ---- the result -------------------------------------------------------------------
class Translation:
    """A written class: its source (with `{name}` placeholders for the classes and
    helpers it refers to: see Writer), the template, the output channels as text in
    the class's own names, the lets in order, and what it needs of the file."""

    def __init__(self, template, source, out_text, lets, helpers, xavier, functions, uses, ordered, loop_vars,
                 out_rank=None):
        self.template, self.source, self.out_text, self.lets = template, source, out_text, lets
        self.helpers, self.xavier, self.functions, self.uses = helpers, xavier, functions, uses
        self.ordered, self.loop_vars, self.out_rank = ordered, loop_vars, out_rank
        self.in_rank = None         # the rank of the input it was written for (set by translate)
        self.exposes = False        # its output channels are `self.out_channels` (_Class.expose)


def _bind(spec, args) -> SimpleNamespace:
    """A layer's arguments bound to its parameters as elaboration binds them:
    constants coerced by the parameter's type, symbolic ones as Syms (torch takes
    an int or a pair alike where netdsl normalises to a pair)."""
    values, pos = {}, 0
    for name, e in args:
        if name is None:
            if pos >= len(spec.params):
                raise NotSymbolic("too many arguments")
            p = spec.params[pos]
            pos += 1
        else:
            p = spec.param(name)
            if p is None or p.name in values:
                raise NotSymbolic(f"argument {name}")
        if e.constant:
            try:
                values[p.name] = p.type.coerce(e.value)
            except TypeMismatch:
                raise NotSymbolic(f"`{p.name}` does not take {e.text}") from None
        else:
            values[p.name] = Sym(e.text)
    for p in spec.params:
        if p.name not in values:
            if p.required:
                raise NotSymbolic(f"`{spec.name}` needs `{p.name}`")
            values[p.name] = p.type.coerce(p.default) if p.default is not None else None
    return SimpleNamespace(**values)


class _Child:
    """A module of one scope, for namespace.name_children."""
    is_scope = False

    def __init__(self, item, conditional):
        self.item, self.conditional = item, conditional
        self.name = item.label
        self.is_scope = isinstance(item, (T.Use, T.Sequence))
        self.kind = item.spec.name if isinstance(item, T.Layer) else ""
        self.definition = item.definition if isinstance(item, T.Use) else ""


class _Class:
    """Writes one block class. `writer` gives classes, helpers and defaults (codegen's Writer)."""

    def __init__(self, writer, template: T.Template, rank: int, network=None):
        self.w = writer
        self.t = template
        self.rank = rank
        # the sizes after the channels of the tensor flowing (its rank is len + 1): Syms
        # where a network class computes them from its input_size, else unknown
        self.space = (SPATIAL,) * (rank - 1)
        self.network = network          # for a network class: NetworkOptions
        self.nested = 0                 # inside an `if` arm, a merge branch or a loop
        self.settled: list = []         # (index in __init__'s lines, local) of `h = ...` lines
        self.seq_depth = 0              # named sequences being written, one inside the other
        self.helpers: set = set()
        self.xavier: set = set()
        self.uses: list = []
        self.lets: list = []
        self.var_count = 0
        self.names: dict = {}        # id(item) -> its module name
        self.ordered = False         # it writes an OrderedDict
        self.flags: set = set()      # the bool attributes forward tests (flag_name)
        self.loop_vars: set = set()  # the channel locals of the loops being written
        self.all_loop_vars: set = set()
        self.loop_var: str | None = None     # the local holding the channels entering a loop
        self.closed: dict = {}       # loop local -> what it holds in the class's own names, or None

    # ---- names
    def scope_children(self, items, conditional=False, out=None):
        """The modules of one (non-numbered) scope, in order, through unnamed sequences,
        `if` arms and merge branches (they add modules to the scope around them)."""
        out = [] if out is None else out
        for item in items:
            if isinstance(item, T.Layer):
                if item.branches is not None:
                    for b in item.branches:
                        self.scope_children(b.body, conditional or b.guard is not None, out)
                if self.has_module(item):
                    out.append(_Child(item, conditional))
            elif isinstance(item, T.Use):
                out.append(_Child(item, conditional))
            elif isinstance(item, T.Sequence):
                if item.label is None:
                    self.scope_children(item.body, conditional, out)
                else:
                    out.append(_Child(item, conditional))
            elif isinstance(item, T.If):
                self.scope_children(item.then, True, out)
                self.scope_children(item.orelse, True, out)
        return out

    def name_scope(self, items) -> None:
        children = self.scope_children(items)
        if any(c.conditional and c.name is None for c in children):
            raise NotSymbolic("an unnamed module under a condition: its automatic name depends on the values")
        results = []
        for explicit in ({c.name for c in children if c.name}, {c.name for c in children if c.name and
                                                                 not c.conditional}):
            copies = [_Child(c.item, c.conditional) for c in children]
            namespace.name_children(copies, False, explicit)
            results.append([c.name for c in copies])
        if results[0] != results[1]:
            raise NotSymbolic("automatic names depend on which `if` arm runs")
        for c, name in zip(children, results[0]):
            if not is_identifier(name) or namespace.module_name_problem(name):
                raise NotSymbolic(f"the module name {name!r} is no attribute name")
            self.names[id(c.item)] = name

    @staticmethod
    def has_module(item: T.Layer) -> bool:
        spec = item.spec
        if spec.state is not None:
            raise NotSymbolic(f"`{spec.name}` holds a tensor of the module around it")
        if spec.functional is not None:
            raise NotSymbolic(f"whether `{spec.name}` is a module depends on its arguments")
        return spec.torch is not None

    # ---- channels and constructors
    def shape(self, ch) -> tuple:
        return (ch, *self.space)

    def advance(self, item: T.Layer, args, shapes) -> None:
        """The sizes after a layer, from its catalogue entry's out_spatial; unknown where
        it has none or they need a value the class does not have (ceil_mode on a size
        computed at run time of __init__)."""
        rule = item.spec.out_spatial
        if rule is None:
            self.space = (SPATIAL,) * len(self.space)
            return
        try:
            self.space = tuple(rule(args, shapes))
        except (NotSymbolic, ArithmeticError, TypeError, ValueError):
            self.space = (SPATIAL,) * len(self.space)

    @staticmethod
    def join_space(a: tuple, b: tuple) -> tuple:
        """The sizes after an `if` or a merge with a branch left out: the arms' where they agree."""
        if len(a) != len(b):
            raise NotSymbolic("the arms of a condition give tensors of different ranks")

        def same(x, y):
            if isinstance(x, Sym) and isinstance(y, Sym):
                return x.text == y.text
            return x is y or (type(x) is int and type(y) is int and x == y)
        return tuple(x if same(x, y) else SPATIAL for x, y in zip(a, b))

    def settle(self, init: list) -> None:
        """In a network class's straight-line __init__: sizes that changed become `h = ...`
        lines (removed again at the end when nothing reads them)."""
        if self.network is None or self.network.sizes is None or self.nested:
            return
        space = list(self.space)
        for i, (name, v) in enumerate(zip(self.network.sizes, space)):
            if isinstance(v, Sym) and v.text != name:
                self.settled.append((len(init), name))
                init.append(f"        {name} = {v.text}")
                space[i] = Sym(name)
        self.space = tuple(space)

    def out_channels(self, item: T.Layer, args, shapes):
        if item.spec.out_channels is None:
            raise NotSymbolic(f"`{item.spec.name}`'s output channels are no function of its arguments")
        return item.spec.out_channels(args, shapes)

    def layer_ctor(self, item: T.Layer, args, ch) -> str:
        cls, kwargs = item.spec.torch(args, [self.shape(ch)])
        cls = self.w.module_class_text(cls, item.spec, self.helpers, self.xavier)
        kwargs = self.w.readable_kwargs(item.spec, kwargs)
        return f"{cls}({', '.join(f'{require_argument(k)}={text_of(v)}' for k, v in kwargs.items())})"

    def use_ctor(self, item: T.Use, ch) -> tuple[str, object]:
        inner = self.w.translation(item.definition, self.rank)
        if inner is None:
            raise NotSymbolic(f"it uses `{item.definition}`, which has no class of its own")
        self.uses.append(item.definition)
        sig = self.w.signatures[item.definition]
        params = [p.name for p in sig.params]
        given, pos = {}, 0
        parts, keywords = [text_of(ch)], []     # a spec may write a keyword first; Python may not
        for name, e in item.args:
            if name is None:
                if pos >= len(params):
                    raise NotSymbolic("too many arguments")
                key = params[pos]
                pos += 1
                parts.append(e.text)
            else:
                key = name
                keywords.append(f"{require_argument(name)}={e.text}")
            given[key] = e.text
        parts += keywords
        mapping = {inner.template.in_channels: text_of(ch)}
        for p in sig.params:
            if p.name in given:
                mapping[p.name] = given[p.name]
            elif p.default is not NO_DEFAULT:
                mapping[p.name] = literal(p.default)
            else:
                raise NotSymbolic(f"`{item.definition}` needs `{p.name}`")
        for let_name, let_text in inner.lets:
            mapping[let_name] = substitute(let_text, mapping)
        if inner.exposes:
            return f"{class_placeholder(item.definition)}({', '.join(parts)})", EXPOSED
        if {n.id for n in ast.walk(ast.parse(inner.out_text, mode="eval")) if isinstance(n, ast.Name)} & inner.loop_vars:
            raise NotSymbolic(f"`{item.definition}`'s output channels come out of a loop")
        out = symbolic(fold(substitute(inner.out_text, mapping)))
        return f"{class_placeholder(item.definition)}({', '.join(parts)})", out

    def seq_ctor(self, item: T.Sequence, ch, lines=None, pad: int = 8) -> tuple[str, object]:
        """A named sequence: nn.Sequential of its items; items under a condition need
        `lines` to build their list in (only a class's own attributes have them)."""
        built = []
        self.seq_depth += 1
        if self.seq_depth > _MAX_INLINE_DEPTH:
            raise NotSymbolic(f"named sequences nested deeper than {_MAX_INLINE_DEPTH}")
        try:
            ch, args = self.numbered(item.body, ch, pad, built)
        finally:
            self.seq_depth -= 1
        if built and lines is None:
            raise NotSymbolic("a condition inside a nested named sequence")
        if built:
            lines.extend(built)
        return f"nn.Sequential({args})", ch

    def numbered_args(self, parts) -> str:
        """nn.Sequential's arguments for [(name written or None, constructor)]: the
        constructors, or an OrderedDict when some carry names (the others keep their index)."""
        if all(name is None for name, _ in parts):
            return ", ".join(ctor for _, ctor in parts)
        self.ordered = True
        pairs = [f"({literal(require_attribute(name if name is not None else str(i)))}, {ctor})"
                 for i, (name, ctor) in enumerate(parts)]
        return f"OrderedDict([{', '.join(pairs)}])"

    def numbered_items(self, items):
        for item in items:
            if isinstance(item, T.Sequence) and item.label is None:
                yield from self.numbered_items(item.body)
            elif isinstance(item, T.Sequence) or isinstance(item, (T.Use, T.If, T.Repeat, T.For)):
                yield item
            elif isinstance(item, T.Layer):
                if item.branches is not None or not self.has_module(item):
                    raise NotSymbolic("a numbered sequence whose items are not all modules")
                yield item
            else:
                raise NotSymbolic("a `let` inside a numbered sequence")

    def module_ctor(self, item, ch, lines=None, pad: int = 8) -> tuple[str, object]:
        if not isinstance(item, (T.Layer, T.Use, T.Sequence)):
            raise NotSymbolic(f"a {type(item).__name__.lower()} inside a condition or a loop")
        if isinstance(item, T.Layer):
            args = _bind(item.spec, item.args)
            shapes = [self.shape(ch)]
            ctor, out = self.layer_ctor(item, args, ch), self.out_channels(item, args, shapes)
            self.advance(item, args, shapes)
            return ctor, out
        if isinstance(item, T.Use):
            ctor, out = self.use_ctor(item, ch)
            inner = self.w.translation(item.definition, self.rank)
            if inner.in_rank != len(self.space) + 1:
                raise NotSymbolic(f"`{item.definition}` is used on a tensor of another rank")
            self.space = (SPATIAL,) * (inner.out_rank - 1)      # sizes are not followed through a block
            return ctor, out
        return self.seq_ctor(item, ch, lines, pad)

    # ---- the non-numbered class: __init__ and forward together
    def fresh(self) -> str:
        self.var_count += 1
        return f"x{self.var_count}"

    def body(self, items, ch, src: str, dst: str, init: list, fwd: list, pad: int):
        """Write `items` reading tensor variable `src` and writing `dst`; -> (channels, the
        variable holding the result)."""
        cur = src
        ip = " " * pad
        for item in items:
            if isinstance(item, T.Let):
                init.append(f"{ip}{require_argument(item.name)} = {item.value.text}")
                self.lets.append((item.name, item.value.text))
            elif isinstance(item, T.Assert):
                init.extend(_assertion(item, ip))
            elif isinstance(item, T.Layer) and item.branches is not None:
                ch, cur = self.merge(item, ch, cur, dst, init, fwd, pad)
            elif isinstance(item, T.Layer) and not self.has_module(item):
                args = _bind(item.spec, item.args)
                if any(isinstance(v, Sym) for v in vars(args).values()):
                    raise NotSymbolic(f"`{item.spec.name}`'s forward depends on the values")
                shapes = [self.shape(ch)]
                expr = item.spec.forward(args, [cur])
                ch = self.out_channels(item, args, shapes)
                self.advance(item, args, shapes)
                if expr != cur:
                    fwd.append(f"        {dst} = {expr}")
                    cur = dst
            elif isinstance(item, (T.Layer, T.Use, T.Sequence)):
                if isinstance(item, T.Sequence) and item.label is None:
                    ch, cur = self.body(item.body, ch, cur, dst, init, fwd, pad)
                    continue
                attr = require_attribute(self.names[id(item)])
                ctor, ch = self.module_ctor(item, ch, init, pad)
                init.append(f"{ip}self.{attr} = {ctor}")
                if ch is EXPOSED:
                    ch = Sym(f"self.{attr}.out_channels")
                self.settle(init)
                fwd.append(f"        {dst} = self.{attr}({cur})")
                cur = dst
            elif isinstance(item, T.If):
                ch, cur = self.if_item(item, ch, cur, dst, init, fwd, pad)
            else:       # a loop outside a numbered sequence: its modules' names would be computed
                raise NotSymbolic(f"a {type(item).__name__.lower()} where modules are named, not numbered")
        return ch, cur

    def merge(self, item: T.Layer, ch, cur, dst, init, fwd, pad):
        """A merge's branches, then the merge. One branch may be left out by a `when` on
        the values: __init__ builds it only when the guard holds, and forward merges
        the others alone otherwise (one left is the result itself, as elaboration has it)."""
        branches = [b for b in item.branches if b.guard is None or not b.guard.constant or b.guard.value]
        guarded = [b for b in branches if b.guard is not None and not b.guard.constant]
        if len(guarded) > 1 or (guarded and len(branches) < 2):
            raise NotSymbolic("more than one merge branch left out by `when`, or none always kept")
        args = _bind(item.spec, item.args)
        if any(isinstance(v, Sym) for v in vars(args).values()):
            raise NotSymbolic(f"`{item.spec.name}`'s forward depends on the values")
        ip = " " * pad
        outs, chans, spaces = {}, {}, {}
        kept = [b for b in branches if b not in guarded]
        saved = self.space
        self.nested += 1
        for i, branch in enumerate(kept):
            last = i == len(kept) - 1
            target = dst if last and not guarded and dst not in outs.values() else self.fresh()
            self.space = saved
            chans[id(branch)], outs[id(branch)] = self.body(branch.body, ch, cur, target, init, fwd, pad)
            spaces[id(branch)] = self.space

        def merged(keys):
            shapes = [(chans[k], *spaces[k]) for k in keys]
            out = self.out_channels(item, args, shapes)
            self.advance(item, args, shapes)
            return out, self.space
        if not guarded:
            self.nested -= 1
            order = [id(b) for b in branches]
            out_ch, _ = merged(order)
            fwd.append(f"        {dst} = {item.spec.forward(args, [outs[k] for k in order])}")
            return out_ch, dst
        (g,) = guarded
        g_init, g_fwd = [], []
        self.space = saved
        g_ch, g_var = self.body(g.body, ch, cur, self.fresh(), g_init, g_fwd, pad + 4)
        spaces[id(g)] = self.space
        self.nested -= 1
        mods = [self.names[id(c.item)] for c in self.scope_children(g.body)]
        if mods:
            test = f"self.{require_attribute(mods[0])} is not None"
            init.append(f"{ip}if {g.guard.text}:")
            init.extend(g_init)
            init.append(f"{ip}else:")
            init.extend(f"{ip}    self.{require_attribute(m)} = None" for m in mods)
        else:
            flag = self.flag_name(g)
            init.append(f"{ip}self.{flag} = {g.guard.text}")
            test = f"self.{flag}"
        order = [id(b) for b in branches]
        outs[id(g)], chans[id(g)] = g_var, g_ch
        every, every_space = merged(order)
        rest = [k for k in order if k != id(g)]
        fwd.append(f"        if {test}:")
        fwd.extend("    " + line for line in g_fwd)
        fwd.append(f"            {dst} = {item.spec.forward(args, [outs[k] for k in order])}")
        fwd.append("        else:")
        if len(rest) == 1:
            fewer, fewer_space = chans[rest[0]], spaces[rest[0]]
            fwd.append(f"            {dst} = {outs[rest[0]]}" if outs[rest[0]] != dst else "            pass")
        else:
            fewer, fewer_space = merged(rest)
            fwd.append(f"            {dst} = {item.spec.forward(args, [outs[k] for k in rest])}")
        self.space = self.join_space(every_space, fewer_space)
        return _either(g.guard, every, fewer), dst

    def flag_name(self, branch: T.Branch) -> str:
        """The attribute that tells forward whether a branch without modules is merged:
        `use_identity`, as torchvision's MobileNetV2 has `use_res_connect`."""
        first = branch.body[0] if branch.body else None
        word = first.spec.name if isinstance(first, T.Layer) else "input"
        flag = f"use_{word}"
        if flag in self.names.values() or flag in self.flags or namespace.module_name_problem(flag) \
                or not is_identifier(flag):
            raise NotSymbolic(f"no free attribute name for the condition of a `{word}` branch")
        self.flags.add(flag)
        return flag

    def if_item(self, item: T.If, ch, cur, dst, init, fwd, pad):
        if item.test.constant:      # decided by the spec alone
            return self.body(item.then if item.test.value else item.orelse, ch, cur, dst, init, fwd, pad)
        ip = " " * pad
        arms, saved, spaces = [], self.space, []
        self.nested += 1
        for body in (item.then, item.orelse):
            a_init, a_fwd = [], []
            self.space = saved
            a_ch, a_cur = self.body(body, ch, cur, dst, a_init, a_fwd, pad + 4)
            spaces.append(self.space)
            mods = [self.names[id(c.item)] for c in self.scope_children(body)]
            arms.append((a_init, a_fwd, a_ch, a_cur, mods))
        self.nested -= 1
        self.space = self.join_space(*spaces)
        (t_init, t_fwd, t_ch, t_cur, t_mods), (e_init, e_fwd, e_ch, _, e_mods) = arms
        t_ch = _either(item.test, t_ch, e_ch)
        for mine, theirs, other_init in ((t_mods, e_mods, e_init), (e_mods, t_mods, t_init)):
            for name in mine:
                if name not in theirs:
                    other_init.append(f"{ip}    self.{require_attribute(name)} = None")
        init.append(f"{ip}if {item.test.text}:")
        init.extend(t_init or [f"{ip}    pass"])
        if e_init:
            init.append(f"{ip}else:")
            init.extend(e_init)
        if t_fwd == e_fwd:          # the same forward either way (`activation` is one module or another)
            fwd.extend(t_fwd)
            return t_ch, t_cur
        if t_fwd and e_fwd:
            self.both_arms(item, arms, dst, fwd)
            return t_ch, dst
        present, body_fwd = (t_mods, t_fwd) if t_fwd else (e_mods, e_fwd)
        if not present:
            raise NotSymbolic("an `if` arm computes without a module forward could test")
        if cur != dst:              # torchvision's `identity = x; if self.downsample is not None: ...`
            fwd.append(f"        {dst} = {cur}")
        fwd.append(f"        if self.{require_attribute(present[0])} is not None:")
        fwd.extend("    " + line for line in body_fwd)
        return t_ch, dst

    def both_arms(self, item: T.If, arms, dst, fwd):
        """An `if` whose arms compute different things in forward (ShuffleNetV2's unit:
        chunk at stride 1, branch1 otherwise): forward tests a module only one arm
        builds, as torchvision tests `self.stride`."""
        (_, t_fwd, _, t_cur, t_mods), (_, e_fwd, _, e_cur, e_mods) = arms
        for (a_fwd, a_cur, mine), (b_fwd, b_cur, theirs) in (((t_fwd, t_cur, t_mods), (e_fwd, e_cur, e_mods)),
                                                            ((e_fwd, e_cur, e_mods), (t_fwd, t_cur, t_mods))):
            sure = {self.names[id(c.item)] for c in self.scope_children(item.then if mine is t_mods else item.orelse)
                    if not c.conditional}       # (not one built only under a condition inside the arm)
            only = [name for name in mine if name not in theirs and name in sure]
            if not only:
                continue
            fwd.append(f"        if self.{require_attribute(only[0])} is not None:")
            fwd.extend("    " + line for line in a_fwd)
            if a_cur != dst:
                fwd.append(f"            {dst} = {a_cur}")
            fwd.append("        else:")
            fwd.extend("    " + line for line in b_fwd)
            if b_cur != dst:
                fwd.append(f"            {dst} = {b_cur}")
            return
        raise NotSymbolic("both arms of an `if` compute something different in forward, with the same modules")

    # ---- the class
    def write(self) -> Translation:
        t = self.t
        sig = self.w.signatures[t.name]
        params = [f"self, {require_argument(t.in_channels)}"]
        seen_default, kw_only = False, False
        for p in sig.params:
            name = require_argument(p.name)
            if p.default is not NO_DEFAULT:
                params.append(f"{name}={literal(p.default)}")
                seen_default = True
            else:
                params.append(name)
                kw_only = kw_only or seen_default
        if kw_only:
            raise NotSymbolic("a required parameter after one with a default")
        ch0 = Sym(t.in_channels)
        init = []
        if t.sequential:
            base = "nn.Sequential"
            out, init = self.sequential_init(ch0)
            fwd = []
        else:
            base = "nn.Module"
            self.name_scope(t.body)
            init = ["        super().__init__()"]
            fwd = []
            out, result = self.body(t.body, ch0, "x", "x", init, fwd, 8)
            fwd = ["", "    def forward(self, x):", *fwd, f"        return {result}"]
        sig_text = ", ".join(params)
        head = [f"class {class_placeholder(t.name)}({base}):",
                f'    """The block {docstring(t.name)} for any values of its parameters; `{t.in_channels}`: '
                f'the input\'s channels."""',
                "", f"    def __init__({sig_text}):"]
        out_text = self.close(text_of(out))
        # (channels read from a module of this class, `self.first.out_channels`, are exposed too)
        exposes = out_text is None or "self" in _names(out_text)
        if exposes:
            init.append(self.expose(out))
        source = "\n".join(head + init + fwd) + "\n"     # wrapped once the names are in (Writer.commit)
        tr = Translation(t, source, text_of(out) if out_text is None else out_text, self.lets, self.helpers,
                         self.xavier, t.functions, self.uses, self.ordered, self.all_loop_vars, len(self.space) + 1)
        tr.exposes = exposes
        return tr

    def expose(self, out) -> str:
        """Output channels that come out of a loop over the values (a `for` over a channel
        table): the class keeps them as `self.out_channels`, as torchvision's
        Conv2dNormActivation does, and a class using it reads them there."""
        if "out_channels" in self.names.values() or "out_channels" in self.flags:
            raise NotSymbolic("its output channels come out of a loop, and `out_channels` names a module")
        return f"        self.out_channels = {text_of(out)}"

    def write_network(self) -> Translation:
        """A network's class: its parameters with the values compiled for as defaults, and,
        when a layer's constructor needs the input's sizes (a linear after flatten),
        `input_size` too, from which __init__ computes the sizes layer by layer."""
        t, opts = self.t, self.network
        params = ["self"]
        for p in self.w.signatures[t.name].params:
            if p.name not in opts.values:
                raise NotSymbolic(f"no value for `{p.name}`")
            params.append(f"{require_argument(p.name)}={literal(opts.values[p.name])}")
        init = ["        super().__init__()"]
        if opts.sizes is None:
            ch0 = opts.input[0]
        else:
            channels, *sizes = opts.locals
            params.append(f"{require_argument(opts.input_size)}={literal(tuple(opts.input))}")
            init += [f"        self.input_size = tuple({opts.input_size})",
                     f"        {', '.join([channels, *sizes])} = self.input_size"]
            ch0 = Sym(channels)
            self.space = tuple(Sym(n) for n in sizes)
        self.name_scope(t.body)
        mine = set(self.names.values())
        if any(name not in mine for name in opts.shapes):
            raise NotSymbolic("its modules would not have the names elaboration gives")
        fwd = []
        setup = len(init)
        _, result = self.body(t.body, ch0, "x", "x", init, fwd, 8)
        fwd = [self.shape_comment(line) for line in fwd]
        if _reads(init[setup:], t.in_channels):
            self.settled = [(i + 1 if i >= setup else i, name) for i, name in self.settled]
            init.insert(setup, f"        {require_argument(t.in_channels)} = {text_of(ch0)}")   # `in.c`
        init = self.drop_unread(init)
        init += opts.init_lines
        check = []
        if opts.sizes is not None:
            # the message torch._assert gives: a constant of the class as built (TorchScript,
            # torch.fx and export take a str attribute)
            built = namespace.fresh_local("built", {*t.params, *opts.locals, opts.input_size})
            message = (f"{require_class(t.name)} was built for {{{built}}} inputs: "
                       "rebuild with input_size=(C, H, W) for another size")
            init += [f"        {built} = 'x'.join(map(str, self.input_size))",
                     # an f-string of the class name (an identifier), the local and fixed words: nothing
                     # in it is a brace or a quote but the one placeholder
                     f"        self.input_message = f{literal(message)}"]
            tests = " & ".join(f"(x.shape[{i + 2}] == self.input_size[{i + 1}])" for i in range(len(opts.sizes)))
            check = [f"        torch._assert({tests}, self.input_message)"]
        head = [f"class {class_placeholder(t.name)}(nn.Module):",
                f'    """{opts.doc}"""', "", f"    def __init__({', '.join(params)}):"]
        fwd = ["", "    def forward(self, x):", *check, *fwd, f"        return {result}"]
        source = "\n".join(head + init + fwd) + "\n"
        return Translation(t, source, "", self.lets, self.helpers, self.xavier,
                           t.functions, self.uses, self.ordered, self.all_loop_vars, len(self.space) + 1)

    def shape_comment(self, line: str) -> str:
        """`x = self.conv1(x)  # [64, 112, 112]`: the shape at the declared input (the
        network's own modules; a line inside an `if` keeps none)."""
        m = re.match(r"        \w+ = self\.(\w+)\(", line)
        shape = self.network.shapes.get(m.group(1)) if m else None
        return f"{line}  # [{', '.join(map(str, shape))}]" if shape is not None else line

    def drop_unread(self, init: list) -> list:
        """Without the `h = ...` lines whose value nothing reads (after the last layer that
        needs the sizes, or after an adaptive pool)."""
        drop = set()
        marks = {i: name for i, name in self.settled}
        for i, name in self.settled:
            word = re.compile(rf"\b{re.escape(name)}\b")
            read = False
            for j in range(i + 1, len(init)):
                text = init[j].split("=", 1)[1] if j in marks else init[j]
                if word.search(text):
                    read = True
                    break
                if marks.get(j) == name:
                    break
            if not read:
                drop.add(i)
        return [line for i, line in enumerate(init) if i not in drop]

    def sequential_init(self, ch):
        """A `sequential block`: an nn.Sequential subclass whose items are built in
        order, those under a condition appended when it holds."""
        lines = []
        ch, args = self.numbered(self.t.body, ch, 8, lines, top=True)
        return ch, lines + [f"        super().__init__({args})"]

    def layers_name(self) -> str:
        t = self.t
        return namespace.fresh_local("layers", {*t.params, t.in_channels, *(f.name for f in t.functions),
                                                *(i.name for i in t.body if isinstance(i, T.Let)),
                                                *loop_names(t.body)})

    def numbered(self, items, ch, pad: int, lines: list, top: bool = False):
        """The arguments of nn.Sequential for a numbered scope's items; -> (channels, text).
        Items under a condition are appended to a list built first (lines written to `lines`)."""
        ip = " " * pad
        parts, conditional = [], False
        for item in items:
            if isinstance(item, T.Assert):
                lines.extend(_assertion(item, ip))
                continue
            if isinstance(item, T.Let):
                if not top:
                    raise NotSymbolic("a `let` inside a sequence")
                lines.append(f"{ip}{require_argument(item.name)} = {item.value.text}")
                self.lets.append((item.name, item.value.text))
                continue
            for sub in self.numbered_items((item,)):
                if isinstance(sub, T.If) and sub.test.constant:
                    sub = T.Sequence(None, sub.then if sub.test.value else sub.orelse)
                    for inner in self.numbered_items((sub,)):
                        if isinstance(inner, T.If):
                            raise NotSymbolic("nested conditions in a sequence")
                        ctor, ch = self.module_ctor(inner, ch)
                        parts.append((None, inner.label, ctor))
                elif isinstance(sub, T.If):
                    conditional = True
                    ch = self.conditional_items(sub, ch, parts)
                elif isinstance(sub, (T.Repeat, T.For)):
                    conditional = True
                    ch = self.loop_items(sub, ch, parts)
                else:
                    ctor, ch = self.module_ctor(sub, ch)
                    parts.append((None, sub.label, ctor))
                    if ch is EXPOSED:       # read from the module just appended
                        conditional = True
                        var = self.loop_local()
                        self.closed[var] = None
                        parts.append((_LAST, None, var))
                        ch = Sym(var)
        if not conditional:
            return ch, self.numbered_args([p[1:] for p in parts])
        named = any(p[1] is not None for p in parts if p[0] is None) or \
            any(name is not None for p in parts if p[0] is not None and p[0] is not _LOOP and p[0] is not _LAST
                for arm in p[2] for name, _ in arm)
        if named and any(p[0] is None and p[1] is None and any(q[0] is not None for q in parts[:i])
                         for i, p in enumerate(parts)):
            raise NotSymbolic("an unnamed module after a condition among named ones: its index depends on it")

        def entry(i, name, ctor):
            if not named:
                return ctor
            self.ordered = True
            return f"({literal(require_attribute(name if name is not None else str(i)))}, {ctor})"
        layers = self.layers_name()
        lines.append(f"{ip}{layers} = []")
        for i, part in enumerate(parts):
            if part[0] is _LOOP:
                if named:
                    raise NotSymbolic("a loop among named modules")
                lines += part[2].lines(ip, layers)
            elif part[0] is _LAST:
                if named:
                    raise NotSymbolic("a block whose output channels come out of a loop, among named modules")
                lines.append(f"{ip}{part[2]} = {layers}[-1].out_channels")
            elif part[0] is not None:      # an if / else
                test, arms = part[0], part[2]
                lines.append(f"{ip}if {test}:")
                lines += [f"{ip}    {layers}.append({entry(i, n, c)})" for n, c in arms[0]] or [f"{ip}    pass"]
                if arms[1]:
                    lines.append(f"{ip}else:")
                    lines += [f"{ip}    {layers}.append({entry(i, n, c)})" for n, c in arms[1]]
            else:
                lines.append(f"{ip}{layers}.append({entry(i, part[1], part[2])})")
        return ch, f"OrderedDict({layers})" if named else f"*{layers}"

    def loop_items(self, item, ch, parts):
        """`repeat n { ... }` or `for ... in xs { ... }` in a numbered scope: a Python loop
        appending its items. The channels entering each iteration are a local
        (`channels`) the loop updates at the end of its body, so that zero iterations
        leave them as they were; loops inside it share that local."""
        loop, c = self.loop(item, ch)
        parts.append((_LOOP, None, loop))
        return c

    def loop_local(self) -> str:
        if self.loop_var is None:
            t = self.t
            taken = {*t.params, t.in_channels, *(f.name for f in t.functions),
                     *(i.name for i in t.body if isinstance(i, T.Let)), self.layers_name(), *loop_names(t.body)}
            if self.network is not None and self.network.locals is not None:
                taken |= {*self.network.locals, self.network.input_size}
            self.loop_var = namespace.fresh_local("channels", taken)
        return self.loop_var

    def close(self, text: str | None):
        """Channels written in __init__, in the class's own names: the loop local replaced
        by what it holds after the loops written so far; None when that depends on them."""
        var = self.loop_var
        if text is None or var is None or var not in _names(text):
            return text
        held = self.closed.get(var)
        return None if held is None else substitute(text, {var: held})

    def loop(self, item, ch):
        """-> (_Loop, the channels after it: the loop local). Also settles what the local
        holds after the loop in the class's own names (self.closed): when the body's
        output channels do not depend on those entering it, `end if runs else start`
        (`end` when the two agree), so that no loop variable leaks out of the class."""
        var = self.loop_local()
        self.all_loop_vars.add(var)
        start = text_of(ch)
        start_closed = self.close(start)
        if isinstance(item, T.Repeat):
            bound = {item.index} if item.index else set()
            header = f"for {item.index or '_'} in range({item.count.text})"
            runs = f"({item.count.text}) > 0"
            known = item.count.value > 0 if item.count.constant else None
        else:
            bound = set(item.targets) - {"_"}
            for name in bound:
                require_argument(name)
            targets = ", ".join(item.targets)
            if item.destructure:
                targets = f"({targets},)" if len(item.targets) == 1 else targets
            header = f"for {targets} in {item.iterable.text}"
            runs = f"len({item.iterable.text}) > 0"
            known = len(item.iterable.value) > 0 if item.iterable.constant else None
        self.closed[var] = var          # in the body: the channels entering the iteration
        entries, c = [], Sym(var)
        # each iteration starts where the last ended: the sizes are not followed through loops
        self.space = (SPATIAL,) * len(self.space)
        self.nested += 1
        for sub in self.numbered_items(item.body):
            if isinstance(sub, (T.Repeat, T.For)):
                inner, c = self.loop(sub, c)
                entries.append(inner)
                continue
            if isinstance(sub, T.If) or sub.label is not None:
                raise NotSymbolic("a condition or a named module inside a loop")
            ctor, c = self.module_ctor(sub, c)
            entries.append(ctor)
            if c is EXPOSED:
                entries.append(_LAST)
                c = Sym(var)
                self.closed[var] = None
        self.nested -= 1
        self.space = (SPATIAL,) * len(self.space)
        end = text_of(c)
        end_closed = self.close(end)
        if end_closed is None or _names(end_closed) & (bound | {var}):
            closed = start_closed if end_closed == var else None      # (a body that keeps the channels)
        elif known is True or end_closed == start_closed:
            closed = end_closed
        elif known is False:
            closed = start_closed
        elif start_closed is None:
            closed = None
        else:
            closed = ast.unparse(ast.parse(f"({end_closed}) if {runs} else ({start_closed})", mode="eval"))
        self.closed[var] = closed
        return _Loop(header, var, None if start == var else start, entries, None if end == var else end), Sym(var)

    def conditional_items(self, item: T.If, ch, parts):
        arms, chans, saved, spaces = [], [], self.space, []
        self.nested += 1
        for body in (item.then, item.orelse):
            c, ctors = ch, []
            self.space = saved
            for sub in self.numbered_items(body):
                if isinstance(sub, T.If):
                    raise NotSymbolic("nested conditions in a sequential block")
                ctor, c = self.module_ctor(sub, c)
                ctors.append((sub.label, ctor))
            arms.append(ctors)
            chans.append(c)
            spaces.append(self.space)
        self.nested -= 1
        self.space = self.join_space(*spaces)
        parts.append((item.test.text, None, arms))
        return _either(item.test, chans[0], chans[1])


LINE = 120      # the project's line length (pyproject.toml): longer calls are broken as ruff format does


def wrap(line: str, limit: int = LINE) -> list[str]:
    """A line whose last bracketed call is too long, broken as `ruff format` breaks it:
    the arguments on one indented line if they fit there, else one per line with a
    trailing comma, each broken the same way. Commas and brackets are found with
    Python's tokenizer, so a string argument is never split."""
    suffix = ":" if line.endswith("):") else ""     # a `def` line
    if len(line) <= limit or not line.endswith(")" + suffix):
        return [line]
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line).readline))
    except (tokenize.TokenError, SyntaxError):
        return [line]
    depth, start, commas = 0, None, []
    for tok in tokens:
        if tok.type != tokenize.OP:
            continue
        if tok.string in "([{":
            depth += 1
            if depth == 1 and start is None:
                start = tok.end[1]
        elif tok.string in ")]}":
            depth -= 1
        elif tok.string == "," and depth == 1:
            commas.append(tok.start[1])
    if start is None or depth != 0:
        return [line]
    end = len(line) - 1 - len(suffix)
    if line[start - 1] != "(" or not _closes_at(tokens, start, end):
        return [line]
    pad = " " * (len(line) - len(line.lstrip()))
    inner = line[start:end].strip()
    if len(pad) + 4 + len(inner) <= limit:
        return [line[:start], f"{pad}    {inner}", f"{pad}){suffix}"]
    pieces, last = [], start
    for c in commas:
        pieces.append(line[last:c].strip())
        last = c + 1
    pieces.append(line[last:end].strip())
    out = [line[:start]]
    for piece in filter(None, pieces):
        out += wrap(f"{pad}    {piece},", limit) if not piece.endswith(")") else \
            _with_comma(wrap(f"{pad}    {piece}", limit))
    return out + [f"{pad}){suffix}"]


def _with_comma(lines: list[str]) -> list[str]:
    return lines[:-1] + [lines[-1] + ","]


def _closes_at(tokens, start: int, end: int) -> bool:
    """The bracket opened just before column `start` is the one closed at column `end`."""
    depth = 0
    for tok in tokens:
        if tok.type != tokenize.OP or tok.start[1] < start - 1:
            continue
        if tok.string in "([{":
            depth += 1
        elif tok.string in ")]}":
            depth -= 1
            if depth == 0:
                return tok.start[1] == end
    return False


_LOOP = object()        # marks a loop among a numbered scope's parts
_LAST = object()        # marks `channels = layers[-1].out_channels` there (_Class.expose)


class _Exposed:
    """The output channels of a block use that keeps them as `self.out_channels`: the
    caller reads them from the module it stores; anything else refuses."""
    __slots__ = ()
    __bool__ = __index__ = __int__ = __float__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __hash__ = __iter__ = __len__ = __getitem__ = __pow__ = __rpow__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __floordiv__ = __rfloordiv__ = _refuse
    __truediv__ = __rtruediv__ = __mod__ = __rmod__ = __neg__ = _refuse


EXPOSED = _Exposed()


class _Loop:
    """A loop of a numbered scope as written: its `for` line, the channels local, the
    value it takes before the loop (None: it holds it already), the body (constructors
    appended, and inner _Loops) and the value it takes at the end of each iteration."""

    def __init__(self, header, var, start, body, end):
        self.header, self.var, self.start, self.body, self.end = header, var, start, body, end

    def lines(self, ip: str, layers: str) -> list[str]:
        out = [f"{ip}{self.var} = {self.start}"] if self.start is not None else []
        out.append(f"{ip}{self.header}:")
        for entry in self.body:
            if entry is _LAST:
                out.append(f"{ip}    {self.var} = {layers}[-1].out_channels")
                continue
            out += entry.lines(ip + "    ", layers) if isinstance(entry, _Loop) else \
                [f"{ip}    {layers}.append({entry})"]
        if self.end is not None:
            out.append(f"{ip}    {self.var} = {self.end}")
        if len(out) == 1 + (self.start is not None):
            out.append(f"{ip}    pass")
        return out


def _names(text: str) -> set:
    """The names a Python expression reads (parsed, never run)."""
    return {n.id for n in ast.walk(ast.parse(text, mode="eval")) if isinstance(n, ast.Name)}


def loop_names(items) -> set:
    """The names loops bind anywhere in a template body (`for` targets, `repeat` counters):
    a local generated code introduces must not take one."""
    out = set()
    for item in items:
        if isinstance(item, T.For):
            out |= set(item.targets)
        elif isinstance(item, T.Repeat) and item.index:
            out.add(item.index)
        for sub in (getattr(item, "body", None), getattr(item, "then", None), getattr(item, "orelse", None)):
            if isinstance(sub, tuple):
                out |= loop_names(sub)
        for b in getattr(item, "branches", None) or ():
            out |= loop_names(b.body)
    return out


def _assertion(item: T.Assert, ip: str) -> list[str]:
    """`assert` as the constructor's check: the spec's message in a ValueError."""
    if item.test.constant:
        if item.test.value is True:
            return []
        raise NotSymbolic("an `assert` that always fails")
    test = item.test.text if _level(item.test.text) >= _NOT else f"({item.test.text})"
    message = literal(item.message if item.message is not None else "assertion failed")
    return [f"{ip}if not {test}:", f"{ip}    raise ValueError({message})"]


def _either(test: T.Expr, then, orelse):
    """The channels after an `if`: the arms' when they agree, else chosen as the test
    chooses (a merge after it mostly reads another branch's: ResNet's downsample)."""
    if text_of(then) == text_of(orelse):
        return then
    if _implies_equal(test.text, text_of(then), text_of(orelse)):
        return orelse
    return Sym(f"{_operand(then, _OR)} if {test.text if _level(test.text) >= _OR else f'({test.text})'} "
               f"else {_operand(orelse, _COND)}", _COND)


def _implies_equal(test: str, a: str, b: str) -> bool:
    """Whether `test` holding means a == b: one of its `and`-ed terms is `a == b` (MobileNetV2's
    `stride == 1 and in_channels == out` choosing between in_channels and out), so that
    `a if test else b` is b whatever the test gives."""
    node = ast.parse(test, mode="eval").body
    terms = node.values if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And) else [node]
    pair = {ast.unparse(ast.parse(a, mode="eval")), ast.unparse(ast.parse(b, mode="eval"))}
    return any(isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq)
               and {ast.unparse(t.left), ast.unparse(t.comparators[0])} == pair for t in terms)


def class_placeholder(definition: str) -> str:
    """Where a class name goes before the file has chosen it; NUL cannot occur in what
    else is written (literal() escapes control characters)."""
    return f"\x00class:{definition}\x00"


def helper_placeholder(cls: str) -> str:
    return f"\x00helper:{cls}\x00"


def docstring(text: str) -> str:
    return "".join(c if c.isprintable() and c not in '\\"' else "?" for c in text)


def _reads(lines: list, name: str) -> bool:
    """Whether __init__ lines (statements at one indentation) read the local `name`: parsed
    with Python's ast, so that a keyword `in_channels=` is no read."""
    text = re.sub("\x00[^\x00]*\x00", "placeholder", "\n".join(line[8:] for line in lines))    # class names
    tree = ast.parse(text or "pass")
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(tree))


class NetworkOptions:
    """What a network class needs beyond its template: `values` (parameter -> the value
    compiled for, its default), `input` (the input shape compiled for: the declared one
    or `--input`'s), `doc`, `init_lines` (weight initialisation), `shapes`
    (the name of each module of the network's own scope -> its output shape at the
    declared input, for forward's comments; the names elaboration gave), and for a
    class that takes `input_size`: the name of that parameter and `locals` (channels,
    then the sizes: `channels, h, w`); `sizes` is None for a class that needs no sizes."""

    def __init__(self, values, doc, init_lines, shapes, input, input_size=None, locals_=None):
        self.values, self.doc, self.init_lines, self.shapes, self.input = values, doc, init_lines, shapes, input
        self.input_size, self.locals = input_size, locals_
        self.sizes = tuple(locals_[1:]) if locals_ is not None else None


def translate_network(writer, template: T.Template, values: dict, doc: str, init_lines: list,
                      shapes: dict, input_shape: tuple) -> Translation:
    """The parametric class of a network: without sizes if it needs none, else taking
    `input_size`; raises NotSymbolic when neither can be written."""
    rank = len(input_shape)
    try:
        return _Class(writer, template, rank, NetworkOptions(values, doc, init_lines, shapes, input_shape)).write_network()
    except Untranslatable as e:
        first = NotSymbolic(str(e))
    except NotSymbolic as e:
        first = e
    if rank < 2:
        raise first
    taken = {*template.params, *(f.name for f in template.functions),
             *(i.name for i in template.body if isinstance(i, T.Let)), *loop_names(template.body)}
    input_size = namespace.fresh_local("input_size", taken)
    names = []
    for word in ("channels", *(("h", "w") if rank == 3 else ("length",) if rank == 2 else
                               tuple(f"size{i}" for i in range(1, rank)))):
        names.append(namespace.fresh_local(word, taken | {input_size, *names}))
    try:
        return _Class(writer, template, rank, NetworkOptions(values, doc, init_lines, shapes, input_shape,
                                                                input_size, names)) \
            .write_network()
    except Untranslatable as e:
        raise NotSymbolic(str(e)) from None


def translate(writer, template: T.Template, rank: int) -> Translation:
    """The class for `template`; raises NotSymbolic (or Untranslatable) when it has none."""
    try:
        tr = _Class(writer, template, rank).write()
    except Untranslatable as e:
        raise NotSymbolic(str(e)) from None
    tr.in_rank = rank
    return tr
