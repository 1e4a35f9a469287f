from __future__ import annotations

import click

from orchestrator.cli.context import AppContext, with_app


@click.command()
@click.option("--name", help="Claim jobs under this name (default: [conductor] name, "
              "else host name and pid).")
@with_app
def conductor(app: AppContext, name: str | None) -> None:
    """Claim jobs from the jobboard and run them until stopped.

    SIGTERM or Ctrl-C stops claiming, lets running flows suspend at the next
    task boundary, hands their jobs back for another conductor, and exits 0.

    SIGHUP reloads the flows (entry points and [flows] directory documents)
    and the extensions, so flows installed or added since are run without a
    restart; running jobs keep the flow they started with. A job naming a flow
    the conductor lacks also makes it look again, at most every 10 seconds;
    meanwhile the job waits, it is not failed.
    """
    import persistence
    from orchestrator import commands, daemon, settings

    commands.configure(settings.command_runner_settings(app.conf))
    database = persistence.Database(settings.database_url(app.conf), ping=False)
    try:
        daemon.run_conductor(
            settings.conductor_settings(app.conf, name=name),
            database,
            app.registry,
            settings.jobboard_settings(app.conf),
            endpoint=settings.conductor_endpoint(app.conf),
            load_registry=lambda: settings.flow_registry(app.conf, fresh=True),
        )
    finally:
        database.close()
