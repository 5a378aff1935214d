"""`netdsl check --format github` (workflow annotations) and `--format sarif` (SARIF 2.1.0),
the SARIF log validated against the OASIS schema kept in tests/sarif/. Expected
positions are counted by hand in the specs below."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from netdsl.cli import cli

SCHEMA = Path(__file__).resolve().parent / "sarif" / "sarif-2.1.0-rtm.5.json"

TYPO = "network N {\n    input [3, 8, 8]\n    conx2d(4, 3)\n}\n"                 # conx2d: line 3, columns 5-11
BRACE = "network N {\n    input [3, 8, 8]\n    conv2d(4, 3)\n\nnetwork M {\n    input [3, 8, 8]\n}\n"
KERNEL = "network K {\n    input [3, 8, 8]\n    conv2d(4, 9)\n}\n"                # the 9: line 3, column 15
CLEAN = "network C {\n    input [3, 8, 8]\n    conv2d(4, 3)\n}\n"


def run(tmp_path, monkeypatch, fmt, **files):
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        (tmp_path / f"{name}.net").write_text(text)
    r = CliRunner().invoke(cli, ["check", *(f"{n}.net" for n in files), "--format", fmt])
    return r


def sarif(tmp_path, monkeypatch, **files):
    r = run(tmp_path, monkeypatch, "sarif", **files)
    log = json.loads(r.stdout)
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text(encoding="utf-8"))).validate(log)
    return r, log


def test_sarif_is_valid_and_says_where_and_how_to_fix(tmp_path, monkeypatch):
    r, log = sarif(tmp_path, monkeypatch, typo=TYPO, brace=BRACE, kernel=KERNEL, clean=CLEAN)
    assert r.exit_code == 1
    (run_,) = log["runs"]
    assert log["version"] == "2.1.0" and run_["tool"]["driver"]["name"] == "netdsl"
    assert run_["columnKind"] == "unicodeCodePoints"
    assert run_["invocations"][0]["executionSuccessful"] is True
    rules = run_["tool"]["driver"]["rules"]
    by_id = {r["id"]: r for r in rules}
    assert set(by_id) == {"E0201", "E0101", "E0301"}
    assert by_id["E0301"]["shortDescription"]["text"] == "kernel or window larger than the padded input"
    assert by_id["E0301"]["help"]["markdown"].startswith("# E0301:")
    results = {res["ruleId"]: res for res in run_["results"]}
    assert len(run_["results"]) == 3
    for res in run_["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"] and res["level"] == "error"

    typo = results["E0201"]
    loc = typo["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "typo.net"
    assert loc["region"] == {"startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 11}
    (fix,) = typo["fixes"]
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"]["uri"] == "typo.net"
    assert change["replacements"] == [{"deletedRegion": {"startLine": 3, "startColumn": 5, "endLine": 3,
                                                         "endColumn": 11},
                                       "insertedContent": {"text": "conv2d"}}]

    brace = results["E0101"]
    assert brace["locations"][0]["physicalLocation"]["region"]["startLine"] == 5
    (related,) = brace["relatedLocations"]
    assert related["message"]["text"] == "this `{` is never closed"
    assert related["physicalLocation"]["region"]["startLine"] == 1
    assert related["physicalLocation"]["region"]["startColumn"] == 11

    kernel = results["E0301"]
    assert kernel["message"]["text"].startswith("the kernel (9) is larger than the padded input height and width (8)")
    assert "help: use padding=1 or more" in kernel["message"]["text"]
    assert kernel["locations"][0]["physicalLocation"]["region"]["startColumn"] == 15


def test_sarif_of_a_clean_file_has_no_results(tmp_path, monkeypatch):
    r, log = sarif(tmp_path, monkeypatch, clean=CLEAN)
    assert r.exit_code == 0
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


def test_sarif_reports_an_unreadable_file_as_a_failed_invocation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clean.net").write_text(CLEAN)
    r = CliRunner().invoke(cli, ["check", "clean.net", "missing.net", "--format", "sarif"])
    assert r.exit_code == 2
    log = json.loads(r.stdout)
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text(encoding="utf-8"))).validate(log)
    inv = log["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    assert "missing.net" in inv["toolExecutionNotifications"][0]["message"]["text"]


def test_sarif_uris_are_uri_references(tmp_path, monkeypatch):
    sub = tmp_path / "my specs"
    sub.mkdir()
    (sub / "k.net").write_text(KERNEL)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["check", "my specs/k.net", str(sub / "k.net"), "--format", "sarif"])
    uris = [res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for res in json.loads(r.stdout)["runs"][0]["results"]]
    assert uris == ["my%20specs/k.net", (sub / "k.net").as_uri()]


def test_github_annotations(tmp_path, monkeypatch):
    r = run(tmp_path, monkeypatch, "github", typo=TYPO, kernel=KERNEL, clean=CLEAN)
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert lines[0].startswith("::error file=typo.net,line=3,col=5,endLine=3,endColumn=11,"
                               "title=E0201%3A ")
    assert lines[1] == ("::error file=kernel.net,line=3,col=15,endLine=3,endColumn=16,"
                        "title=E0301%3A kernel or window larger than the padded input::"
                        "the kernel (9) is larger than the padded input height and width (8)"
                        "%0Anote: padded size is 8 + 2·0 = 8%0Anote: out = ⌊(8 − 9 + 2·0 + 1)/1⌋ = 0"
                        "%0Ahelp: use padding=1 or more, or a kernel of at most 8")
    assert len(lines) == 2          # the clean file says nothing; nothing but workflow commands


def test_github_escapes_what_would_end_a_property(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a,b:c%.net").write_text(KERNEL)
    r = CliRunner().invoke(cli, ["check", "a,b:c%.net", "--format", "github"])
    assert r.stdout.startswith("::error file=a%2Cb%3Ac%25.net,line=3,")


def test_github_warning_and_unreadable_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.net").write_text("network W {\n    input [3, 9, 9]\n    maxpool2d(2)\n}\n")   # drops a row
    r = CliRunner().invoke(cli, ["check", "w.net", "missing.net", "--format", "github"])
    assert r.exit_code == 2
    lines = r.stdout.splitlines()
    assert lines[0].startswith("::warning file=w.net,line=3,") and "title=W0401%3A " in lines[0]
    assert lines[1].startswith("::error::cannot read missing.net")
