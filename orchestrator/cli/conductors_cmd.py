from __future__ import annotations

import json

import click

from orchestrator.cli.context import AppContext, with_app


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_app
def conductors(app: AppContext, as_json: bool) -> None:
    """List the conductors alive now (registered on the ZooKeeper jobboard)."""
    from rich.table import Table
    from rich.text import Text

    from orchestrator import views
    from orchestrator.cli import render

    with app.orchestrator() as orch:
        found = [views.conductor_dict(c) for c in orch.conductors()]
    if as_json:
        click.echo(json.dumps(found, indent=2, sort_keys=True))
        return
    if not found:
        render.console().print(Text("no conductor is alive", style="dim"))
        return
    table = Table("conductor", "host", "pid", "engine", "running", "since (UTC)")
    for c in found:
        table.add_row(Text(c["name"]), Text(c["hostname"] or ""), str(c["pid"] or ""),
                      c["engine"] or "", str(c["running_jobs"]),
                      (c["registered_at"] or "")[:19].replace("T", " "))
    render.console().print(table)
