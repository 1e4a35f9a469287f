"""Prometheus metrics of the API and of conductors, each on a registry of its own.

prometheus_client renders them; nothing here writes the exposition format.
What the database or the jobboard knows (jobs by state, the queue by
priority, the ZooKeeper session) is read when a scrape asks for it, by
collectors; what only a conductor sees happen (claims, attempts, task and
job durations) is counted as it happens, through hooks in the conductor, the
job runner and TaskFlow's notifier.

A registry per component, not the library's global one: two conductors in
one process (the tests run several) keep their counts apart, and the API
does not report a conductor's counters or the other way round.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from taskflow import states
from taskflow.types import notifier

import jobs
import persistence

LOG = logging.getLogger(__name__)

#: ZooKeeper session states, as the ``orchestrator_zookeeper_session_state`` metric names them.
SESSION_STATES = ("connected", "suspended", "lost")
_SESSION_STATE = {jobs.CONNECTED: "connected", jobs.SUSPENDED: "suspended",
                  jobs.LOST: "lost"}

# Orchestrated steps take from milliseconds (a database write) to an hour (a
# disk image copy); the client's default buckets stop at 10 s.
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800,
                3600, float("inf"))
JOB_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600,
               6 * 3600, 12 * 3600, float("inf"))

_TASK_ENDS = {states.SUCCESS: "success", states.FAILURE: "failure"}


class JobStateCollector(Collector):
    """``orchestrator_jobs{state}``: one ``GROUP BY`` on the job table per scrape.

    Every state is reported, 0 included, so that a series does not vanish
    when its last job leaves it. A database that does not answer leaves the
    family out of that scrape rather than failing the whole scrape.
    """

    def __init__(self, database: persistence.Database) -> None:
        self._db = database

    def describe(self) -> Iterator[Metric]:
        yield _jobs_family()

    def collect(self) -> Iterator[Metric]:
        try:
            with self._db.session() as session:
                counts = persistence.count_by_state(session)
        except persistence.PersistenceError as exc:
            LOG.warning("Metrics: cannot count jobs by state: %s", exc)
            return
        family = _jobs_family()
        for state in persistence.JobState:
            family.add_metric([state.value], counts.get(state, 0))
        yield family


def _jobs_family() -> GaugeMetricFamily:
    return GaugeMetricFamily("orchestrator_jobs", "Jobs by state, as the database records "
                             "them.", labels=["state"])


class SessionStateCollector(Collector):
    """``orchestrator_zookeeper_session_state``: 1 for the state the session is in."""

    def __init__(self, state: Callable[[], str]) -> None:
        self._state = state

    def describe(self) -> Iterator[Metric]:
        yield self._family("")

    def collect(self) -> Iterator[Metric]:
        yield self._family(self._state())

    @staticmethod
    def _family(current: str) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "orchestrator_zookeeper_session_state",
            "This process's ZooKeeper session: connected, suspended (the connection "
            "dropped; the session may yet survive) or lost (expired, or none could be "
            "opened). 1 for the current state, 0 for the others.", labels=["state"])
        for name in SESSION_STATES:
            family.add_metric([name], 1 if name == current else 0)
        return family


def session_state(state: str) -> str:
    """A jobboard session state (``jobs.CONNECTED``...) as the metric names it."""
    return _SESSION_STATE[state]


class QueueDepthCollector(Collector):
    """``orchestrator_queue_depth{priority}``: unclaimed jobs on the board, by priority.

    Read from the board's watch, which the conductor keeps anyway: no request
    to ZooKeeper per scrape.
    """

    def __init__(self, board: jobs.Board) -> None:
        self._board = board

    def describe(self) -> Iterator[Metric]:
        yield self._family()

    def collect(self) -> Iterator[Metric]:
        counts = dict.fromkeys(persistence.PRIORITIES, 0)
        for job in self._board.unclaimed():
            counts[job.priority] = counts.get(job.priority, 0) + 1
        family = self._family()
        for priority, count in counts.items():
            family.add_metric([priority], count)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily("orchestrator_queue_depth", "Jobs waiting on the jobboard "
                                 "that no conductor holds, by priority.",
                                 labels=["priority"])


class ConductorMetrics:
    """A conductor's metrics, its registry, and when its loop last went round."""

    def __init__(self, board: jobs.Board | None = None) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.claims = Counter("orchestrator_claims", "Jobs this conductor claimed (the "
                              "claim counted an attempt in the job's record).", ["flow"],
                              registry=registry)
        self.attempts = Counter("orchestrator_attempts", "Claimed jobs whose flow this "
                                "conductor started running.", ["flow"], registry=registry)
        self.takeovers = Counter("orchestrator_takeovers", "Claims of a job whose previous "
                                 "conductor was lost (killed, frozen, or its session "
                                 "expired) while running it.", ["flow"], registry=registry)
        self.quarantines = Counter("orchestrator_quarantines", "Jobs this conductor failed "
                                   "without running them again, their attempts having "
                                   "lost their conductor too often.", ["flow"],
                                   registry=registry)
        self.fenced_writes = Counter("orchestrator_fenced_writes_refused", "Runs that stopped "
                                     "because a write was refused: another conductor had "
                                     "taken the job over.", ["flow"], registry=registry)
        self.task_seconds = Histogram("orchestrator_task_duration_seconds", "Time a task's "
                                      "execute took, from RUNNING to SUCCESS or FAILURE.",
                                      ["flow", "task", "outcome"], buckets=TASK_BUCKETS,
                                      registry=registry)
        self.job_seconds = Histogram("orchestrator_job_duration_seconds", "Time one attempt "
                                     "at a job took, from its claim to the end of its run; "
                                     "outcome is what became of its posting: consume "
                                     "(finished), abandon (handed back) or drop (taken "
                                     "over).", ["flow", "outcome"], buckets=JOB_BUCKETS,
                                     registry=registry)
        self._beat = time.monotonic()
        self._session = "lost"
        if board is not None:
            self._session = session_state(
                jobs.CONNECTED if board.connected else jobs.SUSPENDED)
            board.add_state_listener(self._on_session)
            registry.register(SessionStateCollector(lambda: self._session))
            registry.register(QueueDepthCollector(board))

    def _on_session(self, state: str) -> None:
        self._session = session_state(state)

    @property
    def session(self) -> str:
        """The ZooKeeper session's state: connected, suspended or lost."""
        return self._session

    # hooks -----------------------------------------------------------------

    def beat(self) -> None:
        """The conductor's loop went round (what liveness looks at)."""
        self._beat = time.monotonic()

    def since_beat(self) -> float:
        """Seconds since the loop last went round."""
        return time.monotonic() - self._beat

    def claimed(self, flow: str, outcome: jobs.ClaimOutcome, asked_at: datetime) -> None:
        """Count what a claim in the database (asked at ``asked_at``) came to."""
        if isinstance(outcome, jobs.Claim):
            self.claims.labels(flow).inc()
            # Only a loss leaves lost_streak set: a run that ends hands the job
            # back (or finishes it) with the streak reset.
            if outcome.record.lost_streak > 0:
                self.takeovers.labels(flow).inc()
        elif isinstance(outcome, jobs.Finished):
            record = outcome.record
            # A job quarantined earlier whose posting is seen again is not counted twice.
            if record.quarantined and record.finished_at is not None \
                    and record.finished_at >= asked_at:
                self.quarantines.labels(flow).inc()

    def attempt_timer(self, flow: str) -> Callable[[futures.Future[Any]], None]:
        """A callback for the run's future: it observes the attempt's duration."""
        started = time.monotonic()

        def done(future: futures.Future[Any]) -> None:
            try:
                action = future.result()
                outcome = str(getattr(action, "value", action))
            except BaseException:  # noqa: BLE001 - the conductor reports the error
                outcome = "error"
            self.job_seconds.labels(flow, outcome).observe(time.monotonic() - started)

        return done

    def run_started(self, engine: Any, flow: str) -> None:
        """Count the attempt and time each task the engine runs, through its notifier."""
        self.attempts.labels(flow).inc()
        started: dict[str, float] = {}
        lock = threading.Lock()

        def on_task(state: str, details: dict[str, Any]) -> None:
            name = details.get("task_name")
            if name is None:
                return
            with lock:
                if state == states.RUNNING:
                    started[name] = time.monotonic()
                    return
                began = started.pop(name, None) if state in _TASK_ENDS else None
            if began is not None:
                self.task_seconds.labels(flow, name, _TASK_ENDS[state]).observe(
                    time.monotonic() - began)

        engine.atom_notifier.register(notifier.Notifier.ANY, on_task)

    def fenced_write_refused(self, flow: str) -> None:
        self.fenced_writes.labels(flow).inc()
