from __future__ import annotations

import re
from datetime import timedelta

import click

from orchestrator.cli.context import AppContext, with_app


@click.group()
def db() -> None:
    """Manage the database: upgrade it, purge finished jobs."""


@db.command()
@with_app
def upgrade(app: AppContext) -> None:
    """Create or upgrade TaskFlow's tables and the orchestrator's own.

    Safe to run again: an up-to-date database is left as it is.
    """
    app.database.upgrade()
    click.echo(f"database {app.database.url} is up to date")


_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 86400}


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s``, or a plain number of days (``30``)."""
    found = _AGE.fullmatch(text.strip())
    if found is None:
        raise ValueError(
            f"{text!r} is not an age: give a number and one of s, m, h, d "
            "(30d, 12h, 90m), or a number of days (30)")
    amount, unit = found.groups()
    return timedelta(seconds=float(amount) * _UNIT_SECONDS[unit.lower()])


class AgeType(click.ParamType):
    name = "AGE"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_age(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@db.command()
@click.option("--older-than", "older_than", type=AgeType(), required=True,
              help="Delete jobs that finished longer ago than this: 30d, 12h, 90m, "
              "45s, or a number of days.")
@click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True,
              help="Jobs deleted per transaction.")
@click.option("--dry-run", is_flag=True,
              help="Count what would be deleted; delete nothing.")
@with_app
def purge(app: AppContext, older_than: timedelta, batch_size: int, dry_run: bool) -> None:
    """Delete finished jobs (SUCCESS, REVERTED, FAILED) older than an age.

    Each job goes with its attempts, its logbook and its flow and atom details
    (task rows). Jobs that have not finished are never deleted. Conductors do
    this on their own, by the [retention] options.
    """
    import jobs

    app.database.require_current_schema()
    result = jobs.purge(app.database, older_than, batch_size=batch_size, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"jobs finished before {result.cutoff.isoformat(timespec='seconds')}: "
               f"{verb} {result.jobs} job(s) and {result.tasks} task row(s) "
               f"in {result.batches} batch(es) of at most {batch_size}")
