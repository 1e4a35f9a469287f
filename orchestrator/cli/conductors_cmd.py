from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from orchestrator.cli import jsonout
from orchestrator.cli.context import AppContext, config_option, read

if TYPE_CHECKING:
    from orchestrator.cli.remote import Api


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@config_option
def conductors(as_json: bool) -> None:
    """List the conductors alive now (registered on the ZooKeeper jobboard)."""

    def through_api(api: Api) -> list[dict[str, Any]]:
        return api.get("/conductors")["conductors"]  # type: ignore[no-any-return]

    def directly(app: AppContext) -> list[dict[str, Any]]:
        from orchestrator import views

        with app.orchestrator() as orch:
            return [views.conductor_dict(c) for c in orch.conductors()]

    found = read(through_api, directly)
    if as_json:
        click.echo(jsonout.dumps(found))
        return
    from rich.table import Table
    from rich.text import Text

    from orchestrator.cli import render

    if not found:
        render.console().print(Text("no conductor is alive", style="dim"))
        return
    table = Table("conductor", "host", "pid", "engine", "running", "since (UTC)")
    for c in found:
        table.add_row(Text(c["name"]), Text(c["hostname"] or ""), str(c["pid"] or ""),
                      c["engine"] or "", str(c["running_jobs"]),
                      (c["registered_at"] or "")[:19].replace("T", " "))
    render.console().print(table)
