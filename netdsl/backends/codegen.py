"""Graph IR -> standalone PyTorch source.

This is the ONE description of how a spec becomes torch: `netdsl compile` writes
this text to a file, and `netdsl.load` executes the very same text (see build.py),
so the two cannot drift apart.

Design (docs/compile.md has the long version):
- one `nn.Module` class per network, and one per block definition where its
  body lies in the subset blockclass.py writes (its constructor takes the input
  channels and the block's parameters, and computes the body from them);
- for any other block, one class per distinct *specialisation*: a block whose
  expansion differs with its arguments or input shape yields Block, Block_2, ...
  Each keeps the spec's parameter names and defaults and refuses arguments other
  than the ones it was expanded for, rather than silently ignoring them; a
  comment above the first says why the block has no class of its own;
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

import ast
import re

from ..ir import INIT_CHOICES, NO_DEFAULT, Graph, Node, Scope
from ..namespace import (
    TOP_LEVEL,
    ClassNames,
    NameRefused,
    is_identifier,
    require_argument,
    require_attribute,
    require_class,
)
from ..pysource import MATH, Untranslatable
from ..pysource import literal as _literal
from ..record import Record
from .blockclass import NotSymbolic, class_placeholder, helper_placeholder, translate, translate_network, wrap
from .helpers import HELPERS
from .input_bound import bound_input

# LayerSpec.category values whose weights Xavier-uniform initialises (the notes' init_cnn)
XAVIER_CATEGORIES = ("convolution", "linear")

_INIT_FN = '''
def {name}(module):
    """Xavier-uniform weights for convolution and linear layers, as the notes' init_cnn."""
    if isinstance(module, ({classes})):
        nn.init.xavier_uniform_(module.weight)
'''

_PLACEHOLDER = "\x00CLASS\x00"   # cannot occur in emitted text: literal() escapes control characters


# The comment above a network class that takes only the values it was compiled for
# (one that cannot be written for any values); the import hook looks for it.
FALLBACK_NOTE = "{network}: a class for the values compiled for, because {why}."


def specialised_networks(source: str, networks) -> set:
    """Which of `networks` the generated `source` writes for its compiled values only."""
    mark = FALLBACK_NOTE.split("{why}")[0].split("}", 1)[1]      # ": a class for ... because "
    marks = {line[2:].split(":", 1)[0] for line in source.splitlines() if line.startswith("# ") and mark in line}
    return {n for n in networks if n in marks}


# A string literal of generated code (with its prefix; triple-quoted ones first), for
# telling code from text: none of what codegen writes inside a string is code.
_STRINGS = re.compile(r'''(?:[rRbBfFuU]{1,2})?(?:"{3}(?:[^\\]|\\.)*?"{3}|\'{3}(?:[^\\]|\\.)*?\'{3}'''
                      r'''|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\')''', re.S)


class CodegenError(Exception):
    """The IR cannot be written as Python (a bug upstream, or a name/literal codegen refuses).
    `span`: the innermost layer or block use being written when it was raised, if any."""

    def __init__(self, message: str, span=None):
        super().__init__(message)
        self.span = span


# ---- safe emitters ----------------------------------------------------------
def literal(v) -> str:
    """Python source for a value. Only inert literal types; anything else is refused
    (pysource.literal: the one writer of literals, for expressions too)."""
    try:
        return _literal(v)
    except Untranslatable as e:
        raise CodegenError(str(e)) from None


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
class _Analysis(Record):
    """The structure codegen needs: users (node id -> consumer ids; -1 is the network
    output), members (scope id -> the node ids inside it, recursively), chain (scope
    id -> a sequence callable as a whole), io (scope id -> (input id, output id), or
    None when it does not read one tensor and yield one)."""
    _fields = ("graph", "users", "members", "chain", "io")
    _defaults = {"users": dict, "members": dict, "chain": dict, "io": dict}


def _analyse(graph: Graph) -> _Analysis:
    an = _Analysis(graph)
    for n in graph.nodes:
        an.users.setdefault(n.id, [])
        for i in n.inputs:
            an.users.setdefault(i, []).append(n.id)
    for out in graph.output_ids():
        an.users[out].append(-1)
    for n in graph.nodes:
        s = n.scope
        while s is not None:
            an.members.setdefault(s.id, set()).add(n.id)
            s = s.parent
    scopes = graph.scopes()
    for s in scopes:
        an.members.setdefault(s.id, set())
        an.io[s.id] = _unit_io(an, s)
    for s in reversed(scopes):     # children before parents
        an.chain[s.id] = s.numbered and s.kind != "list" and _is_chain(an, s)
    return an


def _unit_io(an: _Analysis, s: Scope) -> tuple | None:
    """((input ids), output id) when a scope can be called as one module: it reads
    one outside tensor (a block: its input and its tensor parameters) and yields one."""
    members = an.members[s.id]
    if not members:
        return None
    ins = {i for m in members for i in an.graph.nodes[m].inputs if i not in members}
    outs = {m for m in members if any(u not in members for u in an.users[m])}
    if not outs:            # nothing reads it (an auxiliary head): what flows out of it, else its one dead end
        outs = {s.output} if s.output in members else {m for m in members if not an.users[m]}
    if len(outs) != 1:
        return None
    if s.kind == "block":
        expected = (s.input, *s.inputs.values())
        return (expected, next(iter(outs))) if ins <= set(expected) else None
    return ((next(iter(ins)),), next(iter(outs))) if len(ins) == 1 else None


def _child_io(an: _Analysis, child) -> tuple | None:
    if isinstance(child, Scope):
        return an.io[child.id]
    return ((child.inputs[0],), child.id) if len(child.inputs) == 1 else None


def _is_chain(an: _Analysis, s: Scope) -> bool:
    io = an.io[s.id]
    if io is None or not s.children:
        return False
    covered = set()
    (prev, *others) = io[0]
    if others:                  # a block with tensor parameters is no plain chain
        return False
    for child in s.children:
        if isinstance(child, Scope):
            if child.kind != "block" and not an.chain[child.id]:
                return False
            covered |= an.members[child.id]
        else:
            covered.add(child.id)
        cio = _child_io(an, child)
        if cio is None or cio[0] != (prev,):
            return False
        prev = cio[1]
    # every node belongs to a child (no merges directly inside) and the last child yields the output
    return covered == an.members[s.id] and prev == io[1]


# ---- the generator -------------------------------------------------------------
# Sequences nested deeper than this (in columns of __init__) are built into a local
# variable first: each level opens up to four brackets, and Python refuses 200.
_HOIST_INDENT = 8 + 4 * 16


class _Writer:
    def __init__(self, graphs: list[Graph], source_name: str, init: str | None, block_classes: bool = True):
        self.graphs = graphs
        self.block_classes = block_classes
        self.source_name = source_name
        self.init = init
        self.classes: list[str] = []            # emitted class sources, dependencies first
        self.spec_keys: dict = {}               # (definition, body) -> class name
        self.signatures: dict = {}              # definition name -> ir.Signature
        for g in graphs:
            self.signatures.update(g.definitions)
        self.names = ClassNames([g.network for g in graphs],
                                avoid={MATH} | {p.name for s in self.signatures.values() for p in s.params})
        self.helpers: dict[str, str] = {}       # catalogue class name -> emitted name
        self.needs_ordered = False
        self.xavier_classes: set[str] = set()
        self.init_fn: str | None = None
        self.hoisted: list[str] = []            # `nestedK = ...` lines for the class being written
        self.hoisted_avoid: list[str] = []      # its constructor's parameters
        # one class per block definition (blockclass.py): definition -> Translation or None
        self.translations: dict = {}
        self.refusals: dict[str, str] = {}      # definition -> why it has a class per use
        self.committed: dict[str, str] = {}     # definition -> the class name written
        self.functions: dict = {}               # module-level defs: name -> ir.template.Function
        self.ranks: dict[str, set] = {}         # definition -> the ranks of its inputs
        for g in graphs:
            for s in g.scopes():
                if s.kind == "block" and s.in_shape is not None:
                    self.ranks.setdefault(s.definition, set()).add(len(s.in_shape))

    # ---- names
    def module_class(self, cls: str, node: Node) -> str:
        """The emitted name for catalogue class `cls` of `node`."""
        if not is_identifier(cls):
            raise CodegenError(f"catalogue class name {cls!r} is not an identifier")
        if cls in HELPERS:
            if cls not in self.helpers:
                self.helpers[cls] = self.names.fresh(cls)
            return self.helpers[cls]
        if node.spec.category in XAVIER_CATEGORIES:
            self.xavier_classes.add(f"nn.{cls}")
        return f"nn.{cls}"

    def module_class_text(self, cls: str, spec, helpers: set, xavier: set) -> str:
        """module_class for a block class being translated: what it needs is collected
        in `helpers` and `xavier`, and taken only if the translation succeeds."""
        if not is_identifier(cls):
            raise CodegenError(f"catalogue class name {cls!r} is not an identifier")
        if cls in HELPERS:
            helpers.add(cls)
            return helper_placeholder(cls)
        if spec.category in XAVIER_CATEGORIES:
            xavier.add(f"nn.{cls}")
        return f"nn.{cls}"

    readable_kwargs = staticmethod(lambda spec, kwargs: _readable_kwargs(spec, kwargs))

    # ---- one class per definition
    def translation(self, definition: str, rank: int | None = None):
        """The Translation of a block definition, or None when it gets a class per use.
        `rank`: its input's, for a block used only inside a class (in an arm no use took)."""
        if definition in self.translations:
            return self.translations[definition]
        self.translations[definition] = None        # (a block never uses itself)
        sig = self.signatures.get(definition)
        result, why = None, None
        if not self.block_classes:
            return None
        try:
            result, why = self.translate(definition, sig, rank)
        except (NotSymbolic, NameRefused, CodegenError) as e:
            result, why = None, str(e)
        except Exception as e:       # noqa: BLE001 - the class per use is always correct: never fail here
            result, why = None, f"the translator could not handle it ({type(e).__name__})"
        if why is not None:
            result = None
            self.refusals[definition] = why
        self.translations[definition] = result
        return result

    def translate(self, definition: str, sig, rank: int | None):
        """(Translation or None, why not)."""
        if sig is None or sig.template is None:
            return None, "it has no template"
        template = sig.template.get()
        for used in template.uses:      # blocks only this class uses (under an `if` no use took)
            self.signatures.setdefault(used.name, used)
        ranks = self.ranks.get(definition) or ({rank} if rank is not None else set())
        if template.refused:
            return None, template.refused
        if len(ranks) != 1:
            return None, "its uses take inputs of different ranks"
        result = translate(self, template, next(iter(ranks)))
        why = self.function_clash(result)
        return (None, why) if why else (result, None)

    def function_clash(self, tr) -> str | None:
        """Why the module-level functions `tr` needs cannot be written, or None."""
        taken = set(self.signatures) | {g.network for g in self.graphs} | TOP_LEVEL | set(HELPERS) | \
            {p.name for s in self.signatures.values() for p in s.params}
        for fn in tr.functions:
            known = self.functions.get(fn.name)
            if known is not None and known != fn:
                return f"two functions named `{fn.name}`"
            if fn.name in taken:
                return f"the function `{fn.name}` has the name of a class or parameter"
        return None

    def commit(self, definition: str, tr=None) -> str:
        """Write a translated class into the file (its dependencies first); its name.
        `tr`: a network's Translation, whose text is returned instead (networks come last)."""
        if definition in self.committed:
            return self.committed[definition]
        network = tr is not None
        tr = tr if network else self.translations[definition]
        for inner in tr.uses:
            self.commit(inner)
        for fn in tr.functions:
            if fn.name not in self.functions:
                self.names.taken.add(fn.name)
                self.functions[fn.name] = fn
        text = tr.source
        for cls in sorted(tr.helpers):
            if cls not in self.helpers:
                self.helpers[cls] = self.names.fresh(cls)
            text = text.replace(helper_placeholder(cls), self.helpers[cls])
        self.xavier_classes |= tr.xavier
        self.needs_ordered = self.needs_ordered or tr.ordered
        name = definition if network else self.names.fresh(definition)
        self.committed[definition] = name
        text = text.replace(class_placeholder(definition), name)
        for inner in tr.uses:
            text = text.replace(class_placeholder(inner), self.committed[inner])
        text = "\n".join(piece for line in text.split("\n") for piece in wrap(line))
        if network:
            return text
        self.classes.append(text)
        return name

    def network_class(self, g: Graph) -> tuple[str | None, str | None]:
        """(the source of the network's class for any values of its parameters, None) or
        (None, why it has a class for the compiled values only)."""
        if not self.block_classes:
            return None, None
        sig = g.definitions.get(g.network)
        if sig is None or sig.template is None:
            return None, "it has no template"
        if "init" in g.params:
            return None, "its `init` parameter chooses the initialisation"
        doc = (f"{docstring_text(g.network)}: {_dims_x(g.input_shape)} -> {_dims_x(g.output_shape)}, "
               f"{g.total_params:,} parameters at these defaults.")
        saved = dict(self.helpers), set(self.xavier_classes), self.needs_ordered, dict(self.functions), \
            set(self.names.taken), dict(self.committed), list(self.classes)
        try:
            template = sig.template.get()
            if template.refused:
                return None, template.refused
            for used in template.uses:
                self.signatures.setdefault(used.name, used)
            if template.input is None or len(template.input) != len(g.input_shape):
                return None, "it is compiled for an input of another rank than it declares"
            require_class(g.network)
            shapes = {c.name: (c.shape if isinstance(c, Node) else c.out_shape) for c in g.root.children}
            # (and a named sequence's modules, which forward may call one by one: `backbone.layer3`)
            shapes.update({f"{c.name}.{d.name}": (d.shape if isinstance(d, Node) else d.out_shape)
                           for c in g.root.children if not isinstance(c, Node) for d in c.children})
            tr = translate_network(self, template, dict(g.params), doc, self.init_lines(g.root), shapes,
                                   tuple(g.input_shape))
            why = self.function_clash(tr)
            if why:
                return None, why
            return self.commit(g.network, tr), None
        except (NotSymbolic, NameRefused, CodegenError) as e:
            why = str(e)
        except Exception as e:       # noqa: BLE001 - the class for the compiled values is always correct
            why = f"the translator could not handle it ({type(e).__name__})"
        (self.helpers, self.xavier_classes, self.needs_ordered, self.functions, self.names.taken,
         self.committed, self.classes) = saved
        self.committed.pop(g.network, None)
        return None, why

    def translated_call(self, s: Scope) -> str:
        """`BasicBlock(64, 128, stride=2)`: the input channels, then the parameters
        without defaults in order, then the others that differ from their defaults."""
        parts = [literal(s.in_shape[0])]
        positional = True
        for p in self.signatures[s.definition].params:
            v = s.args.get(p.name)
            default = _constant(p.default)
            if default is NO_DEFAULT and positional:
                parts.append(literal(v))
                continue
            positional = False
            if default is not NO_DEFAULT and default == v and type(default) is type(v):
                continue
            parts.append(f"{require_argument(p.name)}={literal(v)}")
        return ", ".join(parts)

    # ---- constructors
    def node_ctor(self, node: Node) -> str:
        if node.spec.state is not None:         # a learnable tensor the module holds
            shape, fill = node.spec.state(node.args)
            return f"nn.Parameter(torch.full({literal(tuple(shape))}, {literal(float(fill))}))"
        nodes = self.an.graph.nodes
        shapes = [nodes[i].shape for i in node.inputs]
        cls, kwargs = node.spec.torch(node.args, shapes)
        cls = self.module_class(cls, node)
        kwargs = _readable_kwargs(node.spec, kwargs)
        args = ", ".join(f"{require_argument(k)}={literal(v)}" for k, v in kwargs.items())
        return f"{cls}({args})"

    def child_ctor(self, child, indent: int) -> str:
        try:
            return self._child_ctor(child, indent)
        except CodegenError as e:     # located at the innermost use being written (E0220's label)
            if e.span is None:
                e.span = getattr(child, "span", None)
            raise

    def _child_ctor(self, child, indent: int) -> str:
        if isinstance(child, Node):
            return self.node_ctor(child)
        if child.kind == "block":
            if self.translation(child.definition) is not None:
                return f"{self.commit(child.definition)}({self.translated_call(child)})"
            cls = self.block_class(child)
            return f"{cls}({self.call_args(child)})"
        if indent >= _HOIST_INDENT:     # Python's parser takes 200 nested brackets: name the inner ones
            taken = {require_argument(p) for p in self.hoisted_avoid}
            name = next(f"nested{k}" for k in range(len(self.hoisted) + 1, 10 ** 6) if f"nested{k}" not in taken)
            self.hoisted.append(f"        {name} = {self.sequential(child, 8)}")
            return name
        return self.sequential(child, indent)

    def sequential(self, s: Scope, indent: int) -> str:
        """A sequence as nn.Sequential; a named merge's branches as nn.ModuleList, or as
        nn.ModuleDict when the branches carry names of their own (`m.p.weight`)."""
        kind = "nn.Sequential"
        if s.kind == "list":
            indexed = all(c.name == str(i) for i, c in enumerate(s.children))
            kind = "nn.ModuleList" if indexed else "nn.ModuleDict"
        return f"{kind}({self.sequential_items(s, indent)})"

    def sequential_items(self, s: Scope, indent: int) -> str:
        """The constructor arguments of a sequence's nn.Sequential (or of a `sequential
        block`'s super().__init__): the items in order, from an OrderedDict when some
        carry names of their own (`features.a`, not `features.0`); a list for a ModuleList."""
        if not s.children:
            return ""
        indexed = all(c.name == str(i) for i, c in enumerate(s.children))
        items = []
        for c in s.children:
            ctor = self.child_ctor(c, indent + 4)
            items.append(ctor if indexed else f"({literal(require_attribute(c.name))}, {ctor})")
        # one logical line ending in a trailing comma: wrap() writes one item per line, as ruff format does
        body = ", ".join(items) + ","
        if s.kind == "list":
            return f"[{body}]"
        if indexed:
            return body
        self.needs_ordered = True
        return f"OrderedDict([{body}])"

    def call_args(self, s: Scope) -> str:
        """The arguments of a block class's constructor call: those not equal to their defaults."""
        parts = []
        for p in self.signatures[s.definition].params:
            v = s.args.get(p.name)
            default = _constant(p.default)
            if default is not NO_DEFAULT and default == v and type(default) is type(v):
                continue
            parts.append(f"{require_argument(p.name)}={literal(v)}")
        return ", ".join(parts)

    # ---- classes
    def block_class(self, s: Scope) -> str:
        body = self.class_body(s, _PLACEHOLDER)
        key = (s.definition, body)
        if key not in self.spec_keys:
            name = self.names.fresh(s.definition)
            first = not any(d == s.definition for d, _ in self.spec_keys)
            self.spec_keys[key] = name
            why = self.refusals.get(s.definition)
            note = f"# {docstring_text(f'{s.definition}: a class per use, because {why}.')}\n" if first and why else ""
            self.classes.append(note + body.replace(_PLACEHOLDER, name))
        return self.spec_keys[key]

    def signature(self, definition: str, values: dict, use_values_as_defaults: bool) -> str:
        parts, seen_default, kw_only = [], False, False
        for p in self.signatures[definition].params:
            name = require_argument(p.name)
            default = _constant(p.default)
            if use_values_as_defaults and p.name in values:
                parts.append(f"{name}={literal(values[p.name])}")
                seen_default = True
            elif default is not NO_DEFAULT:
                parts.append(f"{name}={literal(default)}")
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
        numbered = s.numbered and not is_net        # a `sequential block`: an nn.Sequential subclass
        head = [f"class {name}({'nn.Sequential' if numbered else 'nn.Module'}):"]
        if is_net:
            doc = (f"{docstring_text(s.definition)}: {_dims_x(self.an.graph.input_shape)} -> "
                   f"{_dims_x(self.an.graph.output_shape)}, {self.an.graph.total_params:,} parameters.")
        else:
            shown = ", ".join(f"{k}={literal(v)}" for k, v in values.items())
            doc = (f"{docstring_text(s.definition)}({docstring_text(shown)}) on a {_dims_x(s.in_shape)} input "
                   f"-> {_dims_x(s.out_shape)}.")
        head.append(f'    """{doc}"""')
        head.append("")
        saved = self.hoisted, self.hoisted_avoid         # a block's class is written while in another's
        self.hoisted, self.hoisted_avoid = [], [p.name for p in self.signatures[s.definition].params]
        init = [f"    def __init__({sig}):"]
        if not numbered:
            init.append("        super().__init__()")
        if checked:
            given = literal_tuple_src([require_argument(k) for k in checked])
            expected = literal(tuple(values[k] for k in checked))
            what = ", ".join(f"{k}={literal(values[k])}" for k in checked)
            message = docstring_text(f"compiled for {what}; recompile the spec for other values")
            init += [f"        if {given} != {expected}:", f"            raise ValueError({literal(message)})"]
        if numbered:
            items = self.sequential_items(s, 8)
            init += self.hoisted + [f"        super().__init__({items})"]
        else:
            for child in s.children:
                attr = require_attribute(child.name)
                ctor = self.child_ctor(child, 8)
                init += self.hoisted
                self.hoisted = []
                init.append(f"        self.{attr} = {ctor}" if is_identifier(attr) else
                            f"        self.add_module({literal(attr)}, {ctor})")
        self.hoisted, self.hoisted_avoid = saved
        if is_net:
            init += self.init_lines(s)
        if numbered and self.an.chain.get(s.id):
            return "\n".join(head + init) + "\n"         # nn.Sequential's own forward
        params = ", ".join(["self", "x", *(require_argument(n) for n in s.inputs)])
        fwd = ["", f"    def forward({params}):"] + self.forward_lines(s)
        return "\n".join(head + init + fwd) + "\n"

    def init_lines(self, s: Scope) -> list[str]:
        mode = self.init
        dynamic = "init" in self.an.graph.params and self.init is None
        if not dynamic and mode in (None, "default"):
            return []
        if self.init_fn is None:
            self.init_fn = self.names.fresh("init_xavier")
        if dynamic:
            return ["        if init == \"xavier\":", f"            self.apply({self.init_fn})"]
        return [f"        self.apply({self.init_fn})"]

    # ---- forward
    def access(self, base: Scope, path: list) -> str:
        out = "self"
        for owner, name in path:
            if owner.numbered and name.isdigit():
                out += f"[{name}]"
            elif owner.kind == "list":  # an nn.ModuleDict: its methods (keys, items...) hide attributes
                out += f"[{literal(require_attribute(name))}]"
            elif is_identifier(name):
                out += f".{require_attribute(name)}"
            else:                   # an add_module name such as `block1-0`
                out = f"getattr({out}, {literal(require_attribute(name))})"
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
        unit = memo.get(s.id, NO_DEFAULT) if memo is not None else NO_DEFAULT
        if unit is NO_DEFAULT:
            unit = None
            while s is not c:
                if s.kind == "block" or self.an.chain[s.id]:
                    unit = s           # the outermost such scope wins: keep walking up
                s = s.parent
            if memo is not None:
                memo[node.scope.id] = unit
        return node if unit is None else unit

    @staticmethod
    def input_check(g: Graph) -> list[str]:
        """For a network whose modules fit only the declared input size (a linear after
        flatten), a first forward line that says so, instead of torch's matmul error."""
        bound = bound_input(g)
        if bound is None:
            return []
        built = "×".join(map(str, bound.shape))
        # torch._assert rather than `if ...: raise`: symbolic tracing (torch.fx), export and
        # TorchScript all take it, and it costs a comparison per axis
        tests = []
        for i, (lo, hi) in enumerate(bound.ranges):
            tests += [f"(x.shape[{i + 2}] == {lo})"] if lo == hi else [f"(x.shape[{i + 2}] >= {lo})",
                                                                       f"(x.shape[{i + 2}] <= {hi})"]
        names = ("heights", "widths") if len(bound.ranges) == 2 else ("lengths",) if len(bound.ranges) == 1 else \
            tuple(f"dim {i + 1} sizes" for i in range(len(bound.ranges)))
        fit = " and ".join(f"{name} {lo} to {hi}" if lo < hi else f"{name} {lo}"
                           for name, (lo, hi) in zip(names, bound.ranges))
        got = "×".join(f"{{x.shape[{i + 1}]}}" for i in range(len(bound.shape)))
        # f-strings of the network's name (an identifier), numbers, fixed words and `got`'s
        # placeholders: no other brace or quote is in them
        first = f"{require_class(g.network)} was built for {built} inputs (its layers fit {fit}), got {got}: "
        again = "recompile the spec for another size (netdsl compile --input, or netdsl.load(spec, input_shape=...))"
        return [f"        torch._assert({' & '.join(tests)}, f{literal(first)} {literal(again)})"]

    @staticmethod
    def unbatched_parameters(g: Graph, units: list) -> set:
        """Ids of the `parameter` nodes among `units` that need the batch dimension made
        explicit: those not consumed only by broadcasting merges that also take a batch."""
        params = {u.id for u in units if isinstance(u, Node) and u.spec is not None and u.spec.state is not None}
        if not params:
            return set()
        fine = set(params)
        for n in g.nodes:
            for i in n.inputs:
                if i in params:
                    batched = n.spec is not None and n.spec.broadcasts and any(j not in params for j in n.inputs)
                    if not batched:
                        fine.discard(i)
        outputs = set(g.output_ids())
        return {p for p in params if p not in fine or p in outputs}

    def forward_lines(self, c: Scope) -> list[str]:
        an = self.an
        g = an.graph
        members = sorted(an.members[c.id])
        var = {}
        if c.kind == "network":
            start = g.input.id
            members = [m for m in members if m != start]
            out_ids = g.output_ids()
        elif not members:           # a block that expands to no layers passes its input through
            return ["        return x"]
        else:
            (start, *tensors), out_id = an.io[c.id]
            out_ids = [out_id]
            var.update(zip(tensors, map(require_argument, c.inputs)))
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
                units.append((u, io[0], io[1]))
            else:
                units.append((u, u.inputs, u.id))
        # emit in order of the units' output ids (a topological order), leaving out what no
        # output needs: an auxiliary head is built in __init__ but not computed, as in eval mode
        units.sort(key=lambda t: t[2])
        needed, kept = set(out_ids), []
        for unit in reversed(units):
            if unit[2] in needed:
                kept.append(unit)
                needed.update(unit[1])
        units = kept[::-1]
        remaining = {}
        for _, ins, _ in units:
            for i in ins:
                remaining[i] = remaining.get(i, 0) + 1
        for out_id in out_ids:
            remaining[out_id] = remaining.get(out_id, 0) + 1
        var[start] = "x"
        live = {name: node for node, name in var.items()}
        lines = self.input_check(g) if c.kind == "network" else []
        # A parameter has no batch dimension: where it meets a batch in an add or mul,
        # torch broadcasts it; anywhere else it takes the batch size of the input
        expand = self.unbatched_parameters(g, [u for u, _, _ in units])
        batch = next(b for b in ("batch", *(f"batch_{k}" for k in range(1, len(c.inputs) + 2))) if b not in c.inputs)
        if expand:
            lines.append(f"        {batch} = x.shape[0]")
        alias: dict = {}        # an id passed through unchanged -> the id that now holds its variable

        def holder(i):
            while i in alias:
                i = alias[i]
            return i
        for u, ins, out in units:
            args = [var[i] for i in ins]
            for i in map(holder, ins):
                remaining[i] -= 1
                if remaining[i] == 0 and live.get(var[i]) == i:
                    del live[var[i]]
            if isinstance(u, Node) and not u.has_module:
                if u.spec is None or u.spec.forward is None:
                    raise CodegenError(f"layer {u.kind!r} has neither a torch module nor a forward expression")
                expr = u.spec.forward(u.args, args)
                if len(ins) == 1 and expr == args[0]:   # `identity`: the same tensor, no line
                    src = holder(ins[0])
                    remaining[out] = remaining.get(out, 0) + remaining.get(src, 0)
                    remaining[src] = 0
                    alias[src] = out
                    var[out] = args[0]
                    live[args[0]] = out
                    continue
            elif isinstance(u, Node) and u.spec.state is not None:
                # a parameter is a value, not a call; given the batch of its input (a view, as
                # ViT's class_token.expand) so that it is a batch wherever it flows
                expr = self.access(c, self.path_to(c, u))
                if u.id in expand:
                    expr += f".expand({batch}, {', '.join(['-1'] * len(u.shape))})"
            else:
                expr = f"{self.access(c, self.path_to(c, u))}({', '.join(args)})"
            name = "x" if "x" not in live else next(f"x{k}" for k in range(1, 10 ** 6) if f"x{k}" not in live)
            var[out] = name
            live[name] = out
            lines.append(f"        {name} = {expr}  # {_dims(g.nodes[out].shape)}")
        if c.kind == "network" and g.outputs is not None:
            if g.outputs[0][0] is None:
                lines.append(f"        return ({', '.join(var[n] for _, n in g.outputs)},)")
            else:
                pairs = ", ".join(f"{literal(name)}: {var[n]}" for name, n in g.outputs)
                lines.append(f"        return {{{pairs}}}")
        else:
            lines.append(f"        return {var[out_ids[0]]}")
        return lines

    # ---- the file
    def needs_math(self, net_classes) -> bool:
        """Whether a class or function written calls math.ceil, math.log, ... (pysource.MATH_FUNCTIONS)."""
        texts = [fn.body for fn in self.functions.values()] + list(self.classes) + list(net_classes)
        return any(f"{MATH}." in text for text in texts) and any(
            isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == MATH
            for text in texts for n in ast.walk(ast.parse(text.replace("\x00", "_"))))

    def module(self) -> str:
        net_classes = []
        for g in self.graphs:
            self.an = _analyse(g)
            text, why = self.network_class(g)
            if text is None:
                note = f"# {docstring_text(FALLBACK_NOTE.format(network=g.network, why=why))}\n" if why else ""
                text = note + self.class_body(g.root, g.network)
            net_classes.append(text)
        names = ", ".join(g.network for g in self.graphs)
        doc = [
            f'"""{docstring_text(names)}: PyTorch modules compiled by netdsl from {docstring_text(self.source_name)}.',
            "",
            "Generated code: edit the spec and recompile rather than editing this file.",
            'Its only dependency is PyTorch."""',
        ]
        out = ["\n".join(doc), ""]
        if self.needs_math(net_classes):
            out.append("import math")
        if self.needs_ordered:
            out.append("from collections import OrderedDict")
        if out[-1] != "":
            out.append("")
        out += ["import torch", "from torch import nn", ""]
        out.append("__all__ = [" + ", ".join(literal(g.network) for g in self.graphs) + "]")
        parts = [HELPERS[k].format(name=v).strip("\n") for k, v in sorted(self.helpers.items())]
        parts += [f"def {require_argument(fn.name)}({', '.join(map(require_argument, fn.params))}):\n"
                  f"    return {fn.body}" for fn in self.functions.values()]
        if self.init_fn is not None:
            classes = ", ".join(sorted(self.xavier_classes)) or "nn.Conv2d, nn.Linear"
            if len(self.xavier_classes) == 1:
                classes += ","
            parts.append(_INIT_FN.format(name=self.init_fn, classes=classes).strip("\n"))
        parts += [c.rstrip("\n") for c in self.classes]
        parts += [c.rstrip("\n") for c in net_classes]
        text = "\n".join(out) + "\n\n\n" + "\n\n\n".join(parts) + "\n"
        # every line as ruff format writes it (a translated class's are already)
        text = "\n".join(piece for line in text.split("\n") for piece in wrap(line))
        if "torch." not in _STRINGS.sub('""', text):     # (a spec's message may say "torch.arange")
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
        for name in (p.name, *p.aliases):
            out[name] = value
    return out


def _readable_kwargs(spec, kwargs: dict) -> dict:
    """Write constructor calls as a person would: leave out arguments equal to their
    defaults, and write an equal pair (3, 3) as 3 where torch accepts either."""
    defaults = catalogue_defaults(spec)
    out = {}
    for key, value in kwargs.items():
        if key in defaults and type(defaults[key]) is type(value) and defaults[key] == value:
            continue
        if key in _PAIR_ARGS and type(value) is tuple and len(value) == 2 and value[0] == value[1]:
            value = value[0]
        out[key] = value
    return out


def _constant(value):
    """A parameter default generated code can write as a literal, else NO_DEFAULT."""
    if value is NO_DEFAULT:
        return value
    try:
        literal(value)
    except CodegenError:        # a shape, say: no literal for it
        return NO_DEFAULT
    return value


def literal_tuple_src(names: list[str]) -> str:
    return "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"


def generate(graphs: list[Graph], source_name: str = "<string>", init: str | None = None,
             block_classes: bool = True) -> str:
    """Python source defining one class per network in `graphs` (and the block classes they use).

    `init`: None (the spec decides, through a network parameter `init`), "default" or "xavier".
    `block_classes`: one class per block definition where blockclass.py can write it;
    False gives a class per specialisation for every block (the tests' reference).
    Raises CodegenError if a graph has errors or something cannot be emitted safely.
    """
    if init not in (None, *INIT_CHOICES):
        raise CodegenError(f"unknown init {init!r}; choose from {', '.join(INIT_CHOICES)}")
    for g in graphs:
        if not g.ok or g.output is None or any(n.shape is None for n in g.nodes):
            raise CodegenError(f"network {g.network!r} has errors; check it first")
    try:
        return _Writer(graphs, source_name, init, block_classes).module()
    except NameRefused as e:
        raise CodegenError(str(e)) from None
