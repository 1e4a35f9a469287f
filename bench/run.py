"""Throughput of orchestrator's conductors against stock TaskFlow's, end to end.

For each backend (ZooKeeper + SQLite, ZooKeeper + PostgreSQL), conductor count
and flow size, N jobs are posted and run by K conductor processes, once with
``orchestrator conductor`` (jobs posted through ``Orchestrator.post``) and once
with a stock TaskFlow conductor and TaskFlow's own SQL persistence (jobs posted
as TaskFlow's examples do). Each pair is repeated R times; medians are
reported. SQL statements and transactions per task are counted in-process.

ZooKeeper and PostgreSQL are started for the run (Debian's packages) and
stopped at the end, Ctrl-C included. Run from the repository root:

    .venv/bin/python bench/run.py --output docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `bench` and `tests` are not installed packages

from bench import report, sqlcount, workload  # noqa: E402
from bench.services import BACKENDS, Services  # noqa: E402
from bench.stock import KINDS  # noqa: E402

FLOWS = tuple(workload.FLOW_TASKS)
_PACKAGES = ("taskflow", "SQLAlchemy", "kazoo", "psycopg", "alembic")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=None,
                        help="jobs per run and flow size (default 40; 5 with --quick)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="repetitions of every run (default 3; 1 with --quick)")
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help="comma-separated (default sqlite,postgresql)")
    parser.add_argument("--conductors", default=None,
                        help="comma-separated conductor counts (default 1,2; 1 with --quick)")
    parser.add_argument("--flows", default=",".join(FLOWS),
                        help="comma-separated (default %(default)s)")
    parser.add_argument("--output", type=Path, default=None,
                        help="markdown file to write (between its bench markers, if any); "
                        "the report is printed to stdout either way")
    parser.add_argument("--quick", action="store_true", help="a smoke run: few jobs, once")
    parser.add_argument("--stock-kind", choices=KINDS, default="blocking",
                        help="stock TaskFlow conductor type (default %(default)s, which "
                        "ran stock's workload faster here than nonblocking)")
    parser.add_argument("--poll-interval", type=float, default=0.05,
                        help="seconds; ours: [conductor] poll_interval, stock: wait_timeout "
                        "(default %(default)s)")
    parser.add_argument("--max-jobs", type=int, default=4,
                        help="jobs each conductor runs at once; a blocking stock "
                        "conductor runs one (default %(default)s)")
    parser.add_argument("--sql-jobs", type=int, default=3,
                        help="jobs counted per SQL measurement, 0 skips it (default %(default)s)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (configs, conductor logs)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log warnings too")
    args = parser.parse_args(argv)
    args.jobs = args.jobs or (5 if args.quick else 40)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.conductors = args.conductors or ("1" if args.quick else "1,2")
    if args.quick:
        args.sql_jobs = min(args.sql_jobs, 1)
    args.backends = _split(args.backends, BACKENDS, "backend")
    args.flows = _split(args.flows, FLOWS, "flow")
    args.conductors = [int(k) for k in args.conductors.split(",")]
    if args.jobs < 1 or args.repeat < 1 or min(args.conductors) < 1:
        parser.error("--jobs, --repeat and --conductors must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Clean up as on Ctrl-C, also on SIGTERM and when started with SIGINT ignored
    # (a background job of a non-interactive shell).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    command = _command_line(argv)
    settings = workload.Settings(jobs=args.jobs, poll_interval=args.poll_interval,
                                 max_jobs=args.max_jobs, stock_kind=args.stock_kind)
    cases = [workload.Case(b, k, f)
             for b in args.backends for k in args.conductors for f in args.flows]
    work_dir = Path(tempfile.mkdtemp(prefix="orchestrator-bench-"))
    started = time.monotonic()
    load_before = os.getloadavg()
    results: list[workload.RunResult] = []
    sql: dict[tuple[str, str], dict[str, sqlcount.SqlResult]] = {}
    failures = 0
    try:
        with Services(work_dir, args.backends) as services:
            _say(f"ZooKeeper on {services.zk_hosts}"
                 + (f", PostgreSQL on port {services.postgres.port}"
                    if services.postgres else "") + f"; work dir {work_dir}")
            systems = {name: make() for name, make in workload.SYSTEMS.items()}
            total = args.repeat * len(cases) * len(systems)
            for rep in range(1, args.repeat + 1):
                for c, case in enumerate(cases):
                    # Alternate who goes first, so drift does not favour one side.
                    order = ["ours", "stock"] if (rep + c) % 2 else ["stock", "ours"]
                    for name in order:
                        run_dir = work_dir / f"run-{len(results) + 1:03d}-{name}"
                        result = workload.run_once(systems[name], case, rep, settings,
                                                   services, run_dir)
                        results.append(result)
                        _say(f"[{len(results):3d}/{total}] {_describe(result)}")
            if args.sql_jobs > 0:
                for backend in args.backends:
                    for flow in args.flows:
                        for name in ("ours", "stock"):
                            label = f"SQL {name:5s} {backend:10s} {flow}"
                            try:
                                counted = sqlcount.measure(
                                    name, backend, flow, services,
                                    work_dir / f"sql-{backend}-{flow}-{name}",
                                    jobs_to_count=args.sql_jobs,
                                    stock_kind=args.stock_kind)
                            except Exception as exc:  # one bad count must not lose the run
                                _say(f"{label}: FAILED: {exc!r}")
                                failures += 1
                                continue
                            sql.setdefault((backend, flow), {})[name] = counted
                            _say(f"{label}: conductor {counted.conductor}, "
                                 f"post {counted.post}")
            machine = _machine(services.versions(), load_before, started)
    except KeyboardInterrupt:
        _say("interrupted: services and conductors stopped")
        return 130
    finally:
        if args.keep:
            _say(f"work directory kept: {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    text = report.render(results, sql, machine, command, _settings_text(args))
    print(text)
    if args.output is not None:
        report.write(args.output, text)
        _say(f"written to {args.output}")
    return 0 if failures == 0 and all(r.ok for r in results) else 1


def _settings_text(args: argparse.Namespace) -> str:
    stock = f"stock TaskFlow {args.stock_kind} conductor (" + (
        f"max_simultaneous_jobs {args.max_jobs})" if args.stock_kind == "nonblocking"
        else "one job at a time)")
    return (
        f"{args.jobs} jobs per run, {args.repeat} runs per cell; the window runs from "
        "the first post to the last flow detail saved SUCCESS, so the posting (back to "
        "back, from one process) is inside it. Ours: `orchestrator "
        f"conductor` (max_simultaneous_jobs {args.max_jobs}, poll_interval "
        f"{args.poll_interval}); {stock}, wait_timeout {args.poll_interval}, TaskFlow's "
        "SQLAlchemy backend from `{'connection': url}`. Both: serial engine; ZooKeeper, "
        "the database, the poster and the conductors share the machine. Ratio = ours / "
        "stock; post ms = median latency of one post (SQL + ZooKeeper) while the "
        "conductors run.")


def _describe(r: workload.RunResult) -> str:
    head = (f"{r.system:5s} {r.case.backend:10s} K={r.case.conductors} "
            f"{r.case.flow:14s} rep {r.rep}: ")
    if not r.ok:
        return head + f"FAILED: {r.error}"
    return head + (f"{r.jobs} jobs in {r.elapsed:.2f}s = {r.jobs_per_s:.1f} jobs/s, "
                   f"{r.tasks_per_s:.0f} tasks/s; post {r.post_ms:.1f} ms; "
                   f"conductor CPU {r.cpu_ms_per_job:.0f} ms/job")


def _machine(servers: dict[str, str], load_before: tuple[float, float, float],
             started: float) -> dict[str, str]:
    versions = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in _PACKAGES)
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": f"{os.cpu_count()} × {_cpu_model()} (nproc {_nproc()})",
        "memory": _meminfo(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "packages": versions,
        "servers": ", ".join(f"{k} {v}" for k, v in servers.items()) or "?",
        "load average (1 min) before / after": (
            f"{load_before[0]:.2f} / {os.getloadavg()[0]:.2f}"),
        "commit": _git_commit(),
        "duration": f"{(time.monotonic() - started) / 60:.1f} min",
    }
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _nproc() -> str:
    return str(len(os.sched_getaffinity(0)))


def _meminfo() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "?"


def _git_commit() -> str:
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return head + (" (with uncommitted changes)" if dirty else "")


def _command_line(argv: list[str] | None) -> str:
    args = sys.argv[1:] if argv is None else argv
    python = os.path.relpath(sys.executable, Path.cwd())
    script = os.path.relpath(__file__, Path.cwd())
    return shlex.join([python, script, *args])


def _split(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in items if v not in allowed]
    if unknown or not items:
        raise SystemExit(f"unknown {what} {unknown or value!r}; choose from {allowed}")
    return items


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
