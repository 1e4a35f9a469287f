"""Configuration loading and object wiring for CLI commands (the composition root)."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    # Imported where used: `orchestrator --help` must not pay for the database,
    # TaskFlow and the configuration library.
    from oslo_config import cfg

    import persistence
    from orchestrator.cli.remote import Api
    from orchestrator.registry import FlowRegistry
    from orchestrator.service import Orchestrator

_FILES_KEY = "orchestrator.config_files"

T = TypeVar("T")


def _remember_files(ctx: click.Context, _param: click.Parameter,
                    value: tuple[str, ...]) -> None:
    files = ctx.find_root().meta.setdefault(_FILES_KEY, [])
    files.extend(value)


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Accept ``--config-file`` on the group and on every command."""
    return click.option(
        "--config-file",
        "config_files",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False),
        expose_value=False,
        is_eager=True,
        callback=_remember_files,
        help="Configuration file (oslo.config INI); may be given more than once. "
        "Default: orchestrator.conf in ~/.orchestrator, ~/, /etc/orchestrator, /etc.",
    )(func)


class AppContext:
    """What commands need, built once from the parsed configuration."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf
        self._database: persistence.Database | None = None
        self._registry: FlowRegistry | None = None

    @property
    def database(self) -> persistence.Database:
        if self._database is None:
            import persistence
            from orchestrator import settings

            self._database = persistence.Database(settings.database_url(self.conf))
        return self._database

    @property
    def registry(self) -> FlowRegistry:
        if self._registry is None:
            from orchestrator import settings

            self._registry = settings.flow_registry(self.conf)
        return self._registry

    def orchestrator(self) -> Orchestrator:
        from orchestrator import settings
        from orchestrator.service import Orchestrator

        # The flows are loaded only if the command needs them (posting).
        return Orchestrator(self.database, self._registry,
                            settings.jobboard_settings(self.conf),
                            max_nesting_depth=self.conf.api.max_nesting_depth,
                            load_registry=self._load_registry)

    def _load_registry(self) -> FlowRegistry:
        """The flows; loaded afresh (past the entry-point caches) after the first time."""
        from orchestrator import settings

        self._registry = settings.flow_registry(self.conf,
                                                fresh=self._registry is not None)
        return self._registry

    def close(self) -> None:
        if self._database is not None:
            self._database.close()


def load_config(ctx: click.Context) -> AppContext:
    from orchestrator import conf as orchestrator_conf

    app = AppContext(orchestrator_conf.load(ctx.find_root().meta.get(_FILES_KEY, [])))
    ctx.call_on_close(app.close)
    return app


def read(through_api: Callable[[Api], T], directly: Callable[[AppContext], T]) -> T:
    """What a read-only command shows: through ``[cli] api_url`` when it is set
    and the API answers (see ``orchestrator.cli.remote``), else read directly
    from the database and ZooKeeper.

    Both give the JSON views of ``orchestrator.views``, which the command renders.
    """
    from orchestrator.cli import remote

    ctx = click.get_current_context()
    api = remote.configured(ctx.find_root().meta.get(_FILES_KEY, []))
    if api is not None:
        try:
            return through_api(api)
        except remote.Unreachable:
            pass
    return directly(load_config(ctx))


def with_app(func: Callable[..., Any]) -> Callable[..., Any]:
    """Pass the AppContext as the first argument of a command."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        return func(load_config(ctx), *args, **kwargs)

    return config_option(wrapper)


def setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=max(level, logging.DEBUG),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # kazoo and taskflow are chatty at INFO; their warnings still show. httpx logs
    # request URLs at INFO, and an agent's URL carries its token.
    for noisy in ("kazoo", "taskflow", "httpx"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def command_name() -> str:
    """How to type this CLI again: ``orchestrator`` when that is what the shell
    finds, else the path of the one running (a virtualenv's ``bin`` not on PATH)."""
    import shutil  # here: it imports the compression modules, which no read needs

    installed = Path(sys.executable).parent / "orchestrator"
    if not installed.exists():
        return "orchestrator"
    found = shutil.which("orchestrator")
    if found is not None and Path(found).resolve() == installed.resolve():
        return "orchestrator"
    relative = os.path.relpath(installed)
    return relative if not relative.startswith("../..") else str(installed)


def again(*words: str) -> str:
    """A command line that reaches the same deployment as this one, to print."""
    import shlex

    files = click.get_current_context().find_root().meta.get(_FILES_KEY, [])
    parts = [command_name(), *(f"--config-file {shlex.quote(f)}" for f in files),
             *words]
    return " ".join(parts)
