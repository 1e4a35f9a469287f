"""TaskFlow's ``Storage`` with one write per state change.

Stock TaskFlow writes an atom up to three times for one state change (the
state, then its progress, then, through ``EventTimeListener``, the time it
happened) and the flow row for every transient state of ``prepare()``.
``LeanStorage`` folds the progress and the ``<STATE>-timestamp`` meta
``EventTimeListener`` would write into the state's own write, skips writes
that would store what is stored already, and keeps the flow states a
``prepare()`` passes through in memory (``quiet_flow_states``). The rows are
the ones TaskFlow writes, so TaskFlow's tools and our history still read them.

It leans on TaskFlow 6.5's ``Storage`` internals (``_save_atom_detail``,
``_save_flow_detail``, ``_atomdetail_by_name``); the persistence contract tests
run it against TaskFlow's own expectations and fail if an upgrade moves them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

from taskflow import exceptions as tf_exc
from taskflow import states
from taskflow import storage as tf_storage
from taskflow.persistence import models as tf_models

# The progress ``TaskAction.change_state`` sets with each of these states.
_PROGRESS_WITH_STATE = {
    states.RUNNING: 0.0,
    states.REVERTING: 0.0,
    states.SUCCESS: 1.0,
    states.REVERTED: 1.0,
}


def stamp(meta: Mapping[str, Any] | None, state: str, now: float) -> dict[str, Any]:
    """``meta`` with the time ``state`` was entered, as ``EventTimeListener`` records it."""
    return {**(meta or {}), f"{state}-timestamp": now}


class LeanStorage(tf_storage.Storage):
    """``Storage`` writing each atom and flow state change once, with its time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._quiet = False

    @contextlib.contextmanager
    def quiet_flow_states(self) -> Iterator[None]:
        """Keep flow state changes in memory for the block (atoms still get written).

        For ``prepare()``: its RESUMING and SUSPENDED last a moment, and the
        RUNNING that follows is written. A crash in between leaves the flow
        as it was, which the next run prepares again.
        """
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    # -- writes TaskFlow's Storage makes, each now the only one ----------------

    def _save_atom_detail(self, conn: Any, original: Any, atom_detail: Any) -> Any:
        if atom_detail.state != original.state and atom_detail.state is not None:
            atom_detail.meta = stamp(atom_detail.meta, atom_detail.state, time.time())
            progress = _PROGRESS_WITH_STATE.get(atom_detail.state)
            if progress is not None and isinstance(atom_detail, tf_models.TaskDetail):
                atom_detail.meta[tf_storage.META_PROGRESS] = progress
        return super()._save_atom_detail(conn, original, atom_detail)

    def _save_flow_detail(self, conn: Any, original: Any, flow_detail: Any) -> Any:
        state_changed = flow_detail.state != original.state
        new_atoms = {ad.uuid for ad in flow_detail} - {ad.uuid for ad in original}
        if state_changed:
            flow_detail.meta = stamp(flow_detail.meta, flow_detail.state, time.time())
        if self._quiet and state_changed and not new_atoms:
            return original.update(flow_detail)
        return super()._save_flow_detail(conn, original, flow_detail)

    def set_task_progress(self, task_name: str, progress: float,
                          details: Any = None) -> None:
        # The state write that came with this progress stored it already.
        if details is None and self.get_task_progress(task_name) == progress:
            return
        super().set_task_progress(task_name, progress, details=details)

    def inject(self, pairs: Any, transient: bool = False) -> None:
        # A resumed job injects its store again: nothing to write if it is
        # stored already (its values are what the job was posted with).
        if not transient:
            try:
                source, _clone = self._atomdetail_by_name(
                    self.injector_name, expected_type=tf_models.TaskDetail)
            except tf_exc.NotFound:
                source = None
            pairs = dict(pairs)
            if (source is not None and isinstance(source.results, dict)
                    and all(k in source.results and source.results[k] == v
                            for k, v in pairs.items())):
                self._set_result_mapping(source.name,
                                         {name: name for name in source.results})
                return
        super().inject(pairs, transient=transient)


def injector_detail(store: Mapping[str, Any]) -> tf_models.TaskDetail:
    """The atom holding a flow's store, as ``Storage.inject`` would write it.

    Written with the flow detail when a job is posted, so loading the job
    writes nothing for its store, and a conductor killed while loading can
    no longer leave the store half injected.
    """
    import uuid

    detail = tf_models.TaskDetail(tf_storage.Storage.injector_name, str(uuid.uuid4()))
    detail.results = dict(store)
    detail.state = states.SUCCESS
    return detail
