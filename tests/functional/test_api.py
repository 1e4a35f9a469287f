"""The HTTP API, served by a real ``orchestrator api`` process over ZooKeeper and SQLite.

One API (with token auth and a small body limit) and one conductor serve the
whole module; each test posts its own jobs.
"""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

from orchestrator.api.client import ApiClient, ApiError
from orchestrator.flows import ledger
from tests.functional.conftest import Deployment, wait_exit
from tests.helpers import wait_for

pytestmark = pytest.mark.functional

TOKEN = "api-test-token"
BODY_LIMIT = 4096
VOLUME = {"raw_size": 10, "raw_availability_zone": "az-1", "raw_volume_type": "ssd"}


class Stack(NamedTuple):
    deployment: Deployment
    url: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, zk_hosts: str) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("api")
    dep = Deployment(tmp, f"sqlite:///{tmp / 'orchestrator.sqlite'}", zk_hosts,
                     f"/t-{uuid.uuid4().hex[:12]}/jobs")
    result = dep.run("db", "upgrade")
    assert result.returncode == 0, result.stderr
    dep.add_config("[conductor]\ncancel_check_interval = 0\n")
    dep.start_conductor("api-c1")
    try:
        yield Stack(dep, dep.start_api(TOKEN, max_body_size=BODY_LIMIT))
    finally:
        dep.stop_all()


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=30,
                      headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


@pytest.fixture
def client(stack: Stack) -> Iterator[ApiClient]:
    with ApiClient(stack.url, TOKEN) as api:
        yield api


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"]["status"] == status and body["error"]["code"] == code, body
    return str(body["error"]["message"])


def _all_jobs(client: ApiClient) -> list[dict[str, object]]:
    return list(client.iter_jobs(limit=1000))


# documents and auth ---------------------------------------------------------


def test_openapi_document_is_public_and_lists_every_operation(stack: Stack) -> None:
    response = httpx.get(f"{stack.url}/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths["/v1/jobs"]) == {"get", "post"}
    assert set(paths["/v1/jobs/{job_id}"]) == {"get"}
    assert set(paths["/v1/jobs/{job_id}/cancel"]) == {"post"}
    assert set(paths["/v1/flows"]) == {"get"} and set(paths["/v1/conductors"]) == {"get"}


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": "Bearer"}, {"Authorization": TOKEN},
], ids=["none", "wrong", "basic", "empty", "no-scheme"])
@pytest.mark.parametrize("method,path", [
    ("GET", "/v1/jobs"), ("POST", "/v1/jobs"), ("GET", "/v1/flows"),
    ("GET", "/v1/conductors"), ("GET", f"/v1/jobs/{uuid.uuid4()}"),
    ("POST", f"/v1/jobs/{uuid.uuid4()}/cancel"),
])
def test_requests_without_the_token_get_401(stack: Stack, client: ApiClient,
                                            headers: dict[str, str], method: str,
                                            path: str) -> None:
    before = len(_all_jobs(client))
    response = httpx.request(method, f"{stack.url}{path}",
                             headers=headers, json={"flow": "create-volume", "store": VOLUME})
    _error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert len(_all_jobs(client)) == before


# posting -------------------------------------------------------------------


def test_post_runs_the_job_and_get_shows_its_tasks(http: httpx.Client,
                                                   client: ApiClient) -> None:
    response = http.post("/v1/jobs", json={"flow": "create-volume", "store": VOLUME,
                                           "priority": "HIGH"})
    assert response.status_code == 201, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["flow"] == "create-volume" and job["priority"] == "HIGH"
    assert job["state"] in ("POSTED", "RUNNING", "SUCCESS") and job["store"] == VOLUME

    final = client.wait(job["id"], timeout=60, interval=0.1)
    assert final["state"] == "SUCCESS" and final["last_error"] is None
    tasks = {t["name"]: t for t in final["tasks"]}
    assert list(tasks) == ["extract-volume-request", "quota-reserve", "entry-create",
                           "quota-commit"]
    for task in tasks.values():
        assert task["state"] == "SUCCESS"
        assert task["execute_duration"] is not None and task["execute_duration"] >= 0
        assert task["revert_started_at"] is None
    assert tasks["extract-volume-request"]["result"]["size"] == 10


def test_a_reverted_job_shows_failures_with_tracebacks(client: ApiClient,
                                                       tmp_path: Path) -> None:
    store = {"ledger_path": str(tmp_path / "ledger"), "step_seconds": 0,
             "fail_at_end": True}
    job = client.wait(client.post_job("slow-steps", store)["id"], timeout=60, interval=0.1)
    assert job["state"] == "REVERTED"
    assert "final check failed" in job["last_error"]
    check = next(t for t in job["tasks"] if t["name"] == "final-check")
    assert check["failure"]["type"] == "RuntimeError"
    assert "Traceback (most recent call last)" in check["failure"]["traceback"]
    assert "final check failed" in check["failure"]["traceback"]
    for task in job["tasks"][:4]:
        assert task["state"] == "REVERTED" and task["revert_duration"] is not None


def test_a_declarative_document_can_be_posted(client: ApiClient, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    document = {"name": "posted-doc", "inputs": ["path"], "steps": [
        {"name": "mark", "command": "demo.create_marker", "inputs": ["path"]},
        {"name": "echo", "command": "demo.echo", "params": {"ok": True}}]}
    posted = client.post_job(document=document, store={"path": str(marker)})
    assert posted["flow"] == "posted-doc" and posted["document"] == document
    job = client.wait(posted["id"], timeout=60, interval=0.1)
    assert job["state"] == "SUCCESS", job["last_error"]
    assert marker.exists()
    assert [t["name"] for t in job["tasks"]] == ["mark", "echo"]


def test_same_idempotency_key_posts_one_job(http: httpx.Client, client: ApiClient) -> None:
    key = f"volume-{uuid.uuid4()}"
    body = {"flow": "create-volume", "store": VOLUME, "idempotency_key": key}
    first = http.post("/v1/jobs", json=body)
    again = http.post("/v1/jobs", json=body)
    by_header = http.post("/v1/jobs", json={"flow": "create-volume", "store": VOLUME},
                          headers={"Idempotency-Key": key})
    assert first.status_code == 201 and again.status_code == 200, again.text
    assert by_header.status_code == 200
    assert first.json()["id"] == again.json()["id"] == by_header.json()["id"]
    assert [j["id"] for j in _all_jobs(client) if j["idempotency_key"] == key] == [
        first.json()["id"]]
    client.wait(first.json()["id"], timeout=60, interval=0.1)
    # Still the same job after it finished.
    assert http.post("/v1/jobs", json=body).json()["id"] == first.json()["id"]


def test_an_idempotency_key_reused_for_another_request_is_a_conflict(
        http: httpx.Client, client: ApiClient) -> None:
    key = f"k-{uuid.uuid4()}"
    http.post("/v1/jobs", json={"flow": "create-volume", "store": VOLUME,
                                "idempotency_key": key}).raise_for_status()
    before = len(_all_jobs(client))
    message = _error(http.post("/v1/jobs", json={
        "flow": "create-volume", "store": {**VOLUME, "raw_size": 99},
        "idempotency_key": key}), 409, "idempotency_conflict")
    assert key in message
    message = _error(http.post("/v1/jobs", json={
        "flow": "create-volume", "store": VOLUME, "idempotency_key": key},
        headers={"Idempotency-Key": "other"}), 422, "invalid_request")
    assert "differ" in message
    assert len(_all_jobs(client)) == before


@pytest.mark.parametrize("body,status,code,named", [
    ({"flow": "no-such-flow", "store": {}}, 422, "unknown_flow", "no-such-flow"),
    ({"flow": "create-volume", "store": {"raw_size": 1}}, 422, "missing_inputs",
     "raw_availability_zone"),
    ({"flow": "create-volume", "store": [1, 2]}, 422, "invalid_request", "store"),
    ({"store": VOLUME}, 422, "invalid_request", "name the flow"),
    ({"flow": "create-volume", "document": {"name": "x"}, "store": VOLUME}, 422,
     "invalid_request", "not both"),
    ({"flow": "create-volume", "store": VOLUME, "priority": "URGENT"}, 422,
     "invalid_request", "priority"),
    ({"flow": "create-volume", "store": VOLUME, "colour": "red"}, 422,
     "invalid_request", "colour"),
    ({"flow": "create-volume", "store": VOLUME, "idempotency_key": ""}, 422,
     "invalid_request", "idempotency_key"),
    ({"document": {"name": "bad", "steps": [{"name": "s", "command": "demo.explode"}]},
      "store": {}}, 422, "invalid_document", "explode"),
    ({"document": {"name": "bad", "steps": [{"name": "s", "command": "demo.echo",
                                             "inputs": ["nowhere"]}]},
      "store": {}}, 422, "invalid_document", "nowhere"),
    ([{"flow": "create-volume"}], 422, "invalid_request", "object"),
], ids=["unknown-flow", "missing-input", "store-not-object", "no-flow",
        "flow-and-document", "bad-priority", "unknown-field", "empty-key",
        "unknown-command", "unprovided-input", "body-not-object"])
def test_bad_posts_get_422_naming_the_problem_and_post_nothing(
        http: httpx.Client, client: ApiClient, body: object, status: int, code: str,
        named: str) -> None:
    before = len(_all_jobs(client))
    message = _error(http.post("/v1/jobs", json=body), status, code)
    assert named in message
    assert len(_all_jobs(client)) == before


@pytest.mark.parametrize("content", [b'{"flow": "create-volume", "store": {', b"",
                                     b"not json", b'{"flow": "x",}'])
def test_malformed_json_gets_400(http: httpx.Client, client: ApiClient,
                                 content: bytes) -> None:
    before = len(_all_jobs(client))
    response = http.post("/v1/jobs", content=content,
                         headers={"Content-Type": "application/json"})
    if content == b"":
        _error(response, 422, "invalid_request")  # no body at all: the body is missing
    else:
        assert "not valid JSON" in _error(response, 400, "malformed_json")
    assert len(_all_jobs(client)) == before


def test_a_body_over_the_size_limit_gets_413(http: httpx.Client, client: ApiClient) -> None:
    before = len(_all_jobs(client))
    big = {"flow": "create-volume", "store": {**VOLUME, "padding": "x" * BODY_LIMIT}}
    message = _error(http.post("/v1/jobs", json=big), 413, "payload_too_large")
    assert str(BODY_LIMIT) in message

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield json.dumps(big).encode()

    _error(http.post("/v1/jobs", content=chunks(),
                     headers={"Content-Type": "application/json"}),
           413, "payload_too_large")
    assert len(_all_jobs(client)) == before


# listing -------------------------------------------------------------------


def test_list_filters_and_pages_newest_first(client: ApiClient, tmp_path: Path) -> None:
    start = datetime.now(UTC)
    store = {"ledger_path": str(tmp_path / "ledger"), "step_seconds": 0}
    ids = [client.post_job("slow-steps", store)["id"] for _ in range(5)]
    other = client.post_job("create-volume", VOLUME)["id"]
    end = datetime.now(UTC) + timedelta(seconds=1)
    for job_id in [*ids, other]:
        client.wait(job_id, timeout=60, interval=0.1)

    pages = []
    marker = None
    while True:
        page = client.list_jobs(flow="slow-steps", since=start, until=end, limit=2,
                                marker=marker)
        pages.append([j["id"] for j in page["jobs"]])
        marker = page["next_marker"]
        if marker is None:
            break
    assert pages == [ids[::-1][0:2], ids[::-1][2:4], ids[::-1][4:]]
    window = [j["id"] for j in client.list_jobs(since=start, until=end)["jobs"]]
    assert window == [other, *ids[::-1]]

    states = {j["id"]: j["state"] for j in client.list_jobs(states=["SUCCESS"],
                                                            limit=1000)["jobs"]}
    assert set(ids) <= set(states) and set(states.values()) == {"SUCCESS"}
    assert not [j for j in client.list_jobs(states=["FAILED", "REVERTED"], since=start,
                                            flow="slow-steps")["jobs"]]
    earlier = client.list_jobs(until=start, limit=1000)["jobs"]
    assert not {j["id"] for j in earlier} & {*ids, other}


@pytest.mark.parametrize("params,status,code,named", [
    ({"marker": str(uuid.uuid4())}, 400, "invalid_marker", "marker"),
    ({"marker": "not-a-job"}, 400, "invalid_marker", "not-a-job"),
    ({"limit": 0}, 422, "invalid_request", "limit"),
    ({"limit": 5000}, 422, "invalid_request", "limit"),
    ({"limit": "many"}, 422, "invalid_request", "limit"),
    ({"state": "DONE"}, 422, "invalid_request", "state"),
    ({"since": "yesterday"}, 422, "invalid_request", "since"),
    ({"since": "2026-01-01T00:00:00"}, 422, "invalid_request", "timezone"),
], ids=["unknown-marker", "garbage-marker", "limit-0", "limit-too-big", "limit-text",
        "bad-state", "bad-since", "naive-since"])
def test_bad_listing_parameters_get_4xx(http: httpx.Client, params: dict[str, object],
                                        status: int, code: str, named: str) -> None:
    assert named in _error(http.get("/v1/jobs", params=params), status, code)


def test_unknown_job_and_route_get_404(http: httpx.Client) -> None:
    missing = str(uuid.uuid4())
    assert missing in _error(http.get(f"/v1/jobs/{missing}"), 404, "job_not_found")
    _error(http.get("/v1/nothing-here"), 404, "not_found")
    _error(http.delete("/v1/jobs"), 405, "method_not_allowed")


# flows and conductors ------------------------------------------------------


def test_flows_lists_registered_flows_with_their_inputs(client: ApiClient) -> None:
    flows = {f["name"]: f for f in client.flows()}
    assert {"create-volume", "phone-calls", "slow-steps"} <= set(flows)
    assert set(flows["create-volume"]["requires"]) == set(VOLUME)
    assert "ledger_path" in flows["create-volume"]["optional"]
    assert "ledger_path" in flows["slow-steps"]["requires"]


def test_conductors_lists_the_live_ones(stack: Stack, client: ApiClient) -> None:
    def names() -> set[str]:
        return {c["name"] for c in client.conductors()}

    wait_for(lambda: "api-c1" in names(), timeout=30, message="conductor api-c1 listed")
    proc = stack.deployment.start_conductor("api-c2", engine="parallel")
    wait_for(lambda: "api-c2" in names(), timeout=30, message="conductor api-c2 listed")
    c2 = next(c for c in client.conductors() if c["name"] == "api-c2")
    assert c2["pid"] == proc.pid and c2["engine"] == "parallel"
    assert c2["hostname"] and c2["registered_at"] and c2["running_jobs"] == 0
    proc.send_signal(signal.SIGTERM)
    assert wait_exit(proc, timeout=30) == 0
    wait_for(lambda: "api-c2" not in names(), timeout=30, message="api-c2 gone")
    assert "api-c1" in names()


# cancelling ----------------------------------------------------------------


def test_cancelling_a_running_job_reverts_it(client: ApiClient, tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    job = client.post_job("slow-steps", {"ledger_path": str(path), "step_seconds": 1})

    def step_2_started() -> bool:
        return ("start", "step-2") in [(a, t) for a, t, _ in ledger.read(path)]

    wait_for(step_2_started, timeout=60, message="step-2 to start")
    cancelled = client.cancel_job(job["id"])
    assert cancelled["state"] == "RUNNING" and cancelled["cancel_requested_at"]

    final = client.wait(job["id"], timeout=60, interval=0.1)
    assert final["state"] == "REVERTED"
    assert "cancelled" in final["last_error"]
    entries = [(a, t) for a, t, _ in ledger.read(path)]
    # step-2 finished (the boundary), then nothing new started, and both reverted.
    assert entries == [("start", "step-1"), ("execute", "step-1"),
                       ("start", "step-2"), ("execute", "step-2"),
                       ("revert", "step-2"), ("revert", "step-1")]
    states = {t["name"]: t["state"] for t in final["tasks"]}
    assert states["step-1"] == states["step-2"] == "REVERTED"
    assert states["step-4"] == "PENDING" and states["final-check"] == "PENDING"

    # Finished now: a second cancel is a conflict, and changes nothing.
    with pytest.raises(ApiError) as err:
        client.cancel_job(job["id"])
    assert err.value.status == 409 and err.value.code == "job_finished"
    assert client.get_job(job["id"])["state"] == "REVERTED"


def test_cancelling_a_finished_or_unknown_job(http: httpx.Client, client: ApiClient) -> None:
    done = client.wait(client.post_job("create-volume", VOLUME)["id"], timeout=60,
                       interval=0.1)
    message = _error(http.post(f"/v1/jobs/{done['id']}/cancel"), 409, "job_finished")
    assert "SUCCESS" in message
    assert client.get_job(done["id"])["cancel_requested_at"] is None
    _error(http.post(f"/v1/jobs/{uuid.uuid4()}/cancel"), 404, "job_not_found")


def test_the_api_needs_tokens_unless_told_noauth(tmp_path: Path, sqlite_url: str,
                                                 zk_hosts: str, jobboard_path: str) -> None:
    dep = Deployment(tmp_path, sqlite_url, zk_hosts, jobboard_path)
    assert dep.run("db", "upgrade").returncode == 0
    result = dep.run("api", "--port", "0", timeout=60)
    assert result.returncode == 2
    assert "[api] tokens is empty" in result.stderr and "noauth" in result.stderr
    assert "Traceback" not in result.stderr
