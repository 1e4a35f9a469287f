"""JSON encoding for the database: strict for data, forgiving for exception arguments.

TaskFlow stores a failure with its exception's arguments; an argument JSON
cannot encode (an object, a socket error) made the whole save fail, the failure
was lost and the flow could not revert. Only those arguments are replaced by
their repr. Results and stores stay strict: converting them silently would
hand a resumed flow a string where a live one saw an object.
"""

from __future__ import annotations

import json
from typing import Any

_ARGUMENT_KEYS = frozenset({"exc_args", "exc_kwargs"})


def dumps(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return json.dumps(_forgive_exception_arguments(value))


def _forgive_exception_arguments(value: Any, inside_arguments: bool = False) -> Any:
    if isinstance(value, dict):
        return {key: _forgive_exception_arguments(item, inside_arguments
                                                  or key in _ARGUMENT_KEYS)
                for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_forgive_exception_arguments(item, inside_arguments) for item in value]
    if inside_arguments and not isinstance(value, str | int | float | bool | type(None)):
        return repr(value)
    return value
