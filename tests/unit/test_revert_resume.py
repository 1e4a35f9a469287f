"""What a conductor makes of a flow detail whose failed revert was resumed."""

from __future__ import annotations

import uuid

from taskflow import states
from taskflow.persistence import models as tf_models
from taskflow.types import failure

from orchestrator import revert_resume


def test_only_a_noted_request_turns_a_failed_revert_into_a_revert_to_resume() -> None:
    flow_detail = tf_models.FlowDetail("revert-fails-until", uuid=str(uuid.uuid4()))
    flow_detail.state = states.FAILURE
    for name, state in [("step-1", states.SUCCESS), ("step-2", states.REVERT_FAILURE),
                        ("step-3", states.REVERTED)]:
        atom = tf_models.TaskDetail(name, uuid=str(uuid.uuid4()))
        atom.state, atom.intention = state, states.REVERT
        if state == states.REVERT_FAILURE:
            atom.revert_failure = failure.Failure.from_exception(RuntimeError("busy"))
        flow_detail.add(atom)
    # A flow that merely ended FAILED (no request) is left as it is.
    assert revert_resume.prepare(flow_detail) == []
    assert flow_detail.state == states.FAILURE

    flow_detail.meta = {revert_resume.REQUEST_KEY: {"by": "alice"}, "other": 1}
    assert revert_resume.prepare(flow_detail) == ["step-2"]
    assert flow_detail.state == states.RUNNING and flow_detail.meta == {"other": 1}
    assert {a.name: (a.state, a.intention, a.revert_failure) for a in flow_detail} == {
        "step-1": (states.SUCCESS, states.REVERT, None),
        "step-2": (states.REVERTING, states.REVERT, None),
        "step-3": (states.REVERTED, states.REVERT, None)}
