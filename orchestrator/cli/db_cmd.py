from __future__ import annotations

import click

from orchestrator.cli.context import AppContext, with_app


@click.group()
def db() -> None:
    """Manage the database schema."""


@db.command()
@with_app
def upgrade(app: AppContext) -> None:
    """Create or upgrade TaskFlow's tables and the orchestrator's own.

    Safe to run again: an up-to-date database is left as it is.
    """
    app.database.upgrade()
    click.echo(f"database {app.database.url} is up to date")
