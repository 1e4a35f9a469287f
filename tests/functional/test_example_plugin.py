"""The example plugin (examples/stress-test-extension): installed with pip, found
through its entry point, and run by a declarative flow, locally and on an agent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.standalone import find_free_port
from tests.functional.conftest import Deployment

pytestmark = pytest.mark.functional

FLOWS = Path(__file__).resolve().parents[2] / "examples" / "stress-test-extension" / "flows"


@pytest.fixture
def reservations(deployment: Deployment, tmp_path: Path) -> Path:
    deployment.add_config(f"[flows]\ndirectory = {FLOWS}\n")
    directory = tmp_path / "reservations"
    directory.mkdir()
    return directory


def _burn_in(deployment: Deployment, flow: str, reservations: Path,
             min_rate: float, **extra: str) -> dict:
    store = {"node": "node-7", "reservations_dir": str(reservations), "duration": 0.5,
             "min_loops_per_second": min_rate, **extra}
    result = deployment.run("post", flow, "--wait", "--json", "--timeout", "120",
                            "--store-json", json.dumps(store))
    assert result.stdout, result.stderr
    return dict(json.loads(result.stdout))


def test_burn_in_passes_and_keeps_the_node_reserved(deployment: Deployment,
                                                     reservations: Path) -> None:
    deployment.start_conductor("c1")
    job = _burn_in(deployment, "burn-in", reservations, 0)
    assert job["state"] == "SUCCESS", job
    assert job["concurrency_keys"] == ["node:node-7"]  # the document's template
    assert (reservations / "node-7.reserved").exists()
    shown = json.loads(deployment.run("jobs", "show", job["id"], "--json").stdout)
    burn = next(t for t in shown["tasks"] if t["name"] == "burn")
    assert burn["result"]["status"] == "completed"


def test_a_failed_check_releases_the_reservation(deployment: Deployment,
                                                 reservations: Path) -> None:
    deployment.start_conductor("c1")
    job = _burn_in(deployment, "burn-in", reservations, 1e15)
    assert job["state"] == "REVERTED", job
    assert "Burn-in too slow" in job["last_error"]
    assert not (reservations / "node-7.reserved").exists()


def test_a_failed_check_on_a_remote_agent_releases_the_reservation_there(
        deployment: Deployment, reservations: Path) -> None:
    port = find_free_port()
    deployment.start_agent(port)
    deployment.start_conductor("c1")
    job = _burn_in(deployment, "burn-in-remote", reservations, 1e15,
                   agent_url=f"http://127.0.0.1:{port}")
    assert job["state"] == "REVERTED", job
    assert "Burn-in too slow" in job["last_error"]
    assert not (reservations / "node-7.reserved").exists()


def test_burn_in_on_a_remote_agent_succeeds(deployment: Deployment,
                                            reservations: Path) -> None:
    port = find_free_port()
    deployment.start_agent(port)
    deployment.start_conductor("c1")
    job = _burn_in(deployment, "burn-in-remote", reservations, 0,
                   agent_url=f"http://127.0.0.1:{port}")
    assert job["state"] == "SUCCESS", job
    assert job["concurrency_keys"] == ["node:node-7"]  # the document's template
    assert (reservations / "node-7.reserved").exists()
