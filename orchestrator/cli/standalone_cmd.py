from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from orchestrator.cli.context import AppContext, command_name, with_app

if TYPE_CHECKING:
    # Imported when it runs: `standalone --help` answers at once.
    from rich.console import Console

    from orchestrator.service import JobRecord, Orchestrator
    from orchestrator.standalone.runner import Standalone, StandaloneSettings

DEMO_JOBS = (
    ("create-volume", {"raw_size": 10, "raw_availability_zone": "nova",
                       "raw_volume_type": "ssd", "name": "demo-volume"}),
    ("phone-calls", {"jim_number": "111111", "joe_number": "222222",
                     "jmilkfan_number": "333333"}),
)


@click.command()
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where ZooKeeper data, the SQLite database and logs live "
              "(default: the state_path option). Reused by the next run.")
@click.option("--zookeeper-port", type=click.IntRange(1, 65535),
              help="ZooKeeper client port (default: [standalone] zookeeper_port).")
@click.option("--api-port", type=click.IntRange(1, 65535),
              help="Port of the API and web page on 127.0.0.1 (default: [api] port).")
@click.option("--demo/--no-demo", default=None,
              help="Post the demo jobs (default: [standalone] post_demo_jobs).")
@click.option("--exit-after-demo", is_flag=True,
              help="Stop everything once the demo jobs have finished, instead of "
              "serving until Ctrl-C.")
@with_app
def standalone(app: AppContext, state_dir: Path | None, zookeeper_port: int | None,
               api_port: int | None, demo: bool | None, exit_after_demo: bool) -> None:
    """Run a whole deployment on this machine: ZooKeeper, SQLite, a conductor, the API.

    Starts a real ZooKeeper on 127.0.0.1 (Debian's zookeeper package), migrates
    an SQLite database, starts a conductor and the API with its web page on
    127.0.0.1 (no token needed), posts the demo jobs (one succeeds, one fails
    and reverts) and prints their history and URLs. Serves until Ctrl-C, then
    stops every process it started. A second run reuses the state directory.
    """
    from orchestrator import settings
    from orchestrator.cli import render
    from orchestrator.standalone.runner import StandaloneSettings

    conf = app.conf
    state = (state_dir or settings.state_path(conf)).expanduser().resolve()
    if state_dir is not None:
        conf.set_override("state_path", str(state))
    config = StandaloneSettings(
        state_dir=state,
        database_url=settings.database_url(conf),
        zookeeper_port=zookeeper_port or conf.standalone.zookeeper_port,
        zookeeper_install_dir=(Path(conf.standalone.zookeeper_install_dir)
                               if conf.standalone.zookeeper_install_dir else None),
        java=conf.standalone.java,
        config_files=tuple(conf.config_file or ()),
        api_port=api_port or conf.api.port,
    )
    post_demo = conf.standalone.post_demo_jobs if demo is None else demo
    console = render.console(stderr=True)
    try:
        code = _run(app, config, console, post_demo=post_demo,
                    exit_after_demo=exit_after_demo)
    except KeyboardInterrupt:
        # Ctrl-C while starting or running the demo: everything started is
        # stopped by now, which is what was asked.
        code = 0
    finally:
        # Nothing is left to stop. A Ctrl-C from now on (a second one, or the
        # first acted on late because another thread received it) must not turn
        # the clean exit into death by SIGINT while the interpreter shuts down.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if code:
        raise SystemExit(code)
    console.print("Stopped.")
    # Every process it started is stopped and its lock released: exit now.
    # After a Ctrl-C, the interpreter's own shutdown (library threads, the
    # pools of clients closed above) was seen, rarely, to end by SIGINT (-2)
    # even with SIGINT ignored; nothing is left for it to do.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _run(app: AppContext, config: StandaloneSettings, console: Console, *,
         post_demo: bool, exit_after_demo: bool) -> int:
    conf = app.conf
    from orchestrator.standalone.runner import Standalone

    with Standalone(config, lambda line: console.print(line, highlight=False)) as local:
        local.start()
        conf.set_override("hosts", [local.zookeeper.hosts], group="jobboard")
        conf.set_override("path", "/orchestrator/jobs", group="jobboard")
        _print_locations(console, local)
        if post_demo:
            with app.orchestrator() as orch:
                _run_demo(console, orch, local.api_url)
        if exit_after_demo:
            return 0
        return local.serve_until_stopped(on_ready=lambda: console.print(
            f"\nServing. Web page: {local.api_url}/  Press Ctrl-C to stop everything.",
            style="bold", highlight=False))


def _print_locations(console: Console, local: Standalone) -> None:
    from orchestrator.api import OPENAPI_URL

    # Plain lines, never wrapped: people copy these paths into other commands.
    rows = (
        ("ZooKeeper", f"{local.zookeeper.hosts} (log: {local.zookeeper.log_path})"),
        ("database", local.settings.database_url),
        ("conductor log", str(local.conductor_log)),
        ("web page", f"{local.api_url}/"),
        ("API", f"{local.api_url}/v1  (OpenAPI: {local.api_url}{OPENAPI_URL}; "
                f"log: {local.api_log})"),
        ("other commands", f"{command_name()} --config-file {local.config_path} ..."),
    )
    console.print("\n[bold]orchestrator standalone[/bold]")
    for label, value in rows:
        console.print(f"  {label + ':':<16}{value}", soft_wrap=True, highlight=False,
                      markup=False)


def _run_demo(console: Console, orch: Orchestrator, api_url: str) -> list[JobRecord]:
    from orchestrator import views
    from orchestrator.cli import render

    finished = []
    for flow, store in DEMO_JOBS:
        record = orch.post(flow, store)
        console.print(f"\nposted demo job {record.id} ({flow})", highlight=False)
        final = orch.wait(record.id, timeout=120)
        finished.append(final)
        history = orch.job_history(final.id)
        console.print(render.history_view(views.history_dict(history)))
        console.print(f"in the browser: {api_url}/jobs/{final.id}", highlight=False)
        reverted = sorted((t for t in history.tasks if t.revert_started_at is not None),
                          key=lambda t: t.revert_started_at or final.created_at)
        if reverted:
            console.print("reverted, last executed first: "
                          + " -> ".join(t.name for t in reverted), highlight=False)
    console.print("\n[bold]job history[/bold] (newest first; "
                  "'orchestrator jobs show JOB' for one job)")
    console.print(render.jobs_table(
        [views.job_summary_dict(r) for r in orch.list_jobs(limit=10)]))
    return finished
