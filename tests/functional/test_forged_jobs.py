"""Jobs written straight onto ZooKeeper are refused and never executed.

Stock TaskFlow rebuilds a job's flow from whatever factory path its flow detail
names, so a writer to ZooKeeper and the database can make it call any function.
The control test shows that this forgery works on a stock conductor; the others
show that ours moves such jobs to the trash without calling anything.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from taskflow import engines
from taskflow.conductors import backends as conductor_backends
from taskflow.jobs.backends import impl_zookeeper
from taskflow.persistence import models

import jobs
import persistence
from tests.functional import forged_factory
from tests.functional.conftest import Deployment, job_row
from tests.helpers import wait_for
from tests.jobrows import insert_job

pytestmark = pytest.mark.functional

FACTORY = "tests.functional.forged_factory.make_flow"


def _forge(db_url: str, zk_hosts: str, board_path: str,
           details_for: Any) -> tuple[str, str]:
    """Write a logbook naming FACTORY and a raw job znode; return (znode, fd uuid)."""
    db = persistence.Database(db_url)
    try:
        book = models.LogBook("forged")
        flow_detail = models.FlowDetail("forged", uuid=str(uuid.uuid4()))
        book.add(flow_detail)
        engines.save_factory_details(flow_detail, FACTORY, [], {})
        db.taskflow_backend().get_connection().save_logbook(book)
    finally:
        db.close()
    posting = {
        "uuid": str(uuid.uuid4()),
        "name": "forged",
        "priority": "NORMAL",
        "book": {"name": book.name, "uuid": book.uuid},
        "details": details_for(flow_detail.uuid),
    }
    client = KazooClient(hosts=zk_hosts)
    client.start(timeout=10)
    try:
        client.ensure_path(board_path)
        znode = client.create(f"{board_path}/job", json.dumps(posting).encode(),
                              sequence=True)
    finally:
        client.stop()
        client.close()
    return znode, flow_detail.uuid


def _in_trash(zk_hosts: str, board_path: str, znode: str) -> bool:
    trash = jobs.JobboardSettings(path=board_path).trash_path
    client = KazooClient(hosts=zk_hosts)
    client.start(timeout=10)
    try:
        name = znode.rsplit("/", 1)[1]
        return bool(client.exists(f"{trash}/{name}")) and not client.exists(znode)
    finally:
        client.stop()
        client.close()


def _stock_details(fd_uuid: str) -> dict[str, Any]:
    return {"flow_uuid": fd_uuid, "store": {}}


def _unregistered_flow(fd_uuid: str) -> dict[str, Any]:
    return {"version": 1, "job_id": str(uuid.uuid4()), "flow": "forged",
            "flow_uuid": fd_uuid, "store": {}}


def _registered_flow_without_record(fd_uuid: str) -> dict[str, Any]:
    return {"version": 1, "job_id": str(uuid.uuid4()), "flow": "phone-calls",
            "flow_uuid": fd_uuid, "store": {}}


@pytest.fixture
def marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "factory-was-called"
    monkeypatch.setenv(forged_factory.MARKER_ENV, str(path))
    return path


@pytest.mark.parametrize("details_for", [
    _stock_details, _unregistered_flow, _registered_flow_without_record,
], ids=["stock-taskflow-job", "unregistered-flow", "no-job-record"])
def test_forged_job_is_trashed_and_never_executed(
        deployment: Deployment, marker: Path, details_for: Any) -> None:
    deployment.start_conductor("guard")
    znode, _ = _forge(deployment.db_url, deployment.zk_hosts, deployment.board_path,
                      details_for)
    wait_for(lambda: _in_trash(deployment.zk_hosts, deployment.board_path, znode),
             timeout=60, message="the forged job to be trashed")
    assert not marker.exists(), marker.read_text()
    assert "Refusing" in deployment.conductor_log("guard")


@pytest.mark.parametrize("flow", ["forged", "phone-calls"])
def test_a_forged_posting_naming_a_real_job_is_trashed_without_counting_an_attempt(
        deployment: Deployment, marker: Path, flow: str) -> None:
    db = persistence.Database(deployment.db_url)
    try:
        real = insert_job(db, flow)  # a job of ours, waiting for its own posting
    finally:
        db.close()

    def details(fd_uuid: str) -> dict[str, Any]:
        return {"version": 1, "job_id": real.id, "flow": flow, "flow_uuid": fd_uuid,
                "store": {}}

    deployment.start_conductor("guard")
    znode, _ = _forge(deployment.db_url, deployment.zk_hosts, deployment.board_path,
                      details)
    wait_for(lambda: _in_trash(deployment.zk_hosts, deployment.board_path, znode),
             timeout=60, message="the forged job to be trashed")
    row = job_row(deployment.db_url, real.id)
    # The real job is untouched: no attempt counted, nothing recorded against it.
    assert (row["state"], row["attempts"], row["error"]) == ("POSTED", 0, None)
    assert not marker.exists()


def test_control_stock_taskflow_conductor_runs_the_forged_factory(
        db_url: str, zk_hosts: str, jobboard_path: str, marker: Path) -> None:
    db = persistence.Database(db_url)
    db.upgrade()
    backend = db.taskflow_backend()
    _forge(db_url, zk_hosts, jobboard_path, _stock_details)
    client = KazooClient(hosts=zk_hosts)
    board = impl_zookeeper.ZookeeperJobBoard(
        "stock", {"path": jobboard_path, "check_compatible": False}, client=client,
        persistence=backend)
    board.connect()
    try:
        stock = conductor_backends.fetch("nonblocking", "stock", board,
                                         persistence=backend, wait_timeout=0.05)
        runner = threading.Thread(target=stock.run, daemon=True)
        runner.start()
        try:
            wait_for(marker.exists, timeout=60,
                     message="the stock conductor to call the forged factory")
        finally:
            stock.stop()
            runner.join(timeout=30)
    finally:
        board.close()
        client.stop()
        client.close()
        db.close()
