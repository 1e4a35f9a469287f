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
def flows(as_json: bool) -> None:
    """List registered flows, the inputs each one requires, and which can be undone.

    'undoable': the flow declares itself revertible after success, so a SUCCESS
    job of it can be undone with 'orchestrator jobs revert JOB'.
    """

    def through_api(api: Api) -> list[dict[str, Any]]:
        return api.get("/flows")["flows"]  # type: ignore[no-any-return]

    def directly(app: AppContext) -> list[dict[str, Any]]:
        from orchestrator import views

        return [views.flow_dict(i) for i in app.orchestrator().flows()]

    found = read(through_api, directly)
    if as_json:
        click.echo(jsonout.dumps(found))
        return
    from rich.table import Table

    from orchestrator.cli import render

    table = Table("flow", "requires", "optional", "undoable", "description")
    for flow in found:
        table.add_row(flow["name"], ", ".join(flow["requires"]), ", ".join(flow["optional"]),
                      "yes" if flow["revertible_after_success"] else "",
                      flow["description"])
    render.console().print(table)
