"""The schedules page in headless Chromium: schedules with their next fire times,
each one's fire history linking to the jobs posted, pause, resume and delete.
"""

from __future__ import annotations

import httpx
import pytest

from tests.functional.browser import Browser
from tests.functional.conftest import Deployment

pytestmark = pytest.mark.functional


def create(api: str, name: str, cron: str) -> None:
    answer = httpx.post(f"{api}/v1/schedules", timeout=30, json={
        "name": name, "flow": "bench-1-task", "cron": cron})
    assert answer.status_code == 201, answer.text


def test_schedules_page_shows_fires_linking_to_jobs_and_pauses_resumes_deletes(
        deployment: Deployment, browser: Browser) -> None:
    deployment.add_config("[scheduler]\ninterval = 0.2\n")
    api = deployment.start_api()
    browser.open(f"{api}/schedules")
    browser.wait(lambda: browser.find("#no-schedules").is_displayed(), "no schedule yet")
    assert browser.attribute("#nav-schedules", "aria-current") == "page"

    create(api, "hourly", "0 * * * *")
    create(api, "every-second", "* * * * * *")
    deployment.start_conductor("c1")
    row = 'tr.schedule[data-schedule="every-second"]'
    browser.wait(lambda: browser.find_all(row), "the schedule listed")
    assert len(browser.find_all(f"{row} .next-fires li")) == 5
    assert browser.text(f"{row} .cron") == "* * * * * * (UTC)"

    # The first schedule by name is shown at first; the other's fires once named.
    browser.wait(lambda: browser.text("#history-name") == "every-second",
                 "the first schedule's history")
    browser.find('tr.schedule[data-schedule="hourly"] a.schedule-name').click()
    browser.wait(lambda: browser.text("#history-name") == "hourly", "hourly's history")
    assert browser.find("#no-fires").is_displayed()
    browser.find(f"{row} a.schedule-name").click()
    link = browser.wait(lambda: browser.find_all("tr.fire[data-outcome=posted] a.job-link"),
                        "a fire with its job")[0]
    job_id = link.get_attribute("data-job-id")
    assert job_id

    browser.find(f'{row} button[data-action="pause"]').click()
    browser.wait(lambda: browser.text(f"{row} .schedule-state") == "paused", "paused")
    assert browser.text(f"{row} td:nth-child(6)") == "none while paused"
    browser.find(f'{row} button[data-action="resume"]').click()
    browser.wait(lambda: browser.text(f"{row} .schedule-state") == "active", "resumed")

    browser.find('tr.schedule[data-schedule="hourly"] button[data-action="delete"]').click()
    assert "hourly" in browser.accept_alert("the confirmation")
    browser.wait(lambda: not browser.find_all('tr.schedule[data-schedule="hourly"]'),
                 "hourly deleted")
    assert httpx.get(f"{api}/v1/schedules/hourly", timeout=10).status_code == 404

    # A fire's job links to the job's page.
    browser.find(f'tr.fire a.job-link[data-job-id="{job_id}"]').click()
    browser.wait(lambda: browser.text("#job-id") == job_id, "the job's page")
