"""Declarative flows of extension commands, posted to the jobboard and run by a conductor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import persistence
from tests.functional.conftest import Deployment

pytestmark = pytest.mark.functional


def _markers(name: str, *, fail: bool, remote: bool = False) -> dict[str, Any]:
    def create(step: str, store_key: str, content: str) -> dict[str, Any]:
        return {"name": step, "command": "demo.create_marker", "inputs": ["path"],
                "rebind": {"path": store_key}, "params": {"content": content},
                "provides": f"{step}-result", "remote": remote}

    steps = [create("create-a", "path_a", "a"), create("create-b", "path_b", "b"),
             {"name": "check", "command": "demo.echo", "params": {"ok": True},
              "remote": remote}]
    inputs = ["path_a", "path_b"] + (["agent_url"] if remote else [])
    if fail:
        steps.append({"name": "fail", "command": "demo.fail", "inputs": ["message"],
                      "rebind": {"message": "fail_message"}, "remote": remote})
        inputs.append("fail_message")
    return {"name": name, "description": "Create two markers.", "inputs": inputs,
            "steps": steps}


@pytest.fixture
def flows_dir(deployment: Deployment, tmp_path: Path) -> Path:
    directory = tmp_path / "flows"
    directory.mkdir()
    (directory / "markers.yaml").write_text(yaml.safe_dump(_markers("markers", fail=False)))
    (directory / "markers-fail.json").write_text(
        json.dumps(_markers("markers-fail", fail=True)))
    deployment.add_config(f"[flows]\ndirectory = {directory}\n")
    return directory


def test_a_command_flow_succeeds_and_a_failing_one_reverts_through_compensation(
        deployment: Deployment, flows_dir: Path, tmp_path: Path) -> None:
    deployment.start_conductor("c1")
    a, b = tmp_path / "a.marker", tmp_path / "b.marker"
    ok = deployment.run("post", "markers", "--wait", "--json", "--timeout", "90",
                        "--store-json", json.dumps({"path_a": str(a), "path_b": str(b)}))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["state"] == "SUCCESS"
    assert a.read_text() == "a" and b.read_text() == "b"
    a.unlink()
    b.unlink()

    failing = deployment.run(
        "post", "markers-fail", "--wait", "--json", "--timeout", "90",
        "--store-json", json.dumps({"path_a": str(a), "path_b": str(b),
                                    "fail_message": "switch port is down"}))
    assert failing.returncode == 1
    job = json.loads(failing.stdout)
    assert job["state"] == "REVERTED"
    assert "switch port is down" in job["last_error"]
    # Both markers were created, then removed by create_marker's compensating command.
    assert not a.exists() and not b.exists()
    shown = deployment.run("jobs", "show", job["id"], "--json")
    tasks = {t["name"]: t for t in json.loads(shown.stdout)["tasks"]}
    assert tasks["create-a"]["state"] == "REVERTED"
    assert tasks["create-a"]["result"]["created"] is True
    assert tasks["create-b"]["revert_finished_at"] <= tasks["create-a"]["revert_started_at"]


def test_an_invalid_document_is_reported_and_its_flow_cannot_be_posted(
        deployment: Deployment, flows_dir: Path) -> None:
    bad = _markers("markers-bad", fail=False)
    bad["steps"][2]["command"] = "demo.explode"
    (flows_dir / "markers-bad.yaml").write_text(yaml.safe_dump(bad))
    store = json.dumps({"path_a": "/tmp/x", "path_b": "/tmp/y"})
    result = deployment.run("post", "markers-bad", "--store-json", store)
    assert result.returncode == 2
    assert "markers-bad.yaml" in result.stderr
    assert "extension 'demo' has no command 'explode'" in result.stderr
    assert "Traceback" not in result.stderr
    db = persistence.Database(deployment.db_url)
    with db.session() as session:
        assert persistence.list_jobs(session) == []
    db.close()
    # The other documents of the directory are not held hostage by the bad one.
    good = deployment.run("post", "markers", "--store-json", store)
    assert good.returncode == 0, good.stderr
    assert "markers-bad.yaml" in good.stderr  # still reported


def test_steps_run_on_a_remote_agent_and_revert_there(
        deployment: Deployment, flows_dir: Path, tmp_path: Path) -> None:
    from orchestrator.standalone import find_free_port

    port = find_free_port()
    deployment.add_config("[agent]\nagent_token = s3cret\n[agent_client]\ntoken = s3cret\n"
                          "poll_interval = 0.1\n")
    (flows_dir / "remote.yaml").write_text(
        yaml.safe_dump(_markers("remote-markers", fail=True, remote=True)))
    deployment.start_agent(port)
    deployment.start_conductor("c1")
    a, b = tmp_path / "ra.marker", tmp_path / "rb.marker"
    result = deployment.run(
        "post", "remote-markers", "--wait", "--json", "--timeout", "90",
        "--store-json", json.dumps({"path_a": str(a), "path_b": str(b),
                                    "agent_url": f"http://127.0.0.1:{port}",
                                    "fail_message": "bmc unreachable"}))
    job = json.loads(result.stdout)
    assert job["state"] == "REVERTED", result.stderr
    assert "bmc unreachable" in job["last_error"]
    assert not a.exists() and not b.exists()
    # The agent ran the commands and their compensations: its history shows them.
    listing = httpx.get(f"http://127.0.0.1:{port}/v1/commands/",
                        params={"agent_token": "s3cret"}, timeout=10).json()["commands"]
    names = [c["command_name"] for c in listing]
    assert names.count("create_marker") == 2 and names.count("delete_marker") == 2


def test_an_unreachable_agent_fails_the_step_and_reverts_the_flow(
        deployment: Deployment, flows_dir: Path, tmp_path: Path) -> None:
    from orchestrator.standalone import find_free_port

    dead = find_free_port()
    doc = {"name": "half-remote", "inputs": ["path_a", "agent_url"], "steps": [
        {"name": "local-marker", "command": "demo.create_marker", "inputs": ["path"],
         "rebind": {"path": "path_a"}},
        {"name": "remote-echo", "command": "demo.echo", "remote": True,
         "params": {"hello": "world"}},
    ]}
    (flows_dir / "half-remote.yaml").write_text(yaml.safe_dump(doc))
    deployment.add_config("[agent_client]\ntimeout = 2\n")
    deployment.start_conductor("c1")
    a = tmp_path / "local.marker"
    result = deployment.run(
        "post", "half-remote", "--wait", "--json", "--timeout", "90",
        "--store-json", json.dumps({"path_a": str(a),
                                    "agent_url": f"http://127.0.0.1:{dead}"}))
    job = json.loads(result.stdout)
    assert job["state"] == "REVERTED", result.stderr
    assert f"127.0.0.1:{dead}" in job["last_error"]
    assert not a.exists()


def test_a_step_that_outlives_its_timeout_fails_and_reverts(
        deployment: Deployment, flows_dir: Path, tmp_path: Path) -> None:
    doc = {"name": "too-slow", "inputs": ["path_a"], "steps": [
        {"name": "marker", "command": "demo.create_marker", "inputs": ["path"],
         "rebind": {"path": "path_a"}},
        {"name": "nap", "command": "demo.sleep", "params": {"seconds": 60}, "timeout": 1},
    ]}
    (flows_dir / "too-slow.yaml").write_text(yaml.safe_dump(doc))
    deployment.add_config("[agent_client]\npoll_interval = 0.1\n")
    deployment.start_conductor("c1")
    a = tmp_path / "slow.marker"
    result = deployment.run("post", "too-slow", "--wait", "--json", "--timeout", "90",
                            "--store-json", json.dumps({"path_a": str(a)}))
    job = json.loads(result.stdout)
    assert job["state"] == "REVERTED", result.stderr
    assert "demo.sleep did not finish within 1s" in job["last_error"]
    assert not a.exists()


def test_a_bad_flow_document_is_reported_and_skipped(deployment: Deployment,
                                                     tmp_path: Path) -> None:
    directory = tmp_path / "more-flows"
    directory.mkdir()
    (directory / "broken.yaml").write_text("name: broken\nsteps: [\n")
    deployment.add_config(f"[flows]\ndirectory = {directory}\n")
    listed = deployment.run("flows")
    assert listed.returncode == 0, listed.stderr
    assert "create-volume" in listed.stdout and "broken" not in listed.stdout
    assert "Skipping flow document" in listed.stderr and "broken.yaml" in listed.stderr
    posted = deployment.run("post", "bench-1-task")
    assert posted.returncode == 0, posted.stderr
