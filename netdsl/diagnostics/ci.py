"""Diagnostics for CI systems: GitHub workflow annotations and SARIF 2.1.0.

`netdsl check --format github` prints one workflow command per diagnostic
(`::error file=…,line=…,col=…,endLine=…,endColumn=…,title=…::message`), which GitHub
Actions turns into annotations on the pull request's diff. `--format sarif` prints one
SARIF log (OASIS Static Analysis Results Interchange Format 2.1.0) for code-scanning
tools: every code used is a rule with its title and explanation, every diagnostic a
result with its location, its secondary labels as related locations and its verified
fixes as SARIF fixes. tests/test_ci_formats.py validates the log against the SARIF
schema.

Positions are netdsl's own: 1-based lines, columns counted in characters of the text as
read (SARIF's "unicodeCodePoints"), end columns just past the region, as SARIF's are.
"""
from __future__ import annotations

import os
from urllib.parse import quote

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_URI = "https://pypi.org/project/netdsl/"


# ---- GitHub workflow commands ------------------------------------------------------
def _escape_data(text: str) -> str:
    # the workflow-command escapes (actions/toolkit's escapeData): a message may span lines
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_message(level: str, text: str) -> str:
    """A workflow command with no location (a file that could not be read)."""
    return f"::{level}::{_escape_data(text)}"


def _text(d) -> str:
    """The message with its notes and help, one per line (both formats show them so)."""
    return "\n".join([d.message, *(f"note: {n}" for n in d.notes), *(f"help: {h}" for h in d.help)])


def _has_file(span) -> bool:
    """A span in a file a CI system can point at (not spec text given as a string or on stdin)."""
    return span is not None and span.source.name not in ("<string>", "<stdin>")


def github_annotation(d) -> str:
    """One diagnostic as a GitHub Actions workflow command."""
    name, line, col, end_line, end_col = d.location()
    props = []
    if _has_file(d.primary):
        props += [f"file={_escape_property(name)}", f"line={line}", f"col={col}"]
        if end_line:
            props += [f"endLine={end_line}", f"endColumn={end_col}"]
    props.append(f"title={_escape_property(f'{d.code}: {d.code.title}')}")
    return f"::{'error' if d.is_error else 'warning'} {','.join(props)}::{_escape_data(_text(d))}"


# ---- SARIF ----------------------------------------------------------------------------
def _uri(name: str) -> str:
    """An artifact URI for a file name as netdsl shows it: relative names stay relative
    (GitHub resolves them against the checkout), absolute ones become file: URIs."""
    if os.path.isabs(name):
        from pathlib import Path
        return Path(name).as_uri()
    return quote(name.replace(os.sep, "/"))


def _region(span) -> dict:
    end_line, end_col = span.end_line_col
    return {"startLine": span.line, "startColumn": span.column, "endLine": end_line, "endColumn": end_col}


def _location(span, message: str | None = None, ident: int | None = None) -> dict:
    loc = {"physicalLocation": {"artifactLocation": {"uri": _uri(span.source.name)}, "region": _region(span)}}
    if ident is not None:
        loc["id"] = ident
    if message:
        loc["message"] = {"text": message}
    return loc


def _fix(f) -> dict | None:
    changes: dict = {}
    for e in f.edits:
        if not _has_file(e.span):
            return None
        changes.setdefault(e.span.source.name, []).append(
            {"deletedRegion": _region(e.span), "insertedContent": {"text": e.text}})
    return {"description": {"text": f.message},
            "artifactChanges": [{"artifactLocation": {"uri": _uri(name)}, "replacements": reps}
                                for name, reps in changes.items()]}


def _rule(code) -> dict:
    rule = {"id": str(code), "shortDescription": {"text": code.title},
            "defaultConfiguration": {"level": code.severity}}
    text = code.explanation()
    if text:
        rule["help"] = {"text": text, "markdown": text}
    return rule


def _result(d, rule_index: dict) -> dict:
    result = {"ruleId": str(d.code), "ruleIndex": rule_index[str(d.code)],
              "level": "error" if d.is_error else "warning", "message": {"text": _text(d)}}
    primary = d.primary
    if _has_file(primary):
        result["locations"] = [_location(primary)]
    related = [lab for lab in d.labels if not lab.primary and _has_file(lab.span)]
    if related:
        result["relatedLocations"] = [_location(lab.span, lab.message, i) for i, lab in enumerate(related, 1)]
    fixes = [x for x in map(_fix, d.fixes) if x is not None]
    if fixes:
        result["fixes"] = fixes
    return result


def sarif_log(diagnostics, version: str, failures=()) -> dict:
    """The SARIF log of one `netdsl check` run over every file it read. `failures`:
    messages for files that could not be read (the run's notifications)."""
    rules, index = [], {}
    for d in diagnostics:
        if str(d.code) not in index:
            index[str(d.code)] = len(rules)
            rules.append(_rule(d.code))
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "netdsl", "version": version, "informationUri": TOOL_URI, "rules": rules}},
            "invocations": [{"executionSuccessful": not failures,
                             "toolExecutionNotifications": [{"level": "error", "message": {"text": m}}
                                                            for m in failures]}],
            "columnKind": "unicodeCodePoints",
            "results": [_result(d, index) for d in diagnostics],
        }],
    }
