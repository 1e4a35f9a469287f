"""Configuration options, declared per group and exposed through ``list_opts()``.

Nothing here reads configuration at import time: entry points call
``register_opts(conf)`` and parse files themselves, then hand plain values down.
"""

from __future__ import annotations

from collections.abc import Sequence

from oslo_config import cfg

from orchestrator.conf import (
    agent,
    api,
    cli,
    conductor,
    database,
    flows,
    jobboard,
    paths,
    retention,
    scheduler,
    standalone,
)

_MODULES = (paths, jobboard, database, conductor, retention, flows, standalone, agent,
            api, scheduler, cli)


def register_opts(conf: cfg.ConfigOpts) -> None:
    for module in _MODULES:
        module.register_opts(conf)


def load(config_files: Sequence[str] = ()) -> cfg.ConfigOpts:
    """Parse configuration files (default: oslo.config's search for orchestrator.conf)."""
    conf = cfg.ConfigOpts()
    register_opts(conf)
    conf(args=[], project="orchestrator", default_config_files=list(config_files) or None)
    return conf


def list_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    """Entry point for oslo-config-generator (namespace ``orchestrator``)."""
    opts: list[tuple[str | None, list[cfg.Opt]]] = []
    for module in _MODULES:
        # A module declaring several groups (agent, agent_client) lists them itself.
        own = getattr(module, "list_opts", None)
        opts.extend(own() if own else [(module.GROUP, list(module.OPTS))])
    return opts


__all__ = ["list_opts", "load", "register_opts"]
