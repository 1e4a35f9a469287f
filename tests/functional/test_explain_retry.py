"""Explain, attempts, cancellation as its own outcome, and retry: CLI and API, on
both databases, with a real conductor."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from orchestrator.flows import ledger
from tests.functional.conftest import Deployment, wait_exit
from tests.helpers import wait_for

pytestmark = pytest.mark.functional


def show(dep: Deployment, job_id: str) -> dict[str, object]:
    result = dep.run("jobs", "show", job_id, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_why_a_job_waits_who_runs_it_who_cancelled_it_and_its_retry(
        deployment: Deployment, tmp_path: Path) -> None:
    dep = deployment
    dep.add_config("[conductor]\ncancel_check_interval = 0\n")
    path = tmp_path / "ledger"
    store = json.dumps({"ledger_path": str(path), "step_seconds": 8})
    job_id = dep.run("post", "slow-steps", "--store-json", store).stdout.strip()
    api = dep.start_api()

    waiting = dep.run("jobs", "explain", job_id[:8])
    assert waiting.returncode == 0, waiting.stderr
    assert "no conductor is alive" in waiting.stdout
    said = httpx.get(f"{api}/v1/jobs/{job_id}/explain").json()
    assert "no conductor is alive" in said["summary"] and said["holder"] is None

    conductor = dep.start_conductor("ex-c1")
    wait_for(lambda: any(t == "step-1" and a == "execute" for a, t, _ in ledger.read(path)),
             timeout=60, message="step-1 to run")
    running = json.loads(dep.run("jobs", "explain", job_id, "--json").stdout)
    assert running["state"] == "RUNNING"
    assert running["holder"]["conductor"] == "ex-c1" and running["holder"]["alive"]
    assert "running on conductor ex-c1" in running["summary"]

    cancelled = dep.run("jobs", "cancel", job_id, "--by", "alice", "--wait",
                        "--timeout", "60")
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.strip() == "REVERTED"
    job = show(dep, job_id)
    assert (job["cancelled"], job["cancel_requested_by"], job["last_error"]) == (
        True, "alice", "cancelled by alice")
    attempts = job["attempt_history"]
    assert isinstance(attempts, list) and len(attempts) == 1
    assert {k: attempts[0][k] for k in ("number", "conductor", "outcome", "job_state")} == {
        "number": 1, "conductor": "ex-c1", "outcome": "cancelled", "job_state": "REVERTED"}
    assert attempts[0]["step"] and attempts[0]["duration"] > 0
    text = dep.run("jobs", "show", job_id).stdout
    assert "CANCELLED" in text and "cancelled by alice" in text
    assert "JobCancelled" not in text and "execute failed" not in text
    explained = dep.run("jobs", "explain", job_id).stdout
    assert "cancelled by alice" in explained
    conductor.terminate()
    assert wait_exit(conductor, 60) == 0

    retried = dep.run("jobs", "retry", job_id, "--json")
    assert retried.returncode == 0, retried.stderr
    new = json.loads(retried.stdout)
    assert (new["retry_of"], new["flow"], new["store"]) == (job_id, "slow-steps",
                                                            json.loads(store))
    assert new["state"] == "POSTED"
    assert show(dep, job_id)["retried_by"] == [new["id"]]

    by_api = httpx.post(f"{api}/v1/jobs/{job_id}/retry")
    assert by_api.status_code == 201, by_api.text
    third = by_api.json()
    assert third["retry_of"] == job_id and third["state"] == "POSTED"
    assert by_api.headers["Location"] == f"/v1/jobs/{third['id']}"
    assert httpx.get(f"{api}/v1/jobs/{job_id}").json()["retried_by"] == [new["id"],
                                                                         third["id"]]
    unfinished = httpx.post(f"{api}/v1/jobs/{third['id']}/retry")
    assert unfinished.status_code == 409
    assert "only a finished job can be retried" in unfinished.json()["error"]["message"]
    cli = dep.run("jobs", "retry", new["id"])
    assert cli.returncode == 2 and "Traceback" not in cli.stderr
    missing = httpx.get(f"{api}/v1/jobs/no-such-job/explain")
    assert missing.status_code == 404
