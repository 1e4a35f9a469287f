"""A store key no task reads is most often a typo: said at post time, refused on demand."""

from __future__ import annotations

import pytest

import jobs
import persistence
from orchestrator import Orchestrator
from orchestrator.errors import InvalidStore
from orchestrator.registry import FlowRegistry

pytestmark = pytest.mark.integration


def test_unused_store_keys_are_named_and_refused_when_strict(
        database: persistence.Database, zk_hosts: str, jobboard_path: str) -> None:
    settings = jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)
    with Orchestrator(database, FlowRegistry.from_entry_points(), settings) as orch:
        store = {"ledger_path": "/tmp/ledger", "step_seconds": 0.1,  # optional, read
                 "step_secnods": 5}  # a typo
        posted = orch.submit("slow-steps", store)
        assert posted.unused_keys == ("step_secnods",)
        assert orch.submit("slow-steps", {"ledger_path": "/x"}).unused_keys == ()
        document = {"name": "doc-echo", "steps": [
            {"name": "echo", "command": "demo.echo", "params": {"ok": True}}]}
        assert orch.submit(None, {"extra": 1}, document=document).unused_keys == ("extra",)
        before = len(orch.list_jobs())
        with pytest.raises(InvalidStore, match="step_secnods"):
            orch.submit("slow-steps", store, strict=True)
        assert len(orch.list_jobs()) == before  # nothing written
