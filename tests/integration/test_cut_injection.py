"""A conductor killed while it loaded a job leaves TaskFlow's store injection half
written; the job must still run (it was lost forever: every load failed)."""

from __future__ import annotations

import uuid

import pytest
from taskflow import storage as tf_storage
from taskflow.persistence import models as tf_models

import jobs
import persistence
from orchestrator import Orchestrator
from orchestrator.registry import FlowRegistry
from tests.integration.conftest import run_conductor_until

pytestmark = pytest.mark.integration

VOLUME = {"raw_size": 10, "raw_availability_zone": "nova", "raw_volume_type": "ssd"}


def test_a_job_whose_store_injection_was_cut_in_half_still_runs(
        database: persistence.Database, zk_hosts: str, jobboard_path: str) -> None:
    registry = FlowRegistry.from_entry_points()
    settings = jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)
    with Orchestrator(database, registry, settings) as orch:
        record = orch.post("create-volume", VOLUME)
        # What TaskFlow's first write of Storage.inject leaves when the process
        # dies before its second: the injector atom, without its values.
        connection = database.taskflow_backend().get_connection()
        detail = connection.get_flow_details(record.flow_detail_id)
        injector = tf_models.TaskDetail(tf_storage.Storage.injector_name, str(uuid.uuid4()))
        injector.state = None
        detail.add(injector)
        connection.update_flow_details(detail)
        assert connection.get_atom_details(injector.uuid).results is None

        run_conductor_until(database, settings, registry,
                            lambda: orch.get_job(record.id).is_terminal)
        final = orch.get_job(record.id)
    assert (final.state.value, final.attempts, final.last_error) == ("SUCCESS", 1, None)
