"""Operators type the start of a job id, as they do with git commits."""

from __future__ import annotations

from collections import defaultdict

import pytest

import jobs
import persistence
from orchestrator import Orchestrator
from orchestrator.errors import AmbiguousJobId, JobNotFound
from orchestrator.registry import FlowRegistry

pytestmark = pytest.mark.integration


def test_a_job_is_found_by_the_start_of_its_id_when_only_it_starts_so(
        database: persistence.Database, zk_hosts: str, jobboard_path: str) -> None:
    settings = jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)
    with Orchestrator(database, FlowRegistry.from_entry_points(), settings) as orch:
        # 17 ids: two of them share their first hex digit.
        ids = [orch.post("bench-1-task", {}).id for _ in range(17)]
        by_first: dict[str, list[str]] = defaultdict(list)
        for job_id in ids:
            by_first[job_id[0]].append(job_id)
        shared = next(group for group in by_first.values() if len(group) > 1)

        one = ids[0]
        assert orch.get_job(one[:8]).id == one
        assert orch.job_history(one[:8]).record.id == one
        assert orch.resolve_job_id(one) == one
        with pytest.raises(AmbiguousJobId) as ambiguous:
            orch.get_job(shared[0][0])
        assert shared[0] in str(ambiguous.value)
        with pytest.raises(JobNotFound):
            orch.get_job("zz")  # no id has a z
        with pytest.raises(JobNotFound):
            orch.get_job("%")  # LIKE's wildcards are only characters here
        assert orch.cancel(one[:8]).id == one
