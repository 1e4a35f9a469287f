"""Reverts on request: resuming a revert that failed, and undoing a finished
run. The request is kept in the flow detail; the conductor that claims the
reopened job turns the flow detail into a revert cut short, which TaskFlow's
engine then finishes.

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

An undo (``Orchestrator.undo``) works the same way for a flow that ended
SUCCESS and declares itself revertible after success: every atom that
succeeded is marked to be reverted (intention REVERT, its result kept), and the
engine reverts them last first, each with the result it recorded, to end
REVERTED. The note stays, marked applied, to say who asked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from taskflow import states
from taskflow.storage import Storage

import persistence

#: Key of the flow detail's meta that holds the request: who asked, and when.
REQUEST_KEY = "orchestrator.resume_revert"
#: Key of the flow detail's meta that holds an undo request; ``applied`` once a
#: conductor has marked the atoms to revert.
UNDO_KEY = "orchestrator.undo"


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
    failed = failed_reverts(flow_detail)
    if flow_detail.state != states.FAILURE or not failed:
        return []
    if not database.note_on_flow_detail(flow_detail_id, REQUEST_KEY,
                                        {"by": requested_by, "at": now.isoformat()},
                                        when_state=states.FAILURE):
        return []
    return failed


def request_undo(database: persistence.Database, flow_detail_id: str,
                 requested_by: str | None, now: datetime) -> bool:
    """Note in a SUCCESS flow detail that its run is to be undone.

    Called for a SUCCESS job, before it is reopened. False (nothing written)
    when the flow detail is not SUCCESS. A note left by a reopen that did not
    happen is harmless: a SUCCESS job is never claimed.
    """
    return database.note_on_flow_detail(
        flow_detail_id, UNDO_KEY, {"by": requested_by, "at": now.isoformat()},
        when_state=states.SUCCESS)


def undo_requested_by(flow_detail: Any) -> str | None:
    """Who asked for the undo of this flow detail's run ('?' unnamed); None if nobody."""
    note = (flow_detail.meta or {}).get(UNDO_KEY)
    if not isinstance(note, dict):
        return None
    return str(note.get("by") or "?")


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
    undo = meta.get(UNDO_KEY)
    if (isinstance(undo, dict) and not undo.get("applied")
            and flow_detail.state == states.SUCCESS):
        return _prepare_undo(flow_detail, undo)
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


def _prepare_undo(flow_detail: Any, note: dict[str, Any]) -> list[str]:
    """Mark the run to be reverted (``mark_to_revert``) and the note applied.

    Saved before anything reverts, so a conductor that takes the job over
    after a crash resumes the undo as any revert cut short (the applied note
    is not applied twice).
    """
    flow_detail.meta = {**(flow_detail.meta or {}), UNDO_KEY: {**note, "applied": True}}
    return mark_to_revert(flow_detail)


def mark_to_revert(flow_detail: Any) -> list[str]:
    """Mark every atom that succeeded to be reverted, and the flow RUNNING.

    The atoms keep their state and result: TaskFlow's engine reverts an atom
    whose intention is REVERT once all that ran after it are reverted, and
    hands its revert the stored result. Returns the atoms marked. The caller
    saves the flow detail.
    """
    marked = []
    for atom in flow_detail:
        # The store's injector is no step of the flow: nothing to revert.
        if atom.state == states.SUCCESS and atom.name != Storage.injector_name:
            atom.intention = states.REVERT
            marked.append(atom.name)
    flow_detail.state = states.RUNNING
    return marked


def started(flow_detail: Any) -> bool:
    """Whether any step of the flow has run (the store's injector is none)."""
    return any(atom.state != states.PENDING and atom.name != Storage.injector_name
               for atom in flow_detail)
