"""``orchestrator schedules``: post a flow's job on a cron expression.

Tables for people, ``--json`` for scripts. Conductors fire the schedules
(the one leading the scheduler); these commands only read and change them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from orchestrator.cli import jsonout
from orchestrator.cli.context import AppContext, config_option, read, with_app
from orchestrator.cli.post_cmd import _load_store

if TYPE_CHECKING:
    from orchestrator.cli.remote import Api
    from orchestrator.schedules import ScheduleService, ScheduleView

# Each command imports what it needs when it runs: `schedules --help` answers at once.

_MISSED_HELP = ("What becomes of fire times missed while no conductor ran (older than "
                "[scheduler] misfire_grace): 'skip' records them as skipped, 'run_once' "
                "posts one job for the latest of them.")


@click.group()
def schedules() -> None:
    """Post a flow's job on a cron expression: create, list, show, pause, resume, delete.

    \b
    CRON has five fields (minute hour day-of-month month day-of-week), read in
    --timezone, or six with SECONDS LAST: '* * * * * */10' fires every 10 s.
    Conductors fire the schedules: one of them leads (elected in ZooKeeper)
    and posts each fire time's job once; another takes over if it dies.
    """


@contextmanager
def _service(app: AppContext) -> Iterator[ScheduleService]:
    from orchestrator.schedules import ScheduleService

    with app.orchestrator() as orch:
        yield ScheduleService(app.database, orch)


@schedules.command()
@click.argument("name")
@click.argument("flow")
@click.option("--cron", required=True, metavar="CRON",
              help="When to post: '30 2 * * *' (02:30 every day), '* * * * * */10'.")
@click.option("--timezone", default="UTC", show_default=True,
              help="IANA time zone CRON is read in (Europe/Paris...).")
@click.option("--missed", type=click.Choice(["skip", "run_once"]), default="skip",
              show_default=True, help=_MISSED_HELP)
@click.option("--store-json", metavar="JSON", help="The flow's inputs as a JSON object.")
@click.option("--store-file", type=click.File("r"), help="Read the inputs from a JSON file.")
@click.option("--priority", default="NORMAL", show_default=True,
              help="Priority of the jobs posted (VERY_HIGH, HIGH, NORMAL, LOW, VERY_LOW).")
@click.option("--json", "as_json", is_flag=True, help="Print the schedule as JSON.")
@with_app
def create(app: AppContext, name: str, flow: str, cron: str, timezone: str, missed: str,
           store_json: str | None, store_file: Any, priority: str, as_json: bool) -> None:
    """Create schedule NAME posting FLOW's job at each fire time of --cron.

    The flow and the store are checked as a post checks them. The first job
    is posted at the first fire time after now.
    """
    import getpass

    store = _load_store(store_json, store_file)
    with _service(app) as service:
        view = service.create(name, flow, store, cron, timezone=timezone, missed=missed,
                              priority=priority, created_by=getpass.getuser())
    _print(view, as_json)


@schedules.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@config_option
def list_schedules(as_json: bool) -> None:
    """List the schedules with their next fire time."""

    def through_api(api: Api) -> list[dict[str, Any]]:
        return api.get("/schedules")["schedules"]  # type: ignore[no-any-return]

    def directly(app: AppContext) -> list[dict[str, Any]]:
        from orchestrator.schedules.views import schedule_dict

        with _service(app) as service:
            return [schedule_dict(view) for view in service.list_all()]

    found = read(through_api, directly)
    if as_json:
        click.echo(jsonout.dumps(found))
        return
    from rich.table import Table
    from rich.text import Text

    from orchestrator.cli import render

    if not found:
        render.console().print(Text("no schedules", style="dim"))
        return
    table = Table("name", "flow", "cron", "time zone", "missed", "state", "next fire (UTC)")
    for s in found:
        state = Text("paused", style="yellow") if s["paused"] else Text("active",
                                                                        style="green")
        table.add_row(Text(s["name"]), Text(s["flow"]), Text(s["cron"]), s["timezone"],
                      s["missed"], state, _utc(s["next_fires"][0] if s["next_fires"]
                                               else None))
    render.console().print(table)


@schedules.command()
@click.argument("name")
@click.option("--history", type=click.IntRange(0, 1000), default=20, show_default=True,
              help="How many of the last fires to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@config_option
def show(name: str, history: int, as_json: bool) -> None:
    """Show schedule NAME: its next fire times and its last fires, newest first."""

    def through_api(api: Api) -> dict[str, Any]:
        from orchestrator.cli import remote

        return api.get(f"/schedules/{remote.quoted(name)}",  # type: ignore[no-any-return]
                       {"history": history})

    def directly(app: AppContext) -> dict[str, Any]:
        from orchestrator.schedules.views import schedule_dict

        with _service(app) as service:
            return schedule_dict(service.get(name, history), with_fires=True)

    _show(read(through_api, directly), as_json)


def _named(func: Callable[..., None]) -> Callable[..., None]:
    """NAME, --json and the AppContext, for a command changing one schedule."""
    return click.argument("name")(click.option(
        "--json", "as_json", is_flag=True, help="Print the schedule as JSON.")(with_app(func)))


@schedules.command()
@_named
def pause(app: AppContext, name: str, as_json: bool) -> None:
    """Stop posting schedule NAME's jobs until it is resumed."""
    with _service(app) as service:
        _print(service.pause(name), as_json)


@schedules.command()
@_named
def resume(app: AppContext, name: str, as_json: bool) -> None:
    """Post schedule NAME's jobs again, from the first fire time after now.

    Fire times that passed while it was paused are not posted.
    """
    with _service(app) as service:
        _print(service.resume(name), as_json)


@schedules.command()
@click.argument("name")
@with_app
def delete(app: AppContext, name: str) -> None:
    """Delete schedule NAME and its history (the jobs it posted stay)."""
    with _service(app) as service:
        service.delete(name)
    click.echo(f"schedule {name} deleted")


def _utc(value: str | None) -> str:
    return "" if value is None else value[:19].replace("T", " ")


def _print(view: ScheduleView, as_json: bool) -> None:
    from orchestrator.schedules.views import schedule_dict

    _show(schedule_dict(view, with_fires=True), as_json)


def _show(shown: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(jsonout.dumps(shown))
        return
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from orchestrator.cli import render

    panel = Table.grid(padding=(0, 2))
    for label, value in (("schedule", shown["name"]), ("flow", shown["flow"]),
                         ("cron", f"{shown['cron']}  ({shown['timezone']})"),
                         ("missed", shown["missed"]), ("priority", shown["priority"]),
                         ("state", "paused" if shown["paused"] else "active"),
                         ("store", json.dumps(shown["store"], sort_keys=True)),
                         ("next fires (UTC)", ", ".join(_utc(t) for t in shown["next_fires"])
                          or "none while paused")):
        panel.add_row(Text(label, style="bold"), Text(str(value)))
    parts: list[Any] = [panel]
    if shown["fires"]:
        fires = Table("fire time (UTC)", "outcome", "job", "detail")
        for fire in shown["fires"]:
            fires.add_row(_utc(fire["fire_at"]), render.state_text(fire["outcome"]),
                          fire["job_id"] or "", Text(fire["detail"] or ""))
        parts.append(fires)
    render.console().print(Group(*parts))
