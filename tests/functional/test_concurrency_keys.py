"""Concurrency keys end to end: jobs posted with a key from the CLI and the API run
one at a time across two conductors, in posting order, and ``jobs explain``
names the job holding the key."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.chaos.harness import overlapping_holders, read_ledger
from tests.functional.conftest import Deployment, job_row
from tests.helpers import wait_for

pytestmark = pytest.mark.functional


def chaos_store(ledger: Path, key: str, step_seconds: float = 0.2) -> dict[str, object]:
    return {"ledger_path": str(ledger), "job_key": key, "step_seconds": step_seconds}


def test_jobs_sharing_a_key_run_one_at_a_time_across_conductors(
        deployment: Deployment, tmp_path: Path) -> None:
    dep = deployment
    ledger = tmp_path / "ledger"
    posted: dict[str, str] = {}
    for name in ("a", "b", "c"):
        # The first one is slow: the others are seen waiting for it.
        result = dep.run("post", "chaos-steps", "--key", "node:n1", "--store-json",
                         json.dumps(chaos_store(ledger, name, 1.5 if name == "a" else 0.2)))
        assert result.returncode == 0, result.stderr
        posted[name] = result.stdout.strip()
    api = dep.start_api()
    answer = httpx.post(f"{api}/v1/jobs", json={
        "flow": "chaos-steps", "store": chaos_store(ledger, "d"),
        "concurrency_keys": ["node:n1"]})
    assert answer.status_code == 201, answer.text
    assert answer.json()["concurrency_keys"] == ["node:n1"]
    posted["d"] = answer.json()["id"]
    free = dep.run("post", "chaos-steps", "--key", "node:n2", "--store-json",
                   json.dumps(chaos_store(ledger, "free")))
    posted["free"] = free.stdout.strip()
    bad = dep.run("post", "chaos-steps", "--key", "has space", "--store-json",
                  json.dumps(chaos_store(ledger, "bad")))
    assert bad.returncode == 2 and "invalid concurrency key 'has space'" in bad.stderr
    assert "Traceback" not in bad.stderr
    refused = httpx.post(f"{api}/v1/jobs", json={
        "flow": "chaos-steps", "store": chaos_store(ledger, "bad"),
        "concurrency_keys": ["x"] * 17})
    assert refused.status_code == 422 and "error" in refused.json()

    dep.start_conductor("keys-1")
    dep.start_conductor("keys-2")
    # While a holds the key, b waits, and says for whom.
    wait_for(lambda: job_row(dep.db_url, posted["a"])["state"] == "RUNNING", timeout=60,
             message="the first job to run")
    explained = json.loads(dep.run("jobs", "explain", posted["b"], "--json").stdout)
    assert explained["state"] == "POSTED", explained
    assert f"concurrency key node:n1 is held by job {posted['a']}" in \
        explained["summary"], explained
    holder = json.loads(dep.run("jobs", "explain", posted["a"], "--json").stdout)
    assert "it holds concurrency key node:n1" in holder["reasons"], holder
    for job_id in posted.values():
        dep.wait_state(job_id, "SUCCESS")

    entries = read_ledger(ledger)
    key_of = {name: "node:n1" for name in "abcd"} | {"free": "node:n2"}
    assert overlapping_holders(entries, key_of) == []
    first_start = {}
    for entry in entries:
        if entry.job is not None and entry.at is not None:
            first_start.setdefault(entry.job, entry.at)
    # In posting order, and the job on another key did not wait for them.
    assert sorted("abcd", key=first_start.__getitem__) == list("abcd")
    assert first_start["free"] < first_start["b"]
    shown = json.loads(dep.run("jobs", "show", posted["a"], "--json").stdout)
    assert shown["concurrency_keys"] == ["node:n1"]
