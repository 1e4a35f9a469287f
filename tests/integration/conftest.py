"""Fixtures and helpers of the integration tier: real ZooKeeper and databases, in-process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

import jobs
import persistence
from orchestrator.conductor import Conductor, ConductorSettings
from orchestrator.registry import FlowRegistry
from tests.helpers import wait_for


@pytest.fixture
def database(db_url: str) -> Iterator[persistence.Database]:
    """A migrated database of each backend in turn."""
    db = persistence.Database(db_url)
    db.upgrade()
    yield db
    db.close()


def run_conductor_until(database: persistence.Database,
                        board_settings: jobs.JobboardSettings, registry: FlowRegistry,
                        until: Callable[[], object], *, name: str = "integration",
                        message: str = "the conductor to finish the job",
                        max_simultaneous_jobs: int = 4) -> None:
    """Run a Conductor in a thread until ``until()`` is truthy (60 s at most)."""
    settings = ConductorSettings(name=name, poll_interval=0.05,
                                 max_simultaneous_jobs=max_simultaneous_jobs)
    with jobs.open_jobboard(board_settings, settings.name) as board:
        conductor = Conductor(settings, board, database, registry)
        runner = threading.Thread(target=conductor.run, daemon=True)
        runner.start()
        try:
            wait_for(until, timeout=60, message=message)
        finally:
            conductor.stop()
            runner.join(timeout=30)
