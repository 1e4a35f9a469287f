"""Turns parsed configuration into the plain values the rest of the code takes.

Only entry points (the CLI and daemons) call these; nothing below them reads
``CONF``.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from oslo_config import cfg

from jobs.settings import JobboardSettings

if TYPE_CHECKING:
    # Each is imported by the function that builds it: a command reading job
    # records does not load the conductor, the metrics or the flows.
    from jobs import RetentionSettings
    from orchestrator.commands.runner import RunnerSettings
    from orchestrator.conductor import ConductorSettings
    from orchestrator.healthserver import HealthEndpoint
    from orchestrator.registry import FlowRegistry
    from orchestrator.schedules import SchedulerSettings


def state_path(conf: cfg.ConfigOpts) -> Path:
    return Path(os.path.expanduser(conf.state_path))


def database_url(conf: cfg.ConfigOpts) -> str:
    if conf.database.connection:
        return str(conf.database.connection)
    return f"sqlite:///{state_path(conf) / 'orchestrator.sqlite'}"


def jobboard_settings(conf: cfg.ConfigOpts) -> JobboardSettings:
    group = conf.jobboard
    return JobboardSettings(
        hosts=tuple(group.hosts),
        path=group.path,
        session_timeout=group.session_timeout,
        connect_timeout=group.connect_timeout,
        username=group.username,
        password=group.password,
        use_ssl=group.use_ssl,
        ca_file=group.ca_file,
        cert_file=group.cert_file,
        key_file=group.key_file,
        key_password=group.key_password,
        verify_certs=group.verify_certs,
        trash_retention=group.trash_retention,
        trash_max_entries=group.trash_max_entries,
        trash_prune_interval=group.trash_prune_interval,
    )


def flow_registry(conf: cfg.ConfigOpts, *, fresh: bool = False) -> FlowRegistry:
    """Flows of the orchestrator.flows entry points plus the configured documents.

    ``fresh`` looks again at what is installed (a reload), past the caches.
    """
    if fresh:
        from orchestrator import plugins

        plugins.forget_installed()
    from orchestrator.registry import FlowRegistry

    registry = FlowRegistry.from_entry_points()
    if conf.flows.directory:
        # Imported here: only deployments with flow documents load the catalog.
        from orchestrator.commands import CommandCatalog
        from orchestrator.declarative import load_directory

        directory = Path(os.path.expanduser(conf.flows.directory))
        registry = registry.merged(
            load_directory(directory, CommandCatalog.from_entry_points()), str(directory))
    return registry


def command_runner_settings(conf: cfg.ConfigOpts) -> RunnerSettings:
    from orchestrator.commands.runner import RunnerSettings

    group = conf.agent_client
    return RunnerSettings(agent_token=group.token, http_timeout=group.timeout,
                          command_timeout=group.command_timeout,
                          poll_interval=group.poll_interval)


def default_conductor_name() -> str:
    # Host and pid: two conductors on one host must never share a claim owner,
    # or one could consume or abandon the other's jobs.
    return f"{socket.gethostname()}-{os.getpid()}"


def retention_settings(conf: cfg.ConfigOpts) -> RetentionSettings:
    from jobs import RetentionSettings

    group = conf.retention
    return RetentionSettings(max_age=group.max_age_days * 86400.0,
                             batch_size=group.batch_size, interval=group.interval)


def scheduler_settings(conf: cfg.ConfigOpts) -> SchedulerSettings:
    from orchestrator.schedules import SchedulerSettings

    group = conf.scheduler
    return SchedulerSettings(enabled=group.enabled, interval=group.interval,
                             misfire_grace=group.misfire_grace)


def conductor_endpoint(conf: cfg.ConfigOpts) -> HealthEndpoint | None:
    """Where the conductor serves metrics and health, or None ([conductor] metrics_port 0)."""
    from orchestrator.healthserver import HealthEndpoint

    group = conf.conductor
    if not group.metrics_port:
        return None
    return HealthEndpoint(host=group.metrics_host, port=group.metrics_port)


def conductor_settings(conf: cfg.ConfigOpts, name: str | None = None) -> ConductorSettings:
    from jobs import KeyLimits
    from orchestrator.conductor import ConductorSettings

    group = conf.conductor
    return ConductorSettings(
        name=name or group.name or default_conductor_name(),
        max_simultaneous_jobs=group.max_simultaneous_jobs,
        engine=group.engine,
        engine_workers=group.engine_workers,
        poll_interval=group.poll_interval,
        max_attempts=group.max_attempts,
        retry_delay=group.retry_delay,
        cancel_check_interval=group.cancel_check_interval,
        reconcile_interval=group.reconcile_interval,
        retention=retention_settings(conf),
        scheduler=scheduler_settings(conf),
        key_limits=KeyLimits(dict(group.concurrency_limits),
                             group.default_concurrency_limit),
    )
