"""An undo as TaskFlow's engine runs it, on the real persistence (both databases):
each task's revert gets the result that task recorded, last task first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import taskflow.engines
from taskflow import states, task
from taskflow.patterns import linear_flow, unordered_flow
from taskflow.utils import persistence_utils

import persistence
from orchestrator import revert_resume

pytestmark = pytest.mark.integration


class Recorder(task.Task):
    def __init__(self, name: str, seen: list[tuple[str, str, Any]]) -> None:
        super().__init__(name=name)
        self._seen = seen

    def execute(self, size: int) -> str:
        self._seen.append(("execute", self.name, size))
        return f"{self.name}-made-{size}"

    def revert(self, result: Any, **kwargs: Any) -> None:
        self._seen.append(("revert", self.name, result))


def make_flow(seen: list[tuple[str, str, Any]]) -> linear_flow.Flow:
    return linear_flow.Flow("undoable").add(
        Recorder("reserve", seen),
        unordered_flow.Flow("both").add(Recorder("disk", seen), Recorder("port", seen)),
        Recorder("attach", seen))


def test_an_undo_reverts_each_task_with_its_result_last_first(
        database: persistence.Database) -> None:
    backend = database.taskflow_backend()
    seen: list[tuple[str, str, Any]] = []
    book, detail = persistence_utils.temporary_flow_detail(backend)
    taskflow.engines.run(make_flow(seen), store={"size": 3}, flow_detail=detail,
                         book=book, backend=backend)
    assert [name for _action, name, _ in seen][-1] == "attach"
    seen.clear()

    assert revert_resume.request_undo(database, detail.uuid, "erin", datetime.now(UTC))
    stored = persistence.read_flow_detail(database, detail.uuid)
    marked = revert_resume.prepare(stored)
    assert sorted(marked) == ["attach", "disk", "port", "reserve"]  # not the store
    backend.get_connection().update_flow_details(stored)
    # The flow detail is no longer SUCCESS: a second request writes nothing.
    assert not revert_resume.request_undo(database, detail.uuid, "frank", datetime.now(UTC))
    again = persistence.read_flow_detail(database, detail.uuid)
    assert again.state == states.RUNNING and revert_resume.prepare(again) == []

    engine = taskflow.engines.load(make_flow(seen), store={"size": 3},
                                   flow_detail=again, book=book, backend=backend)
    engine.run()

    assert all(action == "revert" for action, _name, _result in seen)
    order = [name for _action, name, _result in seen]
    assert order[0] == "attach" and order[-1] == "reserve"
    assert sorted(order[1:3]) == ["disk", "port"]
    assert {name: result for _action, name, result in seen} == {
        name: f"{name}-made-3" for name in ("reserve", "disk", "port", "attach")}
    final = persistence.read_flow_detail(database, detail.uuid)
    assert final.state == states.REVERTED
    assert revert_resume.undo_requested_by(final) == "erin"
