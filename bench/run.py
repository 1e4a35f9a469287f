"""Ours against stock TaskFlow and TaskFlow with its tables built once, in one run.

Three systems run the same no-op flows end to end, on PostgreSQL (the
headline) and SQLite, with 1 and 2 conductor processes:

  ours         ``orchestrator conductor``; jobs posted with ``Orchestrator.post``
  tables-once  stock TaskFlow conductor and board; its SQLAlchemy persistence
               builds its ``Connection`` (table metadata) once, on a pooled engine
  stock        stock TaskFlow conductor, board and persistence from
               ``{"connection": url}``, jobs posted as TaskFlow's examples do

Repetitions are interleaved (every system in every case, then again, the order
rotating) and medians reported. SQLite gets the same pragmas on all three
(WAL, synchronous=NORMAL, busy_timeout, foreign keys; read back and printed).
Also measured: conductor CPU per job against TaskFlow's engine alone running the
same flow in memory, statements and transactions per task, the latency of a
post on a quiet system, and the ZooKeeper requests of an idle conductor while
0, 100 and 1,000 jobs sit on the board claimed by another.

ZooKeeper and PostgreSQL are started for the run (Debian's packages) and
stopped at the end, Ctrl-C included. From the repository root:

    .venv/bin/python bench/run.py --output docs/benchmarks.md   # about 15 minutes
    .venv/bin/python bench/run.py --quick                       # about 2 minutes
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import platform
import shlex
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `bench` and `tests` are not installed packages

import persistence  # noqa: E402
from bench import (  # noqa: E402
    common,
    idle,
    inmemory,
    posting,
    report,
    snapshot,
    sqlcount,
    stock,
    workload,
)
from bench.common import say  # noqa: E402
from bench.findings import SYSTEM_ORDER, Findings  # noqa: E402
from bench.services import BACKENDS, Services  # noqa: E402

FLOWS = tuple(workload.FLOW_TASKS)
PARTS = ("throughput", "engine", "posting", "sql", "idle")
_PACKAGES = ("taskflow", "SQLAlchemy", "kazoo", "psycopg", "alembic")
_TASKFLOW_WAIT_TIMEOUT = 0.5  # the stock conductor's default


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: few jobs, once, shorter idle windows")
    parser.add_argument("--jobs-1", type=int, default=None,
                        help="jobs per run of bench-1-task (default 40; 5 with --quick)")
    parser.add_argument("--jobs-10", type=int, default=None,
                        help="jobs per run of bench-10-tasks (default 10; 3 with --quick)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="repetitions of every run (default 3; 1 with --quick)")
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help="comma-separated, the headline first (default %(default)s)")
    parser.add_argument("--conductors", default=None,
                        help="comma-separated conductor counts (default 1,2; 1 with --quick)")
    parser.add_argument("--flows", default=",".join(FLOWS),
                        help="comma-separated (default %(default)s)")
    parser.add_argument("--skip", default="",
                        help=f"comma-separated parts not to measure, of {','.join(PARTS)}")
    parser.add_argument("--posts", type=int, default=None,
                        help="timed posts per system, backend and repetition on a quiet "
                        "system (default 100; 20 with --quick)")
    parser.add_argument("--engine-seconds", type=float, default=None,
                        help="CPU seconds per flow and round of the engine alone "
                        "(default 2; 0.5 with --quick)")
    parser.add_argument("--idle-jobs", default=None,
                        help="claimed jobs on the board for the idle measurement "
                        "(default 0,100,1000; 0,100 with --quick)")
    parser.add_argument("--idle-window", type=float, default=None,
                        help="seconds the idle conductor's requests are counted "
                        "(default 4; 2 with --quick)")
    parser.add_argument("--idle-settle", type=float, default=2.0,
                        help="seconds after the idle conductor registered before counting "
                        "(default %(default)s)")
    parser.add_argument("--output", type=Path, default=None,
                        help="markdown file to write (between its bench markers, if any); "
                        "the report is printed to stdout either way")
    parser.add_argument("--stock-kind", choices=stock.KINDS, default="blocking",
                        help="stock TaskFlow conductor type, for stock and tables-once "
                        "(default %(default)s)")
    parser.add_argument("--poll-interval", type=float, default=0.05,
                        help="seconds; ours: [conductor] poll_interval, stock and "
                        "tables-once: wait_timeout (default %(default)s)")
    parser.add_argument("--max-jobs", type=int, default=4,
                        help="jobs each of our conductors runs at once; a blocking stock "
                        "conductor runs one (default %(default)s)")
    parser.add_argument("--sql-jobs", type=int, default=3,
                        help="jobs counted per SQL measurement (default %(default)s)")
    parser.add_argument("--live", action="store_true",
                        help="run the working tree as it is, not a copy taken at the start "
                        "(see bench/snapshot.py)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (configs, conductor logs)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log warnings too")
    args = parser.parse_args(argv)
    quick = args.quick
    args.jobs_1 = args.jobs_1 or (5 if quick else 40)
    args.jobs_10 = args.jobs_10 or (3 if quick else 10)
    args.repeat = args.repeat or (1 if quick else 3)
    args.posts = args.posts or (20 if quick else 100)
    args.engine_seconds = args.engine_seconds or (0.5 if quick else 2.0)
    args.idle_window = args.idle_window or (2.0 if quick else 4.0)
    idle_jobs = args.idle_jobs if args.idle_jobs is not None else (
        "0,100" if quick else "0,100,1000")
    args.idle_jobs = [int(n) for n in idle_jobs.split(",") if n.strip()]
    args.conductors = [int(k) for k in (args.conductors or ("1" if quick else "1,2")).split(",")]
    args.backends = _split(args.backends, BACKENDS, "backend")
    args.flows = _split(args.flows, FLOWS, "flow")
    args.skip = set(_split(args.skip, PARTS, "part")) if args.skip else set()
    if args.jobs_1 < 1 or args.jobs_10 < 1 or args.repeat < 1 or min(args.conductors) < 1:
        parser.error("job counts, --repeat and --conductors must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    origin = snapshot.current()
    if origin is None and not args.live:
        snapshot.reexec(ROOT, Path("bench/run.py"), sys.argv[1:] if argv is None else argv)
    if origin is None:
        origin = snapshot.describe(ROOT)
    try:
        return _main(args, argv, origin)
    finally:
        snapshot.remove(origin)


def _main(args: argparse.Namespace, argv: list[str] | None, origin: snapshot.Origin) -> int:
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Clean up as on Ctrl-C, also on SIGTERM and when started with SIGINT ignored
    # (a background job of a non-interactive shell).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, common.interrupt)
    command = _command_line(argv, Path(origin.source))
    work_dir = Path(tempfile.mkdtemp(prefix="orchestrator-bench-"))
    started = time.monotonic()
    load_before = os.getloadavg()
    findings = Findings()
    try:
        with Services(work_dir, args.backends) as services:
            say(f"ZooKeeper on {services.zk_hosts}"
                 + (f", PostgreSQL on port {services.postgres.port}"
                    if services.postgres else "") + f"; work dir {work_dir}")
            _measure(args, services, work_dir, findings)
            machine = _machine(services, findings, load_before, started, origin)
    except KeyboardInterrupt:
        say("interrupted: services and conductors stopped")
        return 130
    finally:
        common.leave_work_dir(work_dir, keep=args.keep)
    text = report.render(findings, machine, command, _settings_text(args))
    print(text)
    if args.output is not None:
        report.write(args.output, text)
        say(f"written to {args.output}")
    ok = not findings.failures and all(r.ok for r in findings.results)
    return 0 if ok else 1


def _measure(args: argparse.Namespace, services: Services, work_dir: Path,
             findings: Findings) -> None:
    settings = workload.Settings(poll_interval=args.poll_interval, max_jobs=args.max_jobs,
                                 stock_kind=args.stock_kind)
    systems = {name: make() for name, make in workload.SYSTEMS.items()}
    if "sqlite" in args.backends:
        findings.sqlite_settings = _sqlite_settings(work_dir / "pragmas")
    if "engine" not in args.skip:
        say(f"engine alone: {args.repeat} round(s) of {args.engine_seconds:g} CPU s per flow")
        try:
            findings.engine_alone = inmemory.measure(args.flows, args.engine_seconds,
                                                     args.repeat)
        except Exception as exc:  # the rest of the run still counts
            findings.failures.append(f"engine alone: {exc}")
        say(f"engine alone, CPU ms per run: {findings.engine_alone}")
    jobs = {"bench-1-task": args.jobs_1, "bench-10-tasks": args.jobs_10}
    cases = [workload.Case(b, k, f, jobs[f])
             for b in args.backends for k in args.conductors for f in args.flows]
    total = args.repeat * len(cases) * len(systems)
    for rep in range(1, args.repeat + 1):
        if "throughput" not in args.skip:
            for c, case in enumerate(cases):
                for name in _rotated(rep + c):
                    run_dir = work_dir / f"run-{len(findings.results) + 1:03d}-{name}"
                    result = workload.run_once(systems[name], case, rep, settings,
                                               services, run_dir)
                    findings.results.append(result)
                    say(f"[{len(findings.results):3d}/{total}] {_describe(result)}")
        if "posting" not in args.skip:
            for backend in args.backends:
                for name in _rotated(rep):
                    posts = findings.posts.setdefault(
                        (backend, name), posting.PostResult(name, backend))
                    error = posting.measure(systems[name], backend, args.posts, services,
                                            work_dir / f"post-{rep}-{backend}-{name}", posts)
                    if error:
                        findings.failures.append(f"posting {name} {backend} rep {rep}: {error}")
                    med, p90 = findings.post_latency_ms(backend, name)
                    say(f"post {name:11s} {backend:10s} rep {rep}: "
                         + (f"FAILED: {error}" if error else
                            f"median {med:.2f} ms, p90 {p90:.2f} ms so far"))
            findings.zookeeper_create += posting.zookeeper_floor(services.zk_hosts, args.posts)
            say(f"bare ZooKeeper create rep {rep}: median "
                f"{findings.zookeeper_create_ms():.2f} ms so far")
    if "sql" not in args.skip:
        _count_sql(args, services, work_dir, findings)
    if "idle" not in args.skip and args.idle_jobs:
        _idle(args, services, settings, systems, work_dir, findings)


def _count_sql(args: argparse.Namespace, services: Services, work_dir: Path,
               findings: Findings) -> None:
    for backend in args.backends:
        for flow in args.flows:
            for name in SYSTEM_ORDER:
                label = f"SQL {name:11s} {backend:10s} {flow}"
                try:
                    counted = sqlcount.measure(
                        name, backend, flow, services, work_dir / f"sql-{backend}-{flow}-{name}",
                        jobs_to_count=args.sql_jobs, stock_kind=args.stock_kind)
                except Exception as exc:  # one bad count must not lose the run
                    findings.failures.append(f"{label}: {exc!r}")
                    say(f"{label}: FAILED: {exc!r}")
                    continue
                findings.sql.setdefault((backend, flow), {})[name] = counted
                say(f"{label}: {counted} per job")


def _idle(args: argparse.Namespace, services: Services, settings: workload.Settings,
          systems: dict[str, workload.System], work_dir: Path, findings: Findings) -> None:
    variants = [idle.Variant(workload.OURS, workload.OURS, args.poll_interval),
                idle.Variant(workload.STOCK, workload.STOCK, args.poll_interval)]
    if args.poll_interval != _TASKFLOW_WAIT_TIMEOUT:
        variants.append(idle.Variant(
            f"{workload.STOCK}, TaskFlow's default wait_timeout", workload.STOCK,
            _TASKFLOW_WAIT_TIMEOUT))
    backend = args.backends[0]
    for variant in variants:
        for n in args.idle_jobs:
            result = idle.measure(variant, systems[variant.system], n, backend, services,
                                  settings, work_dir / f"idle-{variant.system}-"
                                  f"{variant.poll_interval:g}-{n}",
                                  settle=args.idle_settle, window=args.idle_window)
            findings.idle.append(result)
            if result.error:
                findings.failures.append(f"idle {variant.label}, {n} jobs: {result.error}")
            say(f"idle {variant.label} ({variant.poll_interval:g} s), {n} claimed jobs: "
                 + (f"FAILED: {result.error}" if result.error else
                    f"{result.requests_per_s:.1f} requests/s, CPU {result.cpu_percent:.1f}%"))


def _rotated(shift: int) -> list[str]:
    """The systems in an order that rotates, so drift favours none of them."""
    k = shift % len(SYSTEM_ORDER)
    return list(SYSTEM_ORDER[k:] + SYSTEM_ORDER[:k])


def _sqlite_settings(where: Path) -> dict[str, str]:
    """The pragmas each system's engine reports on a new SQLite connection."""
    where.mkdir(parents=True, exist_ok=True)
    found = {}
    db = persistence.Database(f"sqlite:///{where / 'ours.sqlite'}")
    try:
        found[workload.OURS] = stock.sqlite_settings(db.engine)
    finally:
        db.close()
    for name, tables_once in ((workload.TABLES_ONCE, True), (workload.STOCK, False)):
        be = stock.backend(f"sqlite:///{where / f'{name}.sqlite'}", tables_once=tables_once)
        try:
            found[name] = stock.sqlite_settings(be.engine)
        finally:
            be.close()
    return found


def _settings_text(args: argparse.Namespace) -> dict[str, str]:
    stock_conductor = (f"stock TaskFlow {args.stock_kind} conductor ("
                       + (f"max_simultaneous_jobs {args.max_jobs}"
                          if args.stock_kind == "nonblocking" else "one job at a time")
                       + f", wait_timeout {args.poll_interval:g})")
    return {
        "throughput": (
            f"{args.repeat} runs per cell, interleaved. A run posts one warm-up job, starts "
            "the conductors, waits until they have registered and run it, then posts the "
            "jobs back to back from one process; the window runs from the first post to "
            "the last flow detail saved SUCCESS (`flowdetails.updated_at`), so the posting "
            f"is inside it. Ours: `orchestrator conductor` (max_simultaneous_jobs "
            f"{args.max_jobs}, poll_interval {args.poll_interval:g}); stock and "
            f"tables-once: {stock_conductor}. All: serial engine; ZooKeeper, the database, "
            "the poster and the conductors share the machine."),
        "cpu": (
            "Conductor: user + system CPU of all conductor processes over the window, "
            "divided by the jobs run (idle polling included). Engine alone: the same flow "
            "built from its factory and run by `taskflow.engines.run` (serial engine, "
            "TaskFlow's in-memory persistence) in a process of its own, CPU time per run, "
            f"median of {args.repeat} rounds of {args.engine_seconds:g} CPU seconds "
            "(`bench/inmemory.py`)."),
        "sql": (
            "SQLAlchemy event counters on the conductor's own engine, one conductor in a "
            f"thread of the benchmark process, {args.sql_jobs} jobs after a warm-up "
            "(`bench/sqlcount.py`). bench-10-tasks: per task (per job / 10); "
            "bench-1-task: per job, which for one task is also per task but carries the "
            "whole per-job cost. Pings: `pool_pre_ping` sends one on every checkout of a "
            "pooled connection (our poster on PostgreSQL; our conductor opens its "
            "database without it, as `orchestrator conductor` does); pragmas: 4 per new "
            "SQLite connection."),
        "posting": (
            f"On a quiet system (no conductor), {args.posts} posts back to back per system, "
            f"backend and repetition, after one warm-up post (`bench/posting.py`). Ours: "
            "`Orchestrator.post` (job record, logbook and flow detail, ZooKeeper node); "
            "stock and tables-once: `save_logbook`, `save_factory_details`, `board.post`. "
            "Under load: the posts of the throughput runs, while conductors run. SQL per "
            "post counted on the poster's engine."),
        "idle": (
            "Requests/s one idle conductor sends ZooKeeper while N jobs sit on the board "
            "claimed by another session, as ZooKeeper counts them (`cons`: requests "
            "received per connection, pings included), over "
            f"{args.idle_window:g} s after it registered and {args.idle_settle:g} s "
            f"passed; CPU % of one core over the same window; database: {args.backends[0]} "
            "(`bench/idle.py`). tables-once has stock's board and conductor, so its "
            "ZooKeeper load is stock's."),
    }


def _describe(r: workload.RunResult) -> str:
    head = (f"{r.system:11s} {r.case.backend:10s} K={r.case.conductors} "
            f"{r.case.flow:14s} rep {r.rep}: ")
    if not r.ok:
        return head + f"FAILED: {r.error}"
    return head + (f"{r.jobs} jobs in {r.elapsed:.2f}s = {r.jobs_per_s:.1f} jobs/s; "
                   f"post {r.post_ms:.1f} ms; conductor CPU {r.cpu_ms_per_job:.1f} ms/job")


def _machine(services: Services, findings: Findings, load_before: tuple[float, float, float],
             started: float, origin: snapshot.Origin) -> dict[str, str]:
    versions = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in _PACKAGES)
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": origin.commit,
        "code": (f"a copy of the working tree taken as the run started (changes "
                 f"fingerprint {origin.fingerprint})" if origin.copy else
                 f"the live working tree (changes fingerprint {origin.fingerprint})"),
    }
    if snapshot.fingerprint(Path(origin.source)) != origin.fingerprint:
        info["note"] = ("the working tree changed while the benchmark ran"
                        + ("; the run used the copy taken at its start" if origin.copy else
                           ": conductors started later may have run other code"))
    info.update({
        "CPU": f"{os.cpu_count()} × {_cpu_model()} (nproc {len(os.sched_getaffinity(0))})",
        "memory": _meminfo(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "packages": versions,
        "servers": ", ".join(f"{k} {v}" for k, v in services.versions().items()) or "?",
    })
    if services.postgres is not None:
        info["PostgreSQL settings"] = services.postgres_settings()
    for name, pragmas in findings.sqlite_settings.items():
        info[f"SQLite pragmas, {name}"] = pragmas
    info["load average (1 min) before / after"] = (
        f"{load_before[0]:.2f} / {os.getloadavg()[0]:.2f}")
    info["duration"] = f"{(time.monotonic() - started) / 60:.1f} min"
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _meminfo() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "?"


def _command_line(argv: list[str] | None, source: Path) -> str:
    args = sys.argv[1:] if argv is None else argv
    python = os.path.relpath(sys.executable, Path.cwd())
    script = os.path.relpath(source / "bench" / "run.py", Path.cwd())
    return shlex.join([python, script, *args])


def _split(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in items if v not in allowed]
    if unknown or not items:
        raise SystemExit(f"unknown {what} {unknown or value!r}; choose from {allowed}")
    return items


if __name__ == "__main__":
    sys.exit(main())
