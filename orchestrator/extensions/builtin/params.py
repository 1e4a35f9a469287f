"""Parameter checks shared by the built-in extensions' validators.

Each raises ``InvalidCommandParamsError`` (HTTP 400), which ``execute_command``
returns to the caller instead of recording a failed command.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.extensions.errors import InvalidCommandParamsError


def check_names(
    params: Mapping[str, Any], allowed: Iterable[str], required: Iterable[str] = ()
) -> None:
    """Refuse unknown and missing parameters (a misspelt name is an error, not ignored)."""
    allowed = set(allowed)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidCommandParamsError(
            f"unexpected parameters: {', '.join(unknown)} (accepted: {', '.join(sorted(allowed))})"
        )
    missing = sorted(set(required) - set(params))
    if missing:
        raise InvalidCommandParamsError(f"missing parameters: {', '.join(missing)}")


def check_number(name: str, value: Any, minimum: float, maximum: float) -> float:
    """``value`` as a finite number within [minimum, maximum] (bool is not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidCommandParamsError(f"{name} must be a number, not {value!r}")
    if not minimum <= value <= maximum:
        raise InvalidCommandParamsError(f"{name} must be between {minimum} and {maximum}")
    return float(value)


def check_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidCommandParamsError(f"{name} must be a string, not {value!r}")
    return value


def check_absolute_path(name: str, value: Any) -> str:
    """An absolute path as a string (relative paths would depend on the agent's cwd)."""
    path = check_str(name, value)
    if not os.path.isabs(path):
        raise InvalidCommandParamsError(f"{name} must be an absolute path, not {path!r}")
    return path


def check_json(name: str, value: Any) -> None:
    """Refuse a value JSON cannot encode (it could not be stored or returned)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidCommandParamsError(f"{name} must be JSON-encodable: {exc}") from exc
