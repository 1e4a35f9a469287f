"""Everything one benchmark run measured, and the medians the report and targets read."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bench.idle import IdleResult
from bench.posting import PostResult
from bench.sqlcount import Counts
from bench.workload import FLOW_TASKS, OURS, STOCK, TABLES_ONCE, Case, RunResult

SYSTEM_ORDER = (OURS, TABLES_ONCE, STOCK)


def median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile (0 < fraction <= 1)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * fraction)) - 1]


@dataclass
class Findings:
    results: list[RunResult] = field(default_factory=list)
    # (backend, flow) -> system -> counts per job
    sql: dict[tuple[str, str], dict[str, Counts]] = field(default_factory=dict)
    posts: dict[tuple[str, str], PostResult] = field(default_factory=dict)  # (backend, system)
    zookeeper_create: list[float] = field(default_factory=list)  # seconds, bare creates
    engine_alone: dict[str, list[float]] = field(default_factory=dict)  # flow -> CPU ms/run
    idle: list[IdleResult] = field(default_factory=list)
    sqlite_settings: dict[str, str] = field(default_factory=dict)  # system -> pragmas
    failures: list[str] = field(default_factory=list)

    # throughput runs ----------------------------------------------------------

    def cases(self) -> list[Case]:
        seen: dict[Case, None] = {}
        for result in self.results:
            seen.setdefault(result.case, None)
        return list(seen)

    def runs(self, case: Case, system: str) -> list[RunResult]:
        return [r for r in self.results if r.case == case and r.system == system]

    def jobs_per_s(self, case: Case, system: str) -> float | None:
        return median(r.jobs_per_s for r in self.runs(case, system) if r.ok)

    def cpu_ms_per_job(self, case: Case, system: str) -> float | None:
        return median(r.cpu_ms_per_job for r in self.runs(case, system) if r.ok)

    def engine_ms(self, flow: str) -> float | None:
        return median(self.engine_alone.get(flow, []))

    def post_ms_under_load(self, backend: str, system: str) -> float | None:
        samples = [s for r in self.results if r.case.backend == backend and r.system == system
                   for s in r.post_latencies]
        return statistics.median(samples) * 1000 if samples else None

    # SQL ----------------------------------------------------------------------

    def sql_per_task(self, backend: str, flow: str, system: str) -> Counts | None:
        """Counts per task: per job divided by the flow's tasks (per job for 1 task)."""
        counts = self.sql.get((backend, flow), {}).get(system)
        return None if counts is None else counts / FLOW_TASKS[flow]

    # posting ------------------------------------------------------------------

    def post_latency_ms(self, backend: str, system: str) -> tuple[float | None, float | None]:
        """Median and 90th percentile of the quiet posts, in milliseconds."""
        result = self.posts.get((backend, system))
        if result is None or not result.latencies:
            return None, None
        p90 = percentile(result.latencies, 0.9)
        return (statistics.median(result.latencies) * 1000,
                None if p90 is None else p90 * 1000)

    def zookeeper_create_ms(self) -> float | None:
        """Median of the bare ZooKeeper creates, in milliseconds."""
        found = median(self.zookeeper_create)
        return None if found is None else found * 1000

    def post_counts(self, backend: str, system: str) -> Counts | None:
        result = self.posts.get((backend, system))
        if result is None or not result.counts:
            return None
        n = len(result.counts)
        return Counts(*(sum(getattr(c, f) for c in result.counts) / n
                        for f in ("statements", "transactions", "connections", "pings",
                                  "pragmas")))

    # idle ZooKeeper -----------------------------------------------------------

    def idle_rates(self) -> Mapping[str, dict[int, IdleResult]]:
        table: dict[str, dict[int, IdleResult]] = {}
        for result in self.idle:
            table.setdefault(result.variant.label, {})[result.jobs] = result
        return table
