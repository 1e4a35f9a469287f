"""Schedules with real processes: the API and the CLI manage them; conductors fire
them, one leading; kill -9 of the leader hands over and every fire time still
posts exactly one job.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from kazoo.client import KazooClient
from sqlalchemy import select

import jobs
import persistence
from persistence.models import JobRow, ScheduleFireRow
from tests.functional.conftest import Deployment, kill9
from tests.helpers import wait_for

pytestmark = pytest.mark.functional

EVERY_2S = "* * * * * */2"


def _fires(db_url: str) -> list[tuple[datetime, str, str | None]]:
    db = persistence.Database(db_url)
    try:
        with db.session() as session:
            rows = session.execute(select(ScheduleFireRow.fire_at, ScheduleFireRow.outcome,
                                          ScheduleFireRow.job_id)
                                   .order_by(ScheduleFireRow.fire_at))
            return [(r[0], r[1], r[2]) for r in rows]
    finally:
        db.close()


def _scheduled_jobs(db_url: str) -> list[tuple[str, str]]:
    """(job id, idempotency key) of every job a schedule posted."""
    db = persistence.Database(db_url)
    try:
        with db.session() as session:
            rows = session.execute(select(JobRow.id, JobRow.idempotency_key)
                                   .where(JobRow.idempotency_key.startswith("schedule:")))
            return [(r[0], r[1]) for r in rows]
    finally:
        db.close()


def _leader(deployment: Deployment) -> str | None:
    settings = jobs.JobboardSettings(hosts=(deployment.zk_hosts,), path=deployment.board_path)
    client = KazooClient(hosts=deployment.zk_hosts)
    client.start(timeout=10)
    try:
        return jobs.Leadership(client, settings.scheduler_path, "test-observer").leader()
    finally:
        client.stop()
        client.close()


def test_killed_scheduler_leader_hands_over_and_each_fire_posts_one_job(
        deployment: Deployment) -> None:
    deployment.add_config("[scheduler]\ninterval = 0.2\n")
    conductors = {name: deployment.start_conductor(name) for name in ("alpha", "beta")}
    result = deployment.run("schedules", "create", "every-2s", "bench-1-task",
                            "--cron", EVERY_2S, "--json")
    assert result.returncode == 0, result.stderr
    schedule_id = json.loads(result.stdout)["id"]

    leader = wait_for(lambda: _leader(deployment), timeout=60, message="a scheduler leader")
    assert leader in conductors
    wait_for(lambda: len(_fires(deployment.db_url)) >= 3, timeout=60,
             message="three fires by the first leader")
    kill9(conductors[leader])
    killed_at = datetime.now(UTC)
    survivor = next(name for name in conductors if name != leader)

    wait_for(lambda: _leader(deployment) == survivor, timeout=60,
             message=f"{survivor} to take the leadership over")
    # Fires go on, well after the kill.
    wait_for(lambda: any(at > killed_at + timedelta(seconds=4)
                         for at, _o, _j in _fires(deployment.db_url)),
             timeout=60, message="fires after the takeover")
    assert f"{survivor} took the scheduler leadership" in deployment.conductor_log(survivor)

    fires = _fires(deployment.db_url)
    times = [at for at, _o, _j in fires]
    # Every fire time from the first to the last, none missing, none twice...
    assert times == [times[0] + timedelta(seconds=2 * i) for i in range(len(times))]
    # ... each posted, with its own job...
    assert {outcome for _at, outcome, _job in fires} == {"posted"}
    job_ids = [job for _at, _o, job in fires]
    assert len(set(job_ids)) == len(job_ids)
    # ... and no job posted for a fire time but the one recorded.
    posted = _scheduled_jobs(deployment.db_url)
    keys = {f"schedule:{schedule_id}:{at.isoformat()}": job for at, _o, job in fires}
    unrecorded = [(job, key) for job, key in posted if keys.get(key) != job]
    # The newest fire may be posted and not yet recorded when we read.
    assert len(unrecorded) <= 1, unrecorded
    assert len({key for _job, key in posted}) == len(posted)


def test_schedules_through_the_api_and_the_cli(deployment: Deployment) -> None:
    url = deployment.start_api()
    body: dict[str, Any] = {"name": "nightly", "flow": "create-volume",
                            "store": {"raw_size": 1, "raw_availability_zone": "az",
                                      "raw_volume_type": "ssd"},
                            "cron": "30 2 * * *", "timezone": "Europe/Paris",
                            "missed": "run_once", "priority": "low"}
    created = httpx.post(f"{url}/v1/schedules", json=body, timeout=30)
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/v1/schedules/nightly"
    shown = created.json()
    assert shown["priority"] == "LOW" and shown["missed"] == "run_once"
    assert len(shown["next_fires"]) == 5 and shown["fires"] == []
    assert shown["next_fires"][0].endswith(("T01:30:00.000000+00:00",
                                            "T00:30:00.000000+00:00"))

    def refused(payload: dict[str, Any], status: int, words: str) -> None:
        answer = httpx.post(f"{url}/v1/schedules", json=payload, timeout=30)
        assert answer.status_code == status, answer.text
        assert words in answer.json()["error"]["message"]

    again = httpx.post(f"{url}/v1/schedules", json=body, timeout=30)
    assert again.status_code == 200 and again.json()["id"] == shown["id"]  # a retry
    refused({**body, "cron": "0 3 * * *"}, 409, "exists already")
    refused({**body, "name": "x", "flow": "no-such-flow"}, 422, "unknown flow")
    refused({**body, "name": "x", "store": {}}, 422, "requires inputs")
    refused({**body, "name": "x", "cron": "61 * * * *"}, 422, "invalid cron expression")
    refused({**body, "name": "x", "timezone": "Mars/Base"}, 422, "unknown time zone")
    refused({**body, "name": "x", "missed": "twice"}, 422, "missed")
    refused({**body, "name": "no/slash"}, 422, "name")

    listed = httpx.get(f"{url}/v1/schedules", timeout=30).json()["schedules"]
    assert [s["name"] for s in listed] == ["nightly"]
    paused = httpx.post(f"{url}/v1/schedules/nightly/pause", timeout=30)
    assert paused.status_code == 200 and paused.json()["paused"] is True
    assert paused.json()["next_fires"] == []
    resumed = httpx.post(f"{url}/v1/schedules/nightly/resume", timeout=30)
    assert resumed.status_code == 200 and resumed.json()["paused"] is False

    # The CLI sees the same schedules, and says what is wrong with bad input.
    result = deployment.run("schedules", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert [s["name"] for s in json.loads(result.stdout)] == ["nightly"]
    result = deployment.run("schedules", "show", "nightly")
    assert result.returncode == 0, result.stderr
    assert "create-volume" in result.stdout and "Europe/Paris" in result.stdout
    for args, words in ((("show", "nope"), "no schedule named 'nope'"),
                        (("create", "bad", "bench-1-task", "--cron", "* *"), "give 5 fields"),
                        (("create", "bad", "bench-1-task", "--cron", "* * * * *",
                          "--store-json", "[1"), "--store-json"),
                        (("create", "nightly", "bench-1-task", "--cron", "* * * * *"),
                         "exists already"),
                        (("create", "a b", "bench-1-task", "--cron", "* * * * *"),
                         "invalid schedule name")):
        result = deployment.run("schedules", *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert words in result.stderr and "Traceback" not in result.stderr
    result = deployment.run("schedules", "pause", "nightly", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["paused"] is True
    result = deployment.run("schedules", "delete", "nightly")
    assert result.returncode == 0, result.stderr

    assert httpx.delete(f"{url}/v1/schedules/nightly", timeout=30).status_code == 404
    missing = httpx.get(f"{url}/v1/schedules/nightly", timeout=30)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "schedule_not_found"
    assert httpx.get(f"{url}/v1/schedules", timeout=30).json() == {"schedules": []}
