"""``orchestrator jobs``: what happened to a job, from the terminal.

Tables for people on stdout, ``--json`` for scripts; live progress goes to
stderr. Times given on the command line without an offset are UTC, like every
time these commands print.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click
from rich.text import Text

from orchestrator.cli import progress, render
from orchestrator.cli.context import AppContext, with_app
from orchestrator.cli.render import history_json, history_view, jobs_json, jobs_table
from orchestrator.service import JobState

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
    """Inspect jobs: list them, show what happened to one, watch or cancel one."""


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
@with_app
def list_jobs(app: AppContext, states: tuple[str, ...], flow: str | None,
              since: datetime | None, until: datetime | None, limit: int,
              as_json: bool) -> None:
    """List jobs, newest first."""
    with app.orchestrator() as orch:
        records = orch.list_jobs(states=[JobState(s) for s in states] or None,
                                 flow_name=flow, since=since, until=until, limit=limit)
    if as_json:
        click.echo(jobs_json(records))
    elif records:
        render.console().print(jobs_table(records))
    else:
        render.console().print(Text("no jobs match", style="dim"))


@jobs.command()
@click.argument("job_id", metavar="JOB")
@click.option("--traceback", is_flag=True, help="Include the tracebacks of failures.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@with_app
def show(app: AppContext, job_id: str, traceback: bool, as_json: bool) -> None:
    """Show what happened to JOB: its record and each task in execution order."""
    with app.orchestrator() as orch:
        history = orch.job_history(job_id)
    if as_json:
        click.echo(history_json(history, traceback=traceback))
    else:
        render.console().print(history_view(history, traceback=traceback))


@jobs.command()
@click.argument("job_id", metavar="JOB")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="Give up after this many seconds (exit 1).")
@with_app
def watch(app: AppContext, job_id: str, timeout: float | None) -> None:
    """Follow JOB until it ends, showing its progress on stderr.

    Prints the final state on stdout; exits 0 if the job succeeded, else 1.
    """
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
@with_app
def cancel(app: AppContext, job_id: str, wait: bool, timeout: float | None) -> None:
    """Cancel JOB: it stops at its next task boundary and reverts what it did.

    A job no conductor has started ends REVERTED at once. Cancelling a job that
    has already finished is an error (exit 2). Prints the job's state.
    """
    with app.orchestrator() as orch:
        record = orch.cancel(job_id)
        if wait and not record.is_terminal:
            record = progress.watch(orch, job_id, timeout=timeout)
    click.echo(record.state.value)
    if not record.is_terminal:
        click.echo("  cancel requested: the job reverts after its current task", err=True)
