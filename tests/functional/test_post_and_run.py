"""Jobs posted with the CLI and run by a conductor process, end to end."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

import persistence
from orchestrator.flows import ledger
from tests.functional.conftest import Deployment, job_row
from tests.helpers import wait_for

pytestmark = pytest.mark.functional

VOLUME = {"raw_size": 10, "raw_availability_zone": "az-1", "raw_volume_type": "ssd"}
PHONES = {"jim_number": "111111", "joe_number": "222222", "jmilkfan_number": "333333"}


def _atoms(db_url: str, flow_detail_id: str) -> dict[str, object]:
    db = persistence.Database(db_url)
    try:
        conn = db.taskflow_backend().get_connection()
        # The store is kept in an injector atom of TaskFlow's; only tasks count here.
        return {atom.name: atom for atom in conn.get_flow_details(flow_detail_id)
                if not atom.name.startswith("_TaskFlow_")}
    finally:
        db.close()


def test_create_volume_succeeds(deployment: Deployment, tmp_path: Path) -> None:
    deployment.start_conductor("c1")
    store = {**VOLUME, "ledger_path": str(tmp_path / "ledger")}
    result = deployment.run("post", "create-volume", "--store-json", json.dumps(store),
                            "--wait", "--json", "--timeout", "90")
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["state"] == "SUCCESS"
    assert job["attempts"] == 1 and job["owner"] is None
    assert job["started_at"] and job["finished_at"]
    assert [t for a, t, _ in ledger.read(tmp_path / "ledger") if a == "execute"] == [
        "quota-reserve", "entry-create", "quota-commit"]
    # The same record as `jobs show --json` prints, tasks included.
    shown = deployment.run("jobs", "show", job["id"], "--json")
    assert json.loads(shown.stdout) == job
    assert [t["name"] for t in job["tasks"]][:2] == ["extract-volume-request", "quota-reserve"]
    atoms = _atoms(deployment.db_url, job["flow_detail_id"])
    assert atoms["extract-volume-request"].results["size"] == 10
    assert atoms["entry-create"].results["volume_properties"]["volume_type"] == "ssd"


def test_phone_calls_revert_in_reverse_order(deployment: Deployment,
                                             tmp_path: Path) -> None:
    deployment.start_conductor("c1")
    store = {**PHONES, "ledger_path": str(tmp_path / "ledger")}
    result = deployment.run("post", "phone-calls", "--store-json", json.dumps(store),
                            "--wait", "--timeout", "90")
    assert result.returncode == 1
    job_id, final = result.stdout.split()
    assert final == "REVERTED"
    assert "out of service" in result.stderr

    entries = [(a, t) for a, t, _ in ledger.read(tmp_path / "ledger")]
    assert entries == [
        ("execute", "call-jim"), ("execute", "call-joe"), ("execute", "call-jmilkfan"),
        ("revert", "call-jmilkfan"), ("revert", "call-joe"), ("revert", "call-jim"),
    ]
    db = persistence.Database(deployment.db_url)
    with db.session() as session:
        record = persistence.get_job(session, job_id)
    db.close()
    assert record is not None and record.state is persistence.JobState.REVERTED
    atoms = _atoms(deployment.db_url, record.flow_detail_id)
    assert {name: a.state for name, a in atoms.items()} == {
        "call-jim": "REVERTED", "call-joe": "REVERTED", "call-jmilkfan": "REVERTED"}
    # The history's timestamps tell the same order.
    assert (atoms["call-joe"].meta["REVERTED-timestamp"]
            <= atoms["call-jim"].meta["REVERTED-timestamp"])


@pytest.mark.parametrize("engine", ["serial", "parallel"])
def test_unordered_and_graph_flows(deployment: Deployment, tmp_path: Path,
                                   engine: str) -> None:
    deployment.start_conductor("c1", engine=engine, engine_workers=3)
    led = tmp_path / "ledger"
    for flow, store in (("provision-parallel", {"node_name": "n1"}),
                        ("provision-graph", {"node_name": "n1", "image": "debian"})):
        result = deployment.run("post", flow, "--store-json",
                                json.dumps({**store, "ledger_path": str(led)}),
                                "--wait", "--json", "--timeout", "90")
        assert result.returncode == 0, result.stderr
    executed = [t for a, t, _ in ledger.read(led) if a == "execute"]
    assert sorted(executed[:3]) == ["allocate-disk", "allocate-ip", "allocate-port"]
    graph = executed[3:]
    assert sorted(graph[:2]) == ["allocate-network", "fetch-image"]
    assert graph[2:] == ["build-config", "boot"]


def test_bad_input_is_refused_before_anything_is_written(deployment: Deployment) -> None:
    cases = [
        (["post", "no-such-flow"], "unknown flow 'no-such-flow'"),
        (["post", "create-volume", "--store-json", '{"raw_size": '], "not valid JSON"),
        (["post", "create-volume", "--store-json", '{"raw_size": 1}'],
         "raw_availability_zone, raw_volume_type"),
        (["post", "create-volume", "--store-json", "[]"], "must be a JSON object"),
    ]
    for args, message in cases:
        result = deployment.run(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr
        assert "Traceback" not in result.stderr
    db = persistence.Database(deployment.db_url)
    with db.session() as session:
        assert persistence.list_jobs(session) == []
    db.close()


def test_python_api_posts_and_follows_a_job(deployment: Deployment) -> None:
    import orchestrator

    deployment.start_conductor("c1")
    with orchestrator.connect([str(deployment.config)]) as orch:
        job = orch.post("create-volume", VOLUME)
        final = orch.wait(job.id, timeout=90)
        history = orch.job_history(job.id)
    assert final.state is persistence.JobState.SUCCESS
    assert [t.name for t in history.tasks] == [
        "extract-volume-request", "quota-reserve", "entry-create", "quota-commit"]


def test_ctrl_c_during_wait_leaves_the_job_running_and_says_how_to_follow_it(
        deployment: Deployment, tmp_path: Path) -> None:
    deployment.start_conductor("c1")
    store = {"ledger_path": str(tmp_path / "ledger"), "step_seconds": 0.5}
    waiting = subprocess.Popen(
        deployment.command("post", "slow-steps", "--store-json", json.dumps(store), "--wait"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert waiting.stdout is not None
        job_id = waiting.stdout.readline().strip()  # printed as soon as it is posted
        wait_for(lambda: persistence.JobState(job_row(deployment.db_url, job_id)["state"])
                 is persistence.JobState.RUNNING, timeout=60, message="the job to run")
        waiting.send_signal(signal.SIGINT)
        _out, err = waiting.communicate(timeout=30)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 130, err
    assert f"job {job_id} goes on" in err and "Aborted" not in err
    follow = err.split("Follow it with:")[1].split()
    assert follow[-3:] == ["jobs", "watch", job_id]
    # The printed command works as typed, and the job ends as if nobody had looked away.
    watched = subprocess.run(follow, capture_output=True, text=True, timeout=120)
    assert watched.returncode == 0, watched.stderr
    assert job_row(deployment.db_url, job_id)["state"] == "SUCCESS"


def test_post_warns_of_a_store_key_no_task_reads_and_strict_refuses_it(
        deployment: Deployment) -> None:
    store = json.dumps({**VOLUME, "raw_szie": 10})
    warned = deployment.run("post", "create-volume", "--store-json", store)
    assert warned.returncode == 0, warned.stderr
    assert "warning:" in warned.stderr and "raw_szie" in warned.stderr
    # Nothing runs it yet, and post says so, with the command that would.
    assert "no conductor is alive" in warned.stderr and " conductor)" in warned.stderr
    refused = deployment.run("post", "create-volume", "--store-json", store, "--strict")
    assert refused.returncode == 2, refused.stderr
    assert "raw_szie" in refused.stderr and "Traceback" not in refused.stderr
