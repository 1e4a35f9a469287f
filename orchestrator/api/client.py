"""A small Python client of the HTTP API, for services that post jobs over HTTP.

It returns the API's JSON as dicts and raises ``ApiError`` with the API's own
error code and message. Processes that can reach ZooKeeper and the database
may use ``orchestrator.connect()`` instead, which is the same service in-process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from orchestrator.errors import OrchestratorError

TERMINAL_STATES = frozenset({"SUCCESS", "REVERTED", "FAILED"})


class ApiError(OrchestratorError):
    """The API answered with an error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.client_error = 400 <= status < 500
        self.retryable = status in (502, 503, 504)


class ApiClient:
    """``ApiClient("http://host:8080", token="...")``; use it as a context manager."""

    def __init__(self, base_url: str, token: str | None = None, *,
                 timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/") + "/v1", headers=headers,
                                  timeout=timeout)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def post_job(self, flow: str | None = None, store: Mapping[str, Any] | None = None, *,
                 document: Mapping[str, Any] | None = None, priority: str = "NORMAL",
                 idempotency_key: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"store": dict(store or {}), "priority": priority}
        if flow is not None:
            body["flow"] = flow
        if document is not None:
            body["document"] = dict(document)
        if idempotency_key is not None:
            body["idempotency_key"] = idempotency_key
        return self._call("POST", "/jobs", json=body)

    def get_job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/jobs/{job_id}")

    def list_jobs(self, *, states: Sequence[str] = (), flow: str | None = None,
                  since: datetime | None = None, until: datetime | None = None,
                  limit: int | None = None, marker: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"state": list(states), "flow": flow, "limit": limit,
                                  "marker": marker,
                                  "since": since.isoformat() if since else None,
                                  "until": until.isoformat() if until else None}
        return self._call("GET", "/jobs",
                          params={k: v for k, v in params.items() if v not in (None, [])})

    def iter_jobs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every job matching the filters of ``list_jobs``, following the markers."""
        marker = None
        while True:
            page = self.list_jobs(marker=marker, **filters)
            yield from page["jobs"]
            marker = page["next_marker"]
            if marker is None:
                return

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        return self._call("POST", f"/jobs/{job_id}/cancel")

    def flows(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/flows")["flows"])

    def conductors(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/conductors")["conductors"])

    def wait(self, job_id: str, *, timeout: float | None = None,
             interval: float = 0.5) -> dict[str, Any]:
        """Poll the job until it finishes; raise ``TimeoutError`` after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get_job(job_id)
            if job["state"] in TERMINAL_STATES:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {job['state']} "
                                   f"after {timeout:g}s")
            time.sleep(interval)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.is_success:
            return response.json()
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            # Not our error body (a proxy in between, say): keep what it said.
            code, message = "http_error", response.text[:200] or response.reason_phrase
        raise ApiError(response.status_code, code, message)
