"""The schedules' routes of API version 1: create, list, show, pause, resume, delete.

Every route calls ``ScheduleService``; errors are mapped by ``orchestrator.api.app``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from orchestrator.api import schedule_schemas as schemas
from orchestrator.api.schemas import Error
from orchestrator.api.wire import presentable
from orchestrator.schedules import ScheduleService
from orchestrator.schedules.views import schedule_dict

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Error}}


def schedules_router(schedules: ScheduleService, prefix: str) -> APIRouter:
    """The routes under ``/schedules``, for a router at ``prefix`` (which
    authenticates)."""
    router = APIRouter(prefix="/schedules")

    @router.post("", status_code=201, response_model=schemas.ScheduleDetail,
                 responses={200: {"model": schemas.ScheduleDetail,
                                  "description": "The same schedule was created earlier"},
                            409: {"model": Error,
                                  "description": "Another schedule has that name"},
                            503: {"model": Error}})
    def create_schedule(body: schemas.ScheduleRequest, response: Response) -> Any:
        """Create a schedule: its flow and store are checked as a post checks them;
        its first fire is the first fire time after now. The same schedule
        again (a retried create): 200 and the schedule."""
        view = schedules.create(body.name, body.flow, body.store, body.cron,
                                timezone=body.timezone, missed=body.missed,
                                priority=body.priority, created_by=body.created_by)
        response.headers["Location"] = f"{prefix}/schedules/{view.record.name}"
        if not view.created:
            response.status_code = 200
        return presentable(schedule_dict(view, with_fires=True))

    @router.get("", response_model=schemas.ScheduleList)
    def list_schedules() -> Any:
        """Every schedule by name, with its next 5 fire times."""
        return presentable({"schedules": [schedule_dict(v) for v in schedules.list_all()]})

    @router.get("/{name}", response_model=schemas.ScheduleDetail, responses=_NOT_FOUND)
    def get_schedule(name: str, history: Annotated[int, Query(
            ge=0, le=1000, description="How many of the last fires to show.")] = 20) -> Any:
        """The schedule, its next fire times and its last fires, newest first."""
        return presentable(schedule_dict(schedules.get(name, history), with_fires=True))

    @router.post("/{name}/pause", response_model=schemas.ScheduleDetail,
                 responses=_NOT_FOUND)
    def pause_schedule(name: str) -> Any:
        """Stop firing the schedule until it is resumed."""
        return presentable(schedule_dict(schedules.pause(name), with_fires=True))

    @router.post("/{name}/resume", response_model=schemas.ScheduleDetail,
                 responses=_NOT_FOUND)
    def resume_schedule(name: str) -> Any:
        """Fire again from the first fire time after now; those that passed while
        it was paused are not posted."""
        return presentable(schedule_dict(schedules.resume(name), with_fires=True))

    @router.delete("/{name}", status_code=204, response_class=Response,
                   responses=_NOT_FOUND)
    def delete_schedule(name: str) -> Response:
        """Delete the schedule and its history; the jobs it posted stay."""
        schedules.delete(name)
        return Response(status_code=204)

    return router
