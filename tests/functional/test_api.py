"""The HTTP API, served by a real ``orchestrator api`` process over ZooKeeper and SQLite.

One API (with token auth and a small body limit) and one conductor serve the
whole module; each test posts its own jobs.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from jobs import MAX_POSTING_BYTES
from orchestrator.api.client import ApiClient, ApiError
from orchestrator.flows import ledger
from orchestrator.standalone import find_free_port
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


def test_a_job_is_read_by_the_start_of_its_id(http: httpx.Client) -> None:
    job = http.post("/v1/jobs", json={"flow": "create-volume", "store": VOLUME}).json()
    shown = http.get(f"/v1/jobs/{job['id'][:8]}")
    assert shown.status_code == 200 and shown.json()["id"] == job["id"]
    assert "no job" in _error(http.get("/v1/jobs/zzzz"), 404, "job_not_found")


def test_a_store_key_no_task_reads_is_warned_of_or_refused_when_strict(
        http: httpx.Client, client: ApiClient) -> None:
    store = {**VOLUME, "raw_szie": 10}
    response = http.post("/v1/jobs", json={"flow": "create-volume", "store": store})
    assert response.status_code == 201, response.text
    assert response.headers["warning"].startswith("299 orchestrator ")
    assert "raw_szie" in response.headers["warning"]
    assert "warning" not in http.post(
        "/v1/jobs", json={"flow": "create-volume", "store": VOLUME}).headers
    before = len(_all_jobs(client))
    refused = http.post("/v1/jobs", json={"flow": "create-volume", "store": store,
                                          "strict": True})
    assert "raw_szie" in _error(refused, 422, "invalid_store")
    assert len(_all_jobs(client)) == before


def test_priority_is_read_in_any_case(http: httpx.Client) -> None:
    response = http.post("/v1/jobs", json={"flow": "create-volume", "store": VOLUME,
                                           "priority": "very_low"})
    assert response.status_code == 201, response.text
    assert response.json()["priority"] == "VERY_LOW"


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


@pytest.mark.parametrize("content_type", [
    "application/x-www-form-urlencoded",  # what curl -d sends unless told otherwise
    "text/plain", None])
def test_a_json_body_is_read_as_json_whatever_its_content_type(
        http: httpx.Client, content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    body = json.dumps({"flow": "create-volume", "store": VOLUME}).encode()
    response = http.post("/v1/jobs", content=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["store"] == VOLUME
    refused = http.post("/v1/jobs", content=b"flow=create-volume", headers=headers)
    assert "not valid JSON" in _error(refused, 400, "malformed_json")


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


# input that cannot be stored: refused before anything is written ------------


class Stored(NamedTuple):
    job_rows: int
    logbooks: int


def _stored(stack: Stack) -> Stored:
    """Job rows and TaskFlow logbooks, read straight from the stack's SQLite file."""
    path = stack.deployment.db_url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
        rows = db.execute("SELECT count(*) FROM orchestrator_jobs").fetchone()[0]
        books = db.execute("SELECT count(*) FROM logbooks").fetchone()[0]
    return Stored(rows, books)


def _postings_naming(stack: Stack, probe: str) -> list[str]:
    """Nodes on the stack's jobboard whose data mentions ``probe``."""
    board = stack.deployment.board_path
    zk = KazooClient(hosts=stack.deployment.zk_hosts)
    zk.start(timeout=10)
    try:
        found = []
        for child in zk.get_children(board) if zk.exists(board) else []:
            with contextlib.suppress(NoNodeError):  # finished and removed meanwhile
                data, _ = zk.get(f"{board}/{child}")
                if probe.encode() in (data or b""):
                    found.append(child)
        return found
    finally:
        zk.stop()
        zk.close()


@contextlib.contextmanager
def _stores_nothing(stack: Stack, probe: str) -> Iterator[None]:
    """No job row, no logbook, no posting: as if the request never came."""
    before = _stored(stack)
    yield
    assert _stored(stack) == before
    assert _postings_naming(stack, probe) == []


def _json(value: object) -> bytes:
    # ensure_ascii: NUL and unpaired surrogates travel as \\u escapes, as any
    # JSON encoder that accepts them sends them.
    return json.dumps(value).encode()


def _nested(depth: int, leaf: str = "") -> str:
    """JSON text of ``depth`` arrays around ``leaf`` (JSON text too)."""
    return "[" * depth + leaf + "]" * depth


def _volume(probe: str, **extra: object) -> dict[str, object]:
    return {**VOLUME, "probe": probe, **extra}


def _deep_store(probe: str, arrays: int) -> bytes:
    # The store is level 1: 'arrays' arrays inside it make arrays + 1 levels.
    return _json({"flow": "create-volume", "store": {"probe": probe, **VOLUME,
                                                     "deep": "@deep@"}}).replace(
        b'"@deep@"', _nested(arrays).encode())


STEP = {"name": "s", "command": "demo.echo"}
UNSTORABLE: list[tuple[str, Callable[[str], bytes], int, str, str]] = [
    ("surrogate-in-store-value",
     lambda p: _json({"flow": "create-volume", "store": _volume(p, note="bad \ud800")}),
     422, "invalid_text", "the store['note'] holds an unpaired surrogate (U+D800)"),
    ("surrogate-in-store-key",
     lambda p: _json({"flow": "create-volume", "store": _volume(p, **{"k\udc80": 1})}),
     422, "invalid_text", "a key in the store"),
    ("surrogate-deep-in-store",
     lambda p: _json({"flow": "create-volume",
                      "store": _volume(p, list=[{"a": ["x", "\udfff"]}])}),
     422, "invalid_text", "the store['list'][0]['a'][1]"),
    ("nul-in-store-value",
     lambda p: _json({"flow": "create-volume", "store": _volume(p, note="a\x00b")}),
     422, "invalid_text", "NUL"),
    ("nul-in-store-key",
     lambda p: _json({"flow": "create-volume", "store": _volume(p, **{"k\x00": 1})}),
     422, "invalid_text", "NUL"),
    ("nul-in-flow",
     lambda p: _json({"flow": "create-volume\x00", "store": _volume(p)}),
     422, "invalid_text", "the flow name holds a NUL"),
    ("surrogate-in-flow",
     lambda p: _json({"flow": "create-volume\ud800", "store": _volume(p)}),
     422, "invalid_request", "flow"),
    ("surrogate-in-a-field-name",
     lambda p: _json({"flow": "create-volume", "store": _volume(p), "\ud800": 1}),
     422, "invalid_request", "valid string"),
    ("nul-in-document",
     lambda p: _json({"document": {"name": "doc\x00", "steps": [STEP]},
                      "store": {"probe": p}}),
     422, "invalid_text", "the document['name'] holds a NUL"),
    ("surrogate-in-document",
     lambda p: _json({"document": {"name": "doc", "steps": [{**STEP, "name": "s\ud800"}]},
                      "store": {"probe": p}}),
     422, "invalid_text", "the document['steps'][0]['name']"),
    ("nul-in-idempotency-key",
     lambda p: _json({"flow": "create-volume", "store": _volume(p),
                      "idempotency_key": "k\x00"}),
     422, "invalid_request", "idempotency key"),
    ("surrogate-in-idempotency-key",
     lambda p: _json({"flow": "create-volume", "store": _volume(p),
                      "idempotency_key": "k\ud800"}),
     422, "invalid_request", "idempotency_key"),
    ("store-nested-65-levels", lambda p: _deep_store(p, 64),
     422, "nesting_too_deep", "more than 64 levels deep"),
    ("document-nested-65-levels",
     lambda p: _json({"document": {"name": "doc", "steps": [STEP], "x": "@deep@"},
                      "store": {"probe": p}}).replace(b'"@deep@"', _nested(64).encode()),
     422, "nesting_too_deep", "more than 64 levels deep"),
    # Past Python's recursion limit the JSON parser itself gives up.
    ("nested-beyond-the-parser",
     lambda p: _json({"flow": "create-volume", "store": {"probe": p, "d": "@"}}).replace(
         b'"@"', _nested(1500).encode()),
     400, "malformed_json", "too deeply"),
    ("not-utf8",
     lambda p: b'{"flow": "create-volume", "store": {"probe": "%s", "a": "\xff"}}'
     .replace(b"%s", p.encode()),
     400, "malformed_json", "not UTF-8"),
]


@pytest.mark.parametrize("make_body,status,code,named", [c[1:] for c in UNSTORABLE],
                         ids=[c[0] for c in UNSTORABLE])
def test_posts_that_cannot_be_stored_are_refused_and_store_nothing(
        stack: Stack, http: httpx.Client, make_body: Callable[[str], bytes], status: int,
        code: str, named: str) -> None:
    probe = f"probe-{uuid.uuid4()}"
    body = make_body(probe)
    assert len(body) <= BODY_LIMIT
    with _stores_nothing(stack, probe):
        response = http.post("/v1/jobs", content=body,
                             headers={"Content-Type": "application/json"})
        assert named in _error(response, status, code)


def test_odd_characters_in_the_idempotency_key_header_are_refused(
        stack: Stack, http: httpx.Client) -> None:
    probe = f"probe-{uuid.uuid4()}"
    with _stores_nothing(stack, probe):
        # Header bytes arrive as Latin-1: 0x85 is the control character NEL.
        response = http.post("/v1/jobs", json={"flow": "create-volume",
                                               "store": _volume(probe)},
                             headers={"Idempotency-Key": b"key\x85"})
        assert "idempotency key" in _error(response, 422, "invalid_request")

        # NUL in a header never reaches the app: the HTTP parser refuses it (400).
        host, port = stack.url.removeprefix("http://").split(":")
        body = _json({"flow": "create-volume", "store": _volume(probe)})
        with socket.create_connection((host, int(port)), timeout=30) as conn:
            conn.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: api\r\n"
                         + f"Authorization: Bearer {TOKEN}\r\n".encode()
                         + b"Idempotency-Key: a\x00b\r\nContent-Type: application/json\r\n"
                         + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                           .encode() + body)
            reply = b"".join(iter(lambda: conn.recv(65536), b""))
        assert reply.startswith(b"HTTP/1.1 400 "), reply[:200]


def test_nesting_up_to_the_limit_is_accepted_and_returned_as_posted(
        stack: Stack, http: httpx.Client, client: ApiClient) -> None:
    body = _deep_store(f"probe-{uuid.uuid4()}", 63)  # 64 levels, the default limit
    response = http.post("/v1/jobs", content=body,
                         headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    posted = json.loads(body)["store"]
    job = response.json()
    assert job["store"] == posted
    assert http.get(f"/v1/jobs/{job['id']}").json()["store"] == posted
    listed = {j["id"]: j for j in _all_jobs(client)}
    assert listed[job["id"]]["store"] == posted
    client.wait(job["id"], timeout=60, interval=0.1)


@pytest.mark.parametrize("params", [
    {"flow": "ü'\";--%_*"}, {"flow": "x" * 1000}, {"marker": "%'\"\\"},
    {"since": "0001-01-01T00:00:00-14:00"}, {"until": "9999-12-31T23:59:59+14:00"},
], ids=["quotes-and-wildcards", "long-flow", "odd-marker", "earliest", "latest"])
def test_odd_but_storable_listing_parameters_get_an_answer(
        http: httpx.Client, params: dict[str, str]) -> None:
    response = http.get("/v1/jobs", params=params)
    if "marker" in params:
        _error(response, 400, "invalid_marker")
    else:
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("query", ["flow=%ED%A0%80", "flow=%FF%FE", "marker=%ED%A0%80"],
                         ids=["surrogate-bytes-flow", "latin1-flow", "surrogate-bytes-marker"])
def test_query_bytes_that_are_not_utf8_are_read_as_replacement_characters(
        http: httpx.Client, query: str) -> None:
    response = http.get(f"/v1/jobs?{query}")
    if query.startswith("marker"):
        _error(response, 400, "invalid_marker")
    else:
        assert response.status_code == 200 and response.json()["jobs"] == []


@pytest.mark.parametrize("job_id,status,code", [
    ("a%00b", 422, "invalid_text"),
    ("%ED%A0%80", 404, "job_not_found"),
    ("%FF%FE", 404, "job_not_found"),
    ("%25%27%22%3B--%20", 404, "job_not_found"),
    ("x" * 2000, 404, "job_not_found"),
    ("a%2Fb", 404, "not_found"),
], ids=["nul", "surrogate-bytes", "not-utf8", "quotes", "long", "slash"])
@pytest.mark.parametrize("method,template", [("GET", "/v1/jobs/{}"),
                                             ("POST", "/v1/jobs/{}/cancel")],
                         ids=["get", "cancel"])
def test_odd_job_ids_get_4xx(http: httpx.Client, method: str, template: str,
                             job_id: str, status: int, code: str) -> None:
    _error(http.request(method, template.format(job_id)), status, code)


def test_jobs_stored_with_unencodable_data_by_an_earlier_release_are_still_shown(
        stack: Stack, http: httpx.Client, client: ApiClient) -> None:
    job = client.wait(client.post_job("create-volume", VOLUME)["id"], timeout=60,
                      interval=0.1)
    # What an earlier release let through: unpaired surrogates, 300 levels.
    bad = ('{"note": "bad \\ud800", "\\udc80key": 1, "deep": '
           + _nested(300, '"\\udfff"') + "}")
    path = stack.deployment.db_url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as db, db:
        db.execute("UPDATE orchestrator_jobs SET store = ? WHERE id = ?", (bad, job["id"]))

    def shown(store: dict[str, Any]) -> None:
        assert store["note"] == "bad \ufffd" and store["\ufffdkey"] == 1
        inner, levels = store["deep"], 0
        while isinstance(inner, list):
            inner, levels = inner[0], levels + 1
        # Nested past what the response can carry: the rest comes as JSON text.
        assert 200 < levels < 300
        rest = json.loads(inner)
        for _ in range(300 - levels):
            rest = rest[0]
        assert rest == "\udfff"

    response = http.get("/v1/jobs", params={"limit": 1000})
    assert response.status_code == 200, response.text
    shown(next(j for j in response.json()["jobs"] if j["id"] == job["id"])["store"])
    single = http.get(f"/v1/jobs/{job['id']}")
    assert single.status_code == 200, single.text
    shown(single.json()["store"])
    assert job["id"] in {j["id"] for j in _all_jobs(client)}  # every page, via markers
    _error(http.post(f"/v1/jobs/{job['id']}/cancel"), 409, "job_finished")


def test_the_cli_refuses_the_same_input(stack: Stack) -> None:
    probe = f"probe-{uuid.uuid4()}"
    with _stores_nothing(stack, probe):
        for store, named in [
            ('{"note": "\\ud800"}', "unpaired surrogate"),
            ('{"note": "a\\u0000b"}', "NUL"),
            ('{"deep": ' + _nested(64) + "}", "more than 64 levels deep"),
        ]:
            store = store.replace("{", f'{{"probe": "{probe}", ', 1)
            result = stack.deployment.run("post", "create-volume", "--store-json", store)
            assert result.returncode == 2, (result.stdout, result.stderr)
            assert named in result.stderr and "Traceback" not in result.stderr


# a roomier API: the jobboard's limit, and a configured nesting limit ----------


@pytest.fixture(scope="module")
def roomy(stack: Stack) -> str:
    """A second API over the same stack, with a 1 MiB body limit and 100 levels."""
    return stack.deployment.start_api(TOKEN, max_body_size=1024 * 1024,
                                      max_nesting_depth=100)


def _post_to(url: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/v1/jobs", content=body, timeout=60,
                      headers={"Authorization": f"Bearer {TOKEN}",
                               "Content-Type": "application/json"})


@pytest.mark.parametrize("char", ["x", "€"], ids=["ascii", "three-byte"])
def test_a_store_too_large_for_the_jobboard_gets_413_and_the_api_keeps_working(
        stack: Stack, roomy: str, client: ApiClient, char: str) -> None:
    probe = f"probe-{uuid.uuid4()}"
    frame = json.dumps({"flow": "create-volume", "store": _volume(probe, pad="")},
                       ensure_ascii=False).encode()
    # Just under the body limit, so only the jobboard's limit can refuse it.
    room = 1024 * 1024 - len(frame) - 64
    pad = char * (room // len(char.encode()))
    body = json.dumps({"flow": "create-volume", "store": _volume(probe, pad=pad)},
                      ensure_ascii=False).encode()
    assert MAX_POSTING_BYTES < len(body) <= 1024 * 1024
    with _stores_nothing(stack, probe):
        message = _error(_post_to(roomy, body), 413, "job_too_large")
    assert "the encoded job is too large for the jobboard" in message
    sizes = re.search(r"(\d+) bytes, more than its limit of (\d+) bytes", message)
    assert sizes is not None, message
    assert int(sizes[1]) > len(body) - 1000 and int(sizes[2]) == MAX_POSTING_BYTES
    # The API's ZooKeeper session survived: nothing oversized was sent.
    after = _post_to(roomy, _json({"flow": "create-volume", "store": VOLUME}))
    assert after.status_code == 201, after.text
    client.wait(after.json()["id"], timeout=60, interval=0.1)


def test_the_nesting_limit_is_configurable(stack: Stack, roomy: str,
                                           client: ApiClient) -> None:
    probe = f"probe-{uuid.uuid4()}"
    with _stores_nothing(stack, probe):
        refused = _post_to(stack.url, _deep_store(probe, 80))
        assert "more than 64 levels" in _error(refused, 422, "nesting_too_deep")
        refused = _post_to(roomy, _deep_store(probe, 100))
        assert "more than 100 levels" in _error(refused, 422, "nesting_too_deep")
    accepted = _post_to(roomy, _deep_store(probe, 80))
    assert accepted.status_code == 201, accepted.text
    client.wait(accepted.json()["id"], timeout=60, interval=0.1)


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
    ({"marker": "a\x00b"}, 422, "invalid_text", "marker"),
    ({"flow": "create-volume\x00"}, 422, "invalid_text", "flow filter"),
    ({"since": "9999-12-31T23:59:59-14:00"}, 422, "invalid_request", "out of range"),
    ({"until": "0001-01-01T00:00:00+14:00"}, 422, "invalid_request", "out of range"),
], ids=["unknown-marker", "garbage-marker", "limit-0", "limit-too-big", "limit-text",
        "bad-state", "bad-since", "naive-since", "nul-marker", "nul-flow",
        "since-past-9999", "until-before-1"])
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


def test_serving_is_logged_once_the_port_accepts(deployment: Deployment) -> None:
    port = find_free_port()
    extra = deployment.tmp_path / "noauth.conf"
    extra.write_text("[api]\nauth_strategy = noauth\n")
    proc = subprocess.Popen(
        deployment.command("--config-file", str(extra), "api", "--port", str(port)),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "serving" in line:
                break
        else:
            pytest.fail(f"the API exited ({proc.wait()}) without saying it serves")
        # A script that waits for the line connects at once: never refused.
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        assert httpx.get(f"http://127.0.0.1:{port}/v1/flows", timeout=30).status_code == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
