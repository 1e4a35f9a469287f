"""Running a conductor as a daemon: signals, connection, and a clean exit."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

import jobs
import persistence
from orchestrator.conductor import Conductor, ConductorSettings
from orchestrator.errors import ServiceUnavailable
from orchestrator.healthserver import HealthEndpoint, conductor_app, conductor_checks, serving
from orchestrator.registry import FlowRegistry
from orchestrator.service import check_schema

LOG = logging.getLogger(__name__)


def run_conductor(
    settings: ConductorSettings,
    database: persistence.Database,
    registry: FlowRegistry,
    board_settings: jobs.JobboardSettings,
    stop: threading.Event | None = None,
    endpoint: HealthEndpoint | None = None,
    load_registry: Callable[[], FlowRegistry] | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or ``stop`` is set); return once jobs are handed back.

    SIGHUP reloads the flows and extensions with ``load_registry``.

    With an ``endpoint``, metrics and health are served there meanwhile.
    """
    check_schema(database)
    try:
        with jobs.open_jobboard(board_settings, settings.name) as board:
            conductor = Conductor(settings, board, database, registry,
                                  load_registry=load_registry)
            app = conductor_app(conductor.metrics, conductor_checks(conductor.metrics,
                                                                    database))
            with serving(endpoint, app, f"conductor {settings.name}"):
                _serve(conductor, settings, registry, board_settings, stop)
    except jobs.BoardUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from exc


def _serve(
    conductor: Conductor,
    settings: ConductorSettings,
    registry: FlowRegistry,
    board_settings: jobs.JobboardSettings,
    stop: threading.Event | None,
) -> None:
    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        LOG.warning("%s received: suspending running flows and handing their "
                    "jobs back", signal.Signals(signum).name)
        conductor.stop()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        # The daemon convention: reload (flows and extensions installed since).
        signal.signal(signal.SIGHUP, lambda _signum, _frame: conductor.reload())
    if stop is not None:
        def _stop_when_set() -> None:
            stop.wait()
            conductor.stop()

        threading.Thread(target=_stop_when_set, daemon=True, name="conductor-stop").start()
    LOG.warning("Conductor %s serving %s at %s (flows: %s)", settings.name,
                board_settings.path, board_settings.hosts_string,
                ", ".join(registry.names()))
    conductor.run()
    LOG.warning("Conductor %s stopped", settings.name)
