"""Job views as JSON, for scripts: what ``--json`` prints.

Exact and stable: keys sorted, timestamps ISO-8601 in UTC with microseconds
(``2024-05-01T12:00:03.215000+00:00``), durations in seconds (rounded to
microseconds), ``null`` for what is not known. Apart from ``render`` so that
``--json`` does not import rich.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.service import JobHistory


def dumps(view: object) -> str:
    """A view (or a list of them) as indented JSON, keys sorted."""
    return json.dumps(view, indent=2, sort_keys=True)


def history_json(history: JobHistory, *, traceback: bool = False) -> str:
    """``history_dict`` as indented JSON, keys sorted."""
    from orchestrator.views import history_dict

    return dumps(history_dict(history, traceback=traceback))
