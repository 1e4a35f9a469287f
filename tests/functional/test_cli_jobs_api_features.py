"""The CLI's side of the API features: idempotency keys, documents, cancel, conductors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.flows import ledger
from tests.functional.conftest import Deployment
from tests.helpers import wait_for

pytestmark = pytest.mark.functional

VOLUME = json.dumps({"raw_size": 10, "raw_availability_zone": "az-1",
                     "raw_volume_type": "ssd"})


@pytest.fixture
def sqlite_deployment(tmp_path: Path, sqlite_url: str, zk_hosts: str,
                      jobboard_path: str) -> Iterator[Deployment]:
    dep = Deployment(tmp_path, sqlite_url, zk_hosts, jobboard_path)
    assert dep.run("db", "upgrade").returncode == 0
    try:
        yield dep
    finally:
        dep.stop_all()


def test_post_with_an_idempotency_key_twice_prints_one_job(
        sqlite_deployment: Deployment) -> None:
    dep = sqlite_deployment
    first = dep.run("post", "create-volume", "--store-json", VOLUME,
                    "--idempotency-key", "order-17")
    again = dep.run("post", "create-volume", "--store-json", VOLUME,
                    "--idempotency-key", "order-17")
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert first.stdout == again.stdout
    listed = json.loads(dep.run("jobs", "list", "--json").stdout)
    assert [j["id"] for j in listed] == [first.stdout.strip()]
    changed = json.dumps({**json.loads(VOLUME), "raw_size": 1})
    other = dep.run("post", "create-volume", "--store-json", changed,
                    "--idempotency-key", "order-17")
    assert other.returncode == 2 and "order-17" in other.stderr


def test_cancel_a_running_job_from_the_cli(sqlite_deployment: Deployment,
                                          tmp_path: Path) -> None:
    dep = sqlite_deployment
    dep.add_config("[conductor]\ncancel_check_interval = 0\n")
    dep.start_conductor("cli-c1")
    path = tmp_path / "ledger"
    store = json.dumps({"ledger_path": str(path), "step_seconds": 1})
    job_id = dep.run("post", "slow-steps", "--store-json", store).stdout.strip()
    wait_for(lambda: any(t == "step-1" and a == "execute" for a, t, _ in ledger.read(path)),
             timeout=60, message="step-1 to finish")
    result = dep.run("jobs", "cancel", job_id, "--wait", "--timeout", "60")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "REVERTED"
    again = dep.run("jobs", "cancel", job_id)
    assert again.returncode == 2
    assert "already finished (REVERTED)" in again.stderr and "Traceback" not in again.stderr
    names = json.loads(dep.run("conductors", "--json").stdout)
    assert [c["name"] for c in names] == ["cli-c1"]


def test_post_a_document_file(sqlite_deployment: Deployment, tmp_path: Path) -> None:
    dep = sqlite_deployment
    dep.start_conductor("cli-c2")
    doc = tmp_path / "flow.yaml"
    doc.write_text("name: cli-doc\ninputs: [path]\nsteps:\n"
                   "  - {name: mark, command: demo.create_marker, inputs: [path]}\n")
    marker = tmp_path / "marker"
    result = dep.run("post", "--document", str(doc), "--store-json",
                     json.dumps({"path": str(marker)}), "--wait", "--timeout", "60")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "SUCCESS" and marker.exists()
    neither = dep.run("post")
    assert neither.returncode == 2 and "--document" in neither.stderr
    doc.write_text("- not a mapping\n")
    bad = dep.run("post", "--document", str(doc))
    assert bad.returncode == 2 and "mapping" in bad.stderr
