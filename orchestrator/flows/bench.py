"""Minimal flows for throughput benchmarks: the cost measured is the orchestrator's."""

from __future__ import annotations

from taskflow import task
from taskflow.patterns import linear_flow


class Noop(task.Task):
    def execute(self) -> int:
        return 1


def _flow(name: str, tasks: int) -> linear_flow.Flow:
    return linear_flow.Flow(name).add(*(Noop(f"noop-{i}") for i in range(1, tasks + 1)))


def one_task() -> linear_flow.Flow:
    """One task that does nothing (benchmarks)."""
    return _flow("bench-1-task", 1)


def ten_tasks() -> linear_flow.Flow:
    """Ten tasks that do nothing (benchmarks)."""
    return _flow("bench-10-tasks", 10)
