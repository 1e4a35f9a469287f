"""``orchestrator commands`` lists what a flow document's steps may name."""

from __future__ import annotations

import json

from click.testing import CliRunner

from orchestrator.cli.main import cli


def test_commands_lists_parameters_and_compensations() -> None:
    result = CliRunner().invoke(cli, ["commands", "--json"])
    assert result.exit_code == 0, result.output
    listed = {c["command"]: c for c in json.loads(result.output)}
    create = listed["demo.create_marker"]
    assert create["params"] == ["path", "content=''"]
    assert create["revert"] == "demo.delete_marker"
    assert create["description"].startswith("Create the file")
    assert listed["demo.echo"]["params"] == ["**params"]
    assert listed["demo.echo"]["revert"] is None


def test_commands_prints_a_table_by_default() -> None:
    result = CliRunner().invoke(cli, ["commands"])
    assert result.exit_code == 0, result.output
    assert "demo.create_marker" in result.output and "demo.delete_marker" in result.output
