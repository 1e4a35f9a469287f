"""A poster that dies between writing a job and posting it must not lose the job:
conductors post such a job again once its record has waited long enough."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from taskflow.persistence import models as tf_models

import jobs
import persistence
from orchestrator.conductor import UNPOSTED_GRACE, Conductor, ConductorSettings
from orchestrator.registry import FlowRegistry
from tests.helpers import wait_for
from tests.jobrows import insert_job

pytestmark = pytest.mark.integration

VOLUME = {"raw_size": 10, "raw_availability_zone": "nova", "raw_volume_type": "ssd"}


def test_a_job_written_but_never_posted_is_posted_again_and_runs(
        database: persistence.Database, zk_hosts: str, jobboard_path: str) -> None:
    book = tf_models.LogBook("job-unposted")
    detail = tf_models.FlowDetail("create-volume", uuid=str(uuid.uuid4()))
    detail.meta = jobs.flow_meta("create-volume")
    detail.add(persistence.injector_detail(VOLUME))
    book.add(detail)
    with database.session() as session:
        database.insert_logbook(session.connection(), book)
    # As the poster left it: written, POSTED, older than the grace; no posting.
    long_ago = datetime.now(UTC) - timedelta(seconds=UNPOSTED_GRACE + 5)
    record = insert_job(database, "create-volume", store=VOLUME, logbook_id=book.uuid,
                        flow_detail_id=detail.uuid, created_at=long_ago,
                        updated_at=long_ago)
    fresh = insert_job(database, "create-volume", store=VOLUME)  # a poster still at it

    settings = jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)
    with jobs.open_jobboard(settings, "c1") as board:
        conductor = Conductor(ConductorSettings(name="c1", reconcile_interval=0.5), board,
                              database, FlowRegistry.from_entry_points())
        runner = threading.Thread(target=conductor.run, daemon=True)
        runner.start()
        try:
            def state(job_id: str) -> str:
                with database.session() as session:
                    found = persistence.get_job(session, job_id)
                assert found is not None
                return found.state.value

            wait_for(lambda: state(record.id) == "SUCCESS", timeout=60,
                     message="the unposted job to be posted again and run")
            wait_for(lambda: board.find(str(record.board_job_id)) is None, timeout=30,
                     message="its posting to be consumed")
            assert state(fresh.id) == "POSTED"  # within the grace: left to its poster
        finally:
            conductor.stop()
            runner.join(timeout=30)
