"""The job page's "Resume revert" button, in headless Chromium, on the real stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.flows import ledger
from tests.functional.browser import Browser
from tests.functional.conftest import Deployment
from tests.functional.page.test_web_page import post_job, wait_finished

pytestmark = pytest.mark.functional




def test_a_failed_revert_is_resumed_from_the_job_page(
        deployment: Deployment, browser: Browser, tmp_path: Path) -> None:
    path, blocker = tmp_path / "ledger", tmp_path / "blocker"
    blocker.touch()
    deployment.start_conductor("c1")
    api = deployment.start_api()
    job_id = post_job(api, "revert-fails-until",
                      {"ledger_path": str(path), "blocker_path": str(blocker)})
    assert wait_finished(api, job_id) == "FAILED"
    succeeded = post_job(api, "slow-steps", {"ledger_path": str(tmp_path / "other"),
                                             "step_seconds": 0})
    assert wait_finished(api, succeeded) == "SUCCESS"

    browser.open(f"{api}/jobs/{succeeded}")
    browser.wait(lambda: browser.text("#job-state") == "SUCCESS", "the finished job")
    assert not browser.find_all("#resume-revert")  # nothing failed to revert

    browser.open(f"{api}/jobs/{job_id}")
    button = browser.wait(lambda: browser.find_all("#resume-revert"), "the button")[0]
    assert button.is_displayed() and button.text == "Resume revert"
    blocker.unlink()
    button.click()
    browser.wait(lambda: browser.text("#job-state") == "REVERTED",
                 "the resumed revert to end", timeout=60)
    assert not [b for b in browser.find_all("#resume-revert") if b.is_displayed()]
    reverts = [task for action, task, _pid in ledger.read(path) if action == "revert"]
    assert reverts == ["step-3", "step-2", "step-1"]
