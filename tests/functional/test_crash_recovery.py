"""A conductor dies or is stopped mid-flow; another one finishes or reverts the job.

Each slow step records 'start' and 'execute' in a ledger file; the ledger is
the ground truth of which side effects really happened, and how often.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import pytest

import jobs
import persistence
from orchestrator.conductor import Conductor, ConductorSettings
from orchestrator.flows import ledger, phone_calls
from orchestrator.registry import FlowRegistry
from tests.functional.conftest import Deployment, job_row, kill9, wait_exit
from tests.helpers import wait_for

pytestmark = pytest.mark.functional

STEPS = [f"step-{i}" for i in range(1, 5)]


def _post_slow(dep: Deployment, ledger_path: Path, *, fail_at_end: bool = False) -> str:
    store = {"ledger_path": str(ledger_path), "step_seconds": 0.8,
             "fail_at_end": fail_at_end}
    result = dep.run("post", "slow-steps", "--store-json", json.dumps(store))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _wait_state(dep: Deployment, job_id: str, states: set[str], timeout: float) -> dict:
    return wait_for(lambda: (j := job_row(dep.db_url, job_id))["state"] in states and j,
                    timeout=timeout, interval=0.1, message=f"job {job_id} in {states}")


def _entries(path: Path, action: str) -> list[str]:
    return [task for act, task, _pid in ledger.read(path) if act == action]


def _started(path: Path, task: str) -> bool:
    return task in _entries(path, "start")


def test_kill_9_mid_flow_resumes_on_another_conductor(deployment: Deployment,
                                                      tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger"
    first = deployment.start_conductor("first")
    job_id = _post_slow(deployment, ledger_path)

    # step-3 has started, so step-1 and step-2 are complete and recorded.
    wait_for(lambda: _started(ledger_path, "step-3"), timeout=60,
             message="step-3 to start on the first conductor")
    kill9(first)
    completed_before_kill = set(_entries(ledger_path, "execute"))
    assert {"step-1", "step-2"} <= completed_before_kill

    deployment.start_conductor("second")
    job = _wait_state(deployment, job_id, {"SUCCESS", "REVERTED", "FAILED"}, timeout=90)
    assert job["state"] == "SUCCESS", job
    assert job["attempts"] == 2

    starts = Counter(_entries(ledger_path, "start"))
    executions = Counter(_entries(ledger_path, "execute"))
    for task in completed_before_kill:
        assert starts[task] == 1, f"{task} completed before the kill but ran again"
    assert 1 <= starts["step-3"] <= 2
    assert executions["step-3"] == 1
    assert executions["step-4"] == 1 and executions["final-check"] == 1
    assert _entries(ledger_path, "revert") == []


def test_kill_9_then_failure_reverts_every_completed_step_once_in_reverse(
        deployment: Deployment, tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger"
    first = deployment.start_conductor("first")
    job_id = _post_slow(deployment, ledger_path, fail_at_end=True)

    wait_for(lambda: _started(ledger_path, "step-2"), timeout=60,
             message="step-2 to start on the first conductor")
    kill9(first)

    deployment.start_conductor("second")
    job = _wait_state(deployment, job_id, {"SUCCESS", "REVERTED", "FAILED"}, timeout=90)
    assert job["state"] == "REVERTED", job
    assert "final check failed" in (job["error"] or "")

    reverts = _entries(ledger_path, "revert")
    # FinalCheck has no side effect to undo; every step is undone once, last first.
    assert [t for t in reverts if t.startswith("step-")] == list(reversed(STEPS))
    assert Counter(_entries(ledger_path, "execute"))["step-1"] == 1


def _suspend_during_step_2(deployment: Deployment, ledger_path: Path) -> str:
    """Post a slow job, SIGTERM its conductor while step-2 runs; return the job id."""
    first = deployment.start_conductor("first")
    job_id = _post_slow(deployment, ledger_path)
    wait_for(lambda: _started(ledger_path, "step-2"), timeout=60,
             message="step-2 to start")
    first.terminate()
    assert wait_exit(first, timeout=60) == 0, deployment.conductor_log("first")
    return job_id


def test_sigterm_suspends_and_another_conductor_resumes(deployment: Deployment,
                                                        tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger"
    job_id = _suspend_during_step_2(deployment, ledger_path)
    suspended = job_row(deployment.db_url, job_id)
    assert suspended["state"] == "SUSPENDED", suspended
    assert suspended["owner"] is None
    # A graceful stop lets the running step finish: nothing is half done.
    assert _entries(ledger_path, "start") == _entries(ledger_path, "execute")

    deployment.start_conductor("second")
    job = _wait_state(deployment, job_id, {"SUCCESS", "REVERTED", "FAILED"}, timeout=90)
    assert job["state"] == "SUCCESS", job
    assert Counter(_entries(ledger_path, "start")) == Counter(STEPS)
    assert Counter(_entries(ledger_path, "execute")) == Counter([*STEPS, "final-check"])


def test_a_suspended_job_cancelled_meanwhile_reverts_on_the_next_conductor(
        deployment: Deployment, tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger"
    job_id = _suspend_during_step_2(deployment, ledger_path)
    assert job_row(deployment.db_url, job_id)["state"] == "SUSPENDED"

    result = deployment.run("jobs", "cancel", job_id)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "SUSPENDED"  # nobody runs it: the request waits

    deployment.start_conductor("second")
    job = _wait_state(deployment, job_id, {"SUCCESS", "REVERTED", "FAILED"}, timeout=90)
    assert job["state"] == "REVERTED", job
    assert "cancelled" in job["error"]
    done = _entries(ledger_path, "execute")
    # Nothing new started after the cancel; what had run is reverted, last first.
    assert _entries(ledger_path, "start") == done == ["step-1", "step-2"]
    assert _entries(ledger_path, "revert") == ["step-2", "step-1"]


def test_a_killed_conductors_running_record_is_handed_back_and_says_why(
        deployment: Deployment, tmp_path: Path) -> None:
    """No other conductor can run the job here, yet its record must not keep
    saying RUNNING under a dead owner: conductors reconcile records with the board."""
    ledger_path = tmp_path / "ledger"
    first = deployment.start_conductor("first")
    job_id = _post_slow(deployment, ledger_path)
    wait_for(lambda: _started(ledger_path, "step-2"), timeout=60,
             message="step-2 to start on the first conductor")
    kill9(first)
    assert job_row(deployment.db_url, job_id)["owner"] == "first"

    # A conductor of a host without the slow-steps flow: it reconciles, but
    # leaves the job to a conductor that has the flow.
    registry = FlowRegistry({"phone-calls": phone_calls.make_flow})
    database = persistence.Database(deployment.db_url)
    settings = jobs.JobboardSettings(hosts=(deployment.zk_hosts,),
                                     path=deployment.board_path, session_timeout=2)
    try:
        with jobs.open_jobboard(settings, "other-host") as board:
            other = Conductor(ConductorSettings(name="other-host", reconcile_interval=0.5),
                              board, database, registry)
            runner = threading.Thread(target=other.run, daemon=True)
            runner.start()
            try:
                handed_back = wait_for(
                    lambda: (j := job_row(deployment.db_url, job_id))["state"] == "POSTED"
                    and j, timeout=60, message="the record to be handed back")
            finally:
                other.stop()
                runner.join(timeout=30)
    finally:
        database.close()
    assert handed_back["owner"] is None
    assert handed_back["error"] == "conductor first was lost during step step-2 (attempt 1)"

    deployment.start_conductor("second")
    job = _wait_state(deployment, job_id, {"SUCCESS", "REVERTED", "FAILED"}, timeout=90)
    assert (job["state"], job["attempts"]) == ("SUCCESS", 2)
