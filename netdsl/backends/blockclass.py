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
- `@name`s are forward's locals (flow_item): a named tensor something refers to
  is written to a local of its name, `@name` continues from it, a layer taking a
  tensor (`center_crop(@up4)`) is passed it and reads its size at run time, and
  `@in` keeps `x` as the input. Lines no output reads are left out (_without_dead).
- `repeat` and `for` in a numbered scope become Python loops appending to a list;
  the channels entering each iteration live in one local, updated at the end of
  the body. What it holds after the loops is followed in the class's own names
  (`_Class.close`) so that a class's output channels never name it; where they
  depend on the loop's values the class keeps them as `self.out_channels`.
- A loop among attribute modules whose items the loop names (ShuffleNetV2's
  `"stage{s + 2}"`) is `setattr` in __init__ and `getattr` in forward (attr_loop); a
  named merge's loop-made branches are appended to its ModuleList (looped_merge); a
  named sequence whose items' outputs are referred to is run item by item (open_sequence).

Everything written is either a validated name, a literal (pysource.literal), an
expression pysource.py wrote, or text built here from those.
"""
from __future__ import annotations

import ast
import keyword
import re
import tokenize
from types import SimpleNamespace

from .. import namespace
from ..catalogue import TypeMismatch
from ..catalogue.spec import TensorRef
from ..ir import NO_DEFAULT
from ..ir import template as T
from ..namespace import NameRefused, is_identifier, require_argument, require_attribute, require_class, snake_case
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
    return _node_level(ast.parse(text, mode="eval").body)


def _node_level(node) -> int:
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
    value = _int_arithmetic(ast.parse(text, mode="eval").body)
    return value if value is not None else Sym(text)


_INT_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
            ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b}


def _int_arithmetic(node):
    """The value of integer arithmetic on integer literals (`(64 + 6 * 32) // 2`: DenseNet's
    channels after a block use with constant arguments), computed from the parsed tree and
    never run; None for anything else, and where it would divide by zero."""
    if isinstance(node, ast.Constant):
        return node.value if type(node.value) is int else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _int_arithmetic(node.operand)
        return None if v is None else -v
    if isinstance(node, ast.BinOp) and type(node.op) in _INT_OPS:
        a, b = _int_arithmetic(node.left), _int_arithmetic(node.right)
        if a is None or b is None or (b == 0 and type(node.op) in (ast.FloorDiv, ast.Mod)):
            return None
        if max(abs(a), abs(b)) > 1 << 62:       # channel counts: nothing this large is worth folding
            return None
        return _INT_OPS[type(node.op)](a, b)
    return None


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


class _Opaque:
    """A stand-in for a value only the built class has: everything that would need the
    value (truth, comparison, indexing, arithmetic) refuses. Subclasses allow some."""
    __slots__ = ()
    __bool__ = __index__ = __int__ = __float__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __hash__ = __iter__ = __len__ = __getitem__ = __pow__ = __rpow__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __floordiv__ = __rfloordiv__ = _refuse
    __truediv__ = __rtruediv__ = __mod__ = __rmod__ = __neg__ = _refuse


class Spatial(_Opaque):
    """A height or width the class does not know (a block's; a network's after a block
    use): arithmetic on it gives another unknown size (a window formula on it), and
    anything else that needs its value refuses (writing it, comparing it)."""
    __slots__ = ()
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __floordiv__ = __rfloordiv__ = _unknown
    __truediv__ = __rtruediv__ = __mod__ = __rmod__ = __neg__ = _unknown


SPATIAL = Spatial()


def text_of(v) -> str:
    if isinstance(v, Spatial) or (type(v) is tuple and any(isinstance(x, Spatial) for x in v)):
        raise NotSymbolic("a layer needs the height or width of its input, which the class does not take")
    if type(v) is tuple and any(isinstance(x, Sym) for x in v):     # LayerNorm's `normalized_shape=(dim,)`
        return f"({', '.join(map(text_of, v))}{',' if len(v) == 1 else ''})"
    return v.text if isinstance(v, Sym) else literal(v)


def substitute(text: str, mapping: dict) -> str:
    """`text` with each name of `mapping` replaced by that expression (parsed and
    unparsed with Python's own ast: never run). Names outside the mapping stay (the
    builtins and module-level functions); used to write an inner block's output
    channels in the words of the class that uses it."""
    return ast.unparse(_Swap(mapping).visit(ast.parse(text, mode="eval")))


def fold(text: str) -> str:
    """`text` with each `a if test else b` whose test compares literals replaced by the arm
    it chooses: an inner block's output channels with constant arguments
    (`out // 2 + out // 2`, not `... if 2 == 1 else out // 2 + out // 2`). The test is
    decided here from the parsed literals, never run."""
    if " if " not in text:
        return text
    return ast.unparse(_Fold().visit(ast.parse(text, mode="eval")))


def outer_channels(text: str, mapping: dict):
    """An inner block's output channels `text` in the words of the class using it:
    substituted, folded and, for arithmetic on literals, computed (symbolic(fold(
    substitute(...))) with one parse: this runs for every block use)."""
    tree = _Fold().visit(_Swap(mapping).visit(ast.parse(text, mode="eval")))
    value = _int_arithmetic(tree.body)
    return value if value is not None else Sym(ast.unparse(tree), _node_level(tree.body))


class _Swap(ast.NodeTransformer):
    def __init__(self, mapping: dict):
        self.mapping = mapping

    def visit_Name(self, node):
        text = self.mapping.get(node.id)
        return node if text is None else ast.parse(f"({text})", mode="eval").body


class _Fold(ast.NodeTransformer):
    def visit_IfExp(self, node):
        self.generic_visit(node)
        test = _decide(node.test)
        return node if test is None else (node.body if test else node.orelse)


_COMPARE = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
            ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b}


def _decide(node):
    """True or False for a test of literals (ints, floats, bools: comparisons, and, or,
    not; strings compared for equality; `is None`), else None."""
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
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        a, b = node.left, node.comparators[0]
        op = type(node.ops[0])
        if not all(isinstance(x, ast.Constant) for x in (a, b)):
            return None
        if op in (ast.Is, ast.IsNot) and None in (a.value, b.value):    # `None is None`: a default passed on
            return (a.value is b.value) == (op is ast.Is)
        numbers = all(type(x.value) in (int, float) for x in (a, b))
        strings = all(type(x.value) is str for x in (a, b))
        if op in _COMPARE and (numbers or (strings and op in (ast.Eq, ast.NotEq))):
            return _COMPARE[op](a.value, b.value)
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
        if isinstance(e, T.TensorArg):
            values[p.name] = e          # numbered below, in the order elaboration numbers inputs
        elif e.constant:
            try:
                values[p.name] = p.type.coerce(e.value)
            except TypeMismatch:
                raise NotSymbolic(f"`{p.name}` does not take {e.text}") from None
        else:
            values[p.name] = Sym(e.text)
    refs = 0
    for p in spec.params:
        if isinstance(values.get(p.name), T.TensorArg):
            refs += 1
            values[p.name] = TensorRef(refs, f"@{values[p.name].name}")
        if p.name not in values:
            if p.required:
                raise NotSymbolic(f"`{spec.name}` needs `{p.name}`")
            values[p.name] = p.type.coerce(p.default) if p.default is not None else None
    return SimpleNamespace(**values)


def _tensor_refs(args) -> list:
    """The names of the tensors a bound layer takes as arguments, as its inputs 1, 2, ..."""
    refs = sorted((v.index, v.text[1:]) for v in vars(args).values() if isinstance(v, TensorRef))
    return [name for _, name in refs]


class _Mark:
    """A network's `if` without `else`, in forward's lines: marker lines before it and at the
    end of its arm, replaced by result_lines (or dropped) once the `return`s are known."""

    def __init__(self, key: int, held: frozenset):
        self.key = key
        self.held = held        # the locals forward holds before the `if`

    def line(self, where: str) -> str:
        return f"        \0{where} {self.key}"


class _Guarded(SimpleNamespace):
    """A tensor named in a network's `if` arm without `else`: its local, the `if`'s test
    and its _Mark."""

    def __init__(self, var: str, test: str, mark: _Mark):
        super().__init__(var=var, test=test, mark=mark)


def _same_test(a: str, b: str) -> bool:
    """Whether two conditions are the same expression (spacing and brackets aside)."""
    try:
        return ast.dump(ast.parse(a, mode="eval")) == ast.dump(ast.parse(b, mode="eval"))
    except SyntaxError:
        return False


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
        self.facts: list = []       # tests known to hold where the writing is (lets, asserts, `if` arms)
        self.var_count = 0
        self.names: dict = {}        # id(item) -> its module name
        self.ordered = False         # it writes an OrderedDict
        self.flags: set = set()      # the bool attributes forward tests (flag_name)
        self.loop_vars: set = set()  # the channel locals of the loops being written
        self.all_loop_vars: set = set()
        self.size_checked = False    # a network class's forward checks its input size (size_check)
        # `@name`s: the tensors the body refers to, and those forward holds in a local so far
        # (name -> (local, channels, sizes)); the labelled items being written to their local
        self.referenced: set = _referenced(template.body)
        self.tensors: dict = {}
        self.flowing: set = set()
        self.dangling = False        # after an `if` whose arms end in tensors of other ranks: until `@name`
        self.outputs: list = []      # a network's `return(...)`s: (T.Output, [(name, local), ...])
        self.loop_var: str | None = None     # the local holding the channels entering a loop
        self.closed: dict = {}       # loop local -> what it holds in the class's own names, or None
        self.attr_loops: dict = {}   # id(loop) -> for a loop making attributes: the list naming them, or None
        self.dropped: dict = {}      # the tensors named in the last body written, not held after it
        # name -> (local, test, mark): a tensor named in a network's `if` arm without `else`, which
        # a `return ... when test` may read; `mark` is the arm's place in forward (result_lines)
        self.guarded: dict = {}

    # ---- names
    def scope_children(self, items, conditional=False, out=None):
        """The modules of one (non-numbered) scope, in order, through unnamed sequences,
        `if` arms and merge branches (they add modules to the scope around them)."""
        out = [] if out is None else out
        for item in items:
            if isinstance(item, T.Layer):
                if item.branches is not None and item.label is not None:
                    out.append(_Child(item, conditional))     # a named merge: its ModuleList
                    continue
                if item.branches is not None:
                    for b in item.branches:
                        self.scope_children(b.body, conditional or b.guard is not None, out)
                if item.spec.state is not None or self.has_module(item):    # (a `parameter` is named too)
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
        if any(isinstance(c.name, T.Name) for c in children):
            raise NotSymbolic("a module name computed where modules are attributes")
        if any(c.conditional and c.name is None and not _lone_automatic(c, children) for c in children):
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
        self.attribute_loops(items, children)

    def attribute_loops(self, items, children) -> None:
        """Loops among the attribute modules, each of whose items has a computed name
        (ShuffleNetV2's `for s in range(3) { "stage{s + 2}": ShuffleStage(...) }`): attr_loop
        writes them with setattr, as torchvision does. Refused where a name could be
        another module's: beside an automatic name, a spec name the pattern matches, or
        two patterns that could give the same name."""
        def named(sub):
            return isinstance(sub, (T.Layer, T.Use, T.Sequence)) and isinstance(sub.label, T.Name) and not (
                isinstance(sub, T.Layer) and (sub.branches is not None or not self.has_module(sub)))
        # (other loops refuse in body: their modules would have automatic names)
        loops = [i for i in items if isinstance(i, (T.Repeat, T.For)) and i.body and all(map(named, i.body))]
        if not loops:
            return
        if any(c.name is None for c in children):
            raise NotSymbolic("an unnamed module beside a loop making named ones: its automatic name depends on them")
        heads, patterns = [], []
        for loop in loops:
            _, _, bound = _loop_header(loop)
            mine = []
            for sub in loop.body:
                exprs = [p for p in sub.label.parts if not isinstance(p, str)]
                if not any(_names(p.text) & bound for p in exprs):
                    raise NotSymbolic("a module name in a loop that does not change from one iteration to the next")
                pattern = "".join(re.escape(p) if isinstance(p, str) else ".+" for p in sub.label.parts)
                if any(re.fullmatch(pattern, c.name) for c in children):
                    raise NotSymbolic("a module name a loop computes could be one the spec writes")
                head = sub.label.parts[0] if isinstance(sub.label.parts[0], str) else ""
                patterns.append(pattern)
                if any(head.startswith(h) or h.startswith(head) for h in heads):
                    raise NotSymbolic("two module names computed in loops could be the same")
                heads.append(head)
                mine.append(sub)
            # forward repeats the loop when it and the names read no parameter, else it
            # runs the modules __init__ listed (the iterations depend on the values)
            header, _, _ = _loop_header(loop)
            fixed = (loop.count if isinstance(loop, T.Repeat) else loop.iterable).constant and \
                all(_names(p.text) <= bound for sub in mine for p in sub.label.parts if not isinstance(p, str)) \
                and not bound & {"x", *self.taken_locals()} and not any(re.fullmatch(r"x\d*", b) for b in bound)
            listed = None
            if not fixed:
                # (not `stage_names`: the loop could compute that name)
                free = [name for name in ("module_names", *(f"module_names_{k}" for k in range(1, 10)))
                        if name not in self.names.values() and name not in self.flags
                        and not any(re.fullmatch(p, name) for p in patterns)]
                if not free:
                    raise NotSymbolic("no free attribute name for the names a loop makes")
                listed = free[0]
                self.flags.add(listed)
            self.attr_loops[id(loop)] = listed

    @staticmethod
    def has_module(item: T.Layer) -> bool:
        spec = item.spec
        if spec.state is not None:
            raise NotSymbolic(f"`{spec.name}` holds a tensor of the module around it")
        if spec.functional is not None:
            try:        # `upsample(size=@in)` is a forward expression: decided by the arguments as written
                functional = spec.functional(_bind(spec, item.args))
            except (NotSymbolic, TypeError, ValueError, AttributeError):
                raise NotSymbolic(f"whether `{spec.name}` is a module depends on its arguments") from None
            if type(functional) is not bool:
                raise NotSymbolic(f"whether `{spec.name}` is a module depends on its arguments")
            return not functional and spec.torch is not None
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
        if getattr(item.spec, "broadcasts", False) and len(shapes) > 1:
            return _broadcast_channels([s[0] for s in shapes], self.facts)
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
        if inner.loop_vars and _names(inner.out_text) & inner.loop_vars:
            raise NotSymbolic(f"`{item.definition}`'s output channels come out of a loop")
        out = outer_channels(inner.out_text, mapping)
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
        pairs = [f"({module_key(name if name is not None else str(i))}, {ctor})"
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
            # sizes are not followed through a block, unless constant (after an adaptive pool)
            self.space = self.constant_space(item, inner) or (SPATIAL,) * (inner.out_rank - 1)
            return ctor, out
        return self.seq_ctor(item, ch, lines, pad)

    def constant_space(self, item: T.Use, inner) -> tuple | None:
        """The sizes after a block use when they enter as constants (GoogLeNet's auxiliary
        head: an adaptive pool, then a BasicConv2d, then a linear after flatten): the
        inner class written again on these sizes, its sizes at the end computed with its
        arguments. None when any is not a constant."""
        if not self.space or not all(type(v) is int for v in self.space):
            return None
        sig = self.w.signatures[item.definition]
        values, pos = {}, 0
        for name, e in item.args:
            key = name
            if name is None:
                if pos >= len(sig.params):
                    return None
                key = sig.params[pos].name
                pos += 1
            if not e.constant:
                return None
            values[key] = e.value
        for p in sig.params:
            if p.name not in values and p.default is not NO_DEFAULT:
                values[p.name] = p.default
        probe = _Class(self.w, _with_constants(inner.template, values), inner.in_rank)
        probe.space = self.space
        try:
            probe.write()
        except (NotSymbolic, Untranslatable, TypeError, ValueError):
            return None
        if len(probe.space) + 1 != inner.out_rank:
            return None
        out = []
        for v in probe.space:
            if type(v) is int:
                out.append(v)
                continue
            if not isinstance(v, Sym):
                return None
            text = v.text
            for let_name, let_text in reversed(inner.lets):    # lets read parameters and earlier lets
                text = substitute(text, {let_name: let_text})
            value = _arithmetic(text, values)
            if value is None:
                return None
            out.append(value)
        return tuple(out)

    # ---- the non-numbered class: __init__ and forward together
    def fresh(self) -> str:
        self.var_count += 1
        return f"x{self.var_count}"

    def body(self, items, ch, src: str, dst: str, init: list, fwd: list, pad: int):
        """Write `items` reading tensor variable `src` and writing `dst`; -> (channels, the
        variable holding the result)."""
        cur = src
        ip = " " * pad
        visible = dict(self.tensors)    # a tensor named in an arm or a branch is not held after it
        for item in items:
            if self.dangling and not isinstance(item, (T.Ref, T.Let, T.Assert, T.If, T.Output)):
                raise NotSymbolic("a layer after an `if` whose arms give tensors of different ranks")
            if self.is_flow(item):
                ch, cur = self.flow_item(item, ch, cur, dst, init, fwd, pad)
                continue
            if isinstance(item, T.Let):
                init.append(f"{ip}{require_argument(item.name)} = {item.value.text}")
                self.lets.append((item.name, item.value.text))
                self.facts.append(f"{item.name} == ({item.value.text})")
            elif isinstance(item, T.Assert):
                init.extend(_assertion(item, ip))
                self.facts.append(item.test.text)
            elif isinstance(item, T.Layer) and item.branches is not None:
                ch, cur = self.merge(item, ch, cur, dst, init, fwd, pad)
            elif isinstance(item, T.Layer) and item.spec.state is not None:
                raise NotSymbolic(f"`{item.spec.name}` is not a branch of its own of a merge that broadcasts it "
                                  "against a tensor (add, mul)")
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
                if isinstance(item, T.Sequence) and self.opened(item):
                    ch, cur = self.open_sequence(item, attr, ch, cur, dst, init, fwd, pad)
                    continue
                before = self.shape(ch)
                ctor, ch = self.module_ctor(item, ch, init, pad)
                self.size_check(attr, ctor, before, cur, init, fwd)
                init.append(f"{ip}self.{attr} = {ctor}")
                if ch is EXPOSED:
                    ch = Sym(f"self.{attr}.out_channels")
                self.settle(init)
                fwd.append(f"        {dst} = self.{attr}({cur})")
                cur = dst
            elif isinstance(item, T.If):
                ch, cur = self.if_item(item, ch, cur, dst, init, fwd, pad)
            elif id(item) in self.attr_loops and not self.nested:
                ch, cur = self.attr_loop(item, ch, cur, dst, init, fwd, pad)
            else:       # a loop outside a numbered sequence: its modules' names would be computed
                raise NotSymbolic(f"a {type(item).__name__.lower()} where modules are named, not numbered")
        self.dropped = {k: v for k, v in self.tensors.items() if visible.get(k) != v}
        self.tensors = visible
        return ch, cur

    def attr_loop(self, item, ch, cur, dst, init, fwd, pad):
        """A loop making attribute modules (attribute_loops): `setattr(self, f"stage{s + 2}",
        ...)` in __init__, the channels entering each iteration in the loop local, and in
        forward the same loop calling `getattr(self, f"stage{s + 2}")`, or, when the
        iterations depend on the values, a loop over the names __init__ listed."""
        ip = " " * pad
        var = self.loop_local()
        self.all_loop_vars.add(var)
        start = text_of(ch)
        header, _, bound = _loop_header(item)
        listed = self.attr_loops[id(item)]
        lines = [f"        self.{listed} = []"] if listed else []
        lines += [] if start == var else [f"{ip}{var} = {start}"]
        lines.append(f"{ip}{header}:")
        keys, c, exposed = [], Sym(var), False
        self.closed[var] = var
        self.space = (SPATIAL,) * len(self.space)
        self.nested += 1
        for sub in item.body:
            key = module_key(sub.label)
            ctor, c = self.module_ctor(sub, c)
            lines.append(f"{ip}    setattr(self, {key}, {ctor})")
            if listed:
                lines.append(f"{ip}    self.{listed}.append({key})")
            if c is EXPOSED:        # ShuffleStage keeps its output channels
                lines.append(f"{ip}    {var} = getattr(self, {key}).out_channels")
                c, exposed = Sym(var), True
            keys.append(key)
        self.nested -= 1
        self.space = (SPATIAL,) * len(self.space)
        end = text_of(c)
        if end != var:
            lines.append(f"{ip}    {var} = {end}")
        start_closed, end_closed = self.close(start), self.close(end)
        self.closed[var] = end_closed if not exposed and end_closed == start_closed else None
        init += lines
        if cur != dst:
            fwd.append(f"        {dst} = {cur}")
        if listed:
            name = namespace.fresh_local("name", self.taken_locals() | {cur, dst})
            fwd += [f"        for {name} in self.{listed}:", f"            {dst} = getattr(self, {name})({dst})"]
        elif (names := _unrolled(item)) is not None:     # torchvision's `x = self.stage2(x)`, ...
            fwd += [f"        {dst} = self.{name}({dst})" for name in names]
        else:
            fwd.append(f"        {header}:")
            fwd += [f"            {dst} = getattr(self, {key})({dst})" for key in keys]
        return Sym(var), dst

    def opened(self, item: T.Sequence) -> bool:
        """A named sequence some of whose modules' outputs are referred to (DeepLabV3's
        `backbone: [... layer3: ... layer4: ...]` and `@layer3`): open_sequence writes it."""
        return not self.nested and any(getattr(i, "label", None) in self.referenced for i in item.body)

    def open_sequence(self, item: T.Sequence, attr, ch, cur, dst, init, fwd, pad):
        """An opened named sequence: built as any (an nn.Sequential of its modules, its
        state_dict keys unchanged), and forward calls its modules one by one, as the class
        per specialisation does (`x = self.backbone.layer3(x)`), keeping the outputs referred
        to in locals of their names (torchvision's IntermediateLayerGetter returns them)."""
        parts, vars_ = [], {}
        for sub in item.body:
            if not isinstance(sub, (T.Layer, T.Use, T.Sequence)) or sub.label is not None and \
                    not isinstance(sub.label, str) or isinstance(sub, T.Sequence) and sub.label is None or \
                    isinstance(sub, T.Layer) and (sub.branches is not None or not self.has_module(sub)):
                raise NotSymbolic("a sequence some of whose outputs are referred to, with more than modules")
            ctor, ch = self.module_ctor(sub, ch)
            if ch is EXPOSED:
                raise NotSymbolic("a sequence some of whose outputs are referred to, with channels from a loop")
            parts.append((sub.label, ctor))
            vars_[len(parts) - 1] = (ch, self.space)
        init.append(f"{' ' * pad}self.{attr} = nn.Sequential({self.numbered_args(parts)})")
        for i, (label, _) in enumerate(parts):
            access = f"self.{attr}.{require_attribute(label)}" if label is not None and is_identifier(label) \
                and not namespace.module_name_problem(label) else f"self.{attr}[{i}]"
            c, space = vars_[i]
            out = self.tensor_var(label) if label in self.referenced else dst
            fwd.append(f"        {out} = {access}({cur})")
            if label in self.referenced:
                self.tensors[label] = (out, c, space)
            cur = out
        return ch, cur

    # ---- `@name`: tensors forward holds in locals
    def is_flow(self, item) -> bool:
        """Whether `item` is written by flow_item: `@name`, a named tensor something refers
        to, or a layer taking another tensor as an argument."""
        if isinstance(item, (T.Ref, T.Output)):
            return True
        label = getattr(item, "label", None)
        if label is not None and label in self.referenced and id(item) not in self.flowing:
            return True
        return isinstance(item, T.Layer) and any(isinstance(e, T.TensorArg) for _, e in item.args)

    def held(self, name: str) -> tuple:
        found = self.tensors.get(name)
        if found is None:
            raise NotSymbolic(f"`@{name}` refers to a tensor forward does not hold there "
                              "(inside a module, an arm or a branch)")
        return found

    def output_var(self, name: str, item: T.Output):
        """What a `return` reads: the local of a tensor forward holds, or, for one named in
        an `if` arm whose test is the `return`'s `when` (DeepLabV3's `aux`), the arm's
        _Guarded, which result_lines sets in the result dict inside the arm."""
        if name not in self.tensors and name in self.guarded and item.guard is not None and \
                not item.guard.constant and _same_test(item.guard.text, self.guarded[name].test):
            return self.guarded[name]
        return self.held(name)[0]

    def start_flow(self, ch) -> str:
        """Before the body: `@in` is forward's `x`, which then must not be overwritten (the
        body writes `out` instead). -> the variable the body writes."""
        top = "x"
        if "in" in self.referenced:
            taken = {*self.taken_locals(), *self.referenced}
            top = next((n for n in ("out", "y") if n not in taken), None) or namespace.fresh_local("out", taken)
        self.tensors["in"] = ("x", ch, self.space)
        self.top = top
        return top

    def taken_locals(self) -> set:
        t = self.t
        return {*t.params, t.in_channels, *(f.name for f in t.functions),
                *(i.name for i in t.body if isinstance(i, T.Let))}

    def tensor_var(self, label: str) -> str:
        if not is_identifier(label) or re.fullmatch(r"x\d*", label):
            raise NotSymbolic(f"the tensor name {label!r} cannot be a local of forward")
        held = {var for var, _, _ in self.tensors.values()}
        return namespace.fresh_local(label, {*self.taken_locals(), *held, getattr(self, "top", "x")})

    def flow_item(self, item, ch, cur, dst, init, fwd, pad):
        if isinstance(item, T.Ref):             # continue from a named tensor
            var, ch, self.space = self.held(item.name)
            self.dangling = False
            return ch, var
        if isinstance(item, T.Output):          # written by write_network, after the body
            if self.network is None or self.nested:
                raise NotSymbolic("a `return` inside a block")
            self.outputs.append((item, [(name, self.output_var(ref, item)) for name, ref in item.args]))
            return ch, cur
        label = getattr(item, "label", None)
        if label is not None and label in self.referenced and id(item) not in self.flowing:
            var = self.tensor_var(label)        # written to a local of its own name
            self.flowing.add(id(item))
            ch, out = self.body((item,), ch, cur, var, init, fwd, pad)
            if out != var:
                fwd.append(f"        {var} = {out}")
            self.tensors[label] = (var, ch, self.space)
            return ch, var
        return self.ref_layer(item, ch, cur, dst, init, fwd, pad)

    def ref_layer(self, item: T.Layer, ch, cur, dst, init, fwd, pad):
        """A layer taking other tensors (`center_crop(@up4)`): forward passes them, and the
        layer reads their sizes at run time (so the class fits any input size)."""
        if item.branches is not None:
            raise NotSymbolic("a merge taking a tensor argument")
        args = _bind(item.spec, item.args)
        others, shapes = [], [self.shape(ch)]
        for name in _tensor_refs(args):
            var, c, space = self.held(name)
            others.append(var)
            shapes.append((c, *space))
        out = self.out_channels(item, args, shapes)
        if self.has_module(item):
            attr = require_attribute(self.names[id(item)])
            init.append(f"{' ' * pad}self.{attr} = {self.layer_ctor(item, args, ch)}")
            expr = f"self.{attr}({', '.join([cur, *others])})"
        else:
            if any(isinstance(v, Sym) for v in vars(args).values()):
                raise NotSymbolic(f"`{item.spec.name}`'s forward depends on the values")
            expr = item.spec.forward(args, [cur, *others])
        self.advance(item, args, shapes)
        self.settle(init)
        fwd.append(f"        {dst} = {expr}")
        return out, dst

    def return_lines(self, init: list) -> list:
        """forward's `return`s for a network's `return(...)`s: a dict by name (or a tuple
        by position), as the class per specialisation returns; the first whose `when`
        holds is taken, which __init__ decides (`self.returns_out_aux = aux`)."""
        lines = []
        for item, pairs in self.outputs:
            if pairs and pairs[0][0] is not None:
                value = "{" + ", ".join(f"{literal(name)}: {var}" for name, var in pairs) + "}"
            elif len(pairs) == 1:       # `return(@a)`: the tensor itself, as the graph has it (walk.py)
                value = pairs[0][1]
            else:
                value = "(" + ", ".join(var for _, var in pairs) + ",)"
            if item.guard is None or (item.guard.constant and item.guard.value is True):
                lines.append(f"        return {value}")
                return lines
            if item.guard.constant:         # a `when` that never holds
                continue
            flag = "returns_" + "_".join(name or ref for name, ref in item.args)
            if not is_identifier(flag) or namespace.module_name_problem(flag) or flag in self.flags or \
                    flag in self.names.values():
                raise NotSymbolic("no free attribute name for the condition of a `return`")
            self.flags.add(flag)
            init.append(f"        self.{flag} = {item.guard.text}")
            lines += [f"        if self.{flag}:", f"            return {value}"]
        raise NotSymbolic("no `return` of the network is taken for every value")

    def result_lines(self, fwd: list) -> tuple[list, list]:
        """forward's lines and `return` for a network returning a tensor named in an `if`
        arm: `return(out=@out, aux=@aux) when aux` then `return(out=@out)` (DeepLabV3). As
        torchvision's segmentation models: `result = {"out": out}` before the `if`,
        `result["aux"] = aux` at the end of its arm, and `return result`, so that no local
        only the arm sets is read outside it (TorchScript refuses that). -> (fwd, returns)"""
        taken = [(item, pairs) for item, pairs in self.outputs
                 if item.guard is None or not item.guard.constant or item.guard.value is True]
        if len(taken) < 2 or taken[0][0].guard is None or taken[0][0].guard.constant or \
                taken[1][0].guard is not None and not taken[1][0].guard.constant:
            raise NotSymbolic("a tensor named in an `if` arm returned other than by one `return ... when` "
                              "before an unconditional one")
        (_, full), (_, base) = taken[:2]
        extra = full[len(base):]
        marks = {id(var.mark) for _, var in extra if isinstance(var, _Guarded)}
        if full[:len(base)] != base or not extra or base and base[0][0] is None or len(marks) != 1 or \
                not all(isinstance(var, _Guarded) for _, var in extra):
            raise NotSymbolic("a `return ... when` of a tensor named in an `if` arm that is not the "
                              "unconditional `return` with the arm's tensors added")
        mark = extra[0][1].mark
        start = fwd.index(mark.line("start"))
        later = fwd[start + 1:]
        for _, var in base:     # each held before the `if`, and the same local until the end
            if var not in mark.held or any(re.match(rf"\s*{re.escape(var)} =", line) for line in later):
                raise NotSymbolic(f"the `return`'s `{var}` changes after the `if` that names its other tensors")
        words = set(re.findall(r"[A-Za-z_]\w*", "\n".join(fwd))) | self.taken_locals()
        res = namespace.fresh_local("result", words)
        out = fwd[:start] + [f"        {res} = {{" + ", ".join(f"{literal(n)}: {v}" for n, v in base) + "}"]
        for line in later:
            if line.strip() == mark.line("end").strip():
                pad = line[:len(line) - len(line.lstrip())]
                out += [f"{pad}{res}[{literal(n)}] = {var.var}" for n, var in extra]
            else:
                out.append(line)
        return out, [f"        return {res}"]

    def arms_space(self, spaces) -> tuple:
        """The sizes after an `if`'s arms (join_space). Where a body refers to tensors, arms
        may end in tensors of different ranks (`@inception4a -> aux1: ... when aux_logits`),
        which nothing may read until a `@name` continues from another."""
        if len(spaces[0]) != len(spaces[1]) and self.referenced:
            self.dangling = True
            return spaces[1]
        return self.join_space(*spaces)

    def arm_flag(self, body) -> str:
        """The attribute that tells forward whether an `if` arm without modules runs:
        `use_add` (`add { identity; @in } when ...`), `use_result` (`@result when ...`)."""
        first = body[0] if body else None
        word = first.name if isinstance(first, T.Ref) else first.spec.name if isinstance(first, T.Layer) else "arm"
        return self.free_flag(word, "arm")

    def free_flag(self, word: str, what: str) -> str:
        """`use_{word}`, an attribute for a condition forward tests, if no module or other
        flag has that name and it is one."""
        flag = f"use_{word}"
        if flag in self.names.values() or flag in self.flags or namespace.module_name_problem(flag) \
                or not is_identifier(flag):
            raise NotSymbolic(f"no free attribute name for the condition of a `{word}` {what}")
        self.flags.add(flag)
        return flag

    def merge(self, item: T.Layer, ch, cur, dst, init, fwd, pad):
        """A merge's branches, then the merge. One branch may be left out by a `when` on
        the values: __init__ builds it only when the guard holds, and forward merges
        the others alone otherwise (one left is the result itself, as elaboration has it)."""
        if item.label is not None:
            return self.named_merge(item, ch, cur, dst, init, fwd, pad)
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
        # `parameter` branches: values of the class, which the merge broadcasts against the others
        values = {id(b) for b in branches if _state_layer(b) is not None}
        if values and (not item.spec.broadcasts or any(id(b) in values for b in guarded)
                       or all(id(b) in values for b in kept)):
            raise NotSymbolic(f"a `parameter` branch of `{item.spec.name}` that no tensor branch always joins "
                              "(it would need the batch dimension)")
        saved = self.space
        self.nested += 1
        for i, branch in enumerate(kept):
            if id(branch) in values:
                chans[id(branch)], spaces[id(branch)], outs[id(branch)] = \
                    self.parameter(_state_layer(branch), len(saved) + 1, init, pad)
                continue
            last = i == len(kept) - 1
            target = dst if last and not guarded and dst not in outs.values() else self.fresh()
            self.space = saved
            chans[id(branch)], outs[id(branch)] = self.body(branch.body, ch, cur, target, init, fwd, pad)
            spaces[id(branch)] = self.space

        def merged(keys):
            shapes = [(chans[k], *spaces[k]) for k in keys]
            # the channels are the tensors'; a parameter's first size equals them or is 1 (broadcast)
            out = self.out_channels(item, args, [(chans[k], *spaces[k]) for k in keys if k not in values])
            for k in keys:
                if k in values and not (type(chans[k]) is int and chans[k] == 1) and \
                        text_of(chans[k]) != text_of(out):
                    raise NotSymbolic(f"a `parameter` whose first size ({text_of(chans[k])}) may differ from "
                                      f"the channels it meets ({text_of(out)})")
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
        self.facts.append(g.guard.text)         # the branch is merged only where its guard holds
        every, every_space = merged(order)
        self.facts.pop()
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

    def parameter(self, item: T.Layer, rank: int, init: list, pad: int):
        """A `parameter` branch of a merge (ConvNeXt's `layer_scale: parameter([dim, 1, 1],
        init=layer_scale)`): an nn.Parameter of the class, filled as the class per
        specialisation fills it, written as torchvision's CNBlock writes it
        (`torch.ones(dim, 1, 1) * layer_scale`); forward uses it as it is, and the merge
        broadcasts it against the batch. -> (channels, sizes, forward's expression)."""
        shape, fill = item.spec.state(_bind(item.spec, item.args))
        dims = _dims(shape)
        if len(dims) != rank:
            raise NotSymbolic(f"a `parameter` of rank {len(dims)} meets tensors of rank {rank}")
        attr = require_attribute(self.names[id(item)])
        sizes = ", ".join(text_of(d) for d in dims)
        if isinstance(fill, Sym):
            value = f"torch.ones({sizes}) * {_operand(fill, _MUL + 1)}"
        else:       # a constant: as the class per specialisation writes it
            value = f"torch.full(({sizes}{',' if len(dims) == 1 else ''}), {literal(float(fill))})"
        init.append(f"{' ' * pad}self.{attr} = nn.Parameter({value})")
        return dims[0], tuple(dims[1:]), f"self.{attr}"

    def size_check(self, attr: str, ctor: str, before: tuple, cur: str, init: list, fwd: list) -> None:
        """Before the first module whose constructor read the input's sizes (a linear after
        flatten), forward checks that the tensor reaching it has the shape __init__ built it
        for: exactly the inputs torch would run (29x29 reaches LeNet's linear as 28x28 does),
        and a message naming the input that came, not torch's matmul error."""
        opts = self.network
        if opts is None or opts.sizes is None or self.size_checked or self.nested:
            return
        if not any(_reads([f"        _ = {ctor}"], name) for name in opts.sizes):
            return
        self.size_checked = True
        taken = set(self.names.values()) | self.flags
        expected = next(f"{attr}_{word}" for word in ("input", *(f"input{k}" for k in range(2, 10 ** 6)))
                        if f"{attr}_{word}" not in taken)
        self.flags.add(expected)
        shape = ", ".join(map(text_of, before)) + ("," if len(before) == 1 else "")
        init.append(f"        self.{expected} = ({shape})")
        tests = [f"{cur}.shape[{i + 1}] == self.{expected}[{i}]" for i in range(len(before))]
        test = tests[0] if len(tests) == 1 else " & ".join(f"({t})" for t in tests)
        fwd.append(f"        torch._assert({test}, {self.size_message()})")

    def size_message(self) -> str:
        """The f-string forward raises with: the class as built, the input that came (`size`,
        the input's shape, read by index: torch.fx cannot iterate a traced shape)."""
        opts = self.network
        dims = [f"{{size[{i}]}}" for i in range(1, len(opts.input) + 1)]
        got = f"{require_class(self.t.name)} was built for {{self.input_text}} inputs, got {'×'.join(dims)}: "
        # f-strings of the class name (an identifier), fixed words and the placeholders above:
        # no other brace or quote is in them
        again = "rebuild with input_size=(" + ", ".join(dims) + ")"
        return f"f{literal(got)} f{literal(again)}"

    def named_merge(self, item: T.Layer, ch, cur, dst, init, fwd, pad):
        """`convs: concat { ... }`: the branches in an nn.ModuleList (torchvision's ASPP),
        each its lone module or an nn.Sequential of its modules; forward calls them by index."""
        branches = [b for b in item.branches if b.guard is None or not b.guard.constant or b.guard.value]
        if any(b.guard is not None and not b.guard.constant for b in branches):
            raise NotSymbolic("a branch of a named merge left out by `when`: the others' indices depend on it")
        args = _bind(item.spec, item.args)
        if any(isinstance(v, Sym) for v in vars(args).values()):
            raise NotSymbolic(f"`{item.spec.name}`'s forward depends on the values")
        attr = require_attribute(self.names[id(item)])
        if any(_loop_branch(b) for b in branches):
            return self.looped_merge(item, branches, args, attr, ch, cur, dst, init, fwd, pad)
        for branch in branches:
            self.unnamed_branch(branch.body)
        ctors, outs, shapes, saved = [], [], [], self.space
        self.nested += 1
        for i, branch in enumerate(branches):
            self.space = saved
            items = list(self.numbered_items(branch.body))
            if len(items) == 1 and isinstance(items[0], (T.Layer, T.Use, T.Sequence)) and items[0].label is None:
                ctor, c = self.module_ctor(items[0], ch)
            else:
                lines = []
                c, inner = self.numbered(branch.body, ch, pad, lines)
                if lines:
                    raise NotSymbolic("a condition or a loop inside a named merge's branch")
                ctor = f"nn.Sequential({inner})"
            ctors.append(ctor)
            shapes.append((c, *self.space))
            var = dst if i == len(branches) - 1 else self.fresh()
            fwd.append(f"        {var} = self.{attr}[{i}]({cur})")
            outs.append(var)
        self.nested -= 1
        out = self.out_channels(item, args, shapes)
        self.advance(item, args, shapes)
        init.append(f"{' ' * pad}self.{attr} = nn.ModuleList([{', '.join(ctors)}])")
        fwd.append(f"        {dst} = {item.spec.forward(args, outs)}")
        return out, dst

    def unnamed_branch(self, branch_body) -> None:
        """A branch that is one named item (`q: [conv2d(c, 1)]`) is that name's entry of an
        nn.ModuleDict in the class per specialisation (`m.q.weight`, not `m.0.q.weight`):
        this class's nn.ModuleList by index cannot have those keys."""
        items = [i for i in branch_body if not isinstance(i, T.Assert)]
        while len(items) == 1 and isinstance(items[0], T.Sequence) and items[0].label is None:
            items = list(items[0].body)
        if len(items) == 1 and getattr(items[0], "label", None) is not None:
            raise NotSymbolic("a named merge's branch named by its one item (an nn.ModuleDict entry)")

    def branch_ctor(self, branch_body, ch, pad) -> tuple[str, object]:
        """A named merge's branch as one module: its lone module, or an nn.Sequential of its
        modules (as elaboration's numbered sequence, a lone module standing for it)."""
        items = list(self.numbered_items(branch_body))
        if len(items) == 1 and isinstance(items[0], (T.Layer, T.Use, T.Sequence)) and items[0].label is None:
            return self.module_ctor(items[0], ch)
        lines = []
        c, inner = self.numbered(branch_body, ch, pad, lines)
        if lines:
            raise NotSymbolic("a condition or a loop inside a named merge's branch")
        return f"nn.Sequential({inner})", c

    def looped_merge(self, item: T.Layer, branches, args, attr, ch, cur, dst, init, fwd, pad):
        """A named merge some of whose branches a loop makes (ASPP's `for r in rates {
        Conv2dNormActivation(out, 3, dilation=r) }`): as torchvision's ASPP, __init__ builds
        the list (a loop appending a branch per iteration) and forward runs every module of
        the nn.ModuleList, `[conv(x) for conv in self.convs]`, and merges the results. Only
        for a merge whose channels add up (a sum is then `count * channels` per loop)."""
        probe = [(Sym("_a"), *self.space), (Sym("_b"), *self.space)]
        try:
            summed = text_of(self.out_channels(item, args, probe)) == "_a + _b"
        except (NotSymbolic, TypeError, ValueError):
            summed = False
        merged = item.spec.forward(args, ["*_xs"])
        if not summed or merged.count("[*_xs]") != 1:
            raise NotSymbolic(f"branches made by a loop in a `{item.spec.name}`")
        ip = " " * pad
        taken = {*self.t.params, self.t.in_channels, *(f.name for f in self.t.functions), *_let_names(self.t.body),
                 *loop_names(self.t.body), self.layers_name()}
        modules = namespace.fresh_local("modules", taken)
        lines, shapes, saved = [f"{ip}{modules} = []"], [], self.space
        self.nested += 1
        for branch in branches:
            self.space = saved
            if not _loop_branch(branch):
                self.unnamed_branch(branch.body)
                ctor, c = self.branch_ctor(branch.body, ch, pad)
                lines.append(f"{ip}{modules}.append({ctor})")
                shapes.append((c, *self.space))
                continue
            loop = branch.body[0]
            header, count, bound = _loop_header(loop)
            body = [i for i in loop.body if not isinstance(i, T.Assert) or not i.test.constant or not i.test.value]
            if any(isinstance(i, (T.Let, T.Assert)) for i in body):
                raise NotSymbolic("a `let` or an `assert` in a loop making merge branches")
            self.unnamed_branch(tuple(body))
            ctor, c = self.branch_ctor(tuple(body), ch, pad + 4)
            text = None if c is EXPOSED else text_of(c)
            if text is None or _names(text) & bound:
                raise NotSymbolic("the channels of loop-made merge branches change from one to the next")
            lines += [f"{ip}{header}:", f"{ip}    {modules}.append({ctor})"]
            shapes.append((Sym(ast.unparse(ast.parse(f"({count}) * ({text})", mode="eval"))), *self.space))
        self.nested -= 1
        out = self.out_channels(item, args, shapes)
        self.advance(item, args, shapes)
        init += lines
        init.append(f"{ip}self.{attr} = nn.ModuleList({modules})")
        outs = namespace.fresh_local("res", self.taken_locals() | {cur, dst})
        conv = namespace.fresh_local("module", self.taken_locals() | {cur, dst, outs})
        fwd.append(f"        {outs} = [{conv}({cur}) for {conv} in self.{attr}]")
        fwd.append(f"        {dst} = {merged.replace('[*_xs]', outs)}")
        return out, dst

    def flag_name(self, branch: T.Branch) -> str:
        """The attribute that tells forward whether a branch without modules is merged:
        `use_identity`, as torchvision's MobileNetV2 has `use_res_connect`."""
        first = branch.body[0] if branch.body else None
        return self.free_flag(first.spec.name if isinstance(first, T.Layer) else "input", "branch")

    def if_item(self, item: T.If, ch, cur, dst, init, fwd, pad):
        if item.test.constant:      # decided by the spec alone
            return self.body(item.then if item.test.value else item.orelse, ch, cur, dst, init, fwd, pad)
        ip = " " * pad
        arms, saved, spaces = [], self.space, []
        entry, dangling = self.dangling, False      # each arm starts from the tensor before the `if`
        mark = None
        if self.network is not None and not self.nested and not item.orelse:   # (result_lines)
            mark = _Mark(id(item), frozenset(var for var, _, _ in self.tensors.values()))
            fwd.append(mark.line("start"))
        self.nested += 1
        for body in (item.then, item.orelse):
            a_init, a_fwd = [], []
            self.space, self.dangling = saved, entry
            facts = len(self.facts)
            if body is item.then:
                self.facts.append(item.test.text)
            a_ch, a_cur = self.body(body, ch, cur, dst, a_init, a_fwd, pad + 4)
            del self.facts[facts:]
            if mark is not None and body is item.then and a_fwd:
                self.guarded.update({name: _Guarded(var, item.test.text, mark) for name, (var, _, _) in
                                     self.dropped.items() if name not in self.guarded})
                a_fwd.append(mark.line("end"))
            dangling = dangling or self.dangling
            spaces.append(self.space)
            mods = [self.names[id(c.item)] for c in self.scope_children(body)]
            arms.append((a_init, a_fwd, a_ch, a_cur, mods))
        self.nested -= 1
        self.dangling = dangling
        self.space = self.arms_space(spaces)
        (t_init, t_fwd, t_ch, t_cur, t_mods), (e_init, e_fwd, e_ch, _, e_mods) = arms
        t_ch = _either(item.test, t_ch, e_ch)
        for mine, theirs, other_init in ((t_mods, e_mods, e_init), (e_mods, t_mods, t_init)):
            for name in mine:
                if name not in theirs:
                    other_init.append(f"{ip}    self.{require_attribute(name)} = None")
        if t_init or e_init:        # (arms without modules build nothing)
            init.append(f"{ip}if {item.test.text}:")
            init.extend(t_init or [f"{ip}    pass"])
        if e_init:
            init.append(f"{ip}else:")
            init.extend(e_init)
        if t_fwd == e_fwd and t_cur != arms[1][3]:     # `@result when ...`: the arms end in other tensors
            t_fwd = t_fwd + [f"        {dst} = {t_cur}"] if t_cur != dst else t_fwd
            e_fwd = e_fwd + [f"        {dst} = {arms[1][3]}"] if arms[1][3] != dst else e_fwd
        if t_fwd == e_fwd:          # the same forward either way (`activation` is one module or another)
            fwd.extend(t_fwd)
            return t_ch, t_cur
        if t_fwd and e_fwd:
            self.both_arms(item, arms, dst, fwd)
            return t_ch, dst
        present, body_fwd = (t_mods, t_fwd) if t_fwd else (e_mods, e_fwd)
        if not present and not self.referenced:
            raise NotSymbolic("an `if` arm computes without a module forward could test")
        if cur != dst:              # torchvision's `identity = x; if self.downsample is not None: ...`
            fwd.append(f"        {dst} = {cur}")
        if present:
            fwd.append(f"        if self.{require_attribute(present[0])} is not None:")
        else:                       # torchvision's `self.use_res_connect`
            flag = self.arm_flag(item.then if t_fwd else item.orelse)
            init.append(f"{ip}self.{flag} = {item.test.text if t_fwd else f'not ({item.test.text})'}")
            fwd.append(f"        if self.{flag}:")
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
        if t.sequential and self.forward_tail(t.body):
            base = "nn.Sequential"
            out, init, fwd = self.sequential_with_tail(ch0)
        elif t.sequential or self.named_chain(t.body):
            base = "nn.Sequential"
            out, init = self.sequential_init(ch0)
            fwd = []
        else:
            base = "nn.Module"
            self.name_scope(t.body)
            init = ["        super().__init__()"]
            fwd = []
            out, result = self.body(t.body, ch0, "x", self.start_flow(ch0), init, fwd, 8)
            if self.dangling:
                raise NotSymbolic("it ends after an `if` whose arms give tensors of different ranks")
            if self.referenced:
                fwd = _else_for_overwritten(_without_dead(fwd, result))
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
        computed = [ "".join(re.escape(p) if isinstance(p, str) else ".+" for p in sub.label.parts)
                     for loop in t.body if id(loop) in self.attr_loops for sub in loop.body]
        if any(name not in mine and not any(re.fullmatch(p, name) for p in computed) for name in opts.shapes
               if "." not in name):
            raise NotSymbolic("its modules would not have the names elaboration gives")
        fwd = []
        setup = len(init)
        _, result = self.body(t.body, ch0, "x", self.start_flow(ch0), init, fwd, 8)
        returns = [f"        return {result}"]
        if any(isinstance(var, _Guarded) for _, pairs in self.outputs for _, var in pairs):
            fwd, returns = self.result_lines(fwd)
        elif self.outputs:
            returns = self.return_lines(init)
        elif self.dangling:
            raise NotSymbolic("it ends after an `if` whose arms give tensors of different ranks")
        fwd = [line for line in fwd if not line.lstrip().startswith("\0")]     # the _Marks not used
        if self.referenced:
            fwd = _into_return_arms(_else_for_overwritten(_without_dead(fwd + returns, None)))
            returns = []
        fwd = self.merge_comments([self.shape_comment(line) for line in fwd])
        if _reads(init[setup:], t.in_channels):
            self.settled = [(i + 1 if i >= setup else i, name) for i, name in self.settled]
            init.insert(setup, f"        {require_argument(t.in_channels)} = {text_of(ch0)}")   # `in.c`
        init = self.drop_unread_lets(self.drop_unread(init))
        init += opts.init_lines
        check = []
        if opts.sizes is not None:
            # torch._assert with an f-string, as torchvision's VisionTransformer checks its input:
            # torch.fx traces it, torch.export and TorchScript take it (docs/compile.md)
            init.append(f"        self.input_text = {literal('×')}.join(map(str, self.input_size))")
            check = ["        size = x.shape"]
            if not self.size_checked:   # the modules reading the sizes are under a condition: check the input
                tests = [f"(x.shape[{i + 2}] == self.input_size[{i + 1}])" for i in range(len(opts.sizes))]
                check.append(f"        torch._assert({' & '.join(tests)}, {self.size_message()})")
        head = [f"class {class_placeholder(t.name)}(nn.Module):",
                f'    """{opts.doc}"""', "", f"    def __init__({', '.join(params)}):"]
        fwd = ["", "    def forward(self, x):", *check, *fwd, *returns]
        source = "\n".join(head + init + fwd) + "\n"
        return Translation(t, source, "", self.lets, self.helpers, self.xavier,
                           t.functions, self.uses, self.ordered, self.all_loop_vars, len(self.space) + 1)

    def shape_comment(self, line: str) -> str:
        """`x = self.conv1(x)  # [64, 112, 112]`: the shape at the declared input (the
        network's own modules; a line inside an `if` keeps none)."""
        m = re.match(r"        \w+ = self\.(\w+(?:\.\w+)?)\(", line)
        shape = self.network.shapes.get(m.group(1)) if m else None
        return f"{line}  # [{', '.join(map(str, shape))}]" if shape is not None else line

    def merge_comments(self, fwd: list) -> list:
        """The shape comments of forward's lines that call no module (`x = torch.cat(...)`):
        the network's own layers without a module, in order, at the declared input. Only
        when the lines and the layers pair one to one; else they keep none."""
        an = getattr(self.w, "an", None)
        if an is None:
            return fwd
        g = an.graph
        shapes = []
        for n in g.nodes:
            if n.scope is not g.root or n.spec is None or n.has_module or n.spec.state is not None \
                    or n.spec.forward is None or n.shape is None:
                continue
            if len(n.inputs) == 1 and n.spec.forward(n.args, ["x"]) == "x":     # `identity`: no line
                continue
            shapes.append(n.shape)
        lines = [i for i, line in enumerate(fwd) if re.fullmatch(r"        \w+ = (?!self\.)(?!\w+$)(?!\{).+", line)
                 and "  # [" not in line]
        if len(lines) != len(shapes):
            return fwd
        out = list(fwd)
        for i, shape in zip(lines, shapes):
            out[i] = f"{out[i]}  # [{', '.join(map(str, shape))}]"
        return out

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

    def drop_unread_lets(self, init: list) -> list:
        """Without the lines of the network's own `let`s that nothing after them reads
        (ConvNeXt's `last`, which only its `expect` reads: an `expect` holds for any values
        `check` accepts, so the class does not test it). Last first, so that a `let` read
        only by one left out goes too."""
        lets = {require_argument(i.name) for i in self.t.body if isinstance(i, T.Let)}
        out = list(init)
        for i in range(len(out) - 1, -1, -1):
            m = re.fullmatch(r"        (\w+) = .*", out[i])
            if m and m.group(1) in lets and not _reads(out[i + 1:], m.group(1)):
                del out[i]
        return out

    def named_chain(self, items) -> bool:
        """A `block` whose modules are a chain all named in the spec, some by a loop
        (DenseNet's `repeat layers as i { "denselayer{i + 1}": DenseLayer(...) }`):
        written as a `sequential block` is, an nn.Sequential of those names (torchvision's
        add_module in a loop), which has the state_dict keys and the forward of the
        module elaboration builds: no automatic names, nothing but a chain."""
        loop = False
        for item in items:
            if isinstance(item, (T.Let, T.Assert)):
                continue
            if isinstance(item, T.Repeat):
                loop = True
                body = [i for i in item.body if not isinstance(i, (T.Let, T.Assert))]
                if not all(self.named_module(i) for i in body):
                    return False
            elif not self.named_module(item):
                return False
        return loop

    def named_module(self, item) -> bool:
        if isinstance(item, T.Layer):
            return item.label is not None and item.branches is None and item.spec.state is None \
                and item.spec.functional is None and item.spec.torch is not None
        return isinstance(item, (T.Use, T.Sequence)) and item.label is not None

    def forward_tail(self, items) -> int:
        """How many of a `sequential block`'s last items are forward expressions rather
        than modules (ASPPPooling's `upsample(size=@in)`): 0 for none."""
        n = 0
        for item in reversed(items):
            if not (isinstance(item, T.Layer) and item.branches is None and item.label is None) or \
                    self.has_module(item):
                break
            n += 1
        return n

    def sequential_with_tail(self, ch):
        """A `sequential block` ending in forward expressions: an nn.Sequential subclass of
        the modules, whose forward runs them and then the expressions, as torchvision's
        ASPPPooling (`for mod in self: x = mod(x)`, then F.interpolate to the input's size)."""
        t = self.t
        n = self.forward_tail(t.body)
        lines = []
        start = self.space
        ch, args = self.numbered(t.body[:-n], ch, 8, lines, top=True)
        init = lines + [f"        super().__init__({args})"]
        taken = {*self.taken_locals(), "module"}
        y = next((v for v in ("y", "out") if v not in taken), None) or namespace.fresh_local("y", taken)
        fwd = ["", "    def forward(self, x):", f"        {y} = x", "        for module in self:",
               f"            {y} = module({y})"]
        self.tensors["in"] = ("x", Sym(t.in_channels), start)
        for item in t.body[-n:]:
            args_ns = _bind(item.spec, item.args)
            if any(isinstance(v, Sym) for v in vars(args_ns).values()):
                raise NotSymbolic(f"`{item.spec.name}`'s forward depends on the values")
            others, shapes = [], [self.shape(ch)]
            for name in _tensor_refs(args_ns):
                var, c, space = self.held(name)
                others.append(var)
                shapes.append((c, *space))
            out = self.out_channels(item, args_ns, shapes)
            expr = item.spec.forward(args_ns, [y, *others])
            self.advance(item, args_ns, shapes)
            if expr != y:
                fwd.append(f"        {y} = {expr}")
            ch = out
        fwd.append(f"        return {y}")
        return ch, init, fwd

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
                for arm in p[2] for name, _ in arm) or any(_named_loop(p) for p in parts)
        def unnamed(p) -> bool:
            """Whether part `p` holds a module numbered by its position (in an arm too)."""
            if p[0] is None:
                return p[1] is None
            return p[0] is not _LOOP and p[0] is not _LAST and any(name is None for arm in p[2] for name, _ in arm)
        if named and any(unnamed(p) and any(q[0] is not None for q in parts[:i]) for i, p in enumerate(parts)):
            raise NotSymbolic("an unnamed module after a condition among named ones: its index depends on it")

        def entry(i, name, ctor):
            if not named:
                return ctor
            self.ordered = True
            return f"({module_key(name if name is not None else str(i))}, {ctor})"
        layers = self.layers_name()
        lines.append(f"{ip}{layers} = []")
        for i, part in enumerate(parts):
            if part[0] is _LOOP:
                if named and not _named_loop(part):
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
        self.ordered = self.ordered or named
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
        header, count, bound = _loop_header(item)      # bound: its `let`s are locals of the loop too
        runs = f"({count}) > 0"
        if isinstance(item, T.Repeat):
            known = item.count.value > 0 if item.count.constant else None
        else:
            known = len(item.iterable.value) > 0 if item.iterable.constant else None
        self.closed[var] = var          # in the body: the channels entering the iteration
        entries, c = [], Sym(var)
        # each iteration starts where the last ended: the sizes are not followed through loops
        self.space = (SPATIAL,) * len(self.space)
        self.nested += 1
        for sub in self.loop_body(item.body, var, entries):
            if isinstance(sub, (T.Repeat, T.For)):
                inner, c = self.loop(sub, c)
                entries.append(inner)
                continue
            if isinstance(sub, T.If):
                c = self.loop_condition(sub, c, var, entries)
                continue
            ctor, c = self.module_ctor(sub, c)
            entries.append(ctor if sub.label is None else _Named(module_key(sub.label), ctor))
            if c is EXPOSED:
                if sub.label is not None:
                    raise NotSymbolic("a named module whose output channels come out of a loop, inside a loop")
                entries.append(_LAST)
                c = Sym(var)
                self.closed[var] = None
        self.nested -= 1
        self.space = (SPATIAL,) * len(self.space)
        end = text_of(c)
        end_closed = self.close(end)
        step = _step(end_closed, var, bound) if end_closed is not None and start_closed is not None else None
        if step is not None:            # each iteration adds `step`: DenseNet's `c + n * growth`
            closed = ast.unparse(ast.parse(f"({start_closed}) + ({count}) * ({step})", mode="eval"))
        elif end_closed is None or _names(end_closed) & (bound | {var}):
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
        # the body ends with the channels it starts with (ResNet's `planes * 4` after the first
        # block): the local needs no update in the loop
        same = end == start and not _names(end) & (bound | {var})
        return _Loop(header, var, None if start == var else start, entries,
                     None if end == var or same else end), Sym(var)

    def loop_condition(self, item: T.If, c, var: str, ctors: list):
        """`X when test` / `if` inside a loop's body: a Python `if` in the loop (each arm's
        entries _Indented in `ctors`); the channels after it are the arms' as the test
        chooses (EfficientNetStage's `MBConv(...) when kind == "MBConv"`)."""
        if item.test.constant:
            arm = item.then if item.test.value else item.orelse
            for sub in self.loop_body(arm, var, ctors):
                if isinstance(sub, T.If):
                    c = self.loop_condition(sub, c, var, ctors)
                    continue
                if isinstance(sub, T.Repeat):
                    raise NotSymbolic("a loop inside a loop")
                ctor, c = self.module_ctor(sub, c)
                ctors.append(ctor if sub.label is None else _Named(module_key(sub.label), ctor))
            return c
        chans = []
        test = item.test.text
        ctors.append(_Line(f"if {test}:"))
        for k, body in enumerate((item.then, item.orelse)):
            if k == 1:
                if not body:
                    break
                ctors.append(_Line("else:"))
            arm, ch = [], c
            for sub in self.loop_body(body, var, arm):
                if isinstance(sub, (T.If, T.Repeat)):
                    raise NotSymbolic("a condition or a loop inside a condition inside a loop")
                ctor, ch = self.module_ctor(sub, ch)
                arm.append(ctor if sub.label is None else _Named(module_key(sub.label), ctor))
            ctors.extend(_Indented(e) for e in arm or [_Line("pass")])
            chans.append(ch)
        return _either(item.test, chans[0], chans[1] if len(chans) > 1 else c)

    def loop_body(self, items, var: str, ctors: list):
        """A loop body's items for numbered_items; its `let`s and `assert`s become lines of
        the loop (_Line in `ctors`), computed each iteration before the items after them."""
        for item in items:
            if isinstance(item, T.Let):
                if item.name in (var, self.layers_name()):
                    raise NotSymbolic(f"`let {item.name}` has the name of a local the class needs")
                ctors.append(_Line(f"{require_argument(item.name)} = {item.value.text}"))
            elif isinstance(item, T.Assert):
                ctors.extend(_Line(line) for line in _assertion(item, ""))
            else:
                yield from self.numbered_items((item,))

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


LINE = 120      # the project's line length (pyproject.toml): longer lines are broken as ruff format does


# A comma before a closing bracket (possibly in a string: then the tokenizer decides)
_TRAILING_COMMA = re.compile(r",\s*[)\]}]")


def wrap(line: str, limit: int = LINE) -> list[str]:
    """One logical line of generated code as `ruff format` writes it (black's rules): kept
    when it fits and no bracket ends in a "magic" trailing comma; else split at its last
    bracket pair (an earlier one when what comes before the last does not fit), the
    contents on one indented line when they fit there and are not a literal collection
    or a magic comma's, else one item per line with a trailing comma; each line made
    the same way. Brackets and commas are found by a scanner that knows strings, so a
    string is never split; a line it cannot scan alone (a comment, a fragment) is kept."""
    code = line.lstrip(" ")
    pad = line[:len(line) - len(code)]
    if len(line) <= limit and not _TRAILING_COMMA.search(code):
        return [line]           # the usual case: no trailing comma to honour, nothing to split
    tokens = _tokens(code)
    if tokens is None:
        return [line]
    return _format(code, tokens, 0, len(tokens), "", pad, limit) if tokens else [line]


# One token of a generated line: a string with its prefix and escapes, a name or number,
# spaces, or one other character (a bracket, a comma, an operator's)
_TOKEN = re.compile(r"""(?P<str>(?:[rRbBfFuU]{1,2})?(?:"{3}(?:[^\\]|\\.)*?"{3}|'{3}(?:[^\\]|\\.)*?'{3}"""
                    r"""|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'))|(?P<name>\w+)|(?P<space>\s+)|(?P<op>.)""", re.S)
_KINDS = {"str": tokenize.STRING, "name": tokenize.NAME, "op": tokenize.OP}


def _tokens(code: str):
    """[(text, start, end, closing index or None, kind)] of one line's tokens, or None when
    it is no complete line on its own (an open bracket or string) or carries a comment (left
    as it is). A regular expression for what this module writes (Python's tokenize is many
    times slower): strings with their prefixes and escapes, names, brackets, other operators."""
    out, stack = [], []
    for m in _TOKEN.finditer(code):
        kind = m.lastgroup
        if kind == "space":
            continue
        c = m.group()
        if kind == "op" and c in "#'\"":
            return None             # a comment, or a string that does not end on this line
        out.append([c, m.start(), m.end(), None, _KINDS[kind]])
        if kind != "op":
            continue
        if c in "([{":
            stack.append(len(out) - 1)
        elif c in ")]}":
            if not stack:
                return None
            out[stack.pop()][3] = len(out) - 1
    return None if stack else out


def _is_collection(tokens, i: int, lo: int = 0) -> bool:
    """Whether the bracket at `i` opens a literal (a tuple, list, dict), not a call's or a
    subscript's or a def's: what comes before it (from `lo` on) is no name or closing bracket."""
    if i == lo:
        return True
    text, _, _, _, kind = tokens[i - 1]
    if kind == tokenize.NAME:
        return keyword.iskeyword(text) and text not in ("None", "True", "False")
    return text not in (")", "]", "}") and kind != tokenize.STRING


def _commas(tokens, i: int) -> list[int]:
    """The indexes of the commas directly inside the bracket opened at `i`."""
    out, j, end = [], i + 1, tokens[i][3]
    while j < end:
        if tokens[j][3] is not None:
            j = tokens[j][3]
        elif tokens[j][0] == ",":
            out.append(j)
        j += 1
    return out


def _magic(tokens, i: int, lo: int = 0) -> bool:
    """A trailing comma that asks for one item per line (not a one-item tuple's)."""
    end = tokens[i][3]
    if tokens[end - 1][0] != ",":
        return False
    return not (tokens[i][0] == "(" and _is_collection(tokens, i, lo) and len(_commas(tokens, i)) == 1)


def _clauses(tokens, lo: int, hi: int) -> list[int]:
    """Where the clauses of a comprehension start among tokens[lo:hi], outside brackets:
    each `for`, and each `if` after one (a comprehension's iterable and condition hold
    no unbracketed conditional expression, so such an `if` is always a clause); [] when
    tokens[lo:hi] is no comprehension's inside."""
    starts, k = [], lo
    while k < hi:
        text, _, _, close, kind = tokens[k]
        if close is not None:
            k = close + 1
            continue
        if kind == tokenize.NAME and k > lo and (text == "for" or (text == "if" and starts)):
            starts.append(k)
        k += 1
    return starts


def _format(code: str, tokens, lo: int, hi: int, suffix: str, pad: str, limit: int) -> list[str]:
    """The lines for tokens[lo:hi] of `code` followed by `suffix` (an item's comma)."""
    text = code[tokens[lo][1]:tokens[hi - 1][2]] + suffix
    if len(pad) + len(text) <= limit and not any(tokens[k][3] is not None and _magic(tokens, k, lo)
                                                 for k in range(lo, hi)):
        return [pad + text]
    clauses = _clauses(tokens, lo, hi)
    if clauses:                 # a comprehension that does not fit: its element, then a line per clause
        bounds = [lo, *clauses, hi]
        return [line for a, b in zip(bounds, bounds[1:])
                for line in _format(code, tokens, a, b, suffix if b == hi else "", pad, limit)]
    pairs, k = [], lo           # the brackets at depth 0 with something inside, in order
    while k < hi:
        if tokens[k][3] is not None:
            if tokens[k][3] > k + 1:
                pairs.append(k)
            k = tokens[k][3]
        k += 1
    if not pairs:
        strings = [t for t in tokens[lo:hi] if t[0] != ","]
        if len(strings) > 1 and all(t[4] == tokenize.STRING for t in strings):
            # implicitly joined strings that do not fit: one per line, the comma after the last
            return [pad + t[0] for t in strings[:-1]] + [pad + code[strings[-1][1]:tokens[hi - 1][2]] + suffix]
        return [pad + text]
    base = tokens[lo][1]
    chosen = pairs[-1]
    for i in reversed(pairs):   # an earlier bracket when the line up to the last does not fit
        if len(pad) + tokens[i][2] - base <= limit:
            chosen = i
            break
    i, end = chosen, tokens[chosen][3]
    inner = pad + "    "
    commas = _commas(tokens, i)
    body = code[tokens[i][2]:tokens[end][1]].strip()
    explode = bool(commas) and (_is_collection(tokens, i, lo) or _magic(tokens, i, lo) or
                                len(inner) + len(body) > limit)
    lines = [pad + code[base:tokens[i][2]]]
    if not explode:
        lines += _format(code, tokens, i + 1, end, "", inner, limit)
    else:
        for a, b in zip([i + 1] + [c + 1 for c in commas], commas + [end]):
            if a < b:
                lines += _format(code, tokens, a, b, ",", inner, limit)
    return lines + [pad + code[tokens[end][1]:tokens[hi - 1][2]] + suffix]


_LOOP = object()        # marks a loop among a numbered scope's parts
_LAST = object()        # marks `channels = layers[-1].out_channels` there (_Class.expose)


class _Exposed(_Opaque):
    """The output channels of a block use that keeps them as `self.out_channels`: the
    caller reads them from the module it stores; anything else refuses."""
    __slots__ = ()


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
                [_loop_line(entry, ip + "    ", layers)]
        if self.end is not None:
            out.append(f"{ip}    {self.var} = {self.end}")
        if len(out) == 1 + (self.start is not None):
            out.append(f"{ip}    pass")
        return out


def _step(text: str, var: str, bound: set) -> str | None:
    """For channels `var + k` (or `k + var`) after an iteration, where `k` reads neither
    `var` nor the loop's own names: the source of `k`, what each iteration adds; else None."""
    node = ast.parse(text, mode="eval").body
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)):
        return None
    for mine, other in ((node.left, node.right), (node.right, node.left)):
        if isinstance(mine, ast.Name) and mine.id == var:
            step = ast.unparse(other)
            return None if _names(step) & (bound | {var}) else step
    return None


def _unrolled(loop) -> list | None:
    """The names a loop of attribute modules gives, iteration by iteration, where its
    values are known and its names integer arithmetic on them (ShuffleNetV2's stage2,
    stage3, stage4): forward calls them one by one, as torchvision does and as
    TorchScript takes (its getattr needs a literal). None otherwise."""
    if isinstance(loop, T.Repeat):
        if not loop.count.constant or type(loop.count.value) is not int:
            return None
        items, targets = range(loop.count.value), [loop.index or "_"]
    else:
        if loop.destructure or len(loop.targets) != 1 or not loop.iterable.constant:
            return None
        items, targets = loop.iterable.value, loop.targets
    names = []
    for v in items:
        for sub in loop.body:
            text = ""
            for p in sub.label.parts:
                n = p if isinstance(p, str) else _arithmetic(p.text, {targets[0]: v})
                if n is None:
                    return None
                text += str(n)
            if not is_identifier(text) or namespace.module_name_problem(text):
                return None
            names.append(require_attribute(text))
    return names


def _loop_branch(branch: T.Branch) -> bool:
    """A merge branch line that is a loop: one branch per iteration."""
    return len(branch.body) == 1 and isinstance(branch.body[0], (T.Repeat, T.For))


def _loop_header(item) -> tuple[str, str, set]:
    """A loop's `for` line (without the colon), its count as Python source, and the names
    it binds (its `let`s too)."""
    if isinstance(item, T.Repeat):
        bound = {item.index} if item.index else set()
        header, count = f"for {item.index or '_'} in range({item.count.text})", item.count.text
    else:
        bound = set(item.targets) - {"_"}
        for name in bound:
            require_argument(name)
        targets = ", ".join(item.targets)
        if item.destructure:
            targets = f"({targets},)" if len(item.targets) == 1 else targets
        header, count = f"for {targets} in {item.iterable.text}", f"len({item.iterable.text})"
    return header, count, bound | _let_names(item.body)


def _let_names(items) -> set:
    """The names `let`s bind in a template body, inside its conditions and loops too."""
    out = set()
    for item in items:
        if isinstance(item, T.Let):
            out.add(item.name)
        for sub in (getattr(item, "body", None), getattr(item, "then", None), getattr(item, "orelse", None)):
            if isinstance(sub, tuple):
                out |= _let_names(sub)
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


class _Named(str):
    """A loop item's constructor with its module name (`key`: Python source for it)."""
    key: str

    def __new__(cls, key: str, ctor: str):
        self = super().__new__(cls, ctor)
        self.key = key
        return self


class _Line(str):
    """A statement of a loop's body (a `let` or an `assert`), not an item."""


class _Indented:
    """A loop entry under an `if` inside the loop."""
    __slots__ = ("entry",)

    def __init__(self, entry):
        self.entry = entry


def _loop_entries(loop) -> list:
    """The constructors of a _Loop (under its conditions and in its inner loops too),
    without its statements."""
    out = []
    for c in loop.body:
        while isinstance(c, _Indented):
            c = c.entry
        if isinstance(c, _Loop):
            out += _loop_entries(c)
        elif c is not _LAST and not isinstance(c, _Line):
            out.append(c)
    return out


def _named_loop(part) -> bool:
    """A loop whose modules are named (all of them: else refused)."""
    if part[0] is not _LOOP:
        return False
    named = [isinstance(c, _Named) for c in _loop_entries(part[2])]
    if any(named) and not all(named):
        raise NotSymbolic("a loop with named and unnamed modules: the unnamed ones' indices depend on the count")
    return any(named)


def _loop_line(c, ip: str, layers: str) -> str:
    if isinstance(c, _Indented):
        return _loop_line(c.entry, ip + "    ", layers)
    if isinstance(c, _Line):
        return f"{ip}{c}"
    if isinstance(c, _Named):
        return f"{ip}{layers}.append(({c.key}, {c}))"
    return f"{ip}{layers}.append({c})"


_FSTRING_SAFE = re.compile(r"[^{}\"'\\#:!\n\r]*")


def module_key(label) -> str:
    """Python source for a module's name as nn.Sequential's OrderedDict (add_module) takes
    it: a literal, or for a computed name (T.Name) an f-string of its literal parts
    (module-name characters only, checked again here) and its expressions (pysource's
    text), `f"denselayer{i + 1}"`, as torchvision writes `"denselayer%d" % (i + 1)`.
    An expression with a quote, a brace or a colon is written `str(...)` and joined with `+`."""
    if not isinstance(label, T.Name):
        return literal(require_attribute(label))
    for part in label.parts:
        if isinstance(part, str) and not re.fullmatch(r"[A-Za-z0-9_-]+", part):
            raise NameRefused(f"cannot use {part!r} in a module name")
    texts = [part.text for part in label.parts if not isinstance(part, str)]
    if all(_FSTRING_SAFE.fullmatch(text) for text in texts):
        return 'f"' + "".join(p if isinstance(p, str) else "{" + p.text + "}" for p in label.parts) + '"'
    return " + ".join(literal(p) if isinstance(p, str) else f"str({p.text})" for p in label.parts)


def _assertion(item: T.Assert, ip: str) -> list[str]:
    """`assert` as the constructor's check: the spec's message in a ValueError."""
    if item.test.constant:
        if item.test.value is True:
            return []
        raise NotSymbolic("an `assert` that always fails")
    test = item.test.text if _level(item.test.text) >= _NOT else f"({item.test.text})"
    message = literal(item.message if item.message is not None else "assertion failed")
    return [f"{ip}if not {test}:", f"{ip}    raise ValueError({message})"]


def _arithmetic(text: str, values: dict):
    """The int value of an expression of integer arithmetic on `values` (parsed with
    Python's ast and computed here, never run), or None for anything else."""
    ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b}

    def value(node):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Name) and type(values.get(node.id)) is int:
            return values[node.id]
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and \
                isinstance(node.slice, ast.Constant) and type(node.slice.value) is int:
            seq = values.get(node.value.id)
            if type(seq) is tuple and -len(seq) <= node.slice.value < len(seq) and type(seq[node.slice.value]) is int:
                return seq[node.slice.value]
            raise ValueError
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        raise ValueError
    try:
        result = value(ast.parse(text, mode="eval").body)
    except (ValueError, ZeroDivisionError, SyntaxError, RecursionError):
        return None
    return result if type(result) is int and abs(result) < 10 ** 12 else None


def _with_constants(template: T.Template, values: dict) -> T.Template:
    """`template` with each argument that is a bare parameter of `values` written as that
    constant (for constant_space: the sizes a use's constant arguments give)."""
    def rebuild(v):
        if isinstance(v, T.Expr):
            if not v.constant and v.text in values:
                try:
                    return T.Expr(literal(values[v.text]), values[v.text])
                except Untranslatable:
                    return v
            return v
        if isinstance(v, tuple):
            return tuple(rebuild(x) for x in v)
        if type(v).__module__ == T.__name__ and isinstance(v, (T.Layer, T.Use, T.Sequence, T.If, T.Branch,
                                                                T.Repeat, T.Let, T.Assert)):
            return type(v)(*(getattr(v, f) if f == "spec" else rebuild(getattr(v, f)) for f in v._fields))
        return v
    fields = {f: getattr(template, f) for f in template._fields}
    fields["body"] = rebuild(template.body)
    return T.Template(**fields)


def _state_layer(branch: T.Branch):
    """The layer of a merge branch that is one `parameter` (a catalogue entry with `state`), else None."""
    body = branch.body
    if len(body) == 1 and isinstance(body[0], T.Layer) and body[0].branches is None and body[0].spec.state is not None:
        return body[0]
    return None


def _dims(shape) -> list:
    """A `parameter`'s shape as bound: its sizes (ints, or Syms for a shape that reads the
    values: `(dim, 1, 1)`, written out element by element)."""
    if type(shape) is tuple:
        return list(shape)
    node = ast.parse(text_of(shape), mode="eval").body if isinstance(shape, Sym) else None
    if not isinstance(node, (ast.Tuple, ast.List)) or not node.elts or \
            any(isinstance(e, ast.Starred) for e in node.elts):
        raise NotSymbolic("a `parameter` whose shape is not a list of sizes written out")
    return [symbolic(ast.unparse(e)) for e in node.elts]


def _lone_automatic(child, children) -> bool:
    """Whether an unnamed module under a condition gets the same automatic name whether
    or not the others are there, and changes no other's: the only unnamed one of its
    kind, whose name nothing else has (Inception-v3's `adaptive_avgpool2d(17) ->
    AuxLogits: ... when aux_logits`)."""
    base = snake_case(child.definition) if child.is_scope else child.kind
    if namespace.module_name_problem(base):
        return False
    others = [c for c in children if c is not child]
    if any(c.name is None and (snake_case(c.definition) if c.is_scope else c.kind) == base for c in others):
        return False
    copies = [_Child(c.item, c.conditional) for c in children]
    namespace.name_children(copies, False, {c.name for c in children if c.name})
    return sum(c.name == base for c in copies) == 1 and all(
        not (c.name or "").startswith(f"{base}_") for c in copies)


def _referenced(items) -> set:
    """The names of the tensors a template's body refers to (`@name`, `center_crop(@up4)`)."""
    out = set()

    def walk(v):
        if isinstance(v, (T.Ref, T.TensorArg)):
            out.add(v.name)
        elif isinstance(v, T.Output):
            out.update(ref for _, ref in v.args)
        elif isinstance(v, tuple):
            for x in v:
                walk(x)
        elif type(v).__module__ == T.__name__ and not isinstance(v, T.Expr):
            for field in v._fields:
                if field != "spec":
                    walk(getattr(v, field))
    walk(items)
    return out


def _without_dead(lines: list, result: str) -> list:
    """forward's lines without the assignments nothing reads (nor `if`s left empty): an
    auxiliary head reached by `@name` is built but not computed, as the class per
    specialisation has it (torchvision's eval mode). The lines are parsed with Python's
    ast, never run; every statement forward holds is a call of a module or a tensor
    expression, so leaving one out changes nothing else."""
    body = _forward_statements(lines)
    if body is None:
        return lines
    drop: set = set()
    reads = _read_names

    def lines_of(node) -> set:
        return set(range(node.lineno, node.end_lineno + 1))

    def sweep(stmts, live: set, gone: set) -> tuple[set, bool]:
        """-> (the names live before `stmts`, whether every statement was left out)."""
        every = True
        for node in reversed(stmts):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                if name not in live:
                    gone |= lines_of(node)
                    continue
                live = (live - {name}) | reads(node.value)
            elif isinstance(node, ast.If):
                trial = set()
                live_a, empty_a = sweep(node.body, set(live), trial)
                live_b, empty_b = sweep(node.orelse, set(live), trial) if node.orelse else (set(live), True)
                if empty_a and empty_b:
                    gone |= lines_of(node)
                    continue
                if empty_a or (node.orelse and empty_b):    # an arm left empty: keep the `if` as it is
                    live = live | reads(node)
                else:
                    gone |= trial
                    live = live_a | live_b | reads(node.test)
            else:
                live = live | reads(node)
            every = False
        return live, every
    sweep(body, {result} if result is not None else set(), drop)
    return [line for i, line in enumerate(lines, 1) if i not in drop]


def _into_return_arms(lines: list) -> list:
    """forward's lines with what only a `return ... when`'s tensors need moved into its
    `if self.returns_...:`: with `return(@t1) when p` then `return(o=@t0)`, the class per
    specialisation for p false does not compute t1 (built but not computed), so neither
    may this class, whose batch norms would update their statistics in training, and
    whose dropouts would draw random numbers. Each line goes after the `return`s that do
    not need it (into the arms of those that do, or before the first of a run of
    `return`s that all do), and only where that moves it past no line that rewrites what
    it reads or writes; else NotSymbolic. Parsed with Python's ast, never run."""
    body = _forward_statements(lines)
    if body is None:
        return lines
    k = len(body)
    while k and (isinstance(body[k - 1], ast.Return) or _guarded_return(body[k - 1])):
        k -= 1
    stmts, rets = body[:k], body[k:]
    if len(rets) < 2:
        return lines

    writes = _written_names

    def needed(ret) -> set:
        live, out = _read_names(ret.body[0] if isinstance(ret, ast.If) else ret), set()
        for i in reversed(range(len(stmts))):
            node = stmts[i]
            w = writes(node)
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                if w & live:
                    out.add(i)
                    live = (live - w) | _read_names(node.value)
            elif w & live or not w:
                out.add(i)
                live |= _read_names(node)
        return out
    needs = [needed(r) for r in rets]
    # Each statement goes where every path that needs it passes first: before the `if` of
    # the first `return` from which on every remaining one needs it, else into the arms of
    # those that do (copied: each arm returns).
    paths, out, top = [], [], []

    def text_of_lines(node, extra: str) -> list:
        return [extra + line for line in lines[node.lineno - 1:node.end_lineno]]
    for n, (ret, need) in enumerate(zip(rets, needs)):
        common = set.intersection(*needs[n:]) - set(top)
        top += sorted(common)
        out += [line for i in sorted(common) for line in text_of_lines(stmts[i], "")]
        arm = sorted(need - set(top))
        paths.append(top + arm)
        if not isinstance(ret, ast.If):
            out += [line for i in arm for line in text_of_lines(stmts[i], "")] + text_of_lines(ret, "")
            break
        out += lines[ret.lineno - 1:ret.body[0].lineno - 1]
        out += [line for i in arm for line in text_of_lines(stmts[i], "    ")] + text_of_lines(ret.body[0], "")
    if all(path == sorted(path) for path in paths) and top == sorted(set().union(*needs)):
        return lines        # every statement before the first `return`: as written
    for path in paths:
        for a, i in enumerate(path):
            for k in path[a + 1:]:
                if k < i and (writes(stmts[i]) & (_read_names(stmts[k]) | writes(stmts[k])) or
                              _read_names(stmts[i]) & writes(stmts[k])):
                    raise NotSymbolic("a tensor only some `return ... when`s read, computed where the "
                                      "statements around it rewrite what it reads")
    return out


def _guarded_return(node) -> bool:
    """`if self.returns_...: return ...` (return_lines)."""
    return isinstance(node, ast.If) and not node.orelse and len(node.body) == 1 and \
        isinstance(node.body[0], ast.Return) and isinstance(node.test, ast.Attribute)


def _else_for_overwritten(lines: list) -> list:
    """forward's lines with the statements that only compute what an `if` without `else`
    then overwrites moved into an `else`: MBConv's `y = self.stochastic_depth(result)`
    and `if self.use_add: y = y + x` before `if self.use_result: y = result` run only when
    the test fails. So the class computes only what its output needs, as the class per
    specialisation does, and as torchvision's MBConv, whose StochasticDepth draws random
    numbers in training only on the residual path. Parsed with Python's ast, never run."""
    while True:
        body = _forward_statements(lines)
        if body is None:
            return lines
        for k, node in enumerate(body):
            if not isinstance(node, ast.If) or node.orelse or len(node.body) != 1:
                continue
            target = _only_write(node.body[0])
            if target is None:
                continue
            kept = _read_names(node.test) | _read_names(node.body[0].value)
            j = k
            while j > 0 and _only_write(body[j - 1]) == target and target not in kept:
                j -= 1
            if j == k:
                continue
            first, head = body[j].lineno - 1, node.lineno - 1
            end = node.end_lineno
            lines = [*lines[:first], *lines[head:end], "        else:", *("    " + line for line in lines[first:head]),
                     *lines[end:]]
            break
        else:
            return lines


def _only_write(node) -> str | None:
    """The one local `node` assigns, when assigning it is all it does (`y = ...`, or an
    `if` whose arms only assign it); else None."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.If):
        writes = {_only_write(n) for n in (*node.body, *node.orelse)}
        return writes.pop() if len(writes) == 1 and None not in writes else None
    return None


def _forward_statements(lines: list) -> list | None:
    """forward's lines (indented 8) as Python's ast statements, their line numbers the
    lines' own; None when they do not parse."""
    try:
        return ast.parse("\n".join(line[8:] for line in lines)).body
    except SyntaxError:
        return None


def _read_names(node) -> set:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _written_names(node) -> set:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _either(test: T.Expr, then, orelse):
    """The channels after an `if`: the arms' when they agree, else chosen as the test
    chooses (a merge after it mostly reads another branch's: ResNet's downsample)."""
    if text_of(then) == text_of(orelse):
        return then
    if _implies_equal(test.text, text_of(then), text_of(orelse)):
        return orelse
    if _implies_equal(test.text, text_of(then), text_of(orelse), holding=False):
        return then
    return Sym(f"{_operand(then, _OR)} if {test.text if _level(test.text) >= _OR else f'({test.text})'} "
               f"else {_operand(orelse, _COND)}", _COND)


def _broadcast_channels(channels: list, facts: list):
    """The channels an `add` or `mul` gives: torch broadcasts a branch of 1 channel to the
    others' (`add { identity  conv2d(c, 1) }` on a 1-channel input gives c). The same for
    every branch, that one; all numbers, the largest (check accepted them: each equal or
    1). Expressions that differ must be equal by `facts` (`==` terms of lets, asserts and
    the tests of the `if`s and `when`s around: MobileNetV2's `identity when in.c == out`,
    ResNet's downsample test); else the class cannot tell which branch's channels every
    use gets: NotSymbolic."""
    texts = {_canonical(text_of(c)) for c in channels if not (type(c) is int and c == 1)}
    if len(texts) <= 1:
        rest = [c for c in channels if not (type(c) is int and c == 1)]
        return rest[0] if rest else channels[0]
    if all(type(c) is int for c in channels):
        return max(channels)
    parent: dict = {}

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x
    for fact in facts:
        try:
            node = ast.parse(fact, mode="eval").body
        except SyntaxError:
            continue
        terms = node.values if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And) else [node]
        for t in terms:
            if isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq):
                parent[find(ast.unparse(t.left))] = find(ast.unparse(t.comparators[0]))
    if len({find(t) for t in texts}) == 1:
        return channels[0]
    raise NotSymbolic("a merge whose branches' channels may differ (torch broadcasts 1 channel to the others'): "
                      f"{' and '.join(sorted(texts))}")


def _canonical(text: str) -> str:
    try:
        return ast.unparse(ast.parse(text, mode="eval"))
    except SyntaxError:
        return text


def _implies_equal(test: str, a: str, b: str, holding: bool = True) -> bool:
    """Whether `test` holding means a == b: one of its `and`-ed terms is `a == b` (MobileNetV2's
    `stride == 1 and in_channels == out` choosing between in_channels and out), so that
    `a if test else b` is b whatever the test gives. With `holding=False`: whether `test`
    failing means a == b, one of its `or`-ed terms being `a != b` (ResNet's downsample,
    `in_channels != c or stride != 1` choosing between c and in_channels), so that
    `a if test else b` is a."""
    node = ast.parse(test, mode="eval").body
    joiner, op = (ast.And, ast.Eq) if holding else (ast.Or, ast.NotEq)
    terms = node.values if isinstance(node, ast.BoolOp) and isinstance(node.op, joiner) else [node]
    pair = {ast.unparse(ast.parse(a, mode="eval")), ast.unparse(ast.parse(b, mode="eval"))}
    return any(isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], op)
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
    if not re.search(rf"(?<![\w.]){re.escape(name)}\b(?!\s*=(?!=))", text):
        return False        # not even a candidate outside keywords: parsing is the costly part of generate
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
