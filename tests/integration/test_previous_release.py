"""A job suspended by the previous release resumes after the upgrade.

The previous release (schema 0002) posted jobs through TaskFlow's own ZooKeeper
board, wrote job rows without a claim epoch, and let TaskFlow write its tables.
After ``db upgrade`` this release must claim such a job by its posting and
resume it where it stopped: completed steps are not run again.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import taskflow.engines
from kazoo.client import KazooClient
from taskflow import states
from taskflow.jobs.backends import impl_zookeeper
from taskflow.persistence import models as tf_models

import jobs
import persistence
from orchestrator import Orchestrator
from orchestrator.flows import ledger, slow
from orchestrator.registry import FlowRegistry
from persistence import jsoncodec, schema
from tests.integration.conftest import run_conductor_until

pytestmark = pytest.mark.integration


def test_a_job_suspended_by_the_previous_release_resumes_after_the_upgrade(
        db_url: str, zk_hosts: str, jobboard_path: str, tmp_path: Path) -> None:
    led = tmp_path / "ledger"
    store = {"ledger_path": str(led), "step_seconds": 0}
    db = persistence.Database(db_url)
    try:
        db.taskflow_backend().get_connection().upgrade()
        schema.upgrade_ours(db.engine, "0002")

        # What the previous release's post wrote: logbook, flow detail, row, posting.
        job_id = str(uuid.uuid4())
        book = tf_models.LogBook(f"job-{job_id}")
        detail = tf_models.FlowDetail("slow-steps", uuid=str(uuid.uuid4()))
        detail.meta = jobs.flow_meta("slow-steps")
        book.add(detail)
        db.taskflow_backend().get_connection().save_logbook(book)
        spec = jobs.JobSpec(job_id=job_id, flow_name="slow-steps",
                            flow_detail_id=detail.uuid, store=store)
        client = KazooClient(hosts=zk_hosts)
        stock = impl_zookeeper.ZookeeperJobBoard(
            "previous", {"path": jobboard_path, "check_compatible": False}, client=client)
        stock.connect()
        try:
            posted = stock.post("slow-steps", book=book, details=spec.to_details())
        finally:
            stock.close()
            client.stop()
            client.close()

        # Its conductor ran step-1, then was stopped: the flow SUSPENDED.
        engine = taskflow.engines.load(slow.make_flow(), flow_detail=detail, book=book,
                                       backend=db.taskflow_backend(), store=store)
        engine.atom_notifier.register(states.SUCCESS, lambda *_args, **_kwargs: engine.suspend())
        engine.run()
        assert engine.storage.get_flow_state() == states.SUSPENDED
        now = datetime.now(UTC)
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO orchestrator_jobs (id, flow_name, state, store, created_at, "
                "updated_at, started_at, attempts, logbook_id, flow_detail_id, "
                "board_job_id, priority) VALUES (:id, 'slow-steps', 'SUSPENDED', :store, "
                ":now, :now, :now, 1, :book, :detail, :posting, 'NORMAL')"),
                {"id": job_id, "store": jsoncodec.dumps(store), "now": now,
                 "book": book.uuid, "detail": detail.uuid, "posting": posted.uuid})
        assert [task for _action, task, _pid in ledger.read(led)] == ["step-1", "step-1"]

        db.upgrade()
        settings = jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)
        registry = FlowRegistry.from_entry_points()
        with Orchestrator(db, registry, settings) as orch:
            run_conductor_until(db, settings, registry,
                                lambda: orch.get_job(job_id).is_terminal)
            final = orch.get_job(job_id)
    finally:
        db.close()
    assert (final.state.value, final.attempts, final.claim_epoch) == ("SUCCESS", 2, 1)
    executed = Counter(task for action, task, _pid in ledger.read(led) if action == "execute")
    steps = [f"step-{index}" for index in range(1, slow.STEPS + 1)]
    assert executed == Counter([*steps, "final-check"])
