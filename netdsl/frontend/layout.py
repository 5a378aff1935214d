"""The layout rules: which newlines end statements, and which `[` opens a sequence.

A post-lexer between the lexer and the LALR parser (see docs/language.md). It works
on any token class with lark.Token's interface (type, value, start_pos, end_pos,
new_borrow_pos), so it serves netdsl's runtime (netdsl/lalr.py) and Lark alike.
"""
from __future__ import annotations

from ..diagnostics.codes import E0101, E0102, E0103, E0104, E0108
from ..limits import LIMITS

_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_VALUE_TOKENS = {"NAME", "STRING", "INT", "FLOAT", "REF"}


class LayoutError(Exception):
    def __init__(self, code: str, message: str, token, label: str = "",
                 other=None, other_label: str = "", help: str = ""):
        super().__init__(message)
        self.code, self.message, self.token, self.label = code, message, token, label
        self.other, self.other_label, self.help = other, other_label, help


class Layout:
    """Post-lexer: decides which newlines end statements and which `[` opens a sequence."""

    always_accept = ("NEWLINE", "SEMI")

    def process(self, stream):
        stack: list[tuple[str, object]] = []      # (kind, opener); kind in ( list { seq
        last: str | None = None               # value/kind of the last token emitted
        pending = None          # a newline that may end a statement

        def nl(borrow):
            return borrow.new_borrow_pos("_NL", "\n", borrow)

        count, cap = 0, LIMITS.max_tokens
        for tok in stream:
            make = type(tok)
            count += 1
            if count > cap:         # bounds parse memory (about 1 KB per token)
                raise LayoutError(E0108, f"the file has more than {cap:,} tokens", tok, "the limit is reached here",
                                  help="use `repeat` or `for` for long runs of layers")
            kind = tok.type
            is_punct = kind not in _VALUE_TOKENS
            value = tok.value if is_punct else None
            if kind in ("NEWLINE", "SEMI"):
                if stack and stack[-1][0] in ("(", "list"):
                    if kind == "SEMI":
                        raise LayoutError(E0101, "unexpected `;` inside brackets", tok, "statements cannot end here")
                    continue
                if last in (None, "_NL", "{", "seq", "->", "else"):
                    continue
                # `;` always ends the statement; a newline may be cancelled by a continuation.
                pending = tok if kind == "SEMI" or pending is None else pending
                continue
            if pending is not None:
                # A line that starts with one of these continues the previous one.
                if pending.type == "SEMI" or value not in ("->", "else", ":", "{"):
                    yield nl(pending)
                    last = "_NL"
                pending = None
            if value in _OPENERS:
                if len(stack) >= LIMITS.max_nesting:
                    raise LayoutError(E0104, f"brackets nested deeper than {LIMITS.max_nesting} levels",
                                      tok, "too deep here", help="split the expression or the structure into blocks")
                if value == "[":
                    in_body = not stack or stack[-1][0] in ("{", "seq")
                    # A `[` that starts an item opens a layer sequence; elsewhere it is a list.
                    if stack and in_body and last in ("_NL", "{", "seq", "->", ":"):
                        stack.append(("seq", tok))
                        tok = tok.new_borrow_pos("LSEQ", "[", tok)
                        yield tok
                        last = "seq"
                        continue
                    stack.append(("list", tok))
                else:
                    stack.append((value, tok))
                yield tok
                last = value
                continue
            if value in _CLOSERS:
                if not stack:
                    raise LayoutError(E0103, f"unmatched `{value}`", tok, "nothing to close here")
                open_kind, opener = stack[-1]
                want = {"(": ")", "list": "]", "seq": "]", "{": "}"}[open_kind]
                if value != want:
                    raise LayoutError(E0103, f"mismatched `{value}`: expected `{want}`", tok,
                                      f"expected `{want}`", other=opener,
                                      other_label=f"`{opener.value}` opened here")
                stack.pop()
                if open_kind in ("{", "seq") and last not in ("_NL", "{", "seq"):
                    yield nl(tok)
                if open_kind == "seq":
                    tok = tok.new_borrow_pos("RSEQ", "]", tok)
                yield tok
                last = value
                continue
            yield tok
            last = value if is_punct else kind
        if stack:
            kind, opener = stack[-1]
            raise LayoutError(E0102, f"unclosed `{opener.value}`", opener,
                              "opened here and never closed",
                              help=f"add the matching `{ {'(': ')', 'list': ']', 'seq': ']', '{': '}'}[kind] }`")
        if last not in (None, "_NL"):
            yield make("_NL", "\n", start_pos=getattr(pending, "start_pos", None))
