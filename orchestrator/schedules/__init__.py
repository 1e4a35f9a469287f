"""Schedules: a flow and a store posted on a cron expression, in a time zone.

``ScheduleService`` creates, lists, pauses, resumes and deletes them (the
CLI and the API); every conductor runs a ``Scheduler`` whose leader posts
each fire time's job once (``orchestrator.schedules.scheduler``).
"""

from __future__ import annotations

from orchestrator.schedules.cron import Cron, PlannedFire, plan
from orchestrator.schedules.scheduler import (
    Scheduler,
    SchedulerSettings,
    SchedulerThread,
    idempotency_key,
    start_for_conductor,
)
from orchestrator.schedules.service import ScheduleService, ScheduleView

__all__ = [
    "Cron",
    "PlannedFire",
    "ScheduleService",
    "ScheduleView",
    "Scheduler",
    "SchedulerSettings",
    "SchedulerThread",
    "idempotency_key",
    "plan",
    "start_for_conductor",
]
