"""Views made safe to send as JSON, whatever an earlier release stored.

The service refuses text UTF-8 cannot encode and values nested too deeply
(``orchestrator.validation``), but a job written by an earlier release may
hold them, and a task's result is whatever its code returned. One such job
must not turn every page of the listing that holds it into a 500, so every
response body passes through ``presentable``: an unpaired surrogate becomes
U+FFFD (as a UTF-8 decoder shows bytes it cannot read), and a value nested past
``MAX_DEPTH`` is sent as its JSON text instead.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Deepest nesting sent as JSON structure, counted from the response body.
#: pydantic's serializer gives up past 255; the service admits at most 200
#: (``[api] max_nesting_depth``), which responses wrap in a few levels more.
MAX_DEPTH = 240

_SURROGATE = re.compile("[\ud800-\udfff]")


def presentable(value: Any, depth: int = 0) -> Any:
    """``value`` with unpaired surrogates replaced and deep values flattened to text."""
    if isinstance(value, str):
        # isascii() is a flag lookup: nearly every string skips the search.
        return value if value.isascii() else _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict | list | tuple):
        if depth >= MAX_DEPTH:
            return _as_text(value)
        if isinstance(value, dict):
            return {presentable(k, depth + 1): presentable(v, depth + 1)
                    for k, v in value.items()}
        return [presentable(item, depth + 1) for item in value]
    return value


def _as_text(value: Any) -> str:
    try:
        # ensure_ascii: any surrogate inside comes out as a \\u escape.
        return json.dumps(value)
    except (RecursionError, TypeError, ValueError):
        return f"({type(value).__name__} nested too deeply to show)"
