"""Every diagnostic code, registered once. Codes are never reused or renumbered.

Each code has an explanation in netdsl/diagnostics/explanations/CODE.md (What / Why /
Example / Fix), printed by `netdsl explain CODE`.
"""
from __future__ import annotations

from importlib import resources

CODES: dict[str, str] = {
    # reading and parsing
    "E0100": "the file is not UTF-8 text",
    "E0101": "syntax error",
    "E0102": "unclosed bracket",
    "E0103": "mismatched or unmatched closing bracket",
    "E0104": "nesting too deep",
    "E0105": "number literal too large",
    "E0106": "import not found",
    "E0107": "import cycle",
    "E0108": "file too large to check",
    # names, arguments and values
    "E0201": "unknown layer or block",
    "E0202": "unknown name",
    "E0203": "defined twice",
    "E0204": "two layers with the same name in one module",
    "E0205": "unknown tensor reference",
    "E0206": "name not allowed",
    "E0207": "recursive block",
    "E0208": "no such network",
    "E0210": "unknown parameter",
    "E0211": "missing argument",
    "E0212": "too many arguments",
    "E0213": "argument given twice",
    "E0214": "wrong type",
    "E0215": "invalid value",
    "E0216": "expression cannot be evaluated",
    "E0217": "value too large",
    "E0218": "invalid condition, loop or repeat",
    "E0219": "branches where none are allowed, or none where needed",
    # shapes
    "E0301": "kernel or window larger than the padded input",
    "E0302": "padding='same' with a stride",
    "E0303": "groups do not divide the channels",
    "E0304": "pooling padding more than half the kernel",
    "E0305": "add of different shapes",
    "E0306": "concat of mismatched shapes",
    "E0307": "input has the wrong number of dimensions",
    "E0308": "expected shape does not match",
    "E0309": "block signature does not match",
    "E0310": "output_padding too large",
    "E0311": "crop larger than the input",
    "E0312": "output size not positive",
    "E0313": "network without an input shape",
    "E0314": "misplaced input declaration",
    # limits
    "E0320": "expansion limit reached",
    "E0321": "blocks nested too deeply",
    # warnings
    "W0401": "stride drops rows or columns",
    "W0402": "ceil_mode window dropped",
    "W0403": "uneven 'same' padding",
    "W0404": "linear on a non-flat input",
    "W0405": "very large layer",
}


def explanation(code: str) -> str | None:
    code = code.upper()
    if code not in CODES:
        return None
    try:
        return resources.files("netdsl.diagnostics.explanations").joinpath(f"{code}.md").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        return None
