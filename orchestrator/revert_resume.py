"""Resuming a revert that failed: the request, kept in the flow detail, and what
the conductor makes of it.

A job whose task raised while reverting ends FAILED: TaskFlow leaves its flow
detail in FAILURE, that task in REVERT_FAILURE, and the tasks not reverted yet
as they were (SUCCESS, to be reverted). Once an operator has fixed the cause,
``Orchestrator.resume_revert`` notes the request in the flow detail's meta
(``request``) and reopens the job. The conductor that claims it then turns the
flow detail into what a run cut short while reverting leaves (``prepare``):
the engine reverts the failed task again and then the rest, last first, and
never executes anything again.

The note in the meta is what tells a reopened job from a flow that merely
ended FAILED: without it, a conductor records the flow's end as it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from taskflow import exceptions as tf_exc
from taskflow import states

import persistence

#: Key of the flow detail's meta that holds the request: who asked, and when.
REQUEST_KEY = "orchestrator.resume_revert"


def failed_reverts(flow_detail: Any) -> list[str]:
    """Names of the atoms whose revert raised, in the flow detail's order."""
    return [atom.name for atom in flow_detail if atom.state == states.REVERT_FAILURE]


def request(database: persistence.Database, flow_detail_id: str,
            requested_by: str | None, now: datetime) -> list[str]:
    """Note in the flow detail that its failed revert is to be resumed.

    Returns the atoms whose revert failed; none (and nothing written) when the
    flow did not end FAILURE with a failed revert. Called for a FAILED job
    only, before it is reopened: no conductor writes its flow detail then. A
    note left by a reopen that did not happen is harmless (a FAILED job is
    never claimed) and the next request writes it again.
    """
    flow_detail = persistence.read_flow_detail(database, flow_detail_id)
    if flow_detail is None:
        return []
    connection = database.taskflow_backend().get_connection()
    failed = failed_reverts(flow_detail)
    if flow_detail.state != states.FAILURE or not failed:
        return []
    flow_detail.meta = {**(flow_detail.meta or {}),
                        REQUEST_KEY: {"by": requested_by, "at": now.isoformat()}}
    try:
        connection.update_flow_details(flow_detail)
    except tf_exc.StorageFailure as exc:
        raise persistence.PersistenceError(
            f"could not note the request in flow detail {flow_detail_id}: {exc}",
            retryable=True) from exc
    return failed


def prepare(flow_detail: Any) -> list[str]:
    """Make a flow detail whose revert was resumed read as a revert cut short.

    The atoms in REVERT_FAILURE go back to REVERTING (intention REVERT, their
    revert failure dropped), and the flow to RUNNING, from which TaskFlow's
    engine resumes: it reverts those atoms again, then the ones still to be
    reverted, last first, with the results they recorded (TaskFlow dropped
    the result of an atom whose revert failed: it reverts with None). The
    note is removed. Returns the atoms to revert again; none, and nothing
    changed, when the flow detail carries no request or nothing to resume.
    The caller saves the flow detail.
    """
    meta = flow_detail.meta or {}
    failed = failed_reverts(flow_detail)
    if REQUEST_KEY not in meta or flow_detail.state != states.FAILURE or not failed:
        return []
    for atom in flow_detail:
        if atom.state == states.REVERT_FAILURE:
            atom.state = states.REVERTING
            atom.intention = states.REVERT
            atom.revert_failure = None
    flow_detail.meta = {k: v for k, v in meta.items() if k != REQUEST_KEY}
    flow_detail.state = states.RUNNING
    return failed
