"""The job page's "Undo (revert)" button, in headless Chromium, on the real stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.flows import ledger
from tests.functional.browser import Browser
from tests.functional.conftest import Deployment
from tests.functional.page.test_web_page import job_state, post_job, wait_finished

pytestmark = pytest.mark.functional

# Records the URL of every POST the page makes from now on (until it reloads).
RECORD_POSTS = """
window.postedTo = [];
const original = window.fetch;
window.fetch = (url, init) => {
  if (init && init.method === "POST") window.postedTo.push(String(url));
  return original(url, init);
};
"""


def test_a_finished_job_is_undone_from_its_page(
        deployment: Deployment, browser: Browser, tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    deployment.start_conductor("c1")
    api = deployment.start_api()
    job_id = post_job(api, "slow-steps", {"ledger_path": str(path), "step_seconds": 0})
    assert wait_finished(api, job_id) == "SUCCESS"
    # SUCCESS too, but its flow does not declare itself revertible after success.
    other = post_job(api, "provision-parallel", {"node_name": "node-1"})
    assert wait_finished(api, other) == "SUCCESS"

    browser.open(f"{api}/jobs/{other}")
    browser.wait(lambda: browser.text("#job-state") == "SUCCESS", "the other finished job")
    assert not [b for b in browser.find_all("#undo") if b.is_displayed()]

    browser.open(f"{api}/jobs/{job_id}")
    button = browser.wait(lambda: browser.find_all("#undo"), "the button")[0]
    assert button.is_displayed() and button.text == "Undo (revert)"

    # Cancel in the confirmation: nothing is posted. The click handler reaches its
    # POST, if at all, before the next script runs, so reading the record is safe.
    browser.driver.execute_script(RECORD_POSTS)
    button.click()
    assert browser.dismiss_alert("the confirmation") == f"Revert every step of job {job_id}?"
    assert browser.driver.execute_script("return window.postedTo") == []
    assert button.is_enabled() and not browser.find("#retry-error").is_displayed()
    assert job_state(api, job_id) == "SUCCESS"

    button.click()
    assert job_id in browser.accept_alert("the confirmation")
    browser.wait(lambda: browser.text("#job-state") == "REVERTED",
                 "the undo to end", timeout=60)
    assert not [b for b in browser.find_all("#undo") if b.is_displayed()]
    assert not browser.find("#retry-error").is_displayed()
    assert "undone at the request of web page" in browser.text("#job-last-error")
    reverts = [task for action, task, _pid in ledger.read(path) if action == "revert"]
    assert reverts == ["step-4", "step-3", "step-2", "step-1"]
