from __future__ import annotations

import ipaddress
import logging
import os
import sys

import click

from orchestrator.cli.context import AppContext, with_app

LOG = logging.getLogger(__name__)

#: Seconds open requests and running commands get to finish after a stop signal.
STOP_GRACE_SECONDS = 5


@click.command()
@click.option("--host", help="Address to listen on (default: [agent] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535),
              help="Port to listen on (default: [agent] port, 9999 as IPA).")
@with_app
def agent(app: AppContext, host: str | None, port: int | None) -> None:
    """Serve the IPA-compatible command API for conductors.

    \b
    POST /v1/commands/            {"name": "ext.cmd", "params": {...}}  (?wait=true)
    GET  /v1/commands/            every result kept
    GET  /v1/commands/<id>        one result
    GET  /v1/status               started_at and version
    Commands need ?agent_token= when [agent] agent_token is set.

    Runs the commands of the extensions installed in the orchestrator.extensions
    entry-point group, one at a time. SIGTERM or Ctrl-C stops it (exit 0);
    commands still running after a few seconds are abandoned.
    """
    # Imported here: `agent --help` need not load FastAPI or the extensions.
    from orchestrator.agent import CommandAgent
    from orchestrator.agent.app import create_app, serve
    from orchestrator.extensions import make_ext_manager

    conf = app.conf.agent
    listen_host = host or conf.host
    listen_port = conf.port if port is None else port
    token = conf.agent_token or None
    command_agent = CommandAgent(make_ext_manager,
                                 max_command_results=conf.max_command_results)
    LOG.warning("Agent extensions: %s",
                ", ".join(command_agent.extension_names()) or "none installed")
    if token is None and not _is_loopback(listen_host):
        LOG.warning("[agent] agent_token is not set: anyone who reaches %s:%d can "
                    "run every installed command", listen_host, listen_port)
    serve(create_app(command_agent, token), listen_host, listen_port,
          graceful_timeout=STOP_GRACE_SECONDS)
    running = command_agent.wait_idle(STOP_GRACE_SECONDS)
    if running:
        # Their threads would keep the process alive: their results die with
        # it anyway, and a poller sees the agent gone, so leave now.
        LOG.warning("Abandoning commands still running: %s", ", ".join(running))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
