"""``orchestrator jobs``: what happened to a job, from the terminal.

Tables for people on stdout, ``--json`` for scripts; live progress goes to
stderr. Times given on the command line without an offset are UTC, like every
time these commands print.
"""

from __future__ import annotations

import getpass
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from orchestrator.cli import jsonout
from orchestrator.cli.context import AppContext, again, config_option, read, with_app
from persistence.states import JobState

if TYPE_CHECKING:
    from orchestrator.cli.remote import Api
    from orchestrator.service import JobRecord, Orchestrator

# Each command imports what it renders with (rich, the service...) when it
# runs: `jobs --help` answers at once.

_RELATIVE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: datetime) -> datetime:
    """``30m``, ``1h``, ``2d``... before ``now``, or an ISO-8601 date or time.

    An ISO time without an offset is taken as UTC; a date alone means its
    midnight, UTC. Returns a timezone-aware UTC datetime; raises ``ValueError``
    with a message fit for the user.
    """
    value = text.strip()
    relative = _RELATIVE.fullmatch(value)
    if relative is not None:
        amount, unit = relative.groups()
        return now.astimezone(UTC) - timedelta(
            seconds=float(amount) * _UNIT_SECONDS[unit.lower()])
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an ISO-8601 date or time (2024-05-01, "
            "2024-05-01T12:30, 2024-05-01T12:30:00+02:00) nor a time ago "
            "(a number and one of s, m, h, d, w: 30m, 1h, 2d)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


class SinceType(click.ParamType):
    name = "WHEN"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_since(str(value), datetime.now(UTC))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class StateChoice(click.Choice):  # unsubscripted: click 8.1's Choice is not generic
    """Job states in any case, listed and matched in upper case, as stored.

    Click 8.2+ would list them casefolded; 8.1 has no ``normalize_choice``
    but matches case-insensitively all the same.
    """

    def __init__(self) -> None:
        super().__init__([s.value for s in JobState], case_sensitive=False)

    def normalize_choice(self, choice: object, ctx: click.Context | None) -> str:
        return str(choice).upper()


@click.group()
def jobs() -> None:
    """Inspect jobs: list, show, explain, watch, cancel or retry one.

    JOB is a job's id, or the start of one that no other id shares.
    """


@jobs.command("list")
@click.option("--state", "states", multiple=True,
              type=StateChoice(),
              help="Only jobs in this state; may be given more than once.")
@click.option("--flow", help="Only jobs of this flow.")
@click.option("--since", type=SinceType(),
              help="Only jobs created since then: an ISO-8601 date or time (UTC unless "
              "it has an offset) or a time ago such as 30m, 1h, 2d.")
@click.option("--until", type=SinceType(),
              help="Only jobs created before then (same forms as --since).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="Show at most this many jobs.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@config_option
def list_jobs(states: tuple[str, ...], flow: str | None, since: datetime | None,
              until: datetime | None, limit: int, as_json: bool) -> None:
    """List jobs, newest first."""

    def through_api(api: Api) -> list[dict]:
        return api.get("/jobs", {  # type: ignore[no-any-return]
            "state": list(states), "flow": flow, "limit": limit,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None})["jobs"]

    def directly(app: AppContext) -> list[dict]:
        from orchestrator.views import job_summary_dict

        with app.orchestrator() as orch:
            return [job_summary_dict(r) for r in orch.list_jobs(
                states=[JobState(s) for s in states] or None, flow_name=flow,
                since=since, until=until, limit=limit)]

    found = read(through_api, directly)
    if as_json:
        click.echo(jsonout.dumps(found))
        return
    from rich.text import Text

    from orchestrator.cli import render

    render.console().print(render.jobs_table(found) if found else
                           Text("no jobs match", style="dim"))


@jobs.command()
@click.argument("job_id", metavar="JOB")
@click.option("--traceback", is_flag=True, help="Include the tracebacks of failures.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@config_option
def show(job_id: str, traceback: bool, as_json: bool) -> None:
    """Show what happened to JOB: its record and each task in execution order."""

    def through_api(api: Api) -> dict:
        from orchestrator.cli import remote

        detail = api.get(f"/jobs/{remote.quoted(job_id)}")
        detail.pop("undoable", None)
        if not traceback:
            for task in detail["tasks"]:
                for failure in (task["failure"], task["revert_failure"]):
                    if failure is not None:
                        failure["traceback"] = None
        return detail  # type: ignore[no-any-return]

    def directly(app: AppContext) -> dict:
        from orchestrator.views import history_dict

        with app.orchestrator() as orch:
            return history_dict(orch.job_history(job_id), traceback=traceback)

    history = read(through_api, directly)
    if as_json:
        click.echo(jsonout.dumps(history))
        return
    from orchestrator.cli import render

    render.console().print(render.history_view(history, traceback=traceback))


@jobs.command()
@click.argument("job_id", metavar="JOB")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="Give up after this many seconds (exit 1).")
@with_app
def watch(app: AppContext, job_id: str, timeout: float | None) -> None:
    """Follow JOB until it ends, showing its progress on stderr.

    Prints the final state on stdout; exits 0 if the job succeeded, else 1.
    """
    from orchestrator.cli import progress

    with app.orchestrator() as orch:
        final = progress.watch(orch, job_id, timeout=timeout)
    click.echo(final.state.value)
    if final.last_error:
        click.echo(f"  error: {final.last_error}", err=True)
    if final.state is not JobState.SUCCESS:
        raise SystemExit(1)


@jobs.command()
@click.argument("job_id", metavar="JOB")
@click.option("--wait", is_flag=True,
              help="Follow the job until it has reverted, showing progress on stderr.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="With --wait: give up after this many seconds (exit 1).")
@click.option("--by", "requested_by", metavar="NAME",
              help="Who asks, recorded on the job (default: your user name).")
@with_app
def cancel(app: AppContext, job_id: str, wait: bool, timeout: float | None,
           requested_by: str | None) -> None:
    """Cancel JOB: it stops at its next task boundary and reverts what it did.

    A job no conductor has started ends REVERTED at once. Cancelling a job that
    has already finished is an error (exit 2). Prints the job's state.
    """
    from orchestrator.cli import progress

    with app.orchestrator() as orch:
        record = orch.cancel(job_id, requested_by or _user())
        if wait and not record.is_terminal:
            record = progress.watch(orch, job_id, timeout=timeout)
    click.echo(record.state.value)
    if not record.is_terminal:
        click.echo("  cancel requested: the job reverts after its current task", err=True)


@jobs.command()
@click.argument("job_id", metavar="JOB")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@config_option
def explain(job_id: str, as_json: bool) -> None:
    """Say why JOB is, or is not, running now, and who holds it since when.

    For instance: no conductor is alive; no live conductor has its flow; every
    slot is busy, with N jobs ahead of it; backing off after a failed attempt;
    quarantined; cancelled.
    """

    def through_api(api: Api) -> dict:
        from orchestrator.cli import remote

        return api.get(f"/jobs/{remote.quoted(job_id)}/explain")  # type: ignore[no-any-return]

    def directly(app: AppContext) -> dict:
        from orchestrator.views import explanation_dict

        with app.orchestrator() as orch:
            return explanation_dict(orch.explain(job_id))

    explanation = read(through_api, directly)
    if as_json:
        click.echo(jsonout.dumps(explanation))
        return
    from orchestrator.cli import render

    render.console().print(render.explanation_view(explanation))


@jobs.command()
@click.argument("job_id", metavar="JOB")
@click.option("--wait", is_flag=True,
              help="Follow the new job until it ends, showing progress on stderr.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="With --wait: give up after this many seconds (exit 1).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the new job's record as JSON.")
@click.option("--resume-revert", is_flag=True,
              help="Instead, resume the failed revert of JOB (FAILED because a task's "
                   "revert raised), once its cause is fixed.")
@click.option("--by", "requested_by", metavar="NAME",
              help="With --resume-revert: who asks, recorded on the job (default: "
                   "your user name).")
@with_app
def retry(app: AppContext, job_id: str, wait: bool, timeout: float | None,
          as_json: bool, resume_revert: bool, requested_by: str | None) -> None:
    """Post JOB again: a new job with the same flow, document, store and priority.

    JOB must have finished. The new job names JOB as the one it retries, and
    'jobs show JOB' lists its retries. Prints the new job's id.

    With --resume-revert, JOB itself goes on instead: the task whose revert
    failed is reverted again, then the tasks before it, last first; nothing
    is executed again. Prints JOB's id; with --wait, exit 0 once it is REVERTED.
    """
    if resume_revert:
        _resume_revert(app, job_id, wait, timeout, as_json, requested_by or _user())
        return
    if requested_by is not None:
        raise click.UsageError("--by goes with --resume-revert")
    with app.orchestrator() as orch:
        record = orch.retry(job_id).record
        _follow(orch, record, f"retry of {record.retry_of}", JobState.SUCCESS, wait=wait,
                timeout=timeout, as_json=as_json)


@jobs.command()
@click.argument("job_id", metavar="JOB")
@click.option("--wait", is_flag=True,
              help="Follow JOB until it has reverted, showing progress on stderr.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="With --wait: give up after this many seconds (exit 1).")
@click.option("--json", "as_json", is_flag=True, help="Print JOB's record as JSON.")
@click.option("--by", "requested_by", metavar="NAME",
              help="Who asks, recorded on the job (default: your user name).")
@with_app
def revert(app: AppContext, job_id: str, wait: bool, timeout: float | None,
           as_json: bool, requested_by: str | None) -> None:
    """Undo JOB, which ended SUCCESS: revert each of its tasks, last first.

    Each task's revert gets the result that task recorded (the volume created,
    the quota reserved...). Only for flows that declare themselves revertible
    after success ('orchestrator flows' says which); any other job is an error
    (exit 2). JOB runs again as a new attempt, resumed by another conductor if
    its conductor dies, and ends REVERTED, saying who asked. Prints JOB's id;
    with --wait, exit 0 once it is REVERTED.
    """
    with app.orchestrator() as orch:
        record = orch.undo(job_id, requested_by or _user())
        _follow(orch, record, "undo requested", JobState.REVERTED, wait=wait,
                timeout=timeout, as_json=as_json)


def _resume_revert(app: AppContext, job_id: str, wait: bool, timeout: float | None,
                   as_json: bool, requested_by: str) -> None:
    with app.orchestrator() as orch:
        record = orch.resume_revert(job_id, requested_by)
        _follow(orch, record, "revert resumed", JobState.REVERTED, wait=wait,
                timeout=timeout, as_json=as_json)


def _follow(orch: Orchestrator, record: JobRecord, what: str, hoped: JobState, *,
            wait: bool, timeout: float | None, as_json: bool) -> None:
    """Print the job (its id, or its record as JSON) and how to follow it; with
    ``wait``, follow it and exit 1 unless it ends ``hoped``."""
    from orchestrator.cli import progress

    if as_json:
        click.echo(jsonout.history_json(orch.job_history(record.id)))
    else:
        click.echo(record.id)
        click.echo(f"  {what}; follow it with: {again('jobs', 'watch', record.id)}",
                   err=True)
    if wait:
        final = progress.watch(orch, record.id, timeout=timeout)
        if not as_json:
            click.echo(final.state.value)
        if final.state is not hoped:
            raise SystemExit(1)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"
