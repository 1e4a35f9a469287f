"""Flows whose tasks run concurrently or in an order derived from their data.

``provision-parallel`` is an unordered flow: its allocations are independent
and run at once under the parallel engine. ``provision-graph`` is a graph flow
with no explicit links: TaskFlow orders it from what each task requires and
provides (image and network first, then the config that needs both, then boot).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from taskflow import task
from taskflow.patterns import graph_flow, unordered_flow
from taskflow.types import failure

from orchestrator.flows import ledger

LOG = logging.getLogger(__name__)


def _token(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:12]


class Allocate(task.Task):
    """Allocate one kind of resource for a node; revert frees it."""

    def __init__(self, kind: str) -> None:
        super().__init__(name=f"allocate-{kind}", provides=f"{kind}_id")
        self.kind = kind

    def execute(self, node_name: str, ledger_path: str | None = None) -> str:
        allocation = f"{self.kind}-{_token(node_name, self.kind)}"
        LOG.info("Allocated %s for %s", allocation, node_name)
        ledger.record(ledger_path, "execute", self.name)
        return allocation

    def revert(self, result: Any, ledger_path: str | None = None, **kwargs: Any) -> None:
        if isinstance(result, failure.Failure) or result is None:
            return
        LOG.info("Freed %s", result)
        ledger.record(ledger_path, "revert", self.name)


def make_unordered_flow() -> unordered_flow.Flow:
    """Allocate an IP, a disk and a switch port for a node, all at once."""
    return unordered_flow.Flow("provision-parallel").add(
        Allocate("ip"), Allocate("disk"), Allocate("port")
    )


class FetchImage(task.Task):
    default_provides = "image_path"

    def execute(self, image: str, ledger_path: str | None = None) -> str:
        ledger.record(ledger_path, "execute", self.name)
        return f"/var/cache/images/{image}-{_token(image)}.qcow2"


class AllocateNetwork(task.Task):
    default_provides = "network"

    def execute(self, node_name: str, ledger_path: str | None = None) -> dict[str, str]:
        ledger.record(ledger_path, "execute", self.name)
        return {"mac": "52:54:00:" + ":".join(_token(node_name)[i:i + 2] for i in (0, 2, 4)),
                "vlan": "100"}


class BuildConfig(task.Task):
    default_provides = "config"

    def execute(
        self, image_path: str, network: dict[str, str], node_name: str,
        ledger_path: str | None = None,
    ) -> dict[str, Any]:
        ledger.record(ledger_path, "execute", self.name)
        return {"node": node_name, "image": image_path, "network": network}


class Boot(task.Task):
    default_provides = "server_id"

    def execute(self, config: dict[str, Any], ledger_path: str | None = None) -> str:
        ledger.record(ledger_path, "execute", self.name)
        return f"server-{_token(config['node'], config['image'])}"


def make_graph_flow() -> graph_flow.Flow:
    """Boot a node; the order comes from requires/provides, not from the listing."""
    # Listed backwards on purpose: the graph, not the order of add(), decides.
    return graph_flow.Flow("provision-graph").add(
        Boot("boot"),
        BuildConfig("build-config"),
        AllocateNetwork("allocate-network"),
        FetchImage("fetch-image"),
    )
