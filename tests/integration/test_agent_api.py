"""A real ``orchestrator agent`` process: IPA's command API, its faults, and AgentClient.

One agent (with an agent_token) serves the whole module. Tests that start an
asynchronous command wait for it to end, so the next test finds the agent idle.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.agent import (
    AgentClient,
    AgentError,
    AgentTimeout,
    AgentUnreachable,
)
from orchestrator.standalone import find_free_port
from tests.helpers import wait_for

pytestmark = pytest.mark.integration

TOKEN = "test-token-0123456789abcdef0123456789"
START_TIMEOUT = 30.0


class AgentProcess:
    """``orchestrator agent`` on a free port of 127.0.0.1, its output in a log file."""

    def __init__(self, tmp_path: Path, token: str | None = TOKEN, port: int | None = None):
        self.port = port or find_free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"agent-{self.port}.log"
        self.config = tmp_path / f"agent-{self.port}.conf"
        self.config.write_text("[agent]\n" + (f"agent_token = {token}\n" if token else ""))
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "orchestrator.cli.main", "--config-file",
                str(self.config), "-v", "agent", "--port", str(self.port)]

    def start(self) -> AgentProcess:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log,
                                         stderr=subprocess.STDOUT)
        wait_for(self._ready, START_TIMEOUT, interval=0.05, message="the agent to answer")
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"agent exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return httpx.get(self.url + "/v1/status", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    process = AgentProcess(tmp_path_factory.mktemp("agent")).start()
    extensions = httpx.post(process.url + "/v1/commands/",
                            params={"wait": "true", "agent_token": TOKEN},
                            json={"name": "demo.echo", "params": {}}, timeout=10)
    if extensions.status_code == 404:
        process.stop()
        pytest.fail("the demo extension is not registered: declare the built-in "
                    "orchestrator.extensions entry points in pyproject.toml and "
                    "reinstall (pip install -e .)", pytrace=False)
    try:
        yield process
    finally:
        code = process.stop()
        assert code == 0, f"agent exited with {code} on SIGTERM:\n{process.log()}"


@pytest.fixture(scope="module")
def http(agent: AgentProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=agent.url, timeout=10.0) as client:
        yield client


@pytest.fixture(scope="module")
def client(agent: AgentProcess) -> Iterator[AgentClient]:
    with AgentClient(agent.url, TOKEN, timeout=10.0) as agent_client:
        yield agent_client


def post(http: httpx.Client, name: Any, params: Any = None, *, wait: bool = False,
         token: str | None = TOKEN, body: Any = None) -> httpx.Response:
    query = {"wait": "true"} if wait else {}
    if token is not None:
        query["agent_token"] = token
    payload = {"name": name, "params": {} if params is None else params}
    return http.post("/v1/commands/", params=query,
                     json=payload if body is None else body)


def fault(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"faultcode", "faultstring"}
    return body


def wait_idle(client: AgentClient) -> None:
    wait_for(lambda: all(c["command_status"] != "RUNNING" for c in client.list()),
             30, message="the agent's commands to end")


RESULT_KEYS = {"id", "command_name", "command_status", "command_error", "command_result"}


# --- the command API -------------------------------------------------------------

def test_status_answers_without_token(http: httpx.Client) -> None:
    response = http.get("/v1/status")
    assert response.status_code == 200
    status = response.json()
    assert set(status) == {"started_at", "version"}
    assert isinstance(status["started_at"], float)
    assert status["version"]


def test_sync_command_with_wait_returns_its_result(http: httpx.Client) -> None:
    response = post(http, "demo.echo", {"greeting": "hello", "n": [1, 2]}, wait=True)
    assert response.status_code == 200
    result = response.json()
    assert set(result) == RESULT_KEYS
    assert result["command_status"] == "SUCCEEDED"
    assert result["command_result"] == {"greeting": "hello", "n": [1, 2]}
    assert result["command_error"] is None


def test_async_command_runs_in_the_background(http: httpx.Client,
                                              client: AgentClient) -> None:
    echoed = post(http, "demo.echo", {"x": 1}).json()
    started = post(http, "demo.sleep", {"seconds": 0.3})
    assert started.status_code == 200
    assert started.json()["command_status"] == "RUNNING"
    command_id = started.json()["id"]

    def finished() -> dict[str, Any] | None:
        result = http.get(f"/v1/commands/{command_id}", params={"agent_token": TOKEN})
        assert result.status_code == 200
        body: dict[str, Any] = result.json()
        return body if body["command_status"] != "RUNNING" else None

    done = wait_for(finished, 30, message="demo.sleep to finish")
    assert done["command_status"] == "SUCCEEDED"
    assert done["command_result"]["slept_seconds"] >= 0.3

    listed = http.get("/v1/commands/", params={"agent_token": TOKEN})
    assert listed.status_code == 200
    ids = [c["id"] for c in listed.json()["commands"]]
    assert echoed["id"] in ids and command_id in ids
    assert ids.index(echoed["id"]) < ids.index(command_id)  # oldest first


def test_get_with_wait_blocks_until_done(http: httpx.Client) -> None:
    command_id = post(http, "demo.sleep", {"seconds": 0.2}).json()["id"]
    response = http.get(f"/v1/commands/{command_id}",
                        params={"wait": "true", "agent_token": TOKEN})
    assert response.status_code == 200
    assert response.json()["command_status"] == "SUCCEEDED"


def test_waiting_request_does_not_block_the_others(agent: AgentProcess,
                                                   client: AgentClient) -> None:
    waiting: list[httpx.Response] = []

    def post_and_wait() -> None:
        with httpx.Client(base_url=agent.url, timeout=30) as other:
            waiting.append(post(other, "demo.sleep", {"seconds": 1.0}, wait=True))

    thread = threading.Thread(target=post_and_wait)
    thread.start()
    try:
        wait_for(lambda: any(c["command_status"] == "RUNNING" for c in client.list()),
                 30, message="demo.sleep to start")
        # Answered while the POST ?wait=true is still blocked on the command.
        with AgentClient(agent.url, TOKEN, timeout=0.5) as quick:
            assert quick.status()["version"]
            assert quick.list()
        assert thread.is_alive()
    finally:
        thread.join(30)
    assert waiting[0].status_code == 200
    assert waiting[0].json()["command_status"] == "SUCCEEDED"


def test_versionless_routes_as_ipa(http: httpx.Client) -> None:
    assert http.get("/status").status_code == 200
    assert http.get("/commands/", params={"agent_token": TOKEN}).status_code == 200
    response = http.post("/commands/", params={"agent_token": TOKEN, "wait": "true"},
                         json={"name": "demo.echo", "params": {}})
    assert response.json()["command_status"] == "SUCCEEDED"


def test_failed_command_is_200_failed_with_a_rest_error(http: httpx.Client) -> None:
    response = post(http, "demo.fail", {"message": "boom"}, wait=True)
    assert response.status_code == 200
    result = response.json()
    assert result["command_status"] == "FAILED"
    assert result["command_result"] is None
    assert result["command_error"] == {"type": "CommandExecutionError", "code": 500,
                                       "message": "Command execution failed",
                                       "details": "boom"}
    listed = http.get("/v1/commands/", params={"agent_token": TOKEN})
    assert listed.status_code == 200
    assert result["id"] in [c["id"] for c in listed.json()["commands"]]


def test_busy_while_an_async_command_runs(http: httpx.Client, client: AgentClient) -> None:
    running = post(http, "demo.sleep", {"seconds": 1.0}).json()
    try:
        assert running["command_status"] == "RUNNING"
        refused = post(http, "demo.echo", {})
        assert refused.status_code == 409
        assert fault(refused) == {"faultcode": "Client",
                                  "faultstring": "Agent is busy: executing command sleep"}
        with pytest.raises(AgentError) as caught:
            client.execute("demo.echo", {})
        assert caught.value.status_code == 409
        assert caught.value.retryable
    finally:
        wait_idle(client)
    assert client.get(running["id"])["command_status"] == "SUCCEEDED"


# --- faults ------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["missing", "wrong"])
def test_bad_token_is_401(http: httpx.Client, token: str | None) -> None:
    expected = {"faultcode": "Client", "faultstring": "401 Unauthorized: Token invalid."}
    query = {"agent_token": token} if token else {}
    response = post(http, "demo.echo", {}, token=token)
    assert response.status_code == 401
    assert fault(response) == expected
    for path in ("/v1/commands/", "/v1/commands/some-id"):
        response = http.get(path, params=query)
        assert response.status_code == 401
        assert fault(response) == expected


def test_unknown_command_id_is_404(http: httpx.Client) -> None:
    response = http.get("/v1/commands/no-such-id", params={"agent_token": TOKEN})
    assert response.status_code == 404
    assert fault(response) == {
        "faultcode": "Client",
        "faultstring": "Not found: Command Result with id no-such-id not found."}


def test_unknown_extension_is_404(http: httpx.Client) -> None:
    response = post(http, "nosuch.echo", {})
    assert response.status_code == 404
    assert fault(response) == {"faultcode": "Client",
                               "faultstring": "Not found: Extension with id nosuch not found."}


def test_unknown_command_is_400(http: httpx.Client) -> None:
    response = post(http, "demo.nosuch", {})
    assert response.status_code == 400
    assert fault(response)["faultstring"] == "Invalid command: Unknown command: nosuch"


def test_command_without_a_dot_is_400(http: httpx.Client) -> None:
    response = post(http, "echo", {})
    assert response.status_code == 400
    assert fault(response) == {
        "faultcode": "Client",
        "faultstring": "Invalid command: Command name must be of the form <extension>.<name>"}


def test_invalid_params_are_400(http: httpx.Client) -> None:
    response = post(http, "demo.sleep", {})  # the validator wants seconds
    assert response.status_code == 400
    assert fault(response)["faultstring"].startswith("Invalid command parameters: ")


def test_command_name_param_is_400(http: httpx.Client) -> None:
    # execute_command's own argument; IPA answers 500 (a TypeError).
    response = post(http, "demo.echo", {"command_name": "x"})
    assert response.status_code == 400
    assert fault(response)["faultstring"].startswith("Invalid command parameters: ")


def test_malformed_json_is_400_even_without_token(http: httpx.Client) -> None:
    # IPA reads the body before it checks the token.
    response = http.post("/v1/commands/", content=b'{"name": ',
                         headers={"content-type": "application/json"})
    assert response.status_code == 400
    body = fault(response)
    assert body["faultcode"] == "Client"
    assert body["faultstring"].startswith("400 Bad Request: Failed to decode JSON object: ")


@pytest.mark.parametrize("body", [
    [], "text", 3, None, {"params": {}}, {"name": "demo.echo"},
    {"name": "demo.echo", "params": []}, {"name": "demo.echo", "params": "x"},
    {"name": 3, "params": {}},
], ids=["list", "string", "number", "null", "no-name", "no-params", "params-list",
        "params-string", "name-number"])
def test_invalid_body_is_400(http: httpx.Client, body: Any) -> None:
    response = http.post("/v1/commands/", params={"agent_token": TOKEN},
                         content=json.dumps(body).encode())
    assert response.status_code == 400
    assert fault(response) == {"faultcode": "Client",
                               "faultstring": "400 Bad Request: Missing or invalid name or params"}


def test_unknown_route_and_method_are_faults(http: httpx.Client) -> None:
    missing = http.get("/v2/whatever")
    assert missing.status_code == 404
    assert fault(missing)["faultstring"].startswith("404 Not Found: ")
    wrong = http.delete("/v1/status")
    assert wrong.status_code == 405
    assert fault(wrong)["faultstring"].startswith("405 Method Not Allowed: ")


def test_results_listing_survives_every_fault(http: httpx.Client) -> None:
    listed = http.get("/v1/commands/", params={"agent_token": TOKEN})
    assert listed.status_code == 200
    for result in listed.json()["commands"]:
        assert set(result) == RESULT_KEYS


# --- AgentClient -------------------------------------------------------------------

def test_client_runs_commands(client: AgentClient) -> None:
    echoed = client.execute("demo.echo", {"k": "v"})
    assert echoed["command_status"] == "SUCCEEDED"
    assert echoed["command_result"] == {"k": "v"}
    assert client.get(echoed["id"]) == echoed
    assert echoed["id"] in [c["id"] for c in client.list()]
    assert set(client.status()) == {"started_at", "version"}

    started = client.execute("demo.sleep", {"seconds": 0.2}, wait=False)
    assert started["command_status"] == "RUNNING"
    polls: list[dict[str, Any]] = []
    done = client.wait_for(started["id"], timeout=30, poll_interval=0.05,
                           on_poll=polls.append)
    assert done["command_status"] == "SUCCEEDED"
    assert all(p["command_status"] == "RUNNING" for p in polls)

    failed = client.execute("demo.fail", {"message": "no"})
    assert failed["command_status"] == "FAILED"
    assert failed["command_error"]["details"] == "no"


def test_client_faults_carry_faultstring_and_status(agent: AgentProcess,
                                                    client: AgentClient) -> None:
    with pytest.raises(AgentError) as caught:
        client.execute("nosuch.cmd", {})
    assert caught.value.status_code == 404
    assert caught.value.faultstring == "Not found: Extension with id nosuch not found."
    assert caught.value.client_error and not caught.value.retryable

    with AgentClient(agent.url, "wrong-token", timeout=10) as wrong:
        with pytest.raises(AgentError) as caught:
            wrong.list()
    assert caught.value.status_code == 401
    assert caught.value.faultstring == "401 Unauthorized: Token invalid."
    assert "wrong-token" not in str(caught.value)


def test_client_unreachable_names_the_url() -> None:
    url = f"http://127.0.0.1:{find_free_port()}"
    with AgentClient(url, TOKEN, timeout=5) as closed:
        with pytest.raises(AgentUnreachable) as caught:
            closed.execute("demo.echo", {})
    assert url in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert caught.value.retryable


def test_client_wait_for_deadline_is_a_timeout(client: AgentClient) -> None:
    started = client.execute("demo.sleep", {"seconds": 1.0}, wait=False)
    try:
        with pytest.raises(AgentTimeout) as caught:
            client.wait_for(started["id"], timeout=0.2, poll_interval=0.05)
        message = str(caught.value)
        assert started["id"] in message and "sleep" in message and "0.2s" in message
        assert caught.value.seconds == 0.2
    finally:
        wait_idle(client)


def test_client_read_timeout_is_a_timeout(agent: AgentProcess, client: AgentClient) -> None:
    with AgentClient(agent.url, TOKEN, timeout=0.3) as impatient:
        try:
            with pytest.raises(AgentTimeout) as caught:
                impatient.execute("demo.sleep", {"seconds": 1.0}, wait=True)
        finally:
            wait_idle(client)
    assert "demo.sleep" in str(caught.value) and "0.3s" in str(caught.value)


# --- the daemon --------------------------------------------------------------------

def test_port_in_use_exits_1(agent: AgentProcess, tmp_path: Path) -> None:
    second = AgentProcess(tmp_path, port=agent.port)
    result = subprocess.run(second.command(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert (f"orchestrator: error: agent cannot listen on 127.0.0.1:{agent.port}: "
            "address already in use") in result.stderr


def test_sigterm_exits_0_abandoning_running_commands(tmp_path: Path) -> None:
    process = AgentProcess(tmp_path, token=None).start()
    try:
        with AgentClient(process.url, None, timeout=10) as no_token:
            assert no_token.execute("demo.sleep", {"seconds": 600},
                                    wait=False)["command_status"] == "RUNNING"
    finally:
        code = process.stop()
    assert code == 0, process.log()
    assert "Abandoning commands still running: sleep" in process.log()
