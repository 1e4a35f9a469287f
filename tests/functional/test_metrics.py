"""Metrics, liveness and readiness of the API and of a conductor, from real processes.

Each scrape is parsed with prometheus_client's own parser: what a Prometheus
server would read, not what a regular expression finds.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

import persistence
from jobs import JobboardSettings
from orchestrator.api.client import ApiClient
from orchestrator.api.health import ApiHealth
from orchestrator.healthserver import HealthEndpoint, readiness, serving
from orchestrator.httpserver import ListenError
from orchestrator.standalone import find_free_port
from tests.functional.conftest import Deployment, kill9
from tests.helpers import wait_for
from tests.services import LocalPostgres

pytestmark = pytest.mark.functional

TOKEN = "metrics-test-token"
FLOW = "create-volume"
VOLUME = {"raw_size": 10, "raw_availability_zone": "az-1", "raw_volume_type": "ssd"}
TASKS = {"extract-volume-request", "quota-reserve", "entry-create", "quota-commit"}


def _scrape(url: str) -> list[Sample]:
    """Every sample ``url``/metrics serves, asked for without a token."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [sample for family in text_string_to_metric_families(response.text)
            for sample in family.samples]


def _values(samples: list[Sample], name: str, **labels: str) -> dict[tuple[str, ...], float]:
    """The samples named ``name`` whose labels include ``labels``, by their other labels."""
    found = {}
    for sample in samples:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            rest = tuple(v for k, v in sorted(sample.labels.items()) if k not in labels)
            found[rest] = sample.value
    return found


def _value(samples: list[Sample], name: str, **labels: str) -> float | None:
    values = _values(samples, name, **labels)
    assert len(values) <= 1, values
    return next(iter(values.values()), None)


def _upgrade(url: str) -> None:
    # In this process: what `orchestrator db upgrade` does, without a start-up.
    database = persistence.Database(url)
    try:
        database.upgrade()
    finally:
        database.close()


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=10).status_code
    except httpx.HTTPError:
        return 0


@pytest.fixture
def sqlite_deployment(tmp_path: Path, sqlite_url: str, zk_hosts: str,
                      jobboard_path: str) -> Iterator[Deployment]:
    dep = Deployment(tmp_path, sqlite_url, zk_hosts, jobboard_path)
    _upgrade(sqlite_url)
    try:
        yield dep
    finally:
        dep.stop_all()


def test_a_job_run_and_the_queue_show_in_the_metrics_of_the_api_and_the_conductor(
        sqlite_deployment: Deployment, tmp_path: Path) -> None:
    port = find_free_port()
    sqlite_deployment.start_conductor("metrics-c1", metrics_port=port,
                                      max_simultaneous_jobs=1)
    conductor = f"http://127.0.0.1:{port}"
    # With a token: metrics and health must still be open to Prometheus.
    api = sqlite_deployment.start_api(TOKEN)
    wait_for(lambda: _status(f"{conductor}/readyz") == 200, timeout=60,
             message="the conductor to be ready")
    assert _value(_scrape(conductor), "orchestrator_claims_total") is None

    with ApiClient(api, TOKEN) as client:
        job = client.post_job(FLOW, VOLUME)
        assert client.wait(job["id"], timeout=60, interval=0.1)["state"] == "SUCCESS"

    samples = _scrape(api)
    assert _values(samples, "orchestrator_jobs") == {
        ("POSTING",): 0, ("POSTED",): 0, ("RUNNING",): 0, ("SUSPENDED",): 0,
        ("SUCCESS",): 1, ("REVERTED",): 0, ("FAILED",): 0}
    assert _values(samples, "orchestrator_zookeeper_session_state") == {
        ("connected",): 1, ("suspended",): 0, ("lost",): 0}

    # The attempt's duration is observed once its run has returned, just
    # after the record says SUCCESS.
    def attempt_observed() -> list[Sample] | None:
        scraped = _scrape(conductor)
        count = _value(scraped, "orchestrator_job_duration_seconds_count", flow=FLOW)
        return scraped if count else None

    samples = wait_for(attempt_observed, timeout=10, message="the attempt's duration")
    assert _values(samples, "orchestrator_job_duration_seconds_count") == {
        (FLOW, "consume"): 1}
    assert (_value(samples, "orchestrator_job_duration_seconds_sum", flow=FLOW) or 0) > 0
    assert _value(samples, "orchestrator_claims_total", flow=FLOW) == 1
    assert _value(samples, "orchestrator_attempts_total", flow=FLOW) == 1
    for nothing in ("orchestrator_takeovers_total", "orchestrator_quarantines_total",
                    "orchestrator_fenced_writes_refused_total"):
        assert _values(samples, nothing) == {}, nothing
    tasks = _values(samples, "orchestrator_task_duration_seconds_count", flow=FLOW)
    assert tasks == {("success", task): 1 for task in TASKS}
    assert _values(samples, "orchestrator_queue_depth") == {
        (p,): 0 for p in ("VERY_HIGH", "HIGH", "NORMAL", "LOW", "VERY_LOW")}
    assert _values(samples, "orchestrator_zookeeper_session_state") == {
        ("connected",): 1, ("suspended",): 0, ("lost",): 0}

    for url in (api, conductor):
        assert httpx.get(f"{url}/healthz", timeout=10).json()["status"] == "ok"
        ready = httpx.get(f"{url}/readyz", timeout=10)
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready",
                                "checks": {"database": "ok", "zookeeper": "ok"}}
    # The token still guards the API itself.
    assert httpx.get(f"{api}/v1/jobs", timeout=10).status_code == 401

    # The conductor's one slot busy, jobs posted meanwhile wait on the board.
    slow = {"ledger_path": str(tmp_path / "ledger"), "step_seconds": 5}
    with ApiClient(api, TOKEN) as client:
        running = client.post_job("slow-steps", slow)
        wait_for(lambda: client.get_job(running["id"])["state"] == "RUNNING", timeout=30,
                 message="the slow job to run")
        for priority in ("HIGH", "HIGH", "LOW"):
            client.post_job(FLOW, VOLUME, priority=priority)

    def depth() -> dict[tuple[str, ...], float]:
        return _values(_scrape(conductor), "orchestrator_queue_depth")

    expected = {("VERY_HIGH",): 0, ("HIGH",): 2, ("NORMAL",): 0, ("LOW",): 1,
                ("VERY_LOW",): 0}
    assert wait_for(lambda: depth() == expected, timeout=10, message=f"depth {expected}")
    samples = _scrape(api)
    assert _value(samples, "orchestrator_jobs", state="POSTED") == 3
    assert _value(samples, "orchestrator_jobs", state="RUNNING") == 1


def test_a_takeover_is_counted_by_the_conductor_that_takes_over(
        sqlite_deployment: Deployment, tmp_path: Path) -> None:
    first = sqlite_deployment.start_conductor("metrics-first")
    api = sqlite_deployment.start_api()
    with ApiClient(api) as client:
        job = client.post_job("slow-steps", {"ledger_path": str(tmp_path / "ledger"),
                                             "step_seconds": 1})
        wait_for(lambda: client.get_job(job["id"])["state"] == "RUNNING", timeout=30,
                 message="the job to run")
        kill9(first)
        port = find_free_port()
        sqlite_deployment.start_conductor("metrics-second", metrics_port=port)
        assert client.wait(job["id"], timeout=60, interval=0.1)["state"] == "SUCCESS"
    samples = _scrape(f"http://127.0.0.1:{port}")
    assert _value(samples, "orchestrator_takeovers_total", flow="slow-steps") == 1
    assert _value(samples, "orchestrator_claims_total", flow="slow-steps") == 1


@pytest.fixture
def postgres_deployment(tmp_path: Path, private_postgres: LocalPostgres, zk_hosts: str,
                        jobboard_path: str) -> Iterator[Deployment]:
    name = f"t_{uuid4().hex[:12]}"
    private_postgres.create_database(name)
    dep = Deployment(tmp_path, private_postgres.url_for(name), zk_hosts, jobboard_path)
    _upgrade(dep.db_url)
    try:
        yield dep
    finally:
        dep.stop_all()


def test_readiness_fails_while_the_database_is_down_and_liveness_does_not(
        postgres_deployment: Deployment, private_postgres: LocalPostgres) -> None:
    port = find_free_port()
    postgres_deployment.start_conductor("metrics-ready", metrics_port=port)
    conductor = f"http://127.0.0.1:{port}"
    api = postgres_deployment.start_api()
    for url in (api, conductor):
        wait_for(lambda url=url: _status(f"{url}/readyz") == 200, timeout=60,
                 message=f"{url} to be ready")
    assert _values(_scrape(api), "orchestrator_jobs", state="SUCCESS") == {(): 0}

    private_postgres.stop()
    for url in (api, conductor):
        response = wait_for(lambda url=url: _not_ready(url), timeout=30,
                            message=f"{url} to be not ready")
        body = response.json()
        assert body["status"] == "not ready" and body["not_ready"] == ["database"], body
        assert body["checks"]["zookeeper"] == "ok"
        assert body["checks"]["database"] != "ok"
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    # A scrape still answers; only what the database holds is missing.
    samples = _scrape(api)
    assert _values(samples, "orchestrator_jobs") == {}
    assert _value(samples, "orchestrator_zookeeper_session_state", state="connected") == 1

    private_postgres.start()
    for url in (api, conductor):
        wait_for(lambda url=url: _status(f"{url}/readyz") == 200, timeout=30,
                 message=f"{url} to be ready again")


def _not_ready(url: str) -> httpx.Response | None:
    response = httpx.get(f"{url}/readyz", timeout=10)
    return response if response.status_code == 503 else None


def test_the_api_is_not_ready_while_zookeeper_is_unreachable(sqlite_url: str) -> None:
    """What /readyz and /metrics serve, read from the API's health object itself
    (the routes that serve them are exercised above)."""
    nobody = f"127.0.0.1:{find_free_port()}"
    _upgrade(sqlite_url)
    database = persistence.Database(sqlite_url)
    health = ApiHealth(database, JobboardSettings(hosts=(nobody,)))
    try:
        ready, body = readiness(health.checks())
        assert not ready
        assert body["not_ready"] == ["zookeeper"] and body["checks"]["database"] == "ok"
        assert nobody in body["checks"]["zookeeper"]
        families = {f.name: f for f in text_string_to_metric_families(
            generate_latest(health.registry).decode())}
        session = {s.labels["state"]: s.value
                   for s in families["orchestrator_zookeeper_session_state"].samples}
        assert session == {"connected": 0, "suspended": 0, "lost": 1}
        assert {s.labels["state"]: s.value for s in families["orchestrator_jobs"].samples
                if s.value} == {}
    finally:
        health.close()
        database.close()


def test_a_metrics_port_in_use_is_refused_with_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        endpoint = HealthEndpoint("127.0.0.1", port)
        with pytest.raises(ListenError, match=f"cannot listen on 127.0.0.1:{port}"), \
                serving(endpoint, lambda environ, start_response: [], "conductor c1"):
            pass
