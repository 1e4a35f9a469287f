"""orchestrator: persistent, resumable TaskFlow flows run by conductor daemons.

Public API for posting and inspecting jobs from Python::

    import orchestrator

    with orchestrator.connect(["/etc/orchestrator/orchestrator.conf"]) as orch:
        job = orch.post("create-volume", {...})
        final = orch.wait(job.id, timeout=600)
"""

from orchestrator.client import connect
from orchestrator.errors import OrchestratorError
from orchestrator.service import Orchestrator

__all__ = ["Orchestrator", "OrchestratorError", "connect"]
