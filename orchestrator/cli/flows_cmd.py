from __future__ import annotations

import json

import click

from orchestrator.cli.context import AppContext, with_app


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_app
def flows(app: AppContext, as_json: bool) -> None:
    """List registered flows, the inputs each one requires, and which can be undone.

    'undoable': the flow declares itself revertible after success, so a SUCCESS
    job of it can be undone with 'orchestrator jobs revert JOB'.
    """
    from rich.table import Table

    from orchestrator import views
    from orchestrator.cli import render

    infos = app.orchestrator().flows()
    if as_json:
        click.echo(json.dumps([views.flow_dict(i) for i in infos], indent=2))
        return
    table = Table("flow", "requires", "optional", "undoable", "description")
    for info in infos:
        table.add_row(info.name, ", ".join(sorted(info.requires)),
                      ", ".join(sorted(info.optional)),
                      "yes" if info.revertible_after_success else "", info.description)
    render.console().print(table)
