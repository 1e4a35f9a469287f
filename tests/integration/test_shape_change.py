"""Upgrade-safe resume: a job suspended in release 1 of a flow meets release 2, in
which a task was renamed. Real conductors, ZooKeeper and both databases.

Without a declared policy the job is refused and says why, and nothing runs;
with the previous version registered side by side it resumes (or reverts) with
it; with a rename it resumes under the new names. Never a completed step twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from taskflow import task
from taskflow.patterns import linear_flow

import jobs
import persistence
from orchestrator import Orchestrator, shapes
from orchestrator.flows import ledger
from orchestrator.registry import FlowRegistry
from orchestrator.shapes import shape_change
from tests.helpers import wait_for
from tests.integration.conftest import run_conductor_until

pytestmark = pytest.mark.integration

FLOW = "provision"


class Step(task.Task):
    def execute(self, ledger_path: str, gate: str) -> str:
        ledger.record(ledger_path, "start", self.name)
        # The second step holds until the test opens the gate: the first
        # release's conductor is stopped meanwhile, and the job suspended.
        if self.name.startswith("create"):
            wait_for(lambda: not Path(gate).exists(), timeout=60, message="the gate")
        ledger.record(ledger_path, "execute", self.name)
        return f"{self.name} done"

    def revert(self, ledger_path: str, **kwargs: Any) -> None:
        ledger.record(ledger_path, "revert", self.name)


def release_1() -> linear_flow.Flow:
    return linear_flow.Flow(FLOW).add(Step("reserve"), Step("create"), Step("commit"))


def release_2() -> linear_flow.Flow:
    """Release 2 renamed the task "create" to "create-entry"."""
    return linear_flow.Flow(FLOW).add(Step("reserve"), Step("create-entry"), Step("commit"))


def registry(factory: Callable[[], linear_flow.Flow]) -> FlowRegistry:
    return FlowRegistry({FLOW: factory})


@pytest.fixture
def board_settings(zk_hosts: str, jobboard_path: str) -> jobs.JobboardSettings:
    return jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)


def suspended_in_release_1(database: persistence.Database, settings: jobs.JobboardSettings,
                           tmp_path: Path) -> tuple[Orchestrator, str, Path, Path]:
    """Post a job with release 1 and stop its conductor inside the second step."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path, gate = tmp_path / "ledger", tmp_path / "gate"
    gate.touch()
    orch = Orchestrator(database, registry(release_1), settings)
    job = orch.post(FLOW, {"ledger_path": str(path), "gate": str(gate)})

    def inside_create() -> bool:
        if ("start", "create") in [(a, t) for a, t, _pid in ledger.read(path)]:
            gate.unlink()  # the step ends, then the stopping conductor suspends
            return True
        return False

    run_conductor_until(database, settings, registry(release_1), inside_create,
                        name="release-1")
    wait_for(lambda: orch.get_job(job.id).state.value == "SUSPENDED", timeout=30,
             message="the job to be suspended")
    assert ledger.tasks_with(path, "execute") == ["reserve", "create"]
    return orch, job.id, path, gate


def finished(orch: Orchestrator, job_id: str) -> Callable[[], bool]:
    return lambda: orch.get_job(job_id).is_terminal


def test_without_a_policy_the_job_is_refused_and_says_why(
        database: persistence.Database, board_settings: jobs.JobboardSettings,
        tmp_path: Path) -> None:
    orch, job_id, path, _gate = suspended_in_release_1(database, board_settings, tmp_path)
    with orch:
        def passed() -> list[persistence.JobPass]:
            with database.session() as session:
                return persistence.job_passes(session, job_id)

        run_conductor_until(database, board_settings, registry(release_2), passed,
                            name="release-2", message="release 2 to refuse the job")
        reason = passed()[0].reason
        assert "flow 'provision' has changed shape since the job was posted" in reason
        assert "gone: create; new: create-entry" in reason
        assert "declares no shape_change policy" in reason
        record = orch.get_job(job_id)
        # Waiting, never failed, its refused attempt not counted; nothing ran.
        assert record.state.value in ("SUSPENDED", "POSTED") and record.attempts == 1
        assert ledger.tasks_with(path, "execute") == ["reserve", "create"]
        assert "changed shape" in orch.explain(job_id).reasons[-1]


def test_a_declared_rename_resumes_the_job_under_the_new_names(
        database: persistence.Database, board_settings: jobs.JobboardSettings,
        tmp_path: Path) -> None:
    orch, job_id, path, _gate = suspended_in_release_1(database, board_settings, tmp_path)
    renamed = shape_change(rename={"create": "create-entry"})(release_2)
    with orch:
        run_conductor_until(database, board_settings, registry(renamed),
                            finished(orch, job_id), name="release-2")
        history = orch.job_history(job_id)
    assert history.record.state.value == "SUCCESS"
    # The renamed step kept its result and did not run again.
    assert ledger.tasks_with(path, "execute") == ["reserve", "create", "commit"]
    tasks = {t.name: t for t in history.tasks}
    assert set(tasks) == {"reserve", "create-entry", "commit"}
    assert tasks["create-entry"].result == "create done"


def test_the_previous_version_registered_beside_resumes_or_reverts_it(
        database: persistence.Database, board_settings: jobs.JobboardSettings,
        tmp_path: Path) -> None:
    orch, job_id, path, _gate = suspended_in_release_1(database, board_settings, tmp_path)
    side_by_side = shape_change(previous=[release_1])(release_2)
    with orch:
        run_conductor_until(database, board_settings, registry(side_by_side),
                            finished(orch, job_id), name="release-2")
        assert orch.get_job(job_id).state.value == "SUCCESS"
    assert ledger.tasks_with(path, "execute") == ["reserve", "create", "commit"]

    orch, job_id, path, _gate = suspended_in_release_1(database, board_settings,
                                                       tmp_path / "revert")
    reverting = shape_change("revert", previous=[release_1])(release_2)
    with orch:
        run_conductor_until(database, board_settings, registry(reverting),
                            finished(orch, job_id), name="release-2b")
        record = orch.get_job(job_id)
    assert record.state.value == "REVERTED"
    assert "reverted with the version of flow 'provision' it was posted with" in \
        (record.last_error or "")
    assert ledger.tasks_with(path, "execute") == ["reserve", "create"]
    assert ledger.tasks_with(path, "revert") == ["create", "reserve"]


def test_a_job_that_has_not_started_runs_the_new_release(
        database: persistence.Database, board_settings: jobs.JobboardSettings,
        tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    with Orchestrator(database, registry(release_1), board_settings) as orch:
        job = orch.post(FLOW, {"ledger_path": str(path), "gate": str(tmp_path / "no")})
        run_conductor_until(database, board_settings, registry(release_2),
                            finished(orch, job.id), name="release-2")
        assert orch.get_job(job.id).state.value == "SUCCESS"
        detail = persistence.read_flow_detail(database, job.flow_detail_id)
    assert ledger.tasks_with(path, "execute") == ["reserve", "create-entry", "commit"]
    # It records the shape it ran with: a resume would compare with that one.
    assert detail.meta[shapes.SHAPE_KEY] == shapes.record_for(release_2())


def test_a_conductor_without_the_posted_shape_leaves_the_job_to_one_that_has_it(
        database: persistence.Database, board_settings: jobs.JobboardSettings,
        tmp_path: Path) -> None:
    orch, job_id, path, _gate = suspended_in_release_1(database, board_settings, tmp_path)
    waits = shape_change()(release_2)  # policy "wait", no earlier version here
    with orch:
        def passed() -> list[persistence.JobPass]:
            with database.session() as session:
                return persistence.job_passes(session, job_id)

        run_conductor_until(database, board_settings, registry(waits), passed,
                            name="upgraded", message="the upgraded conductor to pass")
        assert "the job waits for a conductor that has it, to resume it" in \
            passed()[0].reason
        assert not orch.get_job(job_id).is_terminal
        # A conductor not upgraded yet still has release 1: it finishes the job.
        run_conductor_until(database, board_settings, registry(release_1),
                            finished(orch, job_id), name="not-upgraded")
        assert orch.get_job(job_id).state.value == "SUCCESS"
    assert ledger.tasks_with(path, "execute") == ["reserve", "create", "commit"]
