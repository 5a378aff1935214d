"""The grammar is conflict-free, and the layout rules give the parse trees they
promise (docs/language.md): newlines end statements, `;` too, `->` continues a
chain across lines, `[` opening an item is a layer sequence while `[` in a value
is a list, and `}`/`else`/`{` or a block signature may sit on their own lines."""
from __future__ import annotations

import pytest
from lark import Lark
from lark.exceptions import GrammarError, LexError

from netdsl.frontend import ast as A
from netdsl.frontend.grammar import lark_parser
from netdsl.frontend.source import Source
from netdsl.frontend.syntax import parse


def test_grammar_builds_in_strict_mode():
    pytest.importorskip("interegular")   # strict mode's terminal-collision check needs it
    # strict=True turns shift/reduce conflicts and colliding terminals into errors
    # instead of Lark's silent default resolution.
    lark_parser(strict=True)


def test_strict_mode_does_catch_conflicts():
    # The control for the test above: strict mode rejects an ambiguous grammar.
    with pytest.raises(GrammarError):
        Lark('start: a | b\na: "x"\nb: "x"\n', parser="lalr", strict=True)


def test_strict_mode_does_catch_colliding_terminals():
    # The other half of the control: Lark really uses interegular here (netdsl no
    # longer hides it from Lark), so terminals that can match the same text are caught.
    pytest.importorskip("interegular")
    with pytest.raises(LexError, match="Collision"):
        Lark("start: A B\nA: /a+/\nB: /ab?/\n", parser="lalr", lexer="basic", strict=True)


# ---- parse shapes ------------------------------------------------------------------
def outline(node):
    """A compact picture of a parse: chains are lists, calls their names."""
    if isinstance(node, A.Chain):
        return [outline(i) for i in node.items]
    if isinstance(node, A.Call):
        return node.name if node.branches is None else {node.name: [outline(s) for s in node.branches]}
    if isinstance(node, A.Named):
        return {f"{node.name}:": outline(node.item)}
    if isinstance(node, A.Sequence):
        return ("seq", [outline(s) for s in node.body])
    if isinstance(node, A.If):
        return ("if", [outline(s) for s in node.then],
                None if node.orelse is None else [outline(s) for s in node.orelse])
    if isinstance(node, A.Repeat):
        return ("repeat", [outline(s) for s in node.body])
    if isinstance(node, A.For):
        return ("for", [outline(s) for s in node.body])
    if isinstance(node, A.Input):
        return "input"
    if isinstance(node, A.Expect):
        return "expect"
    if isinstance(node, A.Let):
        return f"let {node.name}"
    if isinstance(node, A.Ref):
        return f"@{node.name}"
    raise AssertionError(type(node))


def body(text: str):
    module, diagnostics = parse(Source.from_text("g.net", text))
    assert diagnostics == [], [d.message for d in diagnostics]
    (definition,) = module.definitions
    return definition, [outline(s) for s in definition.body]


def network(lines: str):
    _, out = body("network N {\n" + lines + "\n}\n")
    return out


def test_newlines_end_statements():
    assert network("    relu\n    sigmoid") == [["relu"], ["sigmoid"]]


def test_arrow_continues_a_chain_at_the_end_or_start_of_a_line():
    assert network("    conv2d(4, 3) ->\n        relu\n    conv2d(4, 3)\n        -> relu\n        -> tanh") == [
        ["conv2d", "relu"], ["conv2d", "relu", "tanh"]]


def test_semicolon_separates_statements():
    assert network("    relu; sigmoid -> tanh; gelu") == [["relu"], ["sigmoid", "tanh"], ["gelu"]]


def test_newlines_inside_parentheses_are_ignored():
    assert network("    conv2d(4,\n           kernel=3,\n           padding=1) -> relu") == [["conv2d", "relu"]]


def test_brackets_starting_an_item_are_a_sequence():
    assert network("    f: [relu -> tanh\n        gelu]\n    [relu]") == [
        [{"f:": ("seq", [["relu", "tanh"], ["gelu"]])}], [("seq", [["relu"]])]]


def test_brackets_in_a_value_are_a_list():
    definition, out = body("network N {\n    input [3,\n        8, 8]\n    expect [3, 8, 8]\n}\n")
    assert out == ["input", ["expect"]]
    shape = definition.body[0].shape
    assert isinstance(shape, A.TupleExpr) and shape.brackets == "[]" and len(shape.items) == 3


def test_a_multi_line_branch_is_a_sequence_inside_a_merge():
    assert network("    add {\n        [conv2d(4, 3, padding=1)\n         relu]\n        identity\n    }") == [
        [{"add": [[("seq", [["conv2d"], ["relu"]])], ["identity"]]}]]


def test_for_loops_over_a_list_literal():
    assert network("    for (n, c) in [(1, 64),\n                   (2, 128)] {\n        relu\n    }") == [
        [("for", [["relu"]])]]


@pytest.mark.parametrize("text", [
    "    if true {\n        relu\n    } else {\n        tanh\n    }",
    "    if true {\n        relu\n    }\n    else {\n        tanh\n    }",
    "    if true {\n        relu\n    }\n    else\n    {\n        tanh\n    }",
    "    if true\n    {\n        relu\n    } else {\n        tanh\n    }",
])
def test_if_else_braces_may_sit_on_their_own_lines(text):
    assert network(text) == [[("if", [["relu"]], [["tanh"]])]]


def test_an_if_without_else_is_not_joined_to_the_next_statement():
    assert network("    if true {\n        relu\n    }\n    tanh") == [[("if", [["relu"]], None)], ["tanh"]]


def test_else_if_chains():
    assert network(
        "    if false {\n        relu\n    }\n    else if true {\n        tanh\n    } else {\n        gelu\n    }"
    ) == [[("if", [["relu"]], [[("if", [["tanh"]], [["gelu"]])]])]]


@pytest.mark.parametrize("text", [
    "block B(c: int) : [_, h, w] -> [c, h, w] {\n    conv2d(c, 3, padding=1)\n}\n",
    "block B(c: int)\n    : [_, h, w] -> [c, h, w] {\n    conv2d(c, 3, padding=1)\n}\n",
    "block B(c: int)\n    : [_, h, w]\n    -> [c, h, w]\n{\n    conv2d(c, 3, padding=1)\n}\n",
])
def test_block_signature_may_continue_on_the_next_lines(text):
    definition, out = body(text)
    assert definition.kind == "block" and definition.name == "B"
    assert isinstance(definition.accepts, A.TupleExpr) and isinstance(definition.returns, A.TupleExpr)
    assert out == [["conv2d"]]


def test_a_network_brace_on_its_own_line():
    _, out = body("network N(num_classes = 10)\n{\n    relu\n}\n")
    assert out == [["relu"]]


def test_two_layers_on_one_line_without_an_arrow_is_a_syntax_error():
    _, diagnostics = parse(Source.from_text("g.net", "network N {\n    relu tanh\n}\n"))
    (d,) = diagnostics
    assert d.code == "E0101" and d.primary.line == 2
    assert not any(word in d.message for word in ("_NL", "NAME", "LSEQ", "RSEQ", "$END"))
