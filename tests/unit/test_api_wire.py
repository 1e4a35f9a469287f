"""Response bodies can always be encoded, whatever an earlier release stored."""

from __future__ import annotations

import json
from typing import Any

import pydantic_core
import pytest

from orchestrator import validation
from orchestrator.api import schemas
from orchestrator.api.wire import MAX_DEPTH, presentable


def _nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def test_ordinary_values_pass_unchanged() -> None:
    value = {"a": [1, 2.5, None, True, "ü €"], "b": {"c": "\U0001f600"}, "nul": "a\x00b"}
    assert presentable(value) == value


def test_unpaired_surrogates_become_replacement_characters() -> None:
    value = {"note": "bad \ud800 and \udfff", "\udc80key": ["\ud83d"]}
    shown = presentable(value)
    assert shown == {"note": "bad \ufffd and \ufffd", "\ufffdkey": ["\ufffd"]}
    pydantic_core.to_json(shown)  # raised UnicodeEncodeError before


def test_values_nested_past_the_limit_are_sent_as_their_json_text() -> None:
    deep = _nested(MAX_DEPTH + 50, leaf="\ud800")
    shown = presentable({"store": deep})
    inner = shown["store"]
    levels = 1
    while isinstance(inner, list):
        inner, levels = inner[0], levels + 1
    assert levels == MAX_DEPTH
    assert json.loads(inner) == _nested(51, leaf="\ud800")  # the rest, losslessly
    pydantic_core.to_json(shown)


def test_a_job_list_with_stored_bad_data_serializes_as_the_api_does() -> None:
    job = {"id": "j", "flow": "f", "state": "SUCCESS", "priority": "NORMAL",
           "idempotency_key": None, "attempts": 1, "owner": None,
           "created_at": "t", "updated_at": "t", "started_at": None, "finished_at": None,
           "duration": None, "last_error": "failed on \udcff", "cancel_requested_at": None,
           "cancel_requested_by": None, "cancelled": False, "retry_of": None,
           "concurrency_keys": [],
           "store": {"deep": _nested(900), "text": "\ud800"}, "document": None,
           "logbook_id": "l", "flow_detail_id": "d", "board_job_id": None}
    body = {"jobs": [job], "next_marker": None}
    with pytest.raises(pydantic_core.PydanticSerializationError):
        schemas.JobList.model_validate(body).model_dump_json()
    schemas.JobList.model_validate(presentable(body)).model_dump_json()


def test_everything_the_service_admits_is_sent_as_structure() -> None:
    # A store at the deepest nesting [api] max_nesting_depth allows, inside a
    # job list (three levels more), is never flattened.
    store = {"a": _nested(validation.MAX_NESTING_DEPTH_LIMIT - 1)}
    body = {"jobs": [{"store": store}]}
    assert presentable(body) == body
