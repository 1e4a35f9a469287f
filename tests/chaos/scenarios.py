"""Chaos scenarios: real conductor processes on a real ZooKeeper and database, broken on purpose.

Each scenario starts conductors as separate processes (``orchestrator conductor``),
posts ``chaos-steps`` jobs whose steps record every side effect in a ledger, breaks
something (kill -9, SIGSTOP past the session, a service stopped, a leader killed),
and returns what matters to a user, counted from the ledger and the job records:
jobs lost, completed steps run again, writes and task starts by a stale owner,
takeover times. The chaos tests assert on these with small workloads; ``bench/chaos.py``
prints them for large ones.
"""

from __future__ import annotations

import contextlib
import logging
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from kazoo.client import KazooClient

import jobs
import persistence
from jobs.board import JOB_PREFIX, LOCK_SUFFIX
from orchestrator import Orchestrator
from orchestrator.registry import FlowRegistry
from tests.chaos.harness import LedgerEntry, Supervisor, overlapping_holders, read_ledger

LOG = logging.getLogger(__name__)

FLOW = "chaos-steps"
STEPS = [f"step-{i}" for i in range(1, 6)]
FINISHED = {"SUCCESS", "REVERTED", "FAILED"}
OBSERVE_INTERVAL = 0.05


@dataclass(frozen=True)
class Cluster:
    """A deployment of conductor processes: one config, one board path, one ledger."""

    work_dir: Path
    db_url: str
    zk_hosts: str
    session_timeout: float = 2.0
    max_attempts: int = 5
    retry_delay: float = 1.0
    max_jobs: int = 4
    board_path: str = field(default_factory=lambda: f"/chaos-{uuid4().hex[:10]}/jobs")

    @property
    def ledger(self) -> Path:
        return self.work_dir / "ledger"

    @property
    def config(self) -> Path:
        return self.work_dir / "orchestrator.conf"

    def write_config(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            "[DEFAULT]\n"
            f"state_path = {self.work_dir / 'state'}\n"
            "[jobboard]\n"
            f"hosts = {self.zk_hosts}\n"
            f"path = {self.board_path}\n"
            f"session_timeout = {self.session_timeout}\n"
            "[database]\n"
            f"connection = {self.db_url}\n"
            # Otherwise the defaults: takeover is measured as users get it.
            "[conductor]\n"
            f"max_attempts = {self.max_attempts}\n"
            f"retry_delay = {self.retry_delay}\n"
            f"max_simultaneous_jobs = {self.max_jobs}\n"
        )

    def conductor_argv(self, name: str) -> list[str]:
        """``orchestrator conductor`` under ``name``; on PostgreSQL its connections
        carry the name, so the audit trigger can tell whose write it was."""
        args = [sys.executable, "-m", "orchestrator.cli.main", "--config-file",
                str(self.config)]
        if self.db_url.startswith("postgresql"):
            extra = self.work_dir / f"conductor-{name}.conf"
            extra.write_text("[database]\n"
                             f"connection = {self.db_url}?application_name={name}\n")
            args += ["--config-file", str(extra)]
        return [*args, "-v", "conductor", "--name", name]

    def supervisor(self, names: list[str]) -> Supervisor:
        self.write_config()
        return Supervisor({name: self.conductor_argv(name) for name in names},
                          self.work_dir / "logs")

    @contextlib.contextmanager
    def orchestrator(self) -> Iterator[Orchestrator]:
        db = persistence.Database(self.db_url)
        settings = jobs.JobboardSettings(hosts=tuple(self.zk_hosts.split(",")),
                                         path=self.board_path,
                                         session_timeout=self.session_timeout)
        with Orchestrator(db, FlowRegistry.from_entry_points(), settings,
                          client_name="chaos-poster", close_database=True) as orch:
            yield orch


def prepare_database(db_url: str) -> None:
    db = persistence.Database(db_url)
    try:
        db.upgrade()
    finally:
        db.close()


def post_jobs(orch: Orchestrator, ledger: Path, count: int, *, step_seconds: float,
              prefix: str = "j", crash_at: str | None = None,
              key_of: Callable[[str], str | None] = lambda _job: None) -> dict[str, str]:
    """Post ``count`` chaos-steps jobs, each with the concurrency key ``key_of``
    gives its job key (None: none); return {job key: job id}."""
    posted = {}
    for index in range(count):
        key = f"{prefix}{index}"
        store: dict[str, Any] = {"ledger_path": str(ledger), "job_key": key,
                                 "step_seconds": step_seconds}
        if crash_at is not None:
            store["crash_at"] = crash_at
        concurrency_key = key_of(key)
        posted[key] = orch.post(FLOW, store, concurrency_keys=(
            [concurrency_key] if concurrency_key else [])).id
    return posted


# -- watching the job records ---------------------------------------------------


@dataclass(frozen=True)
class Seen:
    at: float
    state: str
    attempts: int
    owner: str | None


class Observer:
    """Polls the job table every 50 ms and keeps each job's changes, with times.

    It keeps polling through a database outage (those polls just fail).
    """

    def __init__(self, db_url: str, job_ids: list[str]) -> None:
        self._db = persistence.Database(db_url)
        self._ids = list(job_ids)
        self.history: dict[str, list[Seen]] = {job_id: [] for job_id in job_ids}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="observer")

    def __enter__(self) -> Observer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._db.close()

    def _run(self) -> None:
        table = persistence.JOBS
        stmt = sa.select(table.c.id, table.c.state, table.c.attempts, table.c.owner).where(
            table.c.id.in_(self._ids))
        while not self._stop.wait(OBSERVE_INTERVAL):
            try:
                with self._db.session() as session:
                    rows = session.execute(stmt).all()
            except persistence.PersistenceError:
                continue
            now = time.time()
            with self._lock:
                for job_id, state, attempts, owner in rows:
                    seen = self.history[job_id]
                    if not seen or (seen[-1].state, seen[-1].attempts, seen[-1].owner) != (
                            state, attempts, owner):
                        seen.append(Seen(now, state, attempts, owner))

    def latest(self) -> dict[str, Seen]:
        with self._lock:
            return {job_id: seen[-1] for job_id, seen in self.history.items() if seen}

    def states(self) -> dict[str, str]:
        return {job_id: seen.state for job_id, seen in self.latest().items()}

    def wait_finished(self, timeout: float, check: Callable[[], None] | None = None) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = self.states()
            if len(states) == len(self._ids) and set(states.values()) <= FINISHED:
                return True
            if check is not None:
                check()
            self._stop.wait(0.2)
        return False

    def takeovers(self, kills: list[tuple[float, str]]) -> list[float]:
        """Seconds from each kill to the next claim of each job it interrupted."""
        found = []
        with self._lock:
            history = {job_id: list(seen) for job_id, seen in self.history.items()}
        for killed_at, name in kills:
            for seen in history.values():
                before = [s for s in seen if s.at <= killed_at]
                if not before or before[-1].state != "RUNNING" or before[-1].owner != name:
                    continue
                claims = [s for s in seen if s.at > killed_at
                          and s.attempts > before[-1].attempts]
                if claims:
                    found.append(claims[0].at - killed_at)
        return found

    def records(self) -> dict[str, persistence.JobRecord]:
        with self._db.session() as session:
            return {job_id: record for job_id in self._ids
                    if (record := persistence.get_job(session, job_id)) is not None}


# -- reading the ledger ---------------------------------------------------------


@dataclass
class LedgerReport:
    """What the ledger says happened to each job's steps."""

    #: (job, step) pairs that started again after the step had completed and
    #: the flow had moved on: side effects repeated, which must never happen.
    completed_reruns: list[tuple[str, str]] = field(default_factory=list)
    #: Extra starts per job: re-runs of a step that was interrupted.
    extra_starts: dict[str, int] = field(default_factory=dict)
    starts: int = 0


def analyse_ledger(entries: list[LedgerEntry]) -> LedgerReport:
    """Count re-runs in a ledger of linear five-step jobs.

    A step counts as completed once the next step has started: TaskFlow saves
    a step's result before it schedules the next, so from then on a resumed run
    must skip it. A step started again before that point was interrupted
    (its result never saved) and may run again, once per interruption.
    """
    report = LedgerReport()
    by_job: dict[str, list[LedgerEntry]] = {}
    for entry in entries:
        if entry.job is not None:
            by_job.setdefault(entry.job, []).append(entry)
    for job, seen in by_job.items():
        completed: set[str] = set()
        started: dict[str, int] = {}
        for entry in seen:
            if entry.action != "start":
                continue
            report.starts += 1
            index = STEPS.index(entry.task)
            if entry.task in completed:
                report.completed_reruns.append((job, entry.task))
            if index > 0:
                completed.add(STEPS[index - 1])
            started[entry.task] = started.get(entry.task, 0) + 1
        report.extra_starts[job] = sum(n - 1 for n in started.values())
    return report


# -- (a) kill -9 in a loop ------------------------------------------------------


@dataclass
class KillLoopResult:
    jobs: int
    states: dict[str, int]
    lost: int
    completed_reruns: int
    over_budget: list[str]
    kills: int
    takeovers: list[float]
    elapsed: float
    #: Jobs sharing a concurrency key that the ledger saw at work at once.
    key_overlaps: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def takeover_median(self) -> float | None:
        return statistics.median(self.takeovers) if self.takeovers else None


def kill_loop(cluster: Cluster, *, jobs_count: int, conductors: int = 3,
              kill_every: float = 4.0, step_seconds: float = 0.2, seed: int = 1,
              timeout: float = 600.0, keys: int = 0) -> KillLoopResult:
    """Jobs on N conductors, one killed -9 every ``kill_every`` s and restarted.

    With ``keys``, job i carries the concurrency key ``node:<i mod keys>``
    (limit 1), and the ledger is checked for two holders of a key at once.
    """
    prepare_database(cluster.db_url)
    names = [f"c{i}" for i in range(1, conductors + 1)]
    rng = random.Random(seed)
    kills: list[tuple[float, str]] = []
    started = time.monotonic()
    with cluster.supervisor(names) as supervisor, cluster.orchestrator() as orch:
        posted = post_jobs(orch, cluster.ledger, jobs_count, step_seconds=step_seconds,
                           key_of=lambda job: _node_key(job, keys))
        with Observer(cluster.db_url, list(posted.values())) as observer:
            stop = threading.Event()

            def chaos() -> None:
                # Crashes strike at random, but the first one strikes a
                # conductor seen running a job: a fast run could otherwise
                # end with every kill on an idle or starting conductor and no
                # takeover to check.
                targeted = True
                while not stop.wait(kill_every):
                    while not stop.is_set():
                        owners = sorted({s.owner for s in observer.latest().values()
                                         if s.state == "RUNNING" and s.owner in names})
                        name = rng.choice(owners if targeted else names) if owners else None
                        if name is not None and supervisor.kill(name) is not None:
                            kills.append((time.time(), name))
                            targeted = False
                            break
                        stop.wait(OBSERVE_INTERVAL)

            killer = threading.Thread(target=chaos, daemon=True)
            killer.start()
            try:
                observer.wait_finished(timeout)
            finally:
                stop.set()
                killer.join()
            records = observer.records()
            takeovers = observer.takeovers(kills)
    entries = read_ledger(cluster.ledger)
    report = analyse_ledger(entries)
    over_budget = [key for key, job_id in posted.items()
                   if report.extra_starts.get(key, 0) > records[job_id].attempts - 1]
    states = _count(r.state.value for r in records.values())
    key_of = {job: key for job in posted if (key := _node_key(job, keys))}
    return KillLoopResult(
        jobs=jobs_count, states=states, lost=jobs_count - states.get("SUCCESS", 0),
        completed_reruns=len(report.completed_reruns), over_budget=over_budget,
        kills=len(kills), takeovers=takeovers, elapsed=time.monotonic() - started,
        key_overlaps=overlapping_holders(entries, key_of))


def _node_key(job: str, keys: int) -> str | None:
    """``node:<n>`` for job ``j<i>`` (n = i mod keys); None without keys."""
    return f"node:{int(job.lstrip('j')) % keys}" if keys else None


# -- takeover after kill -9, with room to take over -------------------------------


def takeover(cluster: Cluster, *, rounds: int = 5, jobs_count: int = 3,
             conductors: int = 3, step_seconds: float = 1.0,
             timeout: float = 300.0) -> list[float]:
    """Seconds from kill -9 of a conductor to the next claim of each of its jobs.

    Fewer jobs than free slots, so what is measured is how fast a dead
    conductor's claims are noticed and taken, not a queue.
    """
    prepare_database(cluster.db_url)
    names = [f"c{i}" for i in range(1, conductors + 1)]
    times: list[float] = []
    with cluster.supervisor(names) as supervisor, cluster.orchestrator() as orch:
        for round_ in range(rounds):
            posted = post_jobs(orch, cluster.ledger, jobs_count, step_seconds=step_seconds,
                               prefix=f"r{round_}-")
            with Observer(cluster.db_url, list(posted.values())) as observer:
                times.extend(_kill_and_time(supervisor, observer, jobs_count))
                observer.wait_finished(timeout)
    return times


def _kill_and_time(supervisor: Supervisor, observer: Observer, jobs_count: int) -> list[float]:
    _wait(lambda: len(observer.latest()) == jobs_count and all(
        s.state == "RUNNING" for s in observer.latest().values()), 60, "every job to run")
    owners = [s.owner for s in observer.latest().values()]
    victim = max(set(owners), key=owners.count)
    assert victim is not None
    kills = [(time.time(), victim)]
    supervisor.kill(victim)
    _wait(lambda: len(observer.takeovers(kills)) == owners.count(victim), 60,
          "the victim's jobs to be claimed again")
    return observer.takeovers(kills)


# -- (b) SIGSTOP past the session -----------------------------------------------


AUDIT_SQL = [
    "CREATE TABLE chaos_audit (seq bigserial PRIMARY KEY, tbl text NOT NULL, "
    "app text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())",
    "CREATE FUNCTION chaos_audit_row() RETURNS trigger AS $$ BEGIN "
    "INSERT INTO chaos_audit (tbl, app) VALUES (TG_TABLE_NAME, "
    "current_setting('application_name')); RETURN NULL; END $$ LANGUAGE plpgsql",
    *(f"CREATE TRIGGER chaos_audit_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
      "FOR EACH ROW EXECUTE FUNCTION chaos_audit_row()"
      for table in ("logbooks", "flowdetails", "atomdetails", "orchestrator_jobs")),
]


@dataclass
class FreezeResult:
    jobs: int
    states: dict[str, int]
    taken_over: int
    stale_writes: int
    stale_starts: int
    completed_reruns: int
    stale_rejoined: bool


def freeze(cluster: Cluster, *, jobs_count: int = 2, freeze_seconds: float = 6.0,
           step_seconds: float = 1.0, timeout: float = 300.0) -> FreezeResult:
    """Conductor A runs jobs and is frozen past its session; B takes them over; A thaws.

    Every committed row change is audited with the connection's application
    name (one per conductor), so writes A made after B's first are counted, not
    guessed. PostgreSQL only.
    """
    prepare_database(cluster.db_url)
    engine = sa.create_engine(cluster.db_url)
    with engine.begin() as conn:
        for statement in AUDIT_SQL:
            conn.execute(sa.text(statement))
    with cluster.supervisor(["stale", "fresh"]) as supervisor, \
            cluster.orchestrator() as orch:
        supervisor.set_restart(False)
        supervisor.suspend("fresh")  # only A takes the jobs at first
        posted = post_jobs(orch, cluster.ledger, jobs_count, step_seconds=step_seconds)
        stale_pid = supervisor.pid("stale")
        with Observer(cluster.db_url, list(posted.values())) as observer:
            _wait(lambda: all(s.state == "RUNNING" and s.owner == "stale"
                              for s in observer.latest().values())
                  and len(observer.latest()) == jobs_count, 60, "A to run every job")
            _wait(lambda: any(e.action == "start" and e.task == "step-2"
                              for e in read_ledger(cluster.ledger)), 60,
                  "A to be inside a step")
            supervisor.resume("fresh")
            supervisor.suspend("stale")
            frozen_at = time.monotonic()
            _wait(lambda: all(s.owner == "fresh" for s in observer.latest().values()), 60,
                  "B to take every job over")
            taken_over = sum(1 for s in observer.latest().values() if s.owner == "fresh")
            remaining = freeze_seconds - (time.monotonic() - frozen_at)
            if remaining > 0:
                threading.Event().wait(remaining)  # the freeze itself, not a sync
            supervisor.resume("stale")
            observer.wait_finished(timeout)
            records = observer.records()
        rejoined = _eventually(lambda: "stale" in {c.info.name for c in orch.conductors()},
                               30)
    with engine.connect() as conn:
        first_fresh = conn.execute(sa.text(
            "SELECT min(seq), min(at) FROM chaos_audit WHERE app = 'fresh'")).one()
        stale_writes = conn.execute(sa.text(
            "SELECT count(*) FROM chaos_audit WHERE app = 'stale' AND seq > :seq"),
            {"seq": first_fresh[0]}).scalar_one()
    engine.dispose()
    fresh_first_at = first_fresh[1].timestamp()
    entries = read_ledger(cluster.ledger)
    stale_starts = sum(1 for e in entries if e.action == "start" and e.pid == stale_pid
                       and e.at is not None and e.at > fresh_first_at)
    return FreezeResult(
        jobs=jobs_count, states=_count(r.state.value for r in records.values()),
        taken_over=taken_over, stale_writes=int(stale_writes), stale_starts=stale_starts,
        completed_reruns=len(analyse_ledger(entries).completed_reruns),
        stale_rejoined=rejoined)


# -- (c) a poison job -------------------------------------------------------------


@dataclass
class PoisonResult:
    poison_state: str
    poison_error: str | None
    poison_attempts: int
    others: dict[str, int]
    conductor_deaths: int
    completed_reruns: int


def poison(cluster: Cluster, *, ordinary: int = 8, conductors: int = 3,
           step_seconds: float = 0.3, timeout: float = 300.0) -> PoisonResult:
    """A job whose second step kills its conductor, among ordinary jobs."""
    prepare_database(cluster.db_url)
    names = [f"c{i}" for i in range(1, conductors + 1)]
    with cluster.supervisor(names) as supervisor, cluster.orchestrator() as orch:
        bad = post_jobs(orch, cluster.ledger, 1, step_seconds=step_seconds, prefix="poison",
                        crash_at="step-2")
        good = post_jobs(orch, cluster.ledger, ordinary, step_seconds=step_seconds)
        with Observer(cluster.db_url, [*bad.values(), *good.values()]) as observer:
            observer.wait_finished(timeout)
            records = observer.records()
        deaths = supervisor.total_deaths
    poisoned = records[bad["poison0"]]
    return PoisonResult(
        poison_state=poisoned.state.value, poison_error=poisoned.last_error,
        poison_attempts=poisoned.attempts,
        others=_count(records[job_id].state.value for job_id in good.values()),
        conductor_deaths=deaths,
        completed_reruns=len(analyse_ledger(read_ledger(cluster.ledger)).completed_reruns))


# -- (d) a service stopped mid-run, (e) a ZooKeeper leader killed ------------------


@dataclass
class OutageResult:
    jobs: int
    states: dict[str, int]
    completed_reruns: int
    over_budget: list[str]
    #: Steps started while the service was down (from half a second after it
    #: went: what was already starting may finish starting).
    starts_while_down: int
    #: Postings still on the board 30 s after every job finished: jobs that
    #: finished while ZooKeeper was away must be removed once it is back.
    left_on_board: int
    down_for: float
    elapsed: float


def outage(cluster: Cluster, break_service: Callable[[], None],
           repair_service: Callable[[], None], *, jobs_count: int = 12,
           down_seconds: float = 5.0, conductors: int = 2, step_seconds: float = 0.3,
           timeout: float = 300.0) -> OutageResult:
    """Break a service once a third of the jobs are done, repair it ``down_seconds`` later."""
    prepare_database(cluster.db_url)
    names = [f"c{i}" for i in range(1, conductors + 1)]
    started = time.monotonic()
    with cluster.supervisor(names), cluster.orchestrator() as orch:
        posted = post_jobs(orch, cluster.ledger, jobs_count, step_seconds=step_seconds)
        with Observer(cluster.db_url, list(posted.values())) as observer:
            _wait(lambda: sum(1 for s in observer.latest().values()
                              if s.state == "SUCCESS") >= jobs_count // 3, 120,
                  "a third of the jobs to finish")
            broken_at = time.monotonic()
            down_since = time.time()
            break_service()
            try:
                remaining = down_seconds - (time.monotonic() - broken_at)
                if remaining > 0:
                    threading.Event().wait(remaining)  # the outage itself, not a sync
            finally:
                back_at = time.time()
                repair_service()
            down_for = time.monotonic() - broken_at
            observer.wait_finished(timeout)
            records = observer.records()
            left = _eventually(lambda: postings_left(cluster) == 0, 30)
    entries = read_ledger(cluster.ledger)
    report = analyse_ledger(entries)
    over_budget = [key for key, job_id in posted.items()
                   if report.extra_starts.get(key, 0) > records[job_id].attempts - 1]
    while_down = sum(1 for e in entries if e.action == "start" and e.at is not None
                     and down_since + 0.5 < e.at < back_at)
    return OutageResult(
        jobs=jobs_count, states=_count(r.state.value for r in records.values()),
        completed_reruns=len(report.completed_reruns), over_budget=over_budget,
        starts_while_down=while_down, left_on_board=0 if left else postings_left(cluster),
        down_for=down_for,
        elapsed=time.monotonic() - started)


# -- helpers ----------------------------------------------------------------------


def postings_left(cluster: Cluster) -> int:
    """Job postings on the cluster's board now (claimed or not)."""
    client = KazooClient(hosts=cluster.zk_hosts)
    client.start(timeout=30)
    try:
        children = client.get_children(cluster.board_path)
    finally:
        client.stop()
        client.close()
    return sum(1 for child in children
               if child.startswith(JOB_PREFIX) and not child.endswith(LOCK_SUFFIX))


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def _wait(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)  # the poll interval


def _eventually(predicate: Callable[[], object], timeout: float) -> bool:
    try:
        _wait(predicate, timeout, "condition")
    except AssertionError:
        return False
    return True


def describe(result: object) -> str:
    """One line per field, for test failure messages and the bench script."""
    items: Mapping[str, Any] = vars(result)
    return "\n".join(f"  {key}: {value}" for key, value in items.items())


