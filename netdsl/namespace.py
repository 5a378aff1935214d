"""Every name netdsl gives to something torch or Python will see, decided here.

Modelled on torch.fx's `_Namespace`. The names are of four sorts: module names (a
layer, block use or named sequence inside its parent module: the state_dict key
parts), class names (networks and blocks, the classes generated code defines),
parameter names (a block's or network's parameters: constructor arguments), and
the names generated code uses itself (`self`, `x`, `torch`, `nn`, helper classes).

Invariants, which elaboration and code generation rely on:

1. Every module in the tree gets exactly one name. A name written in the spec is
   used as written when it is legal; every other module gets an automatic one: in
   a sequence its index (`0`, `1`, ...), elsewhere its layer kind or its block's
   name in snake_case, then `_1`, `_2`, ... for the next ones (`conv2d`,
   `conv2d_1`), never one that an explicit name in the same module already has.
2. Names are unique within their module, and class names within a generated file.
3. No name shadows what it would break: a module name is never a Python keyword,
   never starts with `_`, and is never an attribute of `torch.nn.Module` or a name
   the generated `forward` uses; a class or parameter name never hides the
   file's imports or a builtin the generated code calls.

Elaboration asks `module_name_problem` before it accepts a written name and calls
`name_children` when a module is complete; the loader asks
`definition_name_problem` and `parameter_name_problem`; code generation asks
`ClassNames` for each class it emits, and re-checks every name it writes with
`require_*` (a second line of defence: nothing from a spec reaches the source
unchecked).
"""
from __future__ import annotations

import keyword
import unicodedata

from .limits import LIMITS

# Attributes and methods of torch.nn.Module (and names the generated forward uses):
# a submodule of that name would shadow them, or be unusable as an attribute.
MODULE_ATTRIBUTES = frozenset("""forward training parameters named_parameters buffers named_buffers children
named_children modules named_modules state_dict load_state_dict to cpu cuda eval train apply
register_buffer register_parameter add_module zero_grad type float double half bfloat16 extra_repr
requires_grad_ share_memory get_submodule get_parameter get_buffer dump_patches call_super_init
register_module self torch nn F x T_destination compile get_extra_state set_extra_state ipu mtia xpu
to_empty set_submodule register_backward_hook register_forward_hook register_forward_pre_hook
register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_state_dict_post_hook register_state_dict_pre_hook""".split())

# What a generated file imports or defines at top level besides the spec's classes.
TOP_LEVEL = frozenset({"torch", "nn", "OrderedDict"})

# Names the generated code refers to: a class or constructor parameter of one of
# these names would hide it (`class super(nn.Module)` recurses forever in __init__).
GENERATED_NAMES = frozenset({"self", "torch", "nn", "F", "x", "super", "int", "isinstance", "ValueError",
                             "TypeError", "len", "tuple", "range", "getattr", "object", "type"})
_CLASS_CLASHES = TOP_LEVEL | GENERATED_NAMES | {"Tensor", "Module", "None", "True", "False"}


def is_identifier(name) -> bool:
    """A plain Python identifier: not a keyword, and unchanged by NFKC normalisation
    (Python folds `ﬁ` to `fi`, so two spellings would name one attribute)."""
    return (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)
            and not keyword.issoftkeyword(name) and (name.isascii() or unicodedata.normalize("NFKC", name) == name))


def _keyword(name: str) -> bool:
    return keyword.iskeyword(name) or keyword.issoftkeyword(name)


# ---- module names ---------------------------------------------------------------
def module_name_problem(name: str) -> str | None:
    """Why `name` cannot name a layer, block use or sequence; None if it can."""
    if len(name) > LIMITS.max_name_length:
        return f"names are at most {LIMITS.max_name_length} characters long"
    if _keyword(name):
        return f"`{name}` is a Python keyword"
    if name.startswith("_"):
        return "names may not start with `_`"
    if name in MODULE_ATTRIBUTES:
        return f"`{name}` would shadow a torch.nn.Module attribute"
    return None


def is_module_name(name: str) -> bool:
    """A name written as a string (`"block1-0": ...`) may be what torch's add_module
    accepts and torchvision uses: ASCII letters, digits, `_` and `-`, starting with a
    letter or `_`. Generated code reaches one that is no identifier with getattr."""
    return bool(name) and name.isascii() and (name[0].isalpha() or name[0] == "_") and \
        all(ch.isalnum() or ch in "_-" for ch in name)


def legal_alternative(name: str) -> str:
    """A legal module name close to an illegal one, for the help line."""
    better = name.strip("_") or "layer"
    return better if module_name_problem(better) is None else f"{better}_layer"


# CNN terms written in mixed case that are one word in snake_case (the casing rules
# below would split them: MB|Conv, Goog|Le|Net).
_ONE_WORD = {"MBConv": "Mbconv", "GoogLeNet": "Googlenet"}


def snake_case(name: str) -> str:
    """The automatic module name of a block use: `BasicBlock` -> `basic_block`,
    `NiNBlock` -> `nin_block`, `ConvBNReLU` -> `conv_bn_relu`, `SEBlock` -> `se_block`,
    `MBConv` -> `mbconv`. A word starts at a capital after two or more lower-case
    letters or digits (`Conv|BN`, `Conv2d|Norm`), at a capital followed by a
    lower-case letter after capitals or a digit (`SE|Block`, `V3|Features`), never
    after a lone lower-case letter (`NiN`, `ReLU` stay whole)."""
    for term, word in _ONE_WORD.items():
        name = name.replace(term, word)
    out = []
    run = 0             # lower-case letters and digits just before this character
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            prev, nxt = name[i - 1], name[i + 1:i + 2]
            if (run >= 2 and not prev.isupper()) or ((prev.isupper() or prev.isdigit()) and nxt.islower()):
                out.append("_")
        out.append(ch.lower())
        run = run + 1 if ch.islower() or ch.isdigit() else 0
    return "".join(out)


def name_children(children, numbered: bool, explicit) -> None:
    """Give every unnamed child of one module its automatic name (invariant 1).

    `children`: the module's nodes and scopes in order, each with `.name` (None
    when unnamed) and `.kind` / `.definition`; `numbered`: the module is a
    sequence; `explicit`: the names written in the spec for this module."""
    if numbered:
        for i, child in enumerate(children):
            if child.name is None:
                child.name = str(i)
        return
    taken = set(explicit)
    counts: dict[str, int] = {}
    for child in children:
        if child.name is not None:
            continue
        base = snake_case(child.definition) if child.is_scope else child.kind
        if module_name_problem(base):       # block `eval`, `forward`, `_x`: a usable attribute name
            base = f"{base.strip('_') or 'block'}_"
        n = counts.get(base, 0)
        name = base if n == 0 else f"{base}_{n}"
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        counts[base] = n + 1
        taken.add(name)
        child.name = name


# ---- definitions and parameters ---------------------------------------------------
def definition_name_problem(name: str) -> str | None:
    """Why a block or network cannot have this name (it becomes a class name)."""
    if _keyword(name):
        return "it is a Python keyword"
    if name in _CLASS_CLASHES or name.startswith("__"):
        return "it clashes with a name generated code uses"
    return None


def parameter_name_problem(name: str, definitions=()) -> str | None:
    """Why a block or network parameter cannot have this name (it becomes a constructor
    argument, which would hide anything of that name inside the constructor).
    `definitions`: the program's block and network names (generated class names)."""
    if _keyword(name):
        return "is a Python keyword"
    if name in GENERATED_NAMES or name in TOP_LEVEL or name.startswith("_"):
        return "clashes with a name generated code uses"
    if name in definitions:
        return f"would hide the class `{name}` in generated code"
    return None


# ---- generated code ---------------------------------------------------------------
def fresh_local(base: str, taken) -> str:
    """A name generated code introduces inside a constructor (`in_channels`, `layers`):
    `base`, or `base_1`, `base_2`, ... when a parameter, local or function of the spec
    already has it; never one that hides a name generated code uses."""
    name, n = base, 0
    while name in taken or name in GENERATED_NAMES or name in TOP_LEVEL or _keyword(name):
        n += 1
        name = f"{base}_{n}"
    return name


class NameRefused(ValueError):
    """A name generated code would need is not a legal one (a bug upstream: the checks
    above should have refused it in the spec)."""


def require_attribute(name) -> str:
    """A module attribute as generated code writes it: a legal module name, or a sequence index."""
    if isinstance(name, str) and name.isdigit() and (name == "0" or not name.startswith("0")):
        return name
    if not (is_identifier(name) or isinstance(name, str) and is_module_name(name)) or module_name_problem(name):
        raise NameRefused(f"cannot use {name!r} as a module name")
    return name


def require_argument(name) -> str:
    """A keyword argument or constructor parameter name."""
    if not is_identifier(name) or name.startswith("_") or name == "self":
        raise NameRefused(f"cannot use {name!r} as an argument name")
    return name


def require_class(name) -> str:
    if not is_identifier(name) or name.startswith("__") or name in TOP_LEVEL:
        raise NameRefused(f"cannot use {name!r} as a class name")
    return name


class ClassNames:
    """The top-level names of one generated file (invariant 2): the networks' and blocks'
    own names, then each further class or function (a helper, the init function)
    under its wanted name, or that name with `_2`, `_3`. `avoid`: names that must not
    be taken although they are no class (every constructor parameter: inside a
    constructor it would hide a class of that name)."""

    def __init__(self, reserved=(), avoid=()):
        self.taken = set(TOP_LEVEL) | set(avoid)
        for name in reserved:
            self.taken.add(require_class(name))

    def fresh(self, base: str) -> str:
        require_class(base)
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name
