"""The phone-call flow of TaskFlow's documentation, as Cinder's analysis shows it.

CallJim -> CallJoe -> CallJmilkFan; the last call always fails, so the engine
reverts CallJoe and then CallJim (reverse order), each apologising.
"""

from __future__ import annotations

import logging
from typing import Any

from taskflow import task
from taskflow.patterns import linear_flow
from taskflow.types import failure

from orchestrator.flows import ledger

LOG = logging.getLogger(__name__)


class CallJim(task.Task):
    default_provides = {"jim_new_number"}

    def execute(self, jim_number: str, ledger_path: str | None = None) -> dict[str, str]:
        LOG.info("Calling Jim %s.", jim_number)
        ledger.record(ledger_path, "execute", self.name)
        return {"jim_new_number": jim_number + "new"}

    def revert(self, result: Any, ledger_path: str | None = None, **kwargs: Any) -> None:
        if isinstance(result, failure.Failure):
            return
        LOG.info("Calling Jim %s and apologizing.", result["jim_new_number"])
        ledger.record(ledger_path, "revert", self.name)


class CallJoe(task.Task):
    default_provides = {"joe_new_number", "jim_new_number"}

    def execute(
        self, joe_number: str, jim_new_number: str, ledger_path: str | None = None
    ) -> dict[str, str]:
        LOG.info("Calling Jim %s. Calling Joe %s.", jim_new_number, joe_number)
        ledger.record(ledger_path, "execute", self.name)
        return {"jim_new_number": jim_new_number, "joe_new_number": joe_number + "new"}

    def revert(self, result: Any, ledger_path: str | None = None, **kwargs: Any) -> None:
        if isinstance(result, failure.Failure):
            return
        LOG.info("Calling Joe %s and apologizing.", result["joe_new_number"])
        ledger.record(ledger_path, "revert", self.name)


class CallJmilkFan(task.Task):
    default_provides = {"new_numbers"}

    def execute(
        self,
        jim_new_number: str,
        joe_new_number: str,
        jmilkfan_number: str,
        ledger_path: str | None = None,
    ) -> dict[str, Any]:
        LOG.info(
            "Calling Jim %s, Joe %s, JmilkFan %s.",
            jim_new_number,
            joe_new_number,
            jmilkfan_number,
        )
        ledger.record(ledger_path, "execute", self.name)
        raise ValueError(f"JmilkFan's line {jmilkfan_number} is out of service")

    def revert(self, result: Any, ledger_path: str | None = None, **kwargs: Any) -> None:
        # Its own call failed: there is nothing to apologise for.
        ledger.record(ledger_path, "revert", self.name)


def make_flow() -> linear_flow.Flow:
    """Call Jim, Joe and JmilkFan; JmilkFan fails and the calls are reverted."""
    return linear_flow.Flow("phone-calls").add(
        CallJim("call-jim"),
        CallJoe("call-joe"),
        CallJmilkFan("call-jmilkfan"),
    )
