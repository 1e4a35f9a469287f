"""Request and response bodies of API version 1, as the OpenAPI document shows them.

Responses are built by ``orchestrator.views`` (the same shapes the CLI prints
with ``--json``); these models describe them and check them on the way out.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from orchestrator.service import PRIORITIES, JobState

Priority = Literal["VERY_HIGH", "HIGH", "NORMAL", "LOW", "VERY_LOW"]
assert set(Priority.__args__) == set(PRIORITIES)  # type: ignore[attr-defined]
State = Literal["POSTING", "POSTED", "RUNNING", "SUSPENDED", "SUCCESS", "REVERTED",
                "FAILED"]
assert set(State.__args__) == {s.value for s in JobState}  # type: ignore[attr-defined]


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class JobRequest(BaseModel):
    """A job to post: a registered flow by name, or a declarative flow document."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"flow": "create-volume", "store": {"raw_size": 1, "raw_availability_zone": "az1",
                                            "raw_volume_type": "ssd"},
         "idempotency_key": "volume-1234", "priority": "HIGH"}]})

    flow: str | None = Field(None, min_length=1, max_length=255,
                             description="Name of a registered flow (GET /v1/flows).")
    document: dict[str, Any] | None = Field(
        None, description="A declarative flow document, instead of 'flow'.")
    store: dict[str, Any] = Field(default_factory=dict,
                                  description="The flow's inputs.")
    priority: Annotated[Priority, BeforeValidator(_upper), Field(
        description="Any case: \"high\" is HIGH.")] = "NORMAL"
    strict: bool = Field(
        False, description="Refuse (422) a store key no task of the flow reads; "
        "without it such keys are posted and named in a Warning header.")
    idempotency_key: str | None = Field(
        None, min_length=1, max_length=255,
        description="Posting again with the same key returns the first job "
        "(200) instead of posting another. Also accepted as the "
        "Idempotency-Key header.")
    concurrency_keys: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        default_factory=list, max_length=16,
        description="Keys such as 'node:4f2a': across all conductors, at most N jobs "
        "sharing a key run at once (N per key prefix, 1 by default). Added to the "
        "keys the flow's templates make of the store.")


class Failure(BaseModel):
    type: str
    message: str
    traceback: str | None


class Task(BaseModel):
    name: str
    state: str
    intention: str
    progress: float
    result: Any
    failure: Failure | None
    revert_failure: Failure | None
    execute_started_at: str | None
    execute_finished_at: str | None
    execute_duration: float | None
    revert_started_at: str | None
    revert_finished_at: str | None
    revert_duration: float | None


class Job(BaseModel):
    id: str
    flow: str
    state: State
    priority: Priority
    idempotency_key: str | None
    attempts: int
    owner: str | None
    created_at: str
    updated_at: str
    started_at: str | None
    finished_at: str | None
    duration: float | None
    last_error: str | None
    cancel_requested_at: str | None
    cancel_requested_by: str | None = Field(description="Who asked for the cancellation.")
    cancelled: bool = Field(description="The job ended because it was cancelled: its "
                            "steps were reverted. Not a failure.")
    retry_of: str | None = Field(description="The job this one retries.")
    concurrency_keys: list[str] = Field(
        description="At most N jobs sharing one of these keys run at once.")
    store: dict[str, Any]
    document: dict[str, Any] | None
    logbook_id: str
    flow_detail_id: str
    board_job_id: str | None


class PassedOver(BaseModel):
    """A conductor that left the job to others, and why."""

    conductor: str
    reason: str
    passed_at: str


class Attempt(BaseModel):
    """One attempt at the job: the claim that started it and how it ended."""

    number: int
    conductor: str
    started_at: str
    ended_at: str | None
    duration: float | None
    outcome: Literal["finished", "cancelled", "suspended", "conductor_lost",
                     "storage_error", "error"] | None = Field(
        description="null while the attempt runs (or until its conductor's loss is "
        "noticed).")
    job_state: str | None = Field(description="The job's state when the attempt ended.")
    step: str | None = Field(description="The last step the attempt started.")
    detail: str | None


class JobWithTasks(Job):
    tasks: list[Task]
    passed_over: list[PassedOver]
    attempt_history: list[Attempt]
    retried_by: list[str] = Field(description="Jobs posted as retries of this one.")


class JobDetail(JobWithTasks):
    undoable: bool = Field(description=(
        "Whether POST /v1/jobs/{id}/revert would undo it now: it is SUCCESS and its "
        "flow declares itself revertible after success."))


class Holder(BaseModel):
    conductor: str
    since: str
    alive: bool | None = Field(description="Whether that conductor is alive now; "
                               "null when ZooKeeper could not say.")


class Explanation(BaseModel):
    """Why the job is, or is not, running now."""

    job_id: str
    state: State
    summary: str
    reasons: list[str]
    holder: Holder | None
    next_attempt_at: str | None = Field(
        description="When a conductor may claim it again (backing off); null: now.")


class UndoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requested_by: str | None = Field(
        None, min_length=1, max_length=255,
        description="Who asks (recorded on the job); 'api' when not given.")


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requested_by: str | None = Field(
        None, min_length=1, max_length=255,
        description="Who asks (recorded on the job); 'api' when not given.")


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resume_revert: bool = Field(
        False, description="Resume the job's failed revert instead of posting a new job.")
    requested_by: str | None = Field(
        None, min_length=1, max_length=255,
        description="With resume_revert: who asks (recorded on the job); 'api' when "
                    "not given.")


class JobList(BaseModel):
    jobs: list[Job]
    next_marker: str | None = Field(
        description="Pass as 'marker' for the next page; null on the last page.")


class Flow(BaseModel):
    name: str
    description: str
    requires: list[str]
    optional: list[str]
    provides: list[str]
    document: dict[str, Any] | None = Field(
        description="The declarative document behind the flow; null for a Python flow.")
    source: str | None = Field(
        description="The document's file, or the Python factory as module:name.")
    revertible_after_success: bool = Field(
        False, description="Whether its SUCCESS jobs may be undone (POST .../revert).")


class FlowList(BaseModel):
    flows: list[Flow]


class Conductor(BaseModel):
    name: str
    entity: str
    hostname: str | None
    pid: int | None
    registered_at: str | None
    engine: str | None
    max_simultaneous_jobs: int | None
    version: str | None
    running_jobs: int


class ConductorList(BaseModel):
    conductors: list[Conductor]


class ErrorDetail(BaseModel):
    status: int
    code: str
    message: str


class Error(BaseModel):
    error: ErrorDetail
