"""Entry point of the ``orchestrator`` command.

Errors are mapped to exit codes here and nowhere else: a mistake in the request
(unknown flow, bad JSON, missing input, bad configuration) exits 2 with a
message; a failure of a service or a job exits 1.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from oslo_config import cfg

import jobs
import persistence
from orchestrator.cli import (
    agent_cmd,
    api_cmd,
    commands_cmd,
    conductor_cmd,
    conductors_cmd,
    db_cmd,
    flows_cmd,
    jobs_cmd,
    post_cmd,
    standalone_cmd,
)
from orchestrator.cli.context import config_option, setup_logging
from orchestrator.errors import OrchestratorError

EXIT_FAILURE = 1
EXIT_USAGE = 2


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except OrchestratorError as exc:
            _fail(str(exc), EXIT_USAGE if exc.client_error else EXIT_FAILURE)
        except (jobs.JobsError, persistence.PersistenceError) as exc:
            _fail(str(exc), EXIT_FAILURE)
        except cfg.Error as exc:
            _fail(f"configuration: {exc}", EXIT_USAGE)


def _fail(message: str, code: int) -> None:
    click.echo(f"orchestrator: error: {message}", err=True)
    sys.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@config_option
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="orchestrator")
def cli(verbose: int) -> None:
    """Persistent, resumable TaskFlow flows, run by conductors from a ZooKeeper jobboard.

    \b
    Typical use:
      orchestrator db upgrade                      create or upgrade the database
      orchestrator conductor                       run flows posted to the jobboard
      orchestrator post create-volume --store-json '{"raw_size": 10, ...}' --wait
      orchestrator api                             serve the HTTP API and web page
    """
    setup_logging(verbose)


cli.add_command(db_cmd.db)
cli.add_command(flows_cmd.flows)
cli.add_command(commands_cmd.commands)
cli.add_command(post_cmd.post)
cli.add_command(conductor_cmd.conductor)
cli.add_command(conductors_cmd.conductors)
cli.add_command(jobs_cmd.jobs)
cli.add_command(standalone_cmd.standalone)
cli.add_command(api_cmd.api)
cli.add_command(agent_cmd.agent)


def main() -> None:
    cli(prog_name="orchestrator")


if __name__ == "__main__":
    main()
