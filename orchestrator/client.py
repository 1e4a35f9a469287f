"""The Python entry point: an Orchestrator configured exactly as the CLI would be."""

from __future__ import annotations

from collections.abc import Sequence

import persistence
from orchestrator import conf as orchestrator_conf
from orchestrator import settings
from orchestrator.service import Orchestrator


def connect(config_files: Sequence[str] = ()) -> Orchestrator:
    """Return an Orchestrator for the deployment the configuration files describe.

    Use it as a context manager; closing it closes its database and jobboard
    connections. With no files, oslo.config's usual search for
    ``orchestrator.conf`` applies, as for the ``orchestrator`` command.
    """
    conf = orchestrator_conf.load(config_files)
    return Orchestrator(
        persistence.Database(settings.database_url(conf)),
        settings.flow_registry(conf),
        settings.jobboard_settings(conf),
        close_database=True,
        max_nesting_depth=conf.api.max_nesting_depth,
    )
