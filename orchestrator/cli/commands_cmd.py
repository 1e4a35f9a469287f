"""``orchestrator commands``: the extension commands flow documents may use."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def commands(as_json: bool) -> None:
    """List the installed extension commands: parameters, compensation, description.

    A flow document's step names one as ``command: extension.command``; the
    compensating command, when there is one, runs when the step is reverted.
    """
    from rich.table import Table

    from orchestrator.cli import render
    from orchestrator.commands import CommandCatalog

    infos = sorted(CommandCatalog.installed(), key=lambda i: i.full_name)
    if as_json:
        click.echo(json.dumps([{"command": i.full_name, "params": list(i.params),
                                "revert": f"{i.extension}.{i.revert}" if i.revert else None,
                                "description": i.doc} for i in infos], indent=2))
        return
    table = Table("command", "parameters", "reverted by", "description")
    for info in infos:
        table.add_row(info.full_name, ", ".join(info.params),
                      f"{info.extension}.{info.revert}" if info.revert else "",
                      info.doc)
    render.console().print(table)
