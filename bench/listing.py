"""Listing jobs at a million task rows, and what retention's deletes cost there.

Fills a fresh database with --jobs finished jobs (a few running and waiting
ones among them) of --tasks task rows each, written straight through the
driver (COPY on PostgreSQL, executemany on SQLite) rather than through the
product: a job row, its logbook, one flow detail and its atom details, as
posting and running leave them. Then, median of --runs after one warm-up:

  * ``orchestrator jobs list`` as a subprocess (start-up included), --cli-runs,
    reading the database directly and through ``orchestrator api`` (``[cli]
    api_url``, started on the same database);
  * ``Orchestrator.page_jobs`` in-process: the first and second pages, by state,
    by flow, by both, since a day ago;
  * ``Orchestrator.job_history`` (what ``jobs show`` reads: one job's task rows);
  * ``jobs.purge`` of the oldest jobs, one batch of --purge-batch;

with each query's plan (EXPLAIN), on the schema ``db upgrade`` makes. With
``--unindexed`` it then drops the indexes migration 0006 adds to TaskFlow's
tables (``parent_uuid`` of flow and atom details) and measures the history and
the purge again, as TaskFlow alone leaves them. From the repository root:

  .venv/bin/python -m bench.listing                          # 100,000 x 10, both databases
  .venv/bin/python -m bench.listing --backends postgresql --unindexed
  .venv/bin/python -m bench.listing --quick                  # 2,000 x 10, a smoke run
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

import jobs
import persistence
from bench.common import ROOT, leave_work_dir, machine, say, stop_on_signals
from bench.services import BACKENDS, Services
from orchestrator.registry import FlowRegistry
from orchestrator.service import JobState, Orchestrator

NOW = datetime.now(UTC).replace(microsecond=0)
FLOWS = 20
CHUNK = 5_000  # jobs written per round trip of each table
_META = ('{"progress": 1.0, "RUNNING-timestamp": 1780000000.25, '
         '"SUCCESS-timestamp": 1780000001.5}')
_RESULT = '{"volume_id": "vol-0123456789abcdef", "size": 10, "ok": true}'


def _job_state(n: int) -> str:
    """Mostly SUCCESS; 5 % REVERTED, 1 % FAILED, a few RUNNING and POSTED."""
    if n % 2000 == 7:
        return "RUNNING"
    if n % 500 == 3:
        return "POSTED"
    return "FAILED" if n % 100 == 1 else "REVERTED" if n % 20 == 2 else "SUCCESS"


def _rows(n: int, total: int, tasks: int) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of job ``n``: created oldest first over 90 days, a minute's run."""
    created = NOW - timedelta(days=90) * (1 - n / total)
    state = _job_state(n)
    done = state in ("SUCCESS", "REVERTED", "FAILED")
    job, book, flow = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    naive = created.replace(tzinfo=None)
    return {
        "orchestrator_jobs": [(
            job, f"flow-{n % FLOWS:02d}", state, '{"size": 10}', created, created,
            created, created + timedelta(minutes=1) if done else None, 1,
            "conductor-1" if state == "RUNNING" else None, book, flow, str(uuid.uuid4()),
            "NORMAL", 1, 0)],
        "logbooks": [(naive, naive, "{}", f"job-{job}", book)],
        "flowdetails": [(naive, naive, book, "{}", f"flow-{n % FLOWS:02d}", state, flow)],
        "atomdetails": [(naive, naive, _META, flow, f"step-{t}", "1.0",
                         "SUCCESS" if done else "PENDING", str(uuid.uuid4()), None,
                         _RESULT if done else None, None, None, "TASK_DETAIL", "EXECUTE")
                        for t in range(tasks)],
    }


COLUMNS = {
    "orchestrator_jobs": ("id, flow_name, state, store, created_at, updated_at, started_at, "
                          "finished_at, attempts, owner, logbook_id, flow_detail_id, "
                          "board_job_id, priority, claim_epoch, lost_streak"),
    "logbooks": "created_at, updated_at, meta, name, uuid",
    "flowdetails": "created_at, updated_at, parent_uuid, meta, name, state, uuid",
    "atomdetails": ("created_at, updated_at, meta, parent_uuid, name, version, state, uuid, "
                    "failure, results, revert_results, revert_failure, atom_type, intention"),
}


def fill(db: persistence.Database, total: int, tasks: int) -> float:
    """Write the jobs; return the seconds it took."""
    started = time.monotonic()
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        sqlite = db.engine.dialect.name == "sqlite"
        for first in range(0, total, CHUNK):
            chunk: dict[str, list[tuple[Any, ...]]] = {table: [] for table in COLUMNS}
            for n in range(first, min(first + CHUNK, total)):
                for table, rows in _rows(n, total, tasks).items():
                    chunk[table].extend(rows)
            for table, rows in chunk.items():
                if sqlite:
                    rows = [tuple(_sqlite_value(v) for v in row) for row in rows]
                    marks = ", ".join("?" * len(rows[0]))
                    cursor.executemany(
                        f"INSERT INTO {table} ({COLUMNS[table]}) VALUES ({marks})", rows)
                else:
                    with cursor.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
            raw.commit()
            say(f"  {min(first + CHUNK, total):,} jobs written")
        if not sqlite:
            cursor.execute("ANALYZE")  # what autovacuum does soon after a load
            raw.commit()
    finally:
        raw.close()
    return time.monotonic() - started


def _sqlite_value(value: Any) -> Any:
    """As SQLAlchemy stores it in SQLite: naive UTC text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") \
            if value.tzinfo else value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


class Statements:
    """The last SELECT the product sent, to EXPLAIN it."""

    def __init__(self, db: persistence.Database) -> None:
        self.last: tuple[str, Any] | None = None
        event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, parameters: Any,
              _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and (
                "orchestrator_jobs" in statement or "atomdetails" in statement):
            self.last = (statement, parameters)


def explain(db: persistence.Database, statement: tuple[str, Any] | None) -> str:
    if statement is None:
        return "?"
    sql, params = statement
    sqlite = db.engine.dialect.name == "sqlite"
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ANALYZE ") + sql, params)
        lines = [" ".join(str(c) for c in row[-1:]) for row in cursor.fetchall()]
        raw.rollback()
    finally:
        raw.close()
    return "; ".join(line.strip() for line in lines if "Planning" not in line)[:300]


def timed(call: Callable[[], Any], runs: int) -> float:
    """Median milliseconds of ``runs`` calls, after one to warm caches up."""
    call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def cli_cases(config: Path, through_api: Path) -> Iterator[tuple[str, list[str]]]:
    for how, path in (("", config), (" (through the API)", through_api)):
        base = [str(ROOT / ".venv" / "bin" / "orchestrator"), "--config-file", str(path)]
        yield f"orchestrator jobs list{how}", [*base, "jobs", "list"]
        yield (f"orchestrator jobs list --state FAILED{how}",
               [*base, "jobs", "list", "--state", "FAILED"])
    yield "orchestrator --help (start-up alone)", [*base, "--help"]


def start_api(config: Path, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``orchestrator api`` on this database (no token); its URL once it answers."""
    import http.client

    from orchestrator.standalone import find_free_port

    port = find_free_port()
    extra = work / "api.conf"
    extra.write_text("[api]\nauth_strategy = noauth\n")
    with open(work / "api.log", "ab") as log:
        proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "orchestrator"), "--config-file", str(config),
             "--config-file", str(extra), "api", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/v1")
            if connection.getresponse().status == 200:
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            pass
        finally:
            connection.close()
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the API did not start; see {work / 'api.log'}")
        time.sleep(0.2)  # poll interval while the API starts


def measure(db_url: str, backend: str, work: Path, args: argparse.Namespace) -> None:
    db = persistence.Database(db_url)
    try:
        db.upgrade()
        say(f"{backend}: writing {args.jobs:,} jobs x {args.tasks} task rows")
        took = fill(db, args.jobs, args.tasks)
        print(f"\n### {backend}: {args.jobs:,} jobs, {args.jobs * args.tasks:,} task rows "
              f"(written in {took:.0f} s)\n")
        config = work / f"{backend}.conf"
        config.write_text(f"[DEFAULT]\nstate_path = {work}\n[database]\nconnection = {db_url}\n")
        api, url = start_api(config, work)
        through_api = work / f"{backend}-api.conf"
        through_api.write_text(f"{config.read_text()}[cli]\napi_url = {url}\n")
        print("| command (subprocess, start-up included) | median ms |\n|---|---|")
        try:
            for name, command in cli_cases(config, through_api):
                ms = timed(lambda c=command: subprocess.run(  # type: ignore[misc]
                    c, check=True, stdout=subprocess.DEVNULL, cwd=ROOT), args.cli_runs)
                print(f"| `{name}` | {ms:.0f} |")
        finally:
            api.terminate()
            api.wait(timeout=60)
        seen = Statements(db)
        orch = Orchestrator(db, FlowRegistry.from_entry_points(),
                            jobs.JobboardSettings(hosts=("127.0.0.1:1",)))
        first = orch.page_jobs()
        some_job = first.jobs[-1].id
        day_ago = NOW - timedelta(days=1)
        cases: Sequence[tuple[str, Callable[[], Any]]] = [
            ("page_jobs() first page", orch.page_jobs),
            ("page_jobs() second page", lambda: orch.page_jobs(marker=first.next_marker)),
            ("state FAILED", lambda: orch.page_jobs(states=[JobState.FAILED])),
            ("states REVERTED, FAILED",
             lambda: orch.page_jobs(states=[JobState.REVERTED, JobState.FAILED])),
            ("state RUNNING", lambda: orch.page_jobs(states=[JobState.RUNNING])),
            ("flow flow-07", lambda: orch.page_jobs(flow_name="flow-07")),
            ("flow flow-07, state FAILED",
             lambda: orch.page_jobs(flow_name="flow-07", states=[JobState.FAILED])),
            ("since a day ago", lambda: orch.page_jobs(since=day_ago)),
            ("job_history(job) (jobs show)", lambda: orch.job_history(some_job)),
        ]
        print("\n| in-process call | median ms | plan |\n|---|---|---|")
        for name, call in cases:
            ms = timed(call, args.runs)
            print(f"| {name} | {ms:.1f} | {explain(db, seen.last)} |")
        purge_rows(db, "as migrated", args)
        if args.unindexed:
            with db.engine.begin() as conn:
                for name in ("ix_flowdetails_parent_uuid", "ix_atomdetails_parent_uuid"):
                    conn.exec_driver_sql(f"DROP INDEX {name}")
            ms = timed(lambda: orch.job_history(some_job), args.runs)
            print(f"\nWithout the parent_uuid indexes (TaskFlow's tables as TaskFlow "
                  f"makes them): job_history {ms:.1f} ms ({explain(db, seen.last)})")
            purge_rows(db, "without the parent_uuid indexes", args)
        orch.close()
    finally:
        db.close()


def purge_rows(db: persistence.Database, how: str, args: argparse.Namespace) -> None:
    """Purge the oldest --purge-batch finished jobs, in one batch."""
    with db.session() as session:
        oldest = persistence.purgeable_jobs(session, NOW, args.purge_batch)
        cutoff = session.execute(persistence.JOBS.select().where(
            persistence.JOBS.c.id == oldest[-1].job_id)).mappings().one()["finished_at"]
    started = time.perf_counter()
    result = jobs.purge(db, NOW - cutoff - timedelta(microseconds=1), now=NOW,
                        batch_size=args.purge_batch)
    ms = (time.perf_counter() - started) * 1000
    print(f"\nPurge {how}: {result.jobs} jobs and {result.tasks} task rows in "
          f"{result.batches} batch(es), {ms:.0f} ms")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=10, help="task rows per job")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--cli-runs", type=int, default=3,
                        help="runs of each command (a few seconds each)")
    parser.add_argument("--purge-batch", type=int, default=20,
                        help="jobs purged in one batch (and again with --unindexed)")
    parser.add_argument("--unindexed", action="store_true",
                        help="then drop the parent_uuid indexes and measure again")
    parser.add_argument("--quick", action="store_true", help="2,000 jobs, 3 runs")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.jobs, args.runs, args.cli_runs = 2_000, 3, 1
    backends = [b for b in args.backends.split(",") if b]
    stop_on_signals()
    started, load = time.monotonic(), os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="orchestrator-bench-listing-"))
    print(f"Command: {' '.join(['.venv/bin/python -m bench.listing', *sys.argv[1:]])}")
    try:
        with Services(work, backends) as services:
            for backend in backends:
                with services.database(backend, work) as url:
                    measure(url, backend, work, args)
            print()
            for key, value in itertools.chain(machine(load, started).items(),
                                              services.versions().items()):
                print(f"- {key}: {value}")
    finally:
        leave_work_dir(work, keep=args.keep)


if __name__ == "__main__":
    main()
