"""The web page's operator views in headless Chromium: conductors, flows, one time
zone, cancelled jobs, and a job's explanation, attempts and retry.

The same real stack as ``test_web_page``: ZooKeeper, SQLite, conductors and
``orchestrator api`` as separate processes, the page as the API serves it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from orchestrator.flows import ledger
from tests.functional.browser import Browser
from tests.functional.conftest import Deployment
from tests.functional.page.test_web_page import job_state, post_job, slow_steps, wait_finished
from tests.helpers import wait_for

pytestmark = pytest.mark.functional

CLOCK = re.compile(r"\b(\d\d):(\d\d):(\d\d)\b")
ECHO_DOCUMENT: dict[str, Any] = {
    "name": "echo-twice",
    "description": "Echo a message twice.",
    "inputs": ["message"],
    "steps": [
        {"name": "first", "command": "demo.echo", "inputs": ["message"], "provides": "once"},
        {"name": "second", "command": "demo.echo", "params": {"times": 2}, "provides": "twice"},
    ],
}




def wait_running(api: str, job_id: str) -> None:
    wait_for(lambda: job_state(api, job_id) == "RUNNING", timeout=60,
             message=f"job {job_id} to run")


def utc_text(iso: str) -> str:
    """An API time as the page shows it: "2024-05-01 12:00:03"."""
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def test_conductors_page_lists_the_live_conductor_its_version_and_running_job(
        deployment: Deployment, browser: Browser, tmp_path: Path) -> None:
    api = deployment.start_api()
    browser.open(f"{api}/conductors")
    browser.wait(lambda: browser.find("#no-conductors").is_displayed(), "no conductor yet")

    deployment.start_conductor("c1")
    job_id = post_job(api, "slow-steps", slow_steps(tmp_path, "long", step_seconds=5))
    wait_running(api, job_id)
    version = httpx.get(f"{api}/v1/conductors", timeout=10).json()["conductors"][0]["version"]
    assert version

    row = 'tr.conductor[data-conductor="c1"]'
    browser.wait(lambda: browser.find_all(f'{row} a.job-link[data-job-id="{job_id}"]'),
                 "c1 to list its running job")
    assert not browser.find("#no-conductors").is_displayed()
    assert browser.text(f"{row} .conductor-version") == version
    assert browser.text(f"{row} .running-count").startswith("1 of ")
    assert browser.text(f"{row} .conductor-jobs").count("slow-steps") == 1
    # Its job links to the job's page.
    browser.find(f'{row} a.job-link[data-job-id="{job_id}"]').click()
    browser.wait(lambda: browser.text("#job-state") == "RUNNING", "the job's page")


def test_flows_page_shows_inputs_and_a_declarative_flows_document(
        deployment: Deployment, browser: Browser, tmp_path: Path) -> None:
    directory = tmp_path / "flows"
    directory.mkdir()
    (directory / "echo.yaml").write_text(yaml.safe_dump(ECHO_DOCUMENT))
    deployment.add_config(f"[flows]\ndirectory = {directory}\n")
    api = deployment.start_api()

    flows = {f["name"]: f for f in httpx.get(f"{api}/v1/flows", timeout=10).json()["flows"]}
    assert flows["echo-twice"]["document"] == ECHO_DOCUMENT
    assert flows["echo-twice"]["source"] == str(directory / "echo.yaml")
    assert flows["slow-steps"]["document"] is None
    assert flows["slow-steps"]["source"] == "orchestrator.flows.slow:make_flow"

    browser.open(f"{api}/flows")
    slow = 'article.flow[data-flow="slow-steps"]'
    browser.wait(lambda: browser.find_all(slow), "the flows")
    assert browser.text(f"{slow} .requires") == "ledger_path"
    assert "step_seconds" in browser.text(f"{slow} .optional")
    assert browser.text(f"{slow} .flow-source") == "orchestrator.flows.slow:make_flow"
    assert browser.find_all(f"{slow} .flow-document") == []

    echo = 'article.flow[data-flow="echo-twice"]'
    assert browser.text(f"{echo} .flow-description") == "Echo a message twice."
    assert browser.text(f"{echo} .requires") == "message"
    assert browser.text(f"{echo} .provides") == "oncetwice"
    document = browser.find(f"{echo} pre.document")
    assert not document.is_displayed()  # folded until asked for
    browser.find(f"{echo} .flow-document summary").click()
    browser.wait(lambda: browser.find(f"{echo} pre.document").is_displayed(), "the document")
    assert json.loads(browser.text(f"{echo} pre.document")) == ECHO_DOCUMENT


def test_times_are_in_utc_in_the_header_and_the_body(
        deployment: Deployment, browser: Browser, tmp_path: Path) -> None:
    api = deployment.start_api()
    job_id = post_job(api, "slow-steps", slow_steps(tmp_path, "tz", step_seconds=0.01))
    created = utc_text(httpx.get(f"{api}/v1/jobs/{job_id}", timeout=10).json()["created_at"])
    # A browser far from UTC (+05:30): a time shown in its local zone would differ.
    browser.driver.execute_cdp_cmd("Emulation.setTimezoneOverride",
                                   {"timezoneId": "Asia/Kolkata"})

    for url, created_css in ((f"{api}/", f'tr.job[data-job-id="{job_id}"] time'),
                             (f"{api}/jobs/{job_id}", "#job-created")):
        browser.open(url)
        assert browser.driver.execute_script("return new Date().getTimezoneOffset();") == -330
        browser.wait(lambda css=created_css: browser.text(css) == created,
                     f"the creation time in UTC on {url}")
        assert browser.text("#time-zone") == "Times in UTC"
        header = browser.text("#refresh-status")
        clock = CLOCK.search(header)
        assert clock, header
        assert not re.search(r"\b[AP]M\b", header), header
        now = datetime.now(UTC)
        shown = int(clock[1]) * 3600 + int(clock[2]) * 60 + int(clock[3])
        behind = (now.hour * 3600 + now.minute * 60 + now.second - shown) % 86400
        assert behind < 120, (header, now)  # the header's clock is UTC too
    # The zone is said once, in the header, not after every time.
    assert "UTC" not in browser.text("#job-details")


def test_a_cancelled_job_shows_a_badge_and_its_stopped_task_is_not_a_failure(
        deployment: Deployment, browser: Browser, tmp_path: Path) -> None:
    deployment.add_config("[conductor]\ncancel_check_interval = 0\n")
    deployment.start_conductor("c1")
    api = deployment.start_api()
    path = tmp_path / "cancel.ledger"
    job_id = post_job(api, "slow-steps", {"ledger_path": str(path), "step_seconds": 1})
    wait_for(lambda: ("start", "step-2") in [(a, t) for a, t, _ in ledger.read(path)],
             timeout=60, message="step-2 to start")
    answer = httpx.post(f"{api}/v1/jobs/{job_id}/cancel", json={"requested_by": "alice"},
                        timeout=10)
    assert answer.status_code == 202, answer.text
    assert wait_finished(api, job_id) == "REVERTED"

    browser.open(f"{api}/jobs/{job_id}")
    browser.wait(lambda: browser.text("#job-cancelled") == "CANCELLED", "the badge")
    assert "alice" in (browser.attribute("#job-cancelled", "title") or "")
    assert browser.text("#job-cancel-requested-by") == "alice"
    assert "state-failed" not in (browser.attribute("#job-cancelled", "class") or "")
    # The step the cancellation stopped is shown as cancelled, not as failed.
    stopped = browser.find('.task[data-cancelled="true"]')
    assert stopped.get_attribute("data-task") == "step-3"
    assert "cancelled" in stopped.text
    assert browser.find_all(".span.failed") == []
    assert not browser.find("#failures-section").is_displayed()
    assert browser.find_all(".failure") == []
    assert "failed" not in browser.text("#timeline") + browser.text("#job-details")
    assert browser.find('.cancellation[data-task="step-3"]').is_displayed()
    assert "cancelled" in browser.text("#explain-summary")

    browser.open(f"{api}/")
    row = f'tr.job[data-job-id="{job_id}"]'
    browser.wait(lambda: browser.find_all(f"{row} .state-cancelled"), "the badge in the list")
    assert browser.attribute(row, "data-cancelled") == "true"
    assert "by alice" in browser.find(row).text


def test_explain_and_attempts_of_a_waiting_then_cancelled_job(
        deployment: Deployment, browser: Browser, tmp_path: Path) -> None:
    api = deployment.start_api()
    job_id = post_job(api, "slow-steps", slow_steps(tmp_path, "wait", step_seconds=0.01))

    browser.open(f"{api}/jobs/{job_id}")
    browser.wait(lambda: "no conductor is alive" in browser.text("#explain-summary"),
                 "the explanation of a job no conductor can run")
    assert browser.find("#no-attempts").is_displayed()
    assert not browser.find("#retry").is_displayed()  # not finished: nothing to retry

    # Cancelled from the page: the page says who asked.
    browser.find("#cancel").click()
    browser.accept_alert("the confirmation")
    browser.wait(lambda: browser.find_all("#job-cancelled"), "the cancelled badge")
    assert browser.text("#job-cancel-requested-by") == "web page"
    browser.wait(lambda: "cancelled by web page" in browser.text("#explain-summary"),
                 "the explanation of the cancelled job")


def test_attempts_and_retry_of_a_finished_job_link_both_jobs(
        deployment: Deployment, browser: Browser, tmp_path: Path) -> None:
    deployment.start_conductor("c1")
    api = deployment.start_api()
    first = post_job(api, "slow-steps", slow_steps(tmp_path, "retry", step_seconds=0.01))
    assert wait_finished(api, first) == "SUCCESS"

    browser.open(f"{api}/jobs/{first}")
    browser.wait(lambda: "finished SUCCESS" in browser.text("#explain-summary"),
                 "the explanation of a finished job")
    rows = browser.find_all("#attempt-rows tr.attempt")
    assert [(r.get_attribute("data-number"), r.get_attribute("data-conductor"),
             r.get_attribute("data-outcome")) for r in rows] == [("1", "c1", "finished")]
    assert browser.text("#attempt-rows .outcome") == "finished"

    browser.find("#retry").click()
    browser.wait(lambda: browser.driver.current_url != f"{api}/jobs/{first}",
                 "the new job's page")
    second = browser.driver.current_url.rsplit("/", 1)[1]
    assert second != first
    browser.wait(lambda: browser.text("#job-retry-of") == first, "the link to the original")
    browser.wait(lambda: browser.text("#job-state") == "SUCCESS", "the retry to succeed",
                 timeout=60)
    browser.wait(lambda: browser.find_all('#attempt-rows tr.attempt[data-outcome="finished"]'),
                 "the retry's attempt")

    browser.find(f'#job-retry-of a[data-job-id="{first}"]').click()
    browser.wait(lambda: browser.find_all(f'#job-retried-by a[data-job-id="{second}"]'),
                 "the link from the original to its retry")


def test_a_job_waiting_for_a_concurrency_key_shows_its_keys_and_who_holds_it(
        deployment: Deployment, browser: Browser, tmp_path: Path) -> None:
    api = deployment.start_api()
    jobs = []
    for name, seconds in (("holder", 3.0), ("waiter", 0.01)):
        answer = httpx.post(f"{api}/v1/jobs", timeout=30, json={
            "flow": "slow-steps", "store": slow_steps(tmp_path, name, step_seconds=seconds),
            "concurrency_keys": ["node:page"]})
        assert answer.status_code == 201, answer.text
        jobs.append(answer.json()["id"])
    holder, waiter = jobs
    deployment.start_conductor("c1")
    wait_running(api, holder)

    browser.open(f"{api}/jobs/{waiter}")
    browser.wait(lambda: f"concurrency key node:page is held by job {holder}"
                 in browser.text("#explain-summary"), "the key's holder named")
    assert browser.text("#job-concurrency-keys") == "node:page"
    assert wait_finished(api, waiter) == "SUCCESS"
