"""The OpenAPI models describe exactly what the views return: no key is dropped or invented."""

from __future__ import annotations

from datetime import UTC, datetime

from jobs import ConductorInfo
from orchestrator import views
from orchestrator.api import schemas
from orchestrator.registry import FlowInfo
from orchestrator.service import ConductorStatus, JobHistory, JobRecord, JobState, TaskHistory

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RECORD = JobRecord(
    id="j", flow_name="f", state=JobState.RUNNING, store={"a": 1}, created_at=NOW,
    updated_at=NOW, started_at=NOW, finished_at=None, attempts=1, owner="c",
    logbook_id="l", flow_detail_id="d", board_job_id="b", last_error=None,
    priority="HIGH", idempotency_key="k", cancel_requested_at=NOW, document=None)
TASK = TaskHistory(
    name="t", state="SUCCESS", intention="EXECUTE", result={"x": 1}, failure=None,
    revert_failure=None, execute_started_at=NOW, execute_finished_at=NOW,
    revert_started_at=None, revert_finished_at=None, progress=1.0)


def test_job_model_has_exactly_the_view_keys() -> None:
    view = views.job_summary_dict(RECORD)
    assert set(schemas.Job.model_fields) == set(view)
    assert schemas.Job.model_validate(view).model_dump() == view


def test_job_with_tasks_model_has_exactly_the_view_keys() -> None:
    view = views.history_dict(JobHistory(RECORD, [TASK]), traceback=True)
    assert set(schemas.JobWithTasks.model_fields) == set(view)
    assert set(schemas.Task.model_fields) == set(view["tasks"][0])
    assert schemas.JobWithTasks.model_validate(view).model_dump() == view
    detail = views.job_detail_dict(JobHistory(RECORD, [TASK]), undoable=True)
    assert set(schemas.JobDetail.model_fields) == set(detail)
    assert schemas.JobDetail.model_validate(detail).model_dump() == detail


def test_flow_and_conductor_models_have_exactly_the_view_keys() -> None:
    flow = views.flow_dict(FlowInfo(name="f", requires=frozenset({"a"}),
                                    optional=frozenset(), provides=frozenset({"b"}),
                                    description="d"))
    assert schemas.Flow.model_validate(flow).model_dump() == flow
    conductor = views.conductor_dict(ConductorStatus(
        ConductorInfo(name="c", entity="c@h:1", hostname="h", pid=1, registered_at=NOW,
                      metadata={"engine": "serial", "max_simultaneous_jobs": 4,
                                "version": "0.1"}), running_jobs=2))
    assert schemas.Conductor.model_validate(conductor).model_dump() == conductor


def test_a_job_request_reads_its_priority_in_any_case() -> None:
    assert schemas.JobRequest.model_validate({"flow": "f", "priority": "high"}).priority == "HIGH"
    assert schemas.JobRequest.model_validate({"flow": "f"}).priority == "NORMAL"
