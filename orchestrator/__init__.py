"""orchestrator: persistent, resumable TaskFlow flows run by conductor daemons.

Public API for posting and inspecting jobs from Python::

    import orchestrator

    with orchestrator.connect(["/etc/orchestrator/orchestrator.conf"]) as orch:
        job = orch.post("create-volume", {...})
        final = orch.wait(job.id, timeout=600)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.errors import OrchestratorError

if TYPE_CHECKING:
    from orchestrator.client import connect
    from orchestrator.registry import concurrency_keys, revertible_after_success
    from orchestrator.service import Orchestrator
    from orchestrator.shapes import shape_change

__all__ = ["Orchestrator", "OrchestratorError", "concurrency_keys", "connect",
           "revertible_after_success", "shape_change"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: the CLI imports this package for every command,
    # `--help` included, and the service pulls in TaskFlow and SQLAlchemy.
    if name == "connect":
        from orchestrator.client import connect

        return connect
    if name in ("revertible_after_success", "concurrency_keys"):
        from orchestrator import registry

        return getattr(registry, name)
    if name == "shape_change":
        from orchestrator.shapes import shape_change

        return shape_change
    if name == "Orchestrator":
        from orchestrator.service import Orchestrator

        return Orchestrator
    raise AttributeError(f"module 'orchestrator' has no attribute {name!r}")
