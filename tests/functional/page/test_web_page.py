"""The web page in headless Chromium, against the real stack.

ZooKeeper, an SQLite database, a conductor and ``orchestrator api`` run as in
production; the browser loads the page the API serves and reads what it shows.
The page's own behaviour does not depend on the database, so only SQLite runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.functional.browser import Browser
from tests.functional.conftest import Deployment
from tests.helpers import wait_for

pytestmark = pytest.mark.functional

TERMINAL = {"SUCCESS", "REVERTED", "FAILED"}
SLOW_STEPS = ["step-1", "step-2", "step-3", "step-4", "final-check"]
DURATION = re.compile(r"^execute (\d+\.\d\d s|\d+ ms)$")




def post_job(api: str, flow: str, store: dict[str, Any], token: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(f"{api}/v1/jobs", json={"flow": flow, "store": store},
                          headers=headers, timeout=30)
    assert response.status_code == 201, response.text
    job_id: str = response.json()["id"]
    return job_id


def job_state(api: str, job_id: str) -> str:
    response = httpx.get(f"{api}/v1/jobs/{job_id}", timeout=10)
    assert response.status_code == 200, response.text
    state: str = response.json()["state"]
    return state


def wait_finished(api: str, job_id: str) -> str:
    def final_state() -> str | None:
        state = job_state(api, job_id)
        return state if state in TERMINAL else None

    state = wait_for(final_state, timeout=60, interval=0.1, message=f"job {job_id} to finish")
    assert state is not None
    return state


def slow_steps(tmp_path: Path, name: str, *, step_seconds: float,
               fail_at_end: bool = False) -> dict[str, Any]:
    return {"ledger_path": str(tmp_path / f"{name}.ledger"), "step_seconds": step_seconds,
            "fail_at_end": fail_at_end}


def listed_jobs(browser: Browser) -> dict[str, str]:
    """Job id -> state, for the rows the list shows now (read in one go)."""
    rows: list[list[str]] = browser.driver.execute_script(
        "return [...document.querySelectorAll('#job-rows tr.job')]"
        ".map(r => [r.dataset.jobId, r.dataset.state]);")
    return dict((job_id, state) for job_id, state in rows)


def page_shows(browser: Browser, expected: set[str], url_part: str) -> bool:
    return set(listed_jobs(browser)) == expected and url_part in browser.driver.current_url


def test_job_list_filters_by_state_and_flow_and_links_to_the_job(
        deployment: Deployment, browser: Browser, tmp_path: Path) -> None:
    deployment.start_conductor("c1")
    api = deployment.start_api()
    succeeded = post_job(api, "slow-steps", slow_steps(tmp_path, "ok", step_seconds=0.01))
    reverted = post_job(api, "slow-steps",
                        slow_steps(tmp_path, "ko", step_seconds=0.01, fail_at_end=True))
    calls = post_job(api, "phone-calls",
                     {"jim_number": "1", "joe_number": "2", "jmilkfan_number": "3"})
    assert wait_finished(api, succeeded) == "SUCCESS"
    assert wait_finished(api, reverted) == "REVERTED"
    assert wait_finished(api, calls) == "REVERTED"

    browser.open(f"{api}/")
    browser.wait(lambda: listed_jobs(browser) == {
        succeeded: "SUCCESS", reverted: "REVERTED", calls: "REVERTED"}, "all three jobs")
    ids = browser.driver.execute_script(
        "return [...document.querySelectorAll('#job-rows tr.job')].map(r => r.dataset.jobId);")
    assert ids == [calls, reverted, succeeded]  # newest first
    row = browser.find(f'tr.job[data-job-id="{reverted}"]')
    assert "final check failed" in row.find_element("css selector", ".last-error").text

    # Pages follow next_marker.
    browser.open(f"{api}/?limit=2")
    browser.wait(lambda: set(listed_jobs(browser)) == {calls, reverted}, "the first page")
    browser.find("#next-page").click()
    browser.wait(lambda: page_shows(browser, {succeeded}, "marker="), "the second page")
    browser.wait(lambda: not browser.find("#next-page").is_displayed(), "the last page")
    browser.find("#first-page").click()
    browser.wait(lambda: set(listed_jobs(browser)) == {calls, reverted}, "the first page again")

    browser.open(f"{api}/")
    browser.wait(lambda: len(listed_jobs(browser)) == 3, "all three jobs")
    browser.find("#state-success").click()
    browser.wait(lambda: page_shows(browser, {succeeded}, "state=SUCCESS"), "SUCCESS only")

    browser.find("#state-success").click()
    browser.find("#state-reverted").click()
    browser.wait(lambda: page_shows(browser, {reverted, calls}, "state=REVERTED"),
                 "REVERTED only")

    flow = browser.find("#flow-filter")
    flow.send_keys("phone-calls")
    browser.find("#apply-filters").click()
    browser.wait(lambda: page_shows(browser, {calls}, "flow=phone-calls"),
                 "REVERTED phone-calls only")

    # The filters are in the URL: the same view loads from a link.
    browser.open(f"{api}/?state=SUCCESS&state=REVERTED&flow=slow-steps")
    browser.wait(lambda: set(listed_jobs(browser)) == {succeeded, reverted}, "a linked view")
    assert browser.find("#state-success").is_selected()
    assert browser.find("#state-reverted").is_selected()
    assert not browser.find("#state-running").is_selected()
    assert browser.find("#flow-filter").get_attribute("value") == "slow-steps"

    browser.find(f'a.job-link[data-job-id="{reverted}"]').click()
    browser.wait(lambda: browser.driver.current_url == f"{api}/jobs/{reverted}", "the job page")
    browser.wait(lambda: browser.text("#job-state") == "REVERTED", "the job's state")
    assert browser.text("#job-id") == reverted
    assert browser.text("#job-flow") == "slow-steps"


def test_job_page_follows_a_running_job_until_it_succeeds(
        deployment: Deployment, browser: Browser, tmp_path: Path) -> None:
    api = deployment.start_api()
    store = {**slow_steps(tmp_path, "run", step_seconds=0.5), "note": "<b>not bold</b>"}
    job_id = post_job(api, "slow-steps", store)

    browser.open(f"{api}/jobs/{job_id}")
    browser.wait(lambda: browser.text("#job-state") == "POSTED", "the POSTED job")
    assert browser.find("#cancel").is_displayed()
    assert browser.find("#no-tasks").is_displayed()
    # Survives only as long as the page is not reloaded.
    browser.driver.execute_script("window.notReloaded = true;")

    deployment.start_conductor("c1")
    # One snapshot of the page, so the checks agree with each other.
    snapshot = browser.wait(lambda: browser.driver.execute_script("""
        const row = (name) => document.querySelector(`.task[data-task="${name}"]`);
        const last = row("final-check");
        if (document.querySelector("#job-state").dataset.state !== "RUNNING" || !last
            || !document.querySelector(".task .span-execute")) return null;
        return {last: last.dataset.state, lastSpans: last.querySelectorAll(".span").length,
                lastText: last.textContent,
                refreshing: document.body.dataset.refreshing};
    """), "the page to show the job RUNNING", timeout=60)
    assert snapshot["last"] == "PENDING"
    assert snapshot["lastSpans"] == 0
    assert "not run" in snapshot["lastText"]
    assert snapshot["refreshing"] == "true"

    browser.wait(lambda: browser.text("#job-state") == "SUCCESS", "SUCCESS", timeout=60)
    assert browser.driver.execute_script("return window.notReloaded === true;")
    browser.wait(lambda: browser.attribute("body", "data-refreshing") == "false",
                 "refreshing to stop")
    assert not browser.find("#cancel").is_displayed()

    rows = browser.find_all(".timeline .task")
    assert [r.get_attribute("data-task") for r in rows] == SLOW_STEPS
    for row in rows:
        name = row.get_attribute("data-task")
        assert row.get_attribute("data-state") == "SUCCESS", name
        spans = row.find_elements("css selector", ".span")
        assert [s.get_attribute("data-kind") for s in spans] == ["execute"], name
        assert "failed" not in (spans[0].get_attribute("class") or ""), name
        seconds = float(spans[0].get_attribute("data-duration") or "nan")
        label = row.find_element("css selector", ".duration-execute").text
        assert DURATION.match(label), label
        if name != "final-check":
            assert 0.45 <= seconds < 10, (name, seconds)  # each step sleeps 0.5 s
    assert browser.find("#failures-section").is_displayed() is False
    assert '"step-1": "step-1 done"' in browser.text("#results")
    # Job data is text, never markup.
    assert "<b>not bold</b>" in browser.text("#store")
    assert browser.find_all("#store b") == []


def test_job_page_shows_reverts_and_the_failures_traceback(
        deployment: Deployment, browser: Browser, tmp_path: Path) -> None:
    deployment.start_conductor("c1")
    api = deployment.start_api()
    job_id = post_job(api, "slow-steps",
                      slow_steps(tmp_path, "ko", step_seconds=0.01, fail_at_end=True))
    assert wait_finished(api, job_id) == "REVERTED"

    browser.open(f"{api}/jobs/{job_id}")
    browser.wait(lambda: browser.text("#job-state") == "REVERTED", "the REVERTED job")
    assert browser.attribute("body", "data-refreshing") == "false"
    assert not browser.find("#cancel").is_displayed()
    assert "final check failed" in browser.text("#job-last-error")

    for name in SLOW_STEPS:
        row = browser.find(f'.task[data-task="{name}"]')
        assert row.get_attribute("data-state") == "REVERTED", name
        assert row.find_elements("css selector", ".span-execute"), name
        assert row.find_elements("css selector", ".span-revert"), name
        assert "revert " in row.find_element("css selector", ".duration-revert").text
    failed = browser.find('.task[data-task="final-check"] .span-execute')
    assert "failed" in (failed.get_attribute("class") or "")

    failure = browser.find('.failure[data-task="final-check"][data-kind="execute"]')
    assert "RuntimeError" in failure.find_element("css selector", ".failure-type").text
    assert "final check failed" in failure.find_element(
        "css selector", ".failure-message").text
    traceback = failure.find_element("css selector", "pre.traceback")
    assert traceback.is_displayed()  # the first failure's traceback starts open
    assert "Traceback (most recent call last)" in traceback.text
    assert "final check failed" in traceback.text


def test_cancelling_a_posted_job_from_its_page(
        deployment: Deployment, browser: Browser, tmp_path: Path) -> None:
    api = deployment.start_api()
    job_id = post_job(api, "slow-steps", slow_steps(tmp_path, "cancel", step_seconds=0.01))

    browser.open(f"{api}/jobs/{job_id}")
    browser.wait(lambda: browser.text("#job-state") == "POSTED", "the POSTED job")
    browser.find("#cancel").click()
    assert job_id in browser.accept_alert("the confirmation")
    # No conductor ever started it: it is reverted at once.
    browser.wait(lambda: browser.text("#job-state") == "REVERTED", "the cancelled job")
    browser.wait(lambda: not browser.find("#cancel").is_displayed(), "the button to go")
    assert not browser.find("#cancel-error").is_displayed()
    assert browser.text("#job-cancel-requested") != "—"


def test_api_errors_are_shown(deployment: Deployment, browser: Browser) -> None:
    api = deployment.start_api()
    browser.open(f"{api}/jobs/no-such-job")
    browser.wait(lambda: browser.find("#error").is_displayed(), "the error")
    error = browser.find("#error")
    assert "HTTP 404" in error.text
    assert error.get_attribute("data-code") == "job_not_found"


def test_the_page_asks_for_the_token_of_a_protected_api(
        deployment: Deployment, browser: Browser, tmp_path: Path) -> None:
    token = "s3cret-web-token"
    api = deployment.start_api(token=token)
    job_id = post_job(api, "slow-steps", slow_steps(tmp_path, "auth", step_seconds=0.01),
                      token=token)

    browser.open(f"{api}/")
    browser.wait(lambda: browser.find("#auth-form").is_displayed(), "the token form")
    assert listed_jobs(browser) == {}
    browser.find("#auth-token").send_keys("wrong-token")
    browser.find("#auth-submit").click()
    browser.wait(lambda: "refused" in browser.find("#auth-message").text,
                 "the wrong token to be refused")
    assert browser.find("#auth-form").is_displayed()

    browser.find("#auth-token").send_keys(token)
    browser.find("#auth-submit").click()
    browser.wait(lambda: set(listed_jobs(browser)) == {job_id}, "the job, once signed in")
    assert not browser.find("#auth-form").is_displayed()

    # The token is kept for the tab: the job page does not ask again.
    browser.find(f'a.job-link[data-job-id="{job_id}"]').click()
    browser.wait(lambda: browser.text("#job-state") == "POSTED", "the job page")
    assert not browser.find_all("#auth-form") or not browser.find(
        "#auth-form").is_displayed()
