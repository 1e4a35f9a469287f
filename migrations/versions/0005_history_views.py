"""History views for operators: jobs, attempts and tasks, with no TaskFlow JSON to unpick.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

The views are a public interface (docs/history-views.md): a column is never
renamed or removed, new ones go at the end. The SQL is frozen here, as a
revision's tables are: a later revision that changes a view drops it and
creates it again with its own copy of the SQL.

They read TaskFlow's ``atomdetails`` (created by TaskFlow's own upgrade, which
``Database.upgrade()`` runs before ours). A later revision that rebuilds a
table a view reads must drop the views first and create them again after:
on SQLite, batch mode's final ``ALTER TABLE ... RENAME`` fails with "error in
view ..." while a view names the table; on PostgreSQL, changing or dropping a
column a view reads is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEWS = ("orchestrator_job_history", "orchestrator_attempt_history", "orchestrator_task_history")

# The ``<STATE>-timestamp`` unix times TaskFlow's EventTimeListener (and our
# LeanStorage) put in an atom's ``meta``, by the column alias they get below.
_STAMPS = {
    "pending_ts": "PENDING", "running_ts": "RUNNING", "success_ts": "SUCCESS",
    "failure_ts": "FAILURE", "reverting_ts": "REVERTING", "reverted_ts": "REVERTED",
    "revert_failure_ts": "REVERT_FAILURE",
}


class _SQLite:
    """The few expressions SQLite and PostgreSQL spell differently: SQLite's."""

    @staticmethod
    def seconds(start: str, end: str) -> str:
        """Seconds from one timestamp column to another."""
        return f"(julianday({end}) - julianday({start})) * 86400.0"

    @staticmethod
    def number(col: str, key: str) -> str:
        """A JSON column's numeric key; NULL when it is missing or not a number."""
        path = f"'$.\"{key}\"'"
        return (f"CASE WHEN json_type({col}, {path}) IN ('integer', 'real') "
                f"THEN json_extract({col}, {path}) END")

    @staticmethod
    def text(col: str, key: str, index: int | None = None) -> str:
        """A JSON column's value at ``key`` (and ``index`` in it), as text."""
        path = key if index is None else f"{key}[{index}]"
        return f"json_extract({col}, '$.{path}')"

    @staticmethod
    def json_text(col: str) -> str:
        """A whole JSON column as JSON text; NULL for JSON's null too."""
        return f"CASE WHEN json_type({col}) <> 'null' THEN {col} END"

    @staticmethod
    def enum_text(col: str) -> str:
        """One of TaskFlow's enum columns as text."""
        return col

    @staticmethod
    def time(unix: str) -> str:
        """A unix time as UTC text; to the millisecond, SQLite's %f has no more."""
        return f"strftime('%Y-%m-%d %H:%M:%f', {unix}, 'unixepoch')"

    @staticmethod
    def greatest(a: str, b: str) -> str:
        """The larger of two, ignoring NULL."""
        return (f"CASE WHEN {a} IS NULL THEN {b} WHEN {b} IS NULL OR {a} >= {b} "
                f"THEN {a} ELSE {b} END")

    @staticmethod
    def flag(condition: str) -> str:
        """A condition as a column: 0 or 1."""
        return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


class _PostgreSQL(_SQLite):
    """PostgreSQL's spelling: native timestamps, booleans and JSON operators."""

    @staticmethod
    def seconds(start: str, end: str) -> str:
        return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS double precision)"

    @staticmethod
    def number(col: str, key: str) -> str:
        return (f"CASE WHEN json_typeof({col} -> '{key}') = 'number' "
                f"THEN CAST({col} ->> '{key}' AS double precision) END")

    @staticmethod
    def text(col: str, key: str, index: int | None = None) -> str:
        if index is None:
            return f"({col} ->> '{key}')"
        return f"({col} -> '{key}' ->> {index})"

    @staticmethod
    def json_text(col: str) -> str:
        return f"CASE WHEN json_typeof({col}) <> 'null' THEN CAST({col} AS text) END"

    @staticmethod
    def enum_text(col: str) -> str:
        return f"CAST({col} AS text)"

    @staticmethod
    def time(unix: str) -> str:
        return f"to_timestamp({unix})"

    @staticmethod
    def greatest(a: str, b: str) -> str:
        return f"GREATEST({a}, {b})"

    @staticmethod
    def flag(condition: str) -> str:
        return f"({condition})"


def job_history(d: type[_SQLite]) -> str:
    cancelled = d.flag("cancel_requested_at IS NOT NULL AND finished_at IS NOT NULL"
                       " AND state <> 'SUCCESS'")
    return f"""CREATE VIEW orchestrator_job_history AS
SELECT id AS job_id, flow_name AS flow, state, priority,
       created_at, started_at, finished_at,
       {d.seconds("started_at", "finished_at")} AS duration_seconds,
       attempts, owner, last_error,
       {cancelled} AS cancelled,
       cancel_requested_at, cancel_requested_by, retry_of, idempotency_key, not_before
FROM orchestrator_jobs"""


def attempt_history(d: type[_SQLite]) -> str:
    return f"""CREATE VIEW orchestrator_attempt_history AS
SELECT a.job_id, j.flow_name AS flow, a.number AS attempt, a.conductor,
       a.started_at, a.ended_at,
       {d.seconds("a.started_at", "a.ended_at")} AS duration_seconds,
       a.outcome, a.job_state, a.step, a.detail
FROM orchestrator_attempts a
JOIN orchestrator_jobs j ON j.id = a.job_id"""


def task_history(d: type[_SQLite]) -> str:
    """One row per task, its times those of its last run (as ``persistence.history``).

    Each run overwrites the stamps of the states it enters, so a task run
    again (resumed, retried, reset) still carries the end times of an earlier
    run; a stamp older than the last run's start (its ``RUNNING``, or a later
    reset to ``PENDING``) is not shown.
    """
    stamps = ",\n             ".join(f"{d.number('a.meta', f'{state}-timestamp')} AS {alias}"
                                      for alias, state in _STAMPS.items())

    def kept(alias: str) -> str:
        return f"CASE WHEN boundary IS NULL OR {alias} >= boundary THEN {alias} END"

    run_start = ("CASE WHEN running_ts IS NOT NULL AND (pending_ts IS NULL"
                 " OR pending_ts <= running_ts) THEN running_ts END")
    return f"""CREATE VIEW orchestrator_task_history AS
SELECT job_id, flow, task, state, intention,
       {d.time("run_start")} AS execute_started_at,
       {d.time("execute_end")} AS execute_finished_at,
       execute_end - run_start AS execute_duration_seconds,
       {d.time("revert_start")} AS revert_started_at,
       {d.time("revert_end")} AS revert_finished_at,
       revert_end - revert_start AS revert_duration_seconds,
       result, failure_type, failure_message, revert_failure_type, revert_failure_message
FROM (
  SELECT runs.*,
         CASE WHEN run_start IS NOT NULL
              THEN {d.greatest(kept("success_ts"), kept("failure_ts"))} END AS execute_end,
         {kept("reverting_ts")} AS revert_start,
         CASE WHEN {kept("reverting_ts")} IS NOT NULL
              THEN {d.greatest(kept("reverted_ts"), kept("revert_failure_ts"))} END AS revert_end
  FROM (
    SELECT stamps.*,
           {run_start} AS run_start,
           COALESCE({run_start}, pending_ts) AS boundary
    FROM (
      SELECT j.id AS job_id, j.flow_name AS flow, a.name AS task,
             COALESCE(a.state, 'PENDING') AS state,
             {d.enum_text("a.intention")} AS intention,
             {d.json_text("a.results")} AS result,
             {d.text("a.failure", "exc_type_names", 0)} AS failure_type,
             {d.text("a.failure", "exception_str")} AS failure_message,
             {d.text("a.revert_failure", "exc_type_names", 0)} AS revert_failure_type,
             {d.text("a.revert_failure", "exception_str")} AS revert_failure_message,
             {stamps}
      FROM orchestrator_jobs j
      JOIN atomdetails a ON a.parent_uuid = j.flow_detail_id
      WHERE {d.enum_text("a.atom_type")} = 'TASK_DETAIL'
        AND substr(a.name, 1, 10) <> '_TaskFlow_'
    ) stamps
  ) runs
) ends"""


def statements(dialect_name: str) -> list[str]:
    """The ``CREATE VIEW`` statements for one database."""
    dialect = _PostgreSQL if dialect_name == "postgresql" else _SQLite
    return [job_history(dialect), attempt_history(dialect), task_history(dialect)]


def upgrade() -> None:
    for statement in statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
