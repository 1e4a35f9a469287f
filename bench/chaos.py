"""The product's promises at full size, under kill -9, SIGSTOP, outages and a leader kill.

Runs the scenarios of tests/chaos/scenarios.py with real `orchestrator conductor`
processes on a private ZooKeeper and a private, crash-safe PostgreSQL (and a
three-server ZooKeeper ensemble for the leader kill), one scenario after another,
then prints what each counted and one verdict line per promise:

  jobs lost: 0                every job that should succeed ends SUCCESS
  completed steps re-run: 0   no step starts again once the next one has started
  re-runs beyond one per      an interrupted step runs again at most once per
  interruption: 0             interruption of its job
  stale starts/writes: 0      a conductor frozen past its session neither writes nor
                              starts a task after the new owner's first write
  starts while down: 0        no step starts while PostgreSQL or ZooKeeper is down
  poison job quarantined: yes a job that kills its conductor is FAILED after max_attempts
  takeover median: X s        kill -9 to the next claim of each of its jobs (target <= 3 s)

The exit status is 1 when a promise is broken or a scenario could not finish, so
the script serves as a check. Everything it starts is stopped and its temporary
directories removed at the end, Ctrl-C included. From the repository root:

  .venv/bin/python -m bench.chaos                      # everything, about 4 minutes
  .venv/bin/python -m bench.chaos --repeat 2           # twice, about 8 minutes
  .venv/bin/python -m bench.chaos --only kill,takeover --jobs 30 --kill-every 3

Scenarios (names for --only):

  kill      (a) --jobs five-step jobs on --conductors conductors, one killed -9
                every --kill-every s and restarted at once
  takeover  (a) a few jobs (fewer than free slots), the conductor holding most of
                them killed -9, for --takeover-rounds rounds
  freeze    (b) a conductor running jobs SIGSTOPped for --freeze s (its session
                lasts 2 s), another takes the jobs over, then SIGCONT
  poison    (c) a job whose step-2 kills its conductor among --poison-jobs ordinary
                ones, max_attempts 3
  pg-down   (d) PostgreSQL stopped (immediate mode) for --outage s once a third of
                --outage-jobs jobs are done
  zk-down   (d) the same with ZooKeeper stopped
  leader    (e) a 3-server ZooKeeper ensemble on loopback, its leader killed -9 once
                a third of --outage-jobs jobs are done
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.chaos.scenarios import Cluster
    from tests.services import LocalPostgres

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `bench` and `tests` are not installed packages

from bench import common  # noqa: E402
from bench.common import say  # noqa: E402

#: Seconds a step of the kill, poison and outage jobs waits (its "work").
STEP_SECONDS = 0.2
#: Takeover and freeze jobs have longer steps, so that a kill lands inside one.
LONG_STEP_SECONDS = 1.0
#: Jobs per takeover round: fewer than the free slots of the conductors left.
TAKEOVER_JOBS = 3
TAKEOVER_TARGET = 3.0
#: The poison scenario's [conductor] max_attempts and retry_delay.
POISON_ATTEMPTS = 3
POISON_RETRY_DELAY = 0.5
#: A scenario whose jobs are not all finished by then reports what it has.
SCENARIO_TIMEOUT = 900.0


# -- what a scenario counted ------------------------------------------------------


@dataclass
class Figures:
    """One scenario run, in the terms of the promises (None: not measured there)."""

    jobs: str
    lost: int | None = None
    completed_reruns: int | None = None
    over_budget: int | None = None
    stale_starts: int | None = None
    stale_writes: int | None = None
    while_down: int | None = None
    quarantined: bool | None = None
    takeovers: list[float] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    scenario: str
    run: int
    seconds: float
    figures: Figures | None = None
    error: str | None = None


# -- services ---------------------------------------------------------------------


class Services:
    """A private ZooKeeper and PostgreSQL for the whole run, stopped on exit.

    PostgreSQL is crash-safe (synchronous commits): pg-down stops it in immediate
    mode, a crash, and no committed transaction may be lost by that.
    """

    def __init__(self, work_dir: Path) -> None:
        from orchestrator.standalone import LocalZooKeeper, find_free_port

        self.zookeeper = LocalZooKeeper(work_dir / "zookeeper", port=find_free_port())
        self._postgres: LocalPostgres | None = None
        self._pg_dir: Path | None = None

    @property
    def postgres(self) -> LocalPostgres:
        assert self._postgres is not None, "services are not started"
        return self._postgres

    def __enter__(self) -> Services:
        from orchestrator.standalone import find_free_port
        from tests.services import LocalPostgres

        try:
            self.zookeeper.start()
            # Not under the work dir: the server runs as `postgres`, and LocalPostgres
            # hands mkdtemp's directory over to that user.
            self._pg_dir = Path(tempfile.mkdtemp(prefix="orchestrator-chaos-pg-"))
            self._postgres = LocalPostgres(self._pg_dir, find_free_port(), crash_safe=True)
            self._postgres.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop whatever was started; safe to call more than once."""
        try:
            if self._postgres is not None:
                self._postgres.stop()
                self._postgres = None
        finally:
            if self._pg_dir is not None:
                shutil.rmtree(self._pg_dir, ignore_errors=True)
                self._pg_dir = None
            self.zookeeper.stop()

    @contextlib.contextmanager
    def database(self, label: str) -> Iterator[str]:
        """A new, empty database for one scenario run, dropped afterwards."""
        name = f"chaos_{label.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        self.postgres.create_database(name)
        try:
            yield self.postgres.url_for(name)
        finally:
            with contextlib.suppress(Exception):  # a failed drop must not hide the result
                self.postgres.drop_database(name)


@dataclass(frozen=True)
class Run:
    """One scenario run's settings, services and directory."""

    args: argparse.Namespace
    services: Services
    work_dir: Path
    number: int

    def cluster(self, db_url: str, zk_hosts: str | None = None, **options: Any) -> Cluster:
        from tests.chaos.scenarios import Cluster

        return Cluster(self.work_dir, db_url, zk_hosts or self.services.zookeeper.hosts,
                       **options)


# -- the scenarios ------------------------------------------------------------------


def run_kill(run: Run, db_url: str) -> Figures:
    from tests.chaos import scenarios
    from tests.chaos.harness import read_ledger

    args = run.args
    cluster = run.cluster(db_url)
    result = scenarios.kill_loop(cluster, jobs_count=args.jobs, conductors=args.conductors,
                                 kill_every=args.kill_every, step_seconds=STEP_SECONDS,
                                 seed=args.seed + run.number - 1, timeout=SCENARIO_TIMEOUT)
    ledger = scenarios.analyse_ledger(read_ledger(cluster.ledger))
    return Figures(
        jobs=_states(result.states), lost=result.lost,
        completed_reruns=result.completed_reruns, over_budget=len(result.over_budget),
        details=[f"{result.kills} kills -9 in {result.elapsed:.0f} s",
                 f"{sum(ledger.extra_starts.values())} interrupted steps re-run "
                 f"({ledger.starts} step starts)",
                 f"takeover with queued jobs: {_spread(result.takeovers)}"])


def run_takeover(run: Run, db_url: str) -> Figures:
    from tests.chaos import scenarios
    from tests.chaos.harness import read_ledger

    cluster = run.cluster(db_url)
    times = scenarios.takeover(cluster, rounds=run.args.takeover_rounds,
                               jobs_count=TAKEOVER_JOBS, conductors=run.args.conductors,
                               step_seconds=LONG_STEP_SECONDS, timeout=SCENARIO_TIMEOUT)
    states = _job_states(db_url)
    ledger = scenarios.analyse_ledger(read_ledger(cluster.ledger))
    return Figures(
        jobs=_states(states), lost=sum(states.values()) - states.get("SUCCESS", 0),
        completed_reruns=len(ledger.completed_reruns), takeovers=times,
        details=[f"{run.args.takeover_rounds} rounds of {TAKEOVER_JOBS} jobs",
                 _spread(times)])


def run_freeze(run: Run, db_url: str) -> Figures:
    from tests.chaos import scenarios

    args = run.args
    cluster = run.cluster(db_url)
    result = scenarios.freeze(cluster, jobs_count=args.freeze_jobs,
                              freeze_seconds=args.freeze, step_seconds=LONG_STEP_SECONDS,
                              timeout=SCENARIO_TIMEOUT)
    return Figures(
        jobs=_states(result.states), lost=result.jobs - result.states.get("SUCCESS", 0),
        completed_reruns=result.completed_reruns, stale_starts=result.stale_starts,
        stale_writes=result.stale_writes,
        details=[f"frozen {args.freeze:g} s, session {cluster.session_timeout:g} s",
                 f"taken over {result.taken_over}/{result.jobs}",
                 "thawed conductor registered again" if result.stale_rejoined
                 else "thawed conductor did NOT register again"])


def run_poison(run: Run, db_url: str) -> Figures:
    from tests.chaos import scenarios

    cluster = run.cluster(db_url, max_attempts=POISON_ATTEMPTS,
                          retry_delay=POISON_RETRY_DELAY)
    result = scenarios.poison(cluster, ordinary=run.args.poison_jobs,
                              conductors=run.args.conductors, step_seconds=STEP_SECONDS,
                              timeout=SCENARIO_TIMEOUT)
    error = result.poison_error or ""
    quarantined = (result.poison_state == "FAILED"
                   and result.poison_attempts == POISON_ATTEMPTS
                   and error.startswith("quarantined") and "during step step-2" in error)
    return Figures(
        jobs=f"poison {result.poison_state}; others {_states(result.others)}",
        lost=run.args.poison_jobs - result.others.get("SUCCESS", 0),
        completed_reruns=result.completed_reruns, quarantined=quarantined,
        details=[f"poison job {result.poison_state} after {result.poison_attempts} "
                 f"attempts (max_attempts {POISON_ATTEMPTS})",
                 f"reason: {error or '(none)'}",
                 f"conductor deaths: {result.conductor_deaths}"])


def run_pg_down(run: Run, db_url: str) -> Figures:
    from tests.services import take_down

    postgres = run.services.postgres
    return _outage(run, run.cluster(db_url), lambda: take_down(postgres), postgres.start,
                   run.args.outage, "PostgreSQL stopped")


def run_zk_down(run: Run, db_url: str) -> Figures:
    from tests.services import take_down

    zookeeper = run.services.zookeeper
    return _outage(run, run.cluster(db_url), lambda: take_down(zookeeper),
                   zookeeper.start, run.args.outage, "ZooKeeper stopped")


def run_leader(run: Run, db_url: str) -> Figures:
    from orchestrator.standalone.zookeeper import LocalZooKeeperEnsemble

    ensemble = LocalZooKeeperEnsemble(run.work_dir / "ensemble", size=3)
    killed: list[int] = []

    def kill_leader() -> None:
        leader = ensemble.leader()
        if leader is None:
            raise RuntimeError("the ensemble has no leader to kill")
        killed.append(ensemble.kill(leader).myid)

    ensemble.start()
    try:
        figures = _outage(run, run.cluster(db_url, zk_hosts=ensemble.hosts), kill_leader,
                          lambda: None, 0.0, "leader killed")
        new_leader = ensemble.leader()
    finally:
        ensemble.stop()
    figures.details[0] = (f"leader member {killed[0] if killed else '?'} killed -9, new "
                          f"leader member {new_leader.myid if new_leader else '?'}")
    return figures


def _outage(run: Run, cluster: Cluster, break_service: Callable[[], None],
            repair_service: Callable[[], None], seconds: float, what: str) -> Figures:
    from tests.chaos import scenarios

    result = scenarios.outage(cluster, break_service, repair_service,
                              jobs_count=run.args.outage_jobs, down_seconds=seconds,
                              conductors=run.args.conductors, step_seconds=STEP_SECONDS,
                              timeout=SCENARIO_TIMEOUT)
    # A leader kill has no "down" window: starts while down is not measured there.
    return Figures(
        jobs=_states(result.states), lost=result.jobs - result.states.get("SUCCESS", 0),
        completed_reruns=result.completed_reruns, over_budget=len(result.over_budget),
        while_down=result.starts_while_down if seconds > 0 else None,
        details=[f"{what} for {result.down_for:.1f} s" if seconds > 0 else what,
                 f"{result.elapsed:.0f} s with the conductors' start and stop"])


Runner = Callable[[Run, str], Figures]

SCENARIOS: dict[str, tuple[str, Runner]] = {
    "kill": ("(a) kill -9 loop", run_kill),
    "takeover": ("(a) takeover", run_takeover),
    "freeze": ("(b) SIGSTOP past session", run_freeze),
    "poison": ("(c) poison job", run_poison),
    "pg-down": ("(d) PostgreSQL down", run_pg_down),
    "zk-down": ("(d) ZooKeeper down", run_zk_down),
    "leader": ("(e) ZK leader killed", run_leader),
}


# -- verdicts -----------------------------------------------------------------------


def verdicts(outcomes: Sequence[Outcome]) -> list[tuple[str, bool]]:
    """One ``(line, kept)`` per promise that some scenario measured; a broken one
    names the scenario runs that broke it."""
    measured = [o for o in outcomes if o.figures is not None]
    lines: list[tuple[str, bool]] = []

    def total(attr: str) -> tuple[int, str] | None:
        counts = [(o, getattr(o.figures, attr)) for o in measured
                  if getattr(o.figures, attr) is not None]
        if not counts:
            return None
        where = ", ".join(f"{o.scenario} run {o.run}: {n}" for o, n in counts if n)
        return sum(n for _o, n in counts), f" ({where})" if where else ""

    for label, attr in (("jobs lost", "lost"), ("completed steps re-run", "completed_reruns"),
                        ("re-runs beyond one per interruption", "over_budget"),
                        ("steps started while a service was down", "while_down")):
        if (found := total(attr)) is not None:
            lines.append((f"{label}: {found[0]}{found[1]}", found[0] == 0))
    starts, writes = total("stale_starts"), total("stale_writes")
    if starts is not None and writes is not None:
        lines.append((f"stale starts/writes: {starts[0] + writes[0]} (starts {starts[0]}"
                      f"{starts[1]}, writes {writes[0]}{writes[1]})",
                      starts[0] + writes[0] == 0))
    poison = [o for o in measured if o.figures is not None and o.figures.quarantined
              is not None]
    if poison:
        missed = [f"poison run {o.run}" for o in poison
                  if o.figures is not None and not o.figures.quarantined]
        lines.append(("poison job quarantined: " + (f"no ({', '.join(missed)})" if missed
                                                    else "yes"), not missed))
    medians = takeover_medians(outcomes)
    if medians:
        median = statistics.median(medians)
        lines.append((f"takeover median: {median:.2f} s (target <= {TAKEOVER_TARGET:g} s)",
                      median <= TAKEOVER_TARGET))
    failed = [f"{o.scenario} run {o.run}" for o in outcomes if o.error is not None]
    if failed:
        lines.append((f"scenarios that did not finish: {len(failed)} ({', '.join(failed)})",
                      False))
    return lines


def takeover_medians(outcomes: Sequence[Outcome]) -> list[float]:
    """The median takeover time of each takeover run."""
    return [statistics.median(o.figures.takeovers) for o in outcomes
            if o.scenario == "takeover" and o.figures is not None and o.figures.takeovers]


# -- the report ---------------------------------------------------------------------


def print_report(outcomes: Sequence[Outcome], machine: Mapping[str, str],
                 command: str) -> bool:
    """Print the summary table, the takeover times and the verdicts; True if all kept."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 180)
    console.print(f"\n[bold]Chaos at full size[/bold]   {command}")
    console.print("; ".join(f"{k}: {v}" for k, v in machine.items()), highlight=False)
    table = Table(show_lines=True)
    table.add_column("run", justify="right")
    table.add_column("scenario")
    table.add_column("final states", max_width=24)
    for column in ("lost", "completed\nre-runs", "re-runs\nover\nbudget",
                   "stale\nstarts/\nwrites", "starts\nwhile\ndown"):
        table.add_column(column, justify="right")
    table.add_column("figures", overflow="fold")
    table.add_column("s", justify="right")
    for o in outcomes:
        label = SCENARIOS[o.scenario][0]
        f = o.figures
        if f is None:
            table.add_row(str(o.run), label, "[red]did not finish[/red]", *[""] * 5,
                          o.error or "", f"{o.seconds:.0f}")
            continue
        stale = (f"{f.stale_starts}/{f.stale_writes}"
                 if f.stale_starts is not None and f.stale_writes is not None else "—")
        table.add_row(str(o.run), label, f.jobs, _cell(f.lost), _cell(f.completed_reruns),
                      _cell(f.over_budget), stale, _cell(f.while_down),
                      "\n".join(f.details), f"{o.seconds:.0f}")
    console.print(table)
    takeovers = [o for o in outcomes if o.scenario == "takeover" and o.figures is not None]
    if takeovers:
        console.print("[bold]Takeover after kill -9[/bold] (seconds from the kill to the "
                      "next claim of each job the killed conductor held)")
        for o in takeovers:
            assert o.figures is not None
            values = " ".join(f"{t:.2f}" for t in sorted(o.figures.takeovers))
            console.print(f"  run {o.run}: {_spread(o.figures.takeovers)}; all: {values}",
                          highlight=False)
        medians = takeover_medians(outcomes)
        if len(medians) > 1:
            console.print(f"  median of the {len(medians)} run medians: "
                          f"{statistics.median(medians):.2f} s", highlight=False)
    console.print("[bold]Verdict[/bold]")
    lines = verdicts(outcomes)
    for line, kept in lines:
        mark = "[green]ok[/green]    " if kept else "[red]BROKEN[/red]"
        console.print(f"  {mark} {line}", highlight=False)
    return bool(lines) and all(kept for _line, kept in lines)


def _cell(value: int | None) -> str:
    return "—" if value is None else str(value)


def _states(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{state} {n}" for state, n in counts.items()) or "none"


def _spread(values: Sequence[float]) -> str:
    if not values:
        return "none measured"
    return (f"median {statistics.median(values):.2f} s, min {min(values):.2f}, "
            f"max {max(values):.2f} (n={len(values)})")


def _job_states(db_url: str) -> dict[str, int]:
    import sqlalchemy as sa

    import persistence

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            table = persistence.JOBS
            rows = conn.execute(sa.select(table.c.state, sa.func.count())
                                .group_by(table.c.state)).all()
    finally:
        engine.dispose()
    return dict(sorted((str(state), int(count)) for state, count in rows))


# -- main -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--only", default=",".join(SCENARIOS),
        help="comma-separated scenarios to run, in this order (default: all)")
    add("--repeat", type=int, default=1, help="runs of the whole set (default %(default)s)")
    add("--jobs", type=int, default=100, help="kill: jobs (default %(default)s)")
    add("--kill-every", type=float, default=4.0,
        help="kill: seconds between two kills -9 (default %(default)s)")
    add("--conductors", type=int, default=3,
        help="conductor processes in every scenario but freeze (default %(default)s)")
    add("--takeover-rounds", type=int, default=5,
        help=f"takeover: rounds of {TAKEOVER_JOBS} jobs and one kill (default %(default)s)")
    add("--freeze", type=float, default=10.0,
        help="freeze: seconds the conductor stays SIGSTOPped (default %(default)s)")
    add("--freeze-jobs", type=int, default=4,
        help="freeze: jobs, at most 4 (one conductor's slots; default %(default)s)")
    add("--poison-jobs", type=int, default=20,
        help="poison: ordinary jobs beside the poison one (default %(default)s)")
    add("--outage", type=float, default=30.0,
        help="pg-down, zk-down: seconds the service stays down (default %(default)s)")
    add("--outage-jobs", type=int, default=40,
        help="pg-down, zk-down, leader: jobs (default %(default)s)")
    add("--seed", type=int, default=1, help="kill: seed of the victims' choice "
        "(run N uses seed + N - 1; default %(default)s)")
    add("--keep", action="store_true",
        help="keep the work directory (configs, conductor logs, ledgers)")
    add("-v", "--verbose", action="store_true", help="log warnings of this process too")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in args.only if name not in SCENARIOS]
    if unknown or not args.only:
        parser.error(f"unknown scenario {unknown or args.only!r}; choose from "
                     f"{', '.join(SCENARIOS)}")
    if min(args.repeat, args.jobs, args.conductors, args.takeover_rounds, args.freeze_jobs,
           args.outage_jobs) < 1 or args.poison_jobs < 0:
        parser.error("counts must be positive")
    if args.freeze_jobs > 4:
        parser.error("--freeze-jobs: one conductor runs at most 4 jobs at once")
    if args.conductors < 2:
        parser.error("--conductors: at least 2, so that someone is left to take over")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Clean up as on Ctrl-C, also on SIGTERM and when started with SIGINT ignored.
    common.stop_on_signals()
    command = _command_line(argv)
    work_dir = Path(tempfile.mkdtemp(prefix="orchestrator-chaos-"))
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    outcomes: list[Outcome] = []
    try:
        with Services(work_dir) as services:
            say(f"ZooKeeper on {services.zookeeper.hosts}, PostgreSQL on port "
                 f"{services.postgres.port}; work dir {work_dir}")
            for number in range(1, args.repeat + 1):
                for name in args.only:
                    run = Run(args, services, work_dir / f"run{number}-{name}", number)
                    outcomes.append(_run_one(run, name))
    except KeyboardInterrupt:
        say("interrupted: conductors and services stopped")
        return 130
    finally:
        common.leave_work_dir(work_dir, keep=args.keep)
    machine = common.machine(load_before, started)
    return 0 if print_report(outcomes, machine, command) else 1


def _run_one(run: Run, name: str) -> Outcome:
    label, runner = SCENARIOS[name]
    say(f"run {run.number}: {label} ...")
    started = time.monotonic()
    try:
        with run.services.database(name) as db_url:
            figures = runner(run, db_url)
    except Exception as exc:  # one broken scenario must not lose the others' figures
        outcome = Outcome(name, run.number, time.monotonic() - started,
                          error=f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
        say(f"run {run.number}: {label}: did not finish: {outcome.error}")
        return outcome
    outcome = Outcome(name, run.number, time.monotonic() - started, figures)
    say(f"run {run.number}: {label}: {figures.jobs}; {'; '.join(figures.details)} "
         f"({outcome.seconds:.0f} s)")
    return outcome


def _command_line(argv: Iterable[str] | None) -> str:
    args = sys.argv[1:] if argv is None else list(argv)
    python = os.path.relpath(sys.executable, Path.cwd())
    return shlex.join([python, "-m", "bench.chaos", *args])


if __name__ == "__main__":
    sys.exit(main())
