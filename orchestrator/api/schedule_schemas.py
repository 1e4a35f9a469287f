"""Request and response bodies of the schedules' routes (API version 1)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from orchestrator.api.schemas import Priority, _upper

Missed = Literal["skip", "run_once"]
Outcome = Literal["posted", "skipped", "error"]


class ScheduleRequest(BaseModel):
    """A schedule to create: a registered flow and its store, posted on a cron expression."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "nightly-volume", "flow": "create-volume",
         "store": {"raw_size": 1, "raw_availability_zone": "az1", "raw_volume_type": "ssd"},
         "cron": "30 2 * * *", "timezone": "Europe/Paris", "missed": "run_once"}]})

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                      description=(
        "Letters, digits, '.', '_' or '-'; the schedule's name in URLs and the CLI."))
    flow: str = Field(min_length=1, max_length=255,
                      description="Name of a registered flow (GET /v1/flows).")
    store: dict[str, Any] = Field(default_factory=dict, description="The flow's inputs.")
    cron: str = Field(min_length=1, max_length=255, description=(
        "Five fields (minute hour day-of-month month day-of-week), or six with "
        "seconds LAST: '* * * * * */10' fires every 10 seconds."))
    timezone: str = Field("UTC", min_length=1, max_length=64,
                          description="IANA time zone the expression is read in.")
    missed: Missed = Field("skip", description=(
        "Fire times missed while no scheduler ran (older than [scheduler] "
        "misfire_grace): 'skip' records them skipped, 'run_once' posts one job "
        "for the latest."))
    priority: Annotated[Priority, BeforeValidator(_upper), Field(
        description="Priority of the posted jobs; any case.")] = "NORMAL"
    created_by: str | None = Field(None, max_length=255)


class Fire(BaseModel):
    fire_at: str
    outcome: Outcome
    job_id: str | None
    detail: str | None
    recorded_at: str


class Schedule(BaseModel):
    id: str
    name: str
    flow: str
    store: dict[str, Any]
    priority: str
    cron: str
    timezone: str
    missed: Missed
    paused: bool
    created_at: str
    updated_at: str
    created_by: str | None
    next_fires: list[str] = Field(description="The next 5 fire times (none while paused).")


class ScheduleDetail(Schedule):
    fires: list[Fire] = Field(description="The last fires, newest first.")


class ScheduleList(BaseModel):
    schedules: list[Schedule]
