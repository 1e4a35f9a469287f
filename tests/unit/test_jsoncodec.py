from __future__ import annotations

import datetime
import json

import pytest

from persistence.jsoncodec import dumps


def test_plain_json_is_encoded_as_json_does() -> None:
    value = {"a": [1, 2.5, None, True], "b": {"c": "d"}}
    assert dumps(value) == json.dumps(value)


def test_non_json_exception_arguments_become_their_repr() -> None:
    failure = {"exc_type_names": ["RuntimeError"], "exc_args": ["gone", object()],
               "causes": [{"exc_args": [ConnectionRefusedError(111, "refused")]}]}
    decoded = json.loads(dumps(failure))
    assert decoded["exc_args"][0] == "gone"
    assert decoded["exc_args"][1].startswith("<object object at")
    assert decoded["causes"][0]["exc_args"][0].startswith("ConnectionRefusedError(")


def test_non_json_data_outside_exception_arguments_is_still_refused() -> None:
    with pytest.raises(TypeError):
        dumps({"result": datetime.datetime.now(datetime.UTC)})
