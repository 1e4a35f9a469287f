"""``CommandAgent``: the agent's state behind the HTTP API (IPA's ``IronicPythonAgent``).

It runs extension commands one at a time and keeps their results
(``ExecuteCommandMixin``), and answers ``/v1/status``. There is no Ironic here:
no lookup, no heartbeat thread; ``force_heartbeat`` only logs.
"""

from __future__ import annotations

import importlib.metadata
import logging
import time
from collections.abc import Callable
from typing import Any

from stevedore import extension

from orchestrator.extensions import DEFAULT_MAX_COMMAND_RESULTS, ExecuteCommandMixin

LOG = logging.getLogger(__name__)

ExtensionManager = extension.ExtensionManager[Any]
#: Builds the manager for an agent, so that each extension gets ``agent=`` it.
ExtensionsFactory = Callable[["CommandAgent"], ExtensionManager]


class CommandAgent(ExecuteCommandMixin):
    """Runs ``ext.cmd`` commands of the extensions it is given; one at a time.

    ``extensions`` is a stevedore manager, or a function building one for this
    agent (``orchestrator.extensions.make_ext_manager``), which lets the
    extensions' async commands call back ``force_heartbeat`` as in IPA. Both are
    made at the composition root; nothing here reads entry points itself.
    """

    def __init__(
        self,
        extensions: ExtensionManager | ExtensionsFactory,
        *,
        max_command_results: int | None = DEFAULT_MAX_COMMAND_RESULTS,
        version: str | None = None,
    ) -> None:
        super().__init__(max_command_results=max_command_results)
        self.ext_mgr = (extensions if isinstance(extensions, extension.ExtensionManager)
                        else extensions(self))
        self.version = version or _installed_version()
        # IPA: seconds since the epoch, set when the agent starts.
        self.started_at = time.time()

    def extension_names(self) -> list[str]:
        """Names of the loaded extensions, sorted."""
        return sorted(self.ext_mgr.names()) if self.ext_mgr is not None else []

    def status(self) -> dict[str, Any]:
        """What IPA's ``/v1/status`` returns: ``started_at`` and ``version``."""
        return {"started_at": self.started_at, "version": self.version}

    def get_status(self) -> dict[str, Any]:
        """IPA's name for ``status()``."""
        return self.status()

    def force_heartbeat(self) -> None:
        """Called when an async command ends; IPA heartbeats to Ironic, there is none here."""
        LOG.debug("force_heartbeat: no Ironic to heartbeat to; commands are polled")

    def running_commands(self) -> list[str]:
        """``name (id)`` of each command still running."""
        return [f"{r.command_name} ({r.id})" for r in self.list_command_results()
                if not r.is_done()]

    def wait_idle(self, timeout: float) -> list[str]:
        """Give running commands up to ``timeout`` seconds to end; return those still running."""
        deadline = time.monotonic() + timeout
        for result in self.list_command_results():
            if not result.is_done():
                result.join(max(0.0, deadline - time.monotonic()))
        return self.running_commands()


def _installed_version() -> str:
    try:
        return importlib.metadata.version("orchestrator")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


__all__ = ["CommandAgent", "ExtensionsFactory"]
