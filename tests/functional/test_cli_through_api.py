"""Read-only commands through ``[cli] api_url``: the same output, and never stuck.

Reading through the API is how the CLI starts fast; it must never show
anything else than reading the database and ZooKeeper directly would, and an
API that does not answer must not stop a command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from orchestrator.standalone.zookeeper import find_free_port
from tests.functional.conftest import Deployment

TOKEN = "cli-token"
VOLUME = {"raw_size": 10, "raw_availability_zone": "nova", "raw_volume_type": "ssd",
          "name": "v"}
CALLS = {"jim_number": "111111", "joe_number": "222222", "jmilkfan_number": "333333"}


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "--config-file",
                           str(config), *args], capture_output=True, text=True, timeout=120)


def api_only_config(tmp_path: Path, url: str, token: str | None) -> Path:
    """A configuration whose database and ZooKeeper cannot be reached: a command
    run with it answers only if it went through the API."""
    config = tmp_path / "api-only.conf"
    config.write_text(
        f"[database]\nconnection = sqlite:///{tmp_path / 'missing' / 'none.db'}\n"
        f"[jobboard]\nhosts = 127.0.0.1:{find_free_port()}\nconnect_timeout = 1\n"
        f"[cli]\napi_url = {url}\n" + (f"api_token = {token}\n" if token else ""))
    return config


def test_read_only_commands_show_through_the_api_what_they_show_directly(
        deployment: Deployment, tmp_path: Path) -> None:
    deployment.start_conductor("cli-reader")
    succeeded = deployment.post("create-volume", VOLUME)
    reverted = deployment.post("phone-calls", CALLS)
    deployment.wait_state(succeeded, "SUCCESS")
    deployment.wait_state(reverted, "REVERTED")
    created = deployment.run("schedules", "create", "nightly", "create-volume",
                             "--cron", "0 3 * * *", "--store-json", '{"raw_size": 1, '
                             '"raw_availability_zone": "nova", "raw_volume_type": "ssd", '
                             '"name": "n"}')
    assert created.returncode == 0, created.stderr
    api_only = api_only_config(tmp_path, deployment.start_api(token=TOKEN), TOKEN)

    reads = [["jobs", "list"], ["jobs", "list", "--state", "reverted"],
             ["jobs", "list", "--since", "1h", "--limit", "1"],
             ["jobs", "show", reverted[:8]], ["jobs", "show", reverted, "--traceback"],
             ["jobs", "show", succeeded], ["jobs", "explain", reverted[:8]],
             ["flows"], ["conductors"], ["schedules", "list"],
             ["schedules", "show", "nightly", "--history", "5"]]
    for args in reads:
        for shown in (args, [*args, "--json"]):
            direct = deployment.run(*shown)
            through = run(api_only, *shown)
            assert direct.returncode == 0, (shown, direct.stderr)
            assert through.returncode == 0, (shown, through.stderr)
            assert through.stdout == direct.stdout, shown

    # Mistakes get the same message and exit code both ways.
    for args in (["jobs", "show", "no-such-job"], ["schedules", "show", "nope"]):
        direct, through = deployment.run(*args), run(api_only, *args)
        assert through.returncode == direct.returncode == 2, (args, through.stderr)
        assert through.stderr == direct.stderr


def test_a_command_reads_directly_when_the_api_does_not_answer(
        deployment: Deployment, tmp_path: Path) -> None:
    job = deployment.post("create-volume", VOLUME)
    deployment.add_config(f"[cli]\napi_url = http://127.0.0.1:{find_free_port()}\n")
    listed = deployment.run("jobs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert job in listed.stdout
    shown = deployment.run("jobs", "show", job[:8])
    assert shown.returncode == 0 and job in shown.stdout


def test_a_refused_token_is_named_not_taken_for_an_absent_api(
        deployment: Deployment, tmp_path: Path) -> None:
    url = deployment.start_api(token=TOKEN)
    refused = run(api_only_config(tmp_path, url, "wrong-token"), "jobs", "list")
    assert refused.returncode == 2
    assert "api_token" in refused.stderr and "Traceback" not in refused.stderr
