"""A running conductor picks up flows added or installed after it started:
on SIGHUP, and by itself when a job names a flow it lacks. Meanwhile the job
waits; it is never failed for it."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import yaml

from tests.functional.conftest import Deployment
from tests.helpers import wait_for

pytestmark = pytest.mark.functional

FLOW_MODULE = '''
from taskflow import task
from taskflow.patterns import linear_flow


class Hello(task.Task):
    def execute(self):
        return "hello from a package installed late"


def make_flow():
    return linear_flow.Flow("late-python").add(Hello("hello"))
'''


def echo_document(name: str) -> str:
    return yaml.safe_dump({"name": name, "description": "Say it worked.", "inputs": [],
                           "steps": [{"name": "say", "command": "demo.echo",
                                      "params": {"ok": True}}]})


def install_flow_package(site: Path) -> None:
    """What 'pip install' of a package with a flow entry point leaves on disk."""
    (site / "late_flows.py").write_text(FLOW_MODULE)
    info = site / "late_flows-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: late-flows\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[orchestrator.flows]\nlate-python = late_flows:make_flow\n")


def post_and_wait(dep: Deployment, flow: str) -> dict[str, object]:
    result = dep.run("post", flow, "--wait", "--json", "--timeout", "90", timeout=150)
    assert result.returncode == 0, result.stdout + result.stderr
    job = json.loads(result.stdout)
    assert isinstance(job, dict)
    return job


def test_new_flows_run_without_a_restart(deployment: Deployment, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    dep = deployment
    directory, site = tmp_path / "flows", tmp_path / "site"
    directory.mkdir()
    site.mkdir()
    dep.add_config(f"[flows]\ndirectory = {directory}\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]))
    conductor = dep.start_conductor("reloading")
    wait_for(lambda: "serving" in dep.conductor_log("reloading"), timeout=60,
             message="the conductor to start")

    (directory / "hello.yaml").write_text(echo_document("hello"))
    conductor.send_signal(signal.SIGHUP)
    wait_for(lambda: "added hello" in dep.conductor_log("reloading"), timeout=30,
             message="the conductor to reload on SIGHUP")
    assert post_and_wait(dep, "hello")["state"] == "SUCCESS"

    install_flow_package(site)
    conductor.send_signal(signal.SIGHUP)
    wait_for(lambda: "added late-python" in dep.conductor_log("reloading"), timeout=30,
             message="the conductor to load the installed flow")
    job = post_and_wait(dep, "late-python")
    assert job["state"] == "SUCCESS"
    assert job["tasks"][0]["result"] == "hello from a package installed late"

    # No signal this time: the job waits until the conductor looks by itself.
    (directory / "later.yaml").write_text(echo_document("later"))
    job = post_and_wait(dep, "later")
    assert (job["state"], job["attempts"]) == ("SUCCESS", 1)
    assert conductor.poll() is None  # SIGHUP reloads; it does not stop the conductor
