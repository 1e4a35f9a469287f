"""A Cinder-style volume creation flow (cinder.volume.flows.api.create_volume).

extract and validate the request -> reserve quota (revert: release it) ->
create the volume entry (revert: delete it) -> commit the quota. Inputs are
passed with ``rebind`` from the raw request keys, as Cinder does. The optional
input ``fail_at`` names a task that fails, to show the rollback.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from taskflow import task
from taskflow.patterns import linear_flow
from taskflow.types import failure

from orchestrator.flows import ledger
from orchestrator.registry import revertible_after_success

LOG = logging.getLogger(__name__)

AVAILABILITY_ZONES = ("nova", "az-1", "az-2")
VOLUME_TYPES = ("standard", "ssd", "archive")
MAX_SIZE_GB = 16 * 1024


class SimulatedFailure(RuntimeError):
    """Raised by the task named in ``fail_at``."""


def _maybe_fail(task_name: str, fail_at: str | None) -> None:
    if fail_at == task_name:
        raise SimulatedFailure(f"simulated failure in {task_name}")


class ExtractVolumeRequestTask(task.Task):
    default_provides = {"size", "availability_zone", "volume_type", "volume_name"}

    def execute(
        self,
        size: Any,
        availability_zone: str | None,
        volume_type: str | None,
        name: str | None = None,
        fail_at: str | None = None,
    ) -> dict[str, Any]:
        _maybe_fail(self.name, fail_at)
        try:
            size_gb = int(size)
        except (TypeError, ValueError):
            raise ValueError(f"size must be a whole number of GiB, not {size!r}") from None
        if not 0 < size_gb <= MAX_SIZE_GB:
            raise ValueError(f"size must be between 1 and {MAX_SIZE_GB} GiB, not {size_gb}")
        zone = availability_zone or AVAILABILITY_ZONES[0]
        if zone not in AVAILABILITY_ZONES:
            raise ValueError(
                f"availability zone {zone!r} is not one of {', '.join(AVAILABILITY_ZONES)}"
            )
        vtype = volume_type or VOLUME_TYPES[0]
        if vtype not in VOLUME_TYPES:
            raise ValueError(f"volume type {vtype!r} is not one of {', '.join(VOLUME_TYPES)}")
        return {
            "size": size_gb,
            "availability_zone": zone,
            "volume_type": vtype,
            "volume_name": name or f"volume-{size_gb}g",
        }


class QuotaReserveTask(task.Task):
    default_provides = "reservations"

    def execute(
        self,
        size: int,
        volume_type: str,
        ledger_path: str | None = None,
        fail_at: str | None = None,
    ) -> dict[str, Any]:
        _maybe_fail(self.name, fail_at)
        reservation = {"id": str(uuid.uuid4()), "gigabytes": size, "volumes": 1,
                       "volume_type": volume_type}
        LOG.info("Reserved quota %s for %s GiB of %s", reservation["id"], size, volume_type)
        ledger.record(ledger_path, "execute", self.name)
        return reservation

    def revert(self, result: Any, ledger_path: str | None = None, **kwargs: Any) -> None:
        if isinstance(result, failure.Failure) or result is None:
            return
        LOG.info("Released quota reservation %s", result["id"])
        ledger.record(ledger_path, "revert", self.name)


class EntryCreateTask(task.Task):
    default_provides = {"volume_id", "volume_properties"}

    def execute(
        self,
        volume_name: str,
        size: int,
        availability_zone: str,
        volume_type: str,
        ledger_path: str | None = None,
        fail_at: str | None = None,
    ) -> dict[str, Any]:
        _maybe_fail(self.name, fail_at)
        volume_id = str(uuid.uuid4())
        properties = {"name": volume_name, "size": size, "status": "creating",
                      "availability_zone": availability_zone, "volume_type": volume_type}
        LOG.info("Created volume entry %s (%s)", volume_id, volume_name)
        ledger.record(ledger_path, "execute", self.name)
        return {"volume_id": volume_id, "volume_properties": properties}

    def revert(self, result: Any, ledger_path: str | None = None, **kwargs: Any) -> None:
        if isinstance(result, failure.Failure) or result is None:
            return
        LOG.info("Deleted volume entry %s", result["volume_id"])
        ledger.record(ledger_path, "revert", self.name)


class QuotaCommitTask(task.Task):
    default_provides = "quota_committed"

    def execute(
        self,
        reservations: dict[str, Any],
        volume_properties: dict[str, Any],
        ledger_path: str | None = None,
        fail_at: str | None = None,
    ) -> bool:
        _maybe_fail(self.name, fail_at)
        LOG.info("Committed reservation %s for volume %s", reservations["id"],
                 volume_properties["name"])
        ledger.record(ledger_path, "execute", self.name)
        return True


@revertible_after_success
def make_flow() -> linear_flow.Flow:
    """Create a volume Cinder-style: validate, reserve quota, create entry, commit."""
    return linear_flow.Flow("create-volume").add(
        ExtractVolumeRequestTask(
            "extract-volume-request",
            rebind={
                "size": "raw_size",
                "availability_zone": "raw_availability_zone",
                "volume_type": "raw_volume_type",
            },
        ),
        QuotaReserveTask("quota-reserve"),
        EntryCreateTask("entry-create"),
        QuotaCommitTask("quota-commit"),
    )
