"""Every diagnostic code, defined once as an object. Codes are never reused or renumbered.

A call site names the code object (`ctx.error(E0301, ...)`), so a misspelt code is
an ImportError when the module loads, and Diagnostic refuses anything that is not
a Code. A Code is also the str of its id ("E0301"), which is what JSON output,
`# netdsl: allow` comments and comparisons see.

Each code has an explanation in explanations/CODE.md (What / Why / Example / Fix)
whose title line is `# CODE: title`, with the title given here: `netdsl explain`
prints that file, and tests/test_explanations.py keeps the two in step.
"""
from __future__ import annotations

from importlib import resources


class Code(str):
    """A diagnostic code: the str is its id; `title` says what it means in a few words."""

    title: str

    def __new__(cls, id: str, title: str):
        self = super().__new__(cls, id)
        self.title = title
        return self

    @property
    def severity(self) -> str:
        return "warning" if self.startswith("W") else "error"

    def explanation(self) -> str | None:
        try:
            return resources.files(__package__).joinpath("explanations", f"{self}.md").read_text(encoding="utf-8")
        except (FileNotFoundError, ModuleNotFoundError):
            return None


REGISTRY: dict[str, Code] = {}


def _code(id: str, title: str) -> Code:
    if id in REGISTRY:
        raise ValueError(f"diagnostic code {id} is defined twice")
    REGISTRY[id] = code = Code(id, title)
    return code


# reading and parsing
E0100 = _code("E0100", "the file is not UTF-8 text")
E0101 = _code("E0101", "syntax error")
E0102 = _code("E0102", "unclosed bracket")
E0103 = _code("E0103", "mismatched or unmatched closing bracket")
E0104 = _code("E0104", "nesting too deep")
E0105 = _code("E0105", "number literal too large")
E0106 = _code("E0106", "import not found")
E0107 = _code("E0107", "import cycle")
E0108 = _code("E0108", "file too large to check")
E0109 = _code("E0109", "import not allowed")

# names, arguments and values
E0201 = _code("E0201", "unknown layer or block")
E0202 = _code("E0202", "unknown name")
E0203 = _code("E0203", "defined twice")
E0204 = _code("E0204", "two layers with the same name in one module")
E0205 = _code("E0205", "unknown tensor reference")
E0206 = _code("E0206", "name not allowed")
E0207 = _code("E0207", "recursive block")
E0208 = _code("E0208", "no such network")
E0209 = _code("E0209", "several networks: choose one")
E0210 = _code("E0210", "unknown parameter")
E0211 = _code("E0211", "missing argument")
E0212 = _code("E0212", "too many arguments")
E0213 = _code("E0213", "argument given twice")
E0214 = _code("E0214", "wrong type")
E0215 = _code("E0215", "invalid value")
E0216 = _code("E0216", "expression cannot be evaluated")
E0217 = _code("E0217", "value too large")
E0218 = _code("E0218", "invalid condition, loop or repeat")
E0219 = _code("E0219", "branches where none are allowed, or none where needed")
E0220 = _code("E0220", "cannot be compiled to PyTorch")
E0221 = _code("E0221", "assertion failed")

# shapes
E0301 = _code("E0301", "kernel or window larger than the padded input")
E0302 = _code("E0302", "padding='same' with a stride")
E0303 = _code("E0303", "groups do not divide the channels")
E0304 = _code("E0304", "pooling padding more than half the kernel")
E0305 = _code("E0305", "add of different shapes")
E0306 = _code("E0306", "concat of mismatched shapes")
E0307 = _code("E0307", "input has the wrong number of dimensions")
E0308 = _code("E0308", "expected shape does not match")
E0309 = _code("E0309", "block signature does not match")
E0310 = _code("E0310", "output_padding too large")
E0311 = _code("E0311", "crop larger than the input")
E0312 = _code("E0312", "output size not positive")
E0313 = _code("E0313", "network without an input shape")
E0314 = _code("E0314", "misplaced input declaration")
E0315 = _code("E0315", "misplaced or malformed return")

# limits
E0320 = _code("E0320", "expansion limit reached")
E0321 = _code("E0321", "blocks nested too deeply")

# warnings
W0401 = _code("W0401", "stride drops rows or columns")
W0402 = _code("W0402", "ceil_mode window dropped")
W0403 = _code("W0403", "uneven 'same' padding")
W0404 = _code("W0404", "linear on a non-flat input")
W0405 = _code("W0405", "very large layer")
W0406 = _code("W0406", "expect written for the declared input")


def lookup(code: str) -> Code | None:
    """The code with this id, in any case (`netdsl explain w0401`)."""
    return REGISTRY.get(code.upper())
