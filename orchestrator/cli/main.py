"""Entry point of the ``orchestrator`` command.

Errors are mapped to exit codes here and nowhere else: a mistake in the request
(unknown flow, bad JSON, missing input, bad configuration) exits 2 with a
message; a failure of a service or a job exits 1.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from orchestrator.cli.context import config_option, setup_logging
from orchestrator.errors import OrchestratorError

EXIT_FAILURE = 1
EXIT_USAGE = 2

#: name -> (module of orchestrator.cli, its command, the line `--help` shows).
#: A command's module is imported only when it runs: `orchestrator --help` and
#: each command's own start-up pay for nothing else (FastAPI, TaskFlow...).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "agent": ("agent_cmd", "agent", "Serve the IPA-compatible command API for conductors."),
    "api": ("api_cmd", "api", "Serve the HTTP API and the web page until stopped."),
    "commands": ("commands_cmd", "commands",
                 "List the installed extension commands and their parameters."),
    "conductor": ("conductor_cmd", "conductor",
                  "Claim jobs from the jobboard and run them until stopped."),
    "conductors": ("conductors_cmd", "conductors", "List the conductors alive now."),
    "db": ("db_cmd", "db", "Manage the database: upgrade it, purge finished jobs."),
    "flows": ("flows_cmd", "flows",
              "List registered flows and the inputs each one requires."),
    "jobs": ("jobs_cmd", "jobs", "Inspect jobs: list, show, explain, watch, cancel, retry."),
    "post": ("post_cmd", "post", "Post a job running a flow to the jobboard."),
    "schedules": ("schedules_cmd", "schedules",
                  "Post a flow's job on a cron expression: create, list, pause..."),
    "standalone": ("standalone_cmd", "standalone",
                   "Run a whole deployment on this machine, with demo jobs."),
}


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = COMMANDS.get(cmd_name)
        if found is None:
            return None
        module, attr, _help = found
        command = getattr(importlib.import_module(f"orchestrator.cli.{module}"), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_line) for name, (_m, _a, help_line) in sorted(COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except OrchestratorError as exc:
            _fail(str(exc), EXIT_USAGE if exc.client_error else EXIT_FAILURE)
        except Exception as exc:
            code = _exit_code(exc)
            if code is None:
                raise
            prefix = "configuration: " if code == EXIT_USAGE else ""
            _fail(f"{prefix}{exc}", code)


def _exit_code(exc: Exception) -> int | None:
    """Exit code of an error from the jobboard, the database or the configuration;
    their modules are looked up only if loaded (an error from one means it is)."""
    for module, name, code in (("jobs", "JobsError", EXIT_FAILURE),
                               ("persistence", "PersistenceError", EXIT_FAILURE),
                               ("oslo_config.cfg", "Error", EXIT_USAGE)):
        loaded = sys.modules.get(module)
        kind = getattr(loaded, name, None) if loaded is not None else None
        if isinstance(kind, type) and isinstance(exc, kind):
            return code
    return None


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


def main() -> None:
    cli(prog_name="orchestrator")


if __name__ == "__main__":
    main()
