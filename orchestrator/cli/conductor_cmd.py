from __future__ import annotations

import click

import persistence
from orchestrator import commands, daemon, settings
from orchestrator.cli.context import AppContext, with_app


@click.command()
@click.option("--name", help="Claim jobs under this name (default: [conductor] name, "
              "else host name and pid).")
@with_app
def conductor(app: AppContext, name: str | None) -> None:
    """Claim jobs from the jobboard and run them until stopped.

    SIGTERM or Ctrl-C stops claiming, lets running flows suspend at the next
    task boundary, hands their jobs back for another conductor, and exits 0.
    """
    commands.configure(settings.command_runner_settings(app.conf))
    database = persistence.Database(settings.database_url(app.conf), ping=False)
    try:
        daemon.run_conductor(
            settings.conductor_settings(app.conf, name=name),
            database,
            app.registry,
            settings.jobboard_settings(app.conf),
        )
    finally:
        database.close()
