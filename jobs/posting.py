"""Posting a job: logbook and flow detail in SQL, a job record, then ZooKeeper.

The SQL writes come first so a conductor that claims the job at once finds
everything it needs. If the ZooKeeper post fails, those writes are undone:
a failed post leaves neither a job record nor a logbook behind.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from kazoo import exceptions as kazoo_exc
from taskflow import exceptions as tf_exc
from taskflow.jobs import base as tf_jobs
from taskflow.persistence import models

import persistence
from jobs.errors import PostingFailed
from jobs.spec import JobSpec, flow_meta

LOG = logging.getLogger(__name__)


def post_job(
    database: persistence.Database,
    board: Any,
    *,
    flow_name: str,
    flow_label: str,
    store: Mapping[str, Any],
    priority: str = "NORMAL",
    idempotency_key: str | None = None,
    document: Mapping[str, Any] | None = None,
) -> persistence.JobRecord:
    """Post one job for an already validated flow and store; return its record.

    ``document`` is the declarative flow document of a job posted with one;
    conductors build its flow from the copy in the job record. A second post
    with an ``idempotency_key`` already recorded raises
    ``persistence.DuplicateIdempotencyKey`` and leaves nothing behind.
    """
    job_id = str(uuid.uuid4())
    book = models.LogBook(f"job-{job_id}")
    flow_detail = models.FlowDetail(flow_label, uuid=str(uuid.uuid4()))
    flow_detail.meta = flow_meta(flow_name)
    book.add(flow_detail)
    spec = JobSpec(job_id=job_id, flow_name=flow_name,
                   flow_detail_id=flow_detail.uuid, store=dict(store))

    connection = database.taskflow_backend().get_connection()
    connection.save_logbook(book)
    try:
        with database.session() as session:
            persistence.add_job(
                session, job_id=job_id, flow_name=flow_name, store=dict(store),
                logbook_id=book.uuid, flow_detail_id=flow_detail.uuid,
                priority=priority, idempotency_key=idempotency_key, document=document,
            )
        board_job = board.post(
            flow_name, book=book, details=spec.to_details(),
            priority=tf_jobs.JobPriority.convert(priority),
        )
    except BaseException as exc:
        _undo(database, connection, job_id, book.uuid)
        if isinstance(exc, (tf_exc.JobFailure, kazoo_exc.KazooException)):
            raise PostingFailed(f"could not post the job to ZooKeeper: {exc}") from exc
        raise
    with database.session() as session:
        persistence.mark_posted(session, job_id, board_job.uuid)
        record = persistence.get_job(session, job_id)
    assert record is not None
    LOG.info("Posted job %s (%s) as %s", job_id, flow_name, board_job.uuid)
    return record


def _undo(database: persistence.Database, connection: Any, job_id: str,
          book_id: str) -> None:
    with contextlib.suppress(Exception), database.session() as session:
        persistence.delete_job(session, job_id)
    try:
        connection.destroy_logbook(book_id)
    except tf_exc.NotFound:
        pass
    except Exception:
        LOG.exception("Could not remove logbook %s of the failed post", book_id)
