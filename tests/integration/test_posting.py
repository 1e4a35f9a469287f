"""Posting through the service layer against real ZooKeeper and databases."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient
from kazoo.security import make_acl

import jobs
import persistence
from orchestrator import Orchestrator
from orchestrator.errors import MissingInputs, ServiceUnavailable, UnknownFlow
from orchestrator.registry import FlowRegistry

pytestmark = pytest.mark.integration

VOLUME = {"raw_size": 10, "raw_availability_zone": "nova", "raw_volume_type": "ssd"}


@pytest.fixture
def zk(zk_hosts: str) -> Iterator[KazooClient]:
    client = KazooClient(hosts=zk_hosts)
    client.start(timeout=10)
    yield client
    client.stop()
    client.close()


@pytest.fixture
def orch(database: persistence.Database, zk_hosts: str,
         jobboard_path: str) -> Iterator[Orchestrator]:
    settings = jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path,
                                     connect_timeout=10)
    with Orchestrator(database, FlowRegistry.from_entry_points(), settings) as o:
        yield o


def _written(database: persistence.Database, zk: KazooClient,
             board_path: str) -> tuple[int, int, int]:
    with database.session() as session:
        rows = len(persistence.list_jobs(session))
    books = len(list(database.taskflow_backend().get_connection().get_logbooks()))
    znodes = len([c for c in (zk.get_children(board_path) if zk.exists(board_path) else [])
                  if c.startswith("job")])
    return rows, books, znodes


def test_posted_job_carries_a_versioned_payload_and_no_factory_path(
        orch: Orchestrator, database: persistence.Database, zk: KazooClient,
        jobboard_path: str) -> None:
    record = orch.post("create-volume", VOLUME)
    assert record.state is persistence.JobState.POSTED
    assert record.board_job_id
    (child,) = zk.get_children(jobboard_path)
    data, _ = zk.get(f"{jobboard_path}/{child}")
    details = json.loads(data)["details"]
    assert details == {"version": 1, "job_id": record.id, "flow": "create-volume",
                       "flow_uuid": record.flow_detail_id, "store": VOLUME}
    conn = database.taskflow_backend().get_connection()
    flow_detail = conn.get_flow_details(record.flow_detail_id)
    assert "factory" not in flow_detail.meta
    assert flow_detail.meta["orchestrator"]["flow"] == "create-volume"


def test_refused_posts_write_nothing(orch: Orchestrator, database: persistence.Database,
                                     zk: KazooClient, jobboard_path: str) -> None:
    with pytest.raises(UnknownFlow):
        orch.post("nope", {})
    with pytest.raises(MissingInputs, match="raw_volume_type"):
        orch.post("create-volume", {"raw_size": 1, "raw_availability_zone": None})
    assert _written(database, zk, jobboard_path) == (0, 0, 0)


def test_zookeeper_failure_after_the_sql_writes_leaves_nothing_half_posted(
        orch: Orchestrator, database: persistence.Database, zk: KazooClient,
        jobboard_path: str) -> None:
    orch.post("create-volume", VOLUME)
    assert _written(database, zk, jobboard_path) == (1, 1, 1)
    # Real ZooKeeper refuses the next post: the board becomes read-only.
    zk.set_acls(jobboard_path, [make_acl("world", "anyone", read=True)])
    with pytest.raises(ServiceUnavailable, match="could not post the job to ZooKeeper"):
        orch.post("create-volume", VOLUME)
    assert _written(database, zk, jobboard_path) == (1, 1, 1)


def test_unreachable_zookeeper_is_a_clear_error(database: persistence.Database) -> None:
    settings = jobs.JobboardSettings(hosts=("127.0.0.1:1",), connect_timeout=1)
    with Orchestrator(database, FlowRegistry.from_entry_points(), settings) as orch:
        with pytest.raises(ServiceUnavailable, match="cannot connect to ZooKeeper"):
            orch.post("create-volume", VOLUME)
    with database.session() as session:
        assert persistence.list_jobs(session) == []
