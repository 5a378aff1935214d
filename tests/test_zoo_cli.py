"""The zoo as part of netdsl: `zoo:NAME` wherever a spec path goes, `import "zoo:..."`
in a spec, `netdsl zoo`. (tests/test_packaging.py checks the same from an installed wheel.)"""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import netdsl
from netdsl.cli import cli

SPECS = Path(__file__).resolve().parent.parent / "specs"


def test_zoo_names_check_and_load_like_paths():
    assert netdsl.check("zoo:resnet18").graph().total_params == 11_689_512
    assert netdsl.summary("zoo:lenet").total_params == 61_706
    res = CliRunner().invoke(cli, ["check", "zoo:mobilenet_v3_small"])
    assert res.exit_code == 0 and "2,542,856 params" in res.output


def test_netdsl_zoo_lists_every_spec_with_its_numbers():
    res = CliRunner().invoke(cli, ["zoo", "--format", "json"])
    rows = json.loads(res.output)
    assert sorted(r["spec"] for r in rows) == sorted(f"zoo:{p.stem}" for p in SPECS.glob("*.net"))
    for r in rows:
        assert r["ok"] and r["params"] == netdsl.check(str(SPECS / (r["spec"][4:] + ".net"))).graph().total_params


def test_a_spec_imports_the_zoo_s_blocks(tmp_path):
    mine = tmp_path / "mine.net"
    mine.write_text('import "zoo:lib/ops.net"\nnetwork Mine {\n    input [3, 32, 32]\n'
                    '    Conv2dNormActivation(16, 3, stride=2)\n    SqueezeExcitation(4)\n}\n')
    result = netdsl.check(str(mine))
    assert result.ok, result.diagnostics
    assert result.graph().output_shape == (16, 16, 16)


def test_zoo_names_stay_inside_the_zoo(tmp_path):
    res = CliRunner().invoke(cli, ["check", "zoo:nope"])
    assert res.exit_code == 2 and "no such spec in the zoo" in res.output and "resnet18" in res.output
    res = CliRunner().invoke(cli, ["check", "zoo:../README.md"])
    assert res.exit_code == 2
    mine = tmp_path / "mine.net"
    mine.write_text('import "zoo:../pyproject.net"\nnetwork M {\n    input [3, 8, 8]\n}\n')
    (d,) = netdsl.check(str(mine)).errors
    assert d.code == "E0109" and "`zoo:` imports name a `.net` file of the zoo" in d.message


def test_help_shows_each_command_s_whole_first_sentence():
    res = CliRunner().invoke(cli, ["--help"])
    assert "Explain a diagnostic code (for example `netdsl explain E0301`); without one, list the codes." in \
        " ".join(res.output.split())
    commands = res.output.split("Commands:")[1]
    assert "..." not in commands
