"""``orchestrator commands`` lists what a flow document's steps may name."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from orchestrator.cli.main import COMMANDS, cli


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


def test_help_loads_no_database_taskflow_zookeeper_or_web_library() -> None:
    """`orchestrator --help` answers at once: commands are imported when they run."""
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from orchestrator.cli.main import cli\n"
        "result = CliRunner().invoke(cli, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'standalone' in result.output and 'post' in result.output\n"
        "print(','.join(m for m in ('sqlalchemy', 'taskflow', 'kazoo', 'fastapi',"
        " 'oslo_config') if m in sys.modules))\n")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == ""


def test_every_listed_command_loads() -> None:
    for name in COMMANDS:
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
    assert CliRunner().invoke(cli, ["no-such-command"]).exit_code == 2
