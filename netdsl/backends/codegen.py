"""Graph IR -> standalone PyTorch source.

This is the ONE description of how a spec becomes torch: `netdsl compile` writes
this text to a file, and `netdsl.load` executes the very same text (see build.py),
so the two cannot drift apart.

Design (docs/compile.md has the long version):
- one `nn.Module` class per network, and one per distinct *specialisation* of a
  block: a block whose expansion differs with its arguments or input shape
  (ResNet's BasicBlock with and without `downsample`) yields BasicBlock,
  BasicBlock_2, ... Each class keeps the spec's parameter names and defaults
  and refuses arguments other than the ones it was expanded for, rather than
  silently ignoring them;
- module attribute names are exactly the IR's names, so state_dict keys are the
  spec's (and torchvision's, for the zoo);
- a named sequence whose items form a plain chain becomes an `nn.Sequential`
  called as a whole; any other sequence is still an `nn.Sequential` (for the
  `features.3` style keys) whose items the parent's forward calls one by one;
- every literal goes through `literal()`, which only knows ints, floats, bools,
  None, strings and tuples; every name goes through a validator. Nothing from
  the spec is pasted into the source unchecked.

No code here branches on a layer kind: constructors come from LayerSpec.torch,
merge expressions from LayerSpec.forward, initialisation targets from
LayerSpec.category.
"""
from __future__ import annotations

import keyword
import math
import unicodedata
from dataclasses import dataclass, field

from ..elaborate import RESERVED
from ..ir import Graph, Node, Scope

INIT_CHOICES = ("default", "xavier")
# LayerSpec.category values whose weights Xavier-uniform initialises (the notes' init_cnn)
XAVIER_CATEGORIES = ("convolution", "linear")

# Module classes the catalogue names that torch.nn lacks: the generated file defines
# them itself, so it still imports nothing but torch.
HELPERS = {
    "CenterCrop": '''
class {name}(nn.Module):
    """Crops height and width around the centre; an odd excess loses its extra row/column at the end."""

    def __init__(self, size):
        super().__init__()
        self.size = (int(size[0]), int(size[1]))

    def forward(self, x):
        top = (x.shape[-2] - self.size[0]) // 2
        left = (x.shape[-1] - self.size[1]) // 2
        return x[..., top:top + self.size[0], left:left + self.size[1]]
''',
}

_INIT_FN = '''
def {name}(module):
    """Xavier-uniform weights for convolution and linear layers, as the notes' init_cnn."""
    if isinstance(module, ({classes})):
        nn.init.xavier_uniform_(module.weight)
'''

# Names the generated module defines or imports at top level.
_PLACEHOLDER = "\x00CLASS\x00"   # cannot occur in emitted text: literal() escapes control characters
_TOP_LEVEL = {"torch", "nn", "OrderedDict"}
# attribute names that would shadow nn.Module's own (the elaborator rejects them too)
_FORBIDDEN_ATTRS = RESERVED


_NO_DEFAULT = object()


class CodegenError(Exception):
    """The IR cannot be written as Python (a bug upstream, or a name/literal codegen refuses)."""


# ---- safe emitters ----------------------------------------------------------
def literal(v) -> str:
    """Python source for a value. Only inert literal types; anything else is refused."""
    if v is None or isinstance(v, bool):
        return repr(v)
    if type(v) is int:
        return repr(v)
    if type(v) is float:
        if not math.isfinite(v):
            raise CodegenError(f"cannot emit the non-finite number {v!r}")
        return repr(v)
    if type(v) is str:
        return repr(v)      # repr of a str is always a single, inert string literal
    if type(v) is tuple:
        items = [literal(x) for x in v]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    raise CodegenError(f"cannot emit a value of type {type(v).__name__}")


def _plain_identifier(name) -> bool:
    # NFKC leaves ASCII unchanged, so only non-ASCII names pay for the normalisation
    return (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)
            and not keyword.issoftkeyword(name) and (name.isascii() or unicodedata.normalize("NFKC", name) == name))


def check_attr(name) -> str:
    """A module attribute: an identifier torch and Python both accept (or a sequence index)."""
    if isinstance(name, str) and name.isdigit() and (name == "0" or not name.startswith("0")):
        return name
    if not _plain_identifier(name) or name.startswith("_") or name in _FORBIDDEN_ATTRS:
        raise CodegenError(f"cannot use {name!r} as a module name")
    return name


def check_class(name) -> str:
    if not _plain_identifier(name) or name.startswith("__") or name in _TOP_LEVEL:
        raise CodegenError(f"cannot use {name!r} as a class name")
    return name


def docstring_text(text: str) -> str:
    """Text safe inside a triple-quoted docstring: printable, no quotes, no backslashes."""
    text = str(text)
    if text.isprintable() and '"' not in text and "\\" not in text:
        return text         # the usual case, without a pass over every character
    return "".join(c if c.isprintable() and c not in '\\"' else "?" for c in text)


def _dims(shape) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]" if shape is not None else "?"


def _dims_x(shape) -> str:
    return "x".join(str(int(d)) for d in shape) if shape is not None else "?"


# ---- structure analysis ------------------------------------------------------
@dataclass
class _Analysis:
    graph: Graph
    users: dict = field(default_factory=dict)      # node id -> consumer ids (-1: network output)
    members: dict = field(default_factory=dict)    # scope id -> set of node ids inside, recursively
    chain: dict = field(default_factory=dict)      # scope id -> bool: sequence callable as a whole
    io: dict = field(default_factory=dict)         # scope id -> (input id, output id) or None


def _analyse(graph: Graph) -> _Analysis:
    an = _Analysis(graph)
    for n in graph.nodes:
        an.users.setdefault(n.id, [])
        for i in n.inputs:
            an.users.setdefault(i, []).append(n.id)
    if graph.output is not None:
        an.users[graph.output].append(-1)
    for n in graph.nodes:
        s = n.scope
        while s is not None:
            an.members.setdefault(s.id, set()).add(n.id)
            s = s.parent
    scopes = graph.scopes()
    for s in scopes:
        an.members.setdefault(s.id, set())
        an.io[s.id] = _unit_io(an, an.members[s.id])
    for s in reversed(scopes):     # children before parents
        an.chain[s.id] = s.kind == "sequence" and _is_chain(an, s)
    return an


def _unit_io(an: _Analysis, members: set) -> tuple | None:
    """(input, output) when a set of nodes reads one outside tensor and yields one."""
    if not members:
        return None
    ins = {i for m in members for i in an.graph.nodes[m].inputs if i not in members}
    outs = {m for m in members if any(u not in members for u in an.users[m])}
    if len(ins) != 1 or len(outs) != 1:
        return None
    return next(iter(ins)), next(iter(outs))


def _child_io(an: _Analysis, child) -> tuple | None:
    if isinstance(child, Scope):
        return an.io[child.id]
    return (child.inputs[0], child.id) if len(child.inputs) == 1 else None


def _is_chain(an: _Analysis, s: Scope) -> bool:
    io = an.io[s.id]
    if io is None or not s.children:
        return False
    covered = set()
    prev = io[0]
    for child in s.children:
        if isinstance(child, Scope):
            if child.kind == "sequence" and not an.chain[child.id]:
                return False
            covered |= an.members[child.id]
        else:
            covered.add(child.id)
        cio = _child_io(an, child)
        if cio is None or cio[0] != prev:
            return False
        prev = cio[1]
    # every node belongs to a child (no merges directly inside) and the last child yields the output
    return covered == an.members[s.id] and prev == io[1]


# ---- the generator -------------------------------------------------------------
class _Writer:
    def __init__(self, graphs: list[Graph], source_name: str, init: str | None):
        self.graphs = graphs
        self.source_name = source_name
        self.init = init
        self.classes: list[str] = []            # emitted class sources, dependencies first
        self.spec_keys: dict = {}               # (definition, body) -> class name
        self.taken = set(_TOP_LEVEL)
        for g in graphs:
            self.taken.add(check_class(g.network))
        self.helpers: dict[str, str] = {}       # catalogue class name -> emitted name
        self.needs_ordered = False
        self.xavier_classes: set[str] = set()
        self.init_fn: str | None = None
        self.defaults: dict = {}                # layer kind -> catalogue_defaults
        self.constant_defaults: dict = {}       # definition -> param_defaults
        self.keywords: set = set()              # keyword names check_attr_kw accepted
        self.attrs: set = set()                 # module names check_attr accepted
        self.ctors: dict = {}                   # (kind, id(args), *input shapes) -> constructor call
        self.class_names: set = set()           # catalogue class names found to be identifiers
        self.shape_comments: dict = {}          # shape -> "[64, 56, 56]"

    # ---- names
    def fresh_class(self, base: str) -> str:
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name

    def module_class(self, cls: str, node: Node) -> str:
        """The emitted name for catalogue class `cls` of `node`."""
        if cls not in self.class_names:
            if not _plain_identifier(cls):
                raise CodegenError(f"catalogue class name {cls!r} is not an identifier")
            self.class_names.add(cls)
        if cls in HELPERS:
            if cls not in self.helpers:
                self.helpers[cls] = self.fresh_class(cls) if cls in self.taken else cls
                self.taken.add(self.helpers[cls])
            return self.helpers[cls]
        if node.spec.category in XAVIER_CATEGORIES:
            self.xavier_classes.add(f"nn.{cls}")
        return f"nn.{cls}"

    def keyword(self, name) -> str:
        """check_attr_kw, once per name: constructor calls repeat the same few keywords."""
        if name not in self.keywords:
            self.keywords.add(check_attr_kw(name))
        return name

    def attr(self, name) -> str:
        """check_attr, once per name: every block class repeats its module names."""
        if name not in self.attrs:
            self.attrs.add(check_attr(name))
        return name

    # ---- constructors
    def node_ctor(self, node: Node) -> str:
        nodes = self.an.graph.nodes
        shapes = [nodes[i].shape for i in node.inputs]
        # Equal layers share one args namespace (elaborate._shared_args), and LayerSpec.torch
        # depends on nothing but the args and the input shapes: build each distinct call once.
        key = (node.spec.name, id(node.args), *shapes)
        text = self.ctors.get(key)
        if text is None:
            cls, kwargs = node.spec.torch(node.args, shapes)
            cls = self.module_class(cls, node)
            kwargs = _readable_kwargs(node.spec, kwargs, self.defaults)
            args = ", ".join(f"{self.keyword(k)}={literal(v)}" for k, v in kwargs.items())
            text = self.ctors[key] = f"{cls}({args})"
        return text

    def child_ctor(self, child, indent: int) -> str:
        if isinstance(child, Node):
            return self.node_ctor(child)
        if child.kind == "block":
            cls = self.block_class(child)
            return f"{cls}({self.call_args(child)})"
        return self.sequential(child, indent)

    def sequential(self, s: Scope, indent: int) -> str:
        pad = " " * (indent + 4)
        if not s.children:
            return "nn.Sequential()"
        indexed = all(c.name == str(i) for i, c in enumerate(s.children))
        lines = []
        for c in s.children:
            ctor = self.child_ctor(c, indent + 4)
            lines.append(f"{pad}{ctor}," if indexed else f"{pad}({literal(check_attr(c.name))}, {ctor}),")
        if indexed:
            return "nn.Sequential(\n" + "\n".join(lines) + "\n" + " " * indent + ")"
        self.needs_ordered = True
        return ("nn.Sequential(OrderedDict([\n" + "\n".join(lines) + "\n" + " " * indent + "]))")

    def call_args(self, s: Scope) -> str:
        d = self.program.blocks[s.definition].ast
        defaults = self.param_defaults(s.definition)
        parts = []
        for p in d.params:
            v = s.args.get(p.name)
            if p.name in defaults and defaults[p.name] == v and type(defaults[p.name]) is type(v):
                continue
            parts.append(f"{check_attr_kw(p.name)}={literal(v)}")
        return ", ".join(parts)

    def param_defaults(self, definition: str) -> dict:
        """Spec defaults that are plain constants (evaluated in the defining file's scope)."""
        out = self.constant_defaults.get(definition)
        if out is None:
            out = self.constant_defaults[definition] = self._param_defaults(definition)
        return out

    def _param_defaults(self, definition: str) -> dict:
        from ..values import UNKNOWN, Env, EvalError, evaluate
        table = self.program.blocks if definition in self.program.blocks else self.program.networks
        d = table[definition]
        out = {}
        for p in d.ast.params:
            if p.default is None:
                continue
            try:
                v = evaluate(p.default, Env(d.env))
                literal(v)
            except (EvalError, CodegenError):   # depends on other parameters or `in`: no constant default
                v = _NO_DEFAULT
            if v is not _NO_DEFAULT and v is not UNKNOWN:
                out[p.name] = v
        return out

    # ---- classes
    def block_class(self, s: Scope) -> str:
        body = self.class_body(s, _PLACEHOLDER)
        key = (s.definition, body)
        if key not in self.spec_keys:
            name = self.fresh_class(check_class(s.definition))
            self.spec_keys[key] = name
            self.classes.append(body.replace(_PLACEHOLDER, name))
        return self.spec_keys[key]

    def signature(self, definition: str, values: dict, use_values_as_defaults: bool) -> str:
        table = self.program.blocks if definition in self.program.blocks else self.program.networks
        params = table[definition].ast.params
        defaults = self.param_defaults(definition)
        parts, seen_default, kw_only = [], False, False
        for p in params:
            name = check_attr_kw(p.name)
            if use_values_as_defaults and p.name in values:
                parts.append(f"{name}={literal(values[p.name])}")
                seen_default = True
            elif p.name in defaults:
                parts.append(f"{name}={literal(defaults[p.name])}")
                seen_default = True
            else:
                parts.append(name)
                kw_only = kw_only or seen_default
        if kw_only:   # a required parameter after a defaulted one: keyword-only keeps it valid Python
            parts.insert(0, "*")
        return ", ".join(["self", *parts])

    def class_body(self, s: Scope, name: str) -> str:
        """The source of the class for a network or block scope; `name` is a placeholder."""
        is_net = s.kind == "network"
        values = self.an.graph.params if is_net else s.args
        values = {k: v for k, v in values.items()}
        sig = self.signature(s.definition, values, is_net)
        checked = [k for k in values if not (is_net and k == "init")]
        head = [f"class {name}(nn.Module):"]
        if is_net:
            doc = (f"{docstring_text(s.definition)}: {_dims_x(self.an.graph.input_shape)} -> "
                   f"{_dims_x(self.an.graph.output_shape)}, {self.an.graph.total_params:,} parameters.")
        else:
            shown = ", ".join(f"{k}={literal(v)}" for k, v in values.items())
            doc = (f"{docstring_text(s.definition)}({docstring_text(shown)}) on a {_dims_x(s.in_shape)} input "
                   f"-> {_dims_x(s.out_shape)}.")
        head.append(f'    """{doc}"""')
        head.append("")
        init = [f"    def __init__({sig}):", "        super().__init__()"]
        if checked:
            given = literal_tuple_src([check_attr_kw(k) for k in checked])
            expected = literal(tuple(values[k] for k in checked))
            what = ", ".join(f"{k}={literal(values[k])}" for k in checked)
            init += [f"        if {given} != {expected}:",
                     f"            raise ValueError({literal(docstring_text(f'compiled for {what}; '))}",
                     f"                             {literal('recompile the spec for other values')})"]
        for child in s.children:
            attr = self.attr(child.name)
            init.append(f"        self.{attr} = {self.child_ctor(child, 8)}")
        if is_net:
            init += self.init_lines(s)
        fwd = ["", "    def forward(self, x):"] + self.forward_lines(s)
        return "\n".join(head + init + fwd) + "\n"

    def init_lines(self, s: Scope) -> list[str]:
        mode = self.init
        dynamic = "init" in self.an.graph.params and self.init is None
        if not dynamic and mode in (None, "default"):
            return []
        if self.init_fn is None:
            self.init_fn = self.fresh_class("init_xavier")
        self.any_init = True
        if dynamic:
            return ["        if init == \"xavier\":", f"            self.apply({self.init_fn})"]
        return [f"        self.apply({self.init_fn})"]

    # ---- forward
    def access(self, base: Scope, path: list) -> str:
        out = "self"
        for owner, name in path:
            out += f"[{name}]" if owner.kind == "sequence" and name.isdigit() else f".{self.attr(name)}"
        return out

    def path_to(self, c: Scope, item) -> list:
        """[(owner scope, name), ...] from class scope `c` down to a node or scope."""
        steps = []
        cur = item
        while True:
            owner = cur.scope if isinstance(cur, Node) else cur.parent
            steps.append((owner, cur.name))
            if owner is c:
                return list(reversed(steps))
            cur = owner

    def unit_of(self, c: Scope, node: Node, memo: dict | None = None):
        """What a forward line in class `c` calls for `node`: a block, a chain sequence or the node.
        `memo` (scope id -> unit scope or None) shares the walk between nodes of one scope."""
        s = node.scope
        if s is c:
            return node
        unit = memo.get(s.id, _NO_DEFAULT) if memo is not None else _NO_DEFAULT
        if unit is _NO_DEFAULT:
            unit = None
            while s is not c:
                if s.kind == "block" or self.an.chain[s.id]:
                    unit = s           # the outermost such scope wins: keep walking up
                s = s.parent
            if memo is not None:
                memo[node.scope.id] = unit
        return node if unit is None else unit

    def forward_lines(self, c: Scope) -> list[str]:
        an = self.an
        g = an.graph
        members = sorted(an.members[c.id])
        if c.kind == "network":
            start = g.input.id
            members = [m for m in members if m != start]
            out_id = g.output
        else:
            start, out_id = an.io[c.id]
        # units in order, each with its input ids and output id
        units, seen, memo = [], set(), {}
        for m in members:
            u = self.unit_of(c, g.nodes[m], memo)
            if isinstance(u, Scope):
                if u.id in seen:
                    continue
                seen.add(u.id)
                io = an.io[u.id]
                if io is None:
                    raise CodegenError(f"{u.kind} {u.qualname!r} does not have exactly one input and one output")
                units.append((u, (io[0],), io[1]))
            else:
                units.append((u, u.inputs, u.id))
        # emit in order of the units' output ids (a topological order)
        units.sort(key=lambda t: t[2])
        remaining = {}
        for _, ins, _ in units:
            for i in ins:
                remaining[i] = remaining.get(i, 0) + 1
        remaining[out_id] = remaining.get(out_id, 0) + 1
        var = {start: "x"}
        live = {"x": start}
        lines = []
        for u, ins, out in units:
            args = [var[i] for i in ins]
            for i in ins:
                remaining[i] -= 1
                if remaining[i] == 0 and live.get(var[i]) == i:
                    del live[var[i]]
            if isinstance(u, Node) and not u.has_module:
                if u.spec is None or u.spec.forward is None:
                    raise CodegenError(f"layer {u.kind!r} has neither a torch module nor a forward expression")
                expr = u.spec.forward(u.args, args)
            else:
                expr = f"{self.access(c, self.path_to(c, u))}({', '.join(args)})"
            name = "x" if "x" not in live else next(f"x{k}" for k in range(1, 10 ** 6) if f"x{k}" not in live)
            var[out] = name
            live[name] = out
            shape = g.nodes[out].shape
            dims = self.shape_comments.get(shape)
            if dims is None:
                dims = self.shape_comments[shape] = _dims(shape)
            lines.append(f"        {name} = {expr}  # {dims}")
        lines.append(f"        return {var[out_id]}")
        return lines

    # ---- the file
    def module(self, program) -> str:
        self.program = program
        net_classes = []
        for g in self.graphs:
            self.an = _analyse(g)
            self.any_init = False
            net_classes.append(self.class_body(g.root, check_class(g.network)))
        names = ", ".join(g.network for g in self.graphs)
        doc = [
            f'"""{docstring_text(names)}: PyTorch modules compiled by netdsl from {docstring_text(self.source_name)}.',
            "",
            "Generated code: edit the spec and recompile rather than editing this file.",
            'Its only dependency is PyTorch."""',
        ]
        out = ["\n".join(doc), ""]
        if self.needs_ordered:
            out.append("from collections import OrderedDict")
            out.append("")
        out += ["import torch", "from torch import nn", ""]
        out.append("__all__ = [" + ", ".join(literal(g.network) for g in self.graphs) + "]")
        parts = [HELPERS[k].format(name=v).strip("\n") for k, v in sorted(self.helpers.items())]
        if self.init_fn is not None:
            classes = ", ".join(sorted(self.xavier_classes)) or "nn.Conv2d, nn.Linear"
            if len(self.xavier_classes) == 1:
                classes += ","
            parts.append(_INIT_FN.format(name=self.init_fn, classes=classes).strip("\n"))
        parts += [c.rstrip("\n") for c in self.classes]
        parts += [c.rstrip("\n") for c in net_classes]
        text = "\n".join(out) + "\n\n\n" + "\n\n\n".join(parts) + "\n"
        if "torch." not in text.replace("import torch", ""):
            # keep `import torch` used (ruff F401) when no merge expression refers to it
            text = text.replace("import torch\nfrom torch import nn\n", "from torch import nn\n")
        return text


# Arguments torch expands with _pair(): (3, 3) and 3 mean the same there.
_PAIR_ARGS = frozenset({"kernel_size", "stride", "padding", "dilation", "output_padding"})


def catalogue_defaults(spec) -> dict:
    """Keyword -> default for a layer's optional parameters, under every name torch may
    use for it. tests/test_codegen_readable.py proves each equals torch's own
    constructor default, so leaving such an argument out never changes the module."""
    out = {}
    for p in spec.params:
        if p.required or p.default is None or p.per_sample_dim:
            continue
        value = p.type.coerce(p.default)
        for name in (p.name, *p.aliases, p.torch_name):
            if name:
                out[name] = value
    return out


def _readable_kwargs(spec, kwargs: dict, memo: dict | None = None) -> dict:
    """Write constructor calls as a person would: leave out arguments equal to their
    defaults, and write an equal pair (3, 3) as 3 where torch accepts either.
    `memo` keeps catalogue_defaults per layer kind for one generated file."""
    if memo is None:
        defaults = catalogue_defaults(spec)
    else:
        defaults = memo.get(spec.name)
        if defaults is None:
            defaults = memo[spec.name] = catalogue_defaults(spec)
    out = {}
    for key, value in kwargs.items():
        if key in defaults and type(defaults[key]) is type(value) and defaults[key] == value:
            continue
        if key in _PAIR_ARGS and type(value) is tuple and len(value) == 2 and value[0] == value[1]:
            value = value[0]
        out[key] = value
    return out


def check_attr_kw(name) -> str:
    """A keyword argument or parameter name."""
    if not _plain_identifier(name) or name.startswith("_") or name in ("self",):
        raise CodegenError(f"cannot use {name!r} as an argument name")
    return name


def literal_tuple_src(names: list[str]) -> str:
    return "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"


def generate(graphs: list[Graph], program, source_name: str = "<string>", init: str | None = None) -> str:
    """Python source defining one class per network in `graphs` (and the block classes they use).

    `init`: None (the spec decides, through a network parameter `init`), "default" or "xavier".
    Raises CodegenError if a graph has errors or something cannot be emitted safely.
    """
    if init not in (None, *INIT_CHOICES):
        raise CodegenError(f"unknown init {init!r}; choose from {', '.join(INIT_CHOICES)}")
    for g in graphs:
        if not g.ok or g.output is None or any(n.shape is None for n in g.nodes):
            raise CodegenError(f"network {g.network!r} has errors; check it first")
    return _Writer(graphs, source_name, init).module(program)
