"""orchestrator: persistent, resumable TaskFlow flows run by conductor daemons.

Public API for posting and inspecting jobs from Python::

    from orchestrator import Orchestrator
"""

from orchestrator.errors import OrchestratorError
from orchestrator.service import Orchestrator

__all__ = ["Orchestrator", "OrchestratorError"]
