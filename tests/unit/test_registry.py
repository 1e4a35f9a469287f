from __future__ import annotations

import pytest
from taskflow import task
from taskflow.patterns import linear_flow, unordered_flow

from orchestrator.errors import FlowLoadError, UnknownFlow
from orchestrator.registry import FlowRegistry, revertible_after_success


class Needs(task.Task):
    def execute(self, a: int, b: int = 2) -> int:
        return a + b


def _nested() -> linear_flow.Flow:
    """A flow with a nested sub-flow."""
    return linear_flow.Flow("outer").add(
        unordered_flow.Flow("inner").add(Needs("needs", provides="c")))


def test_entry_points_register_the_shipped_flows() -> None:
    registry = FlowRegistry.from_entry_points()
    assert {"phone-calls", "create-volume", "provision-parallel", "provision-graph",
            "slow-steps"} <= set(registry.names())
    info = registry.describe("create-volume")
    assert info.requires == {"raw_size", "raw_availability_zone", "raw_volume_type"}
    # Undoing a created volume is what the flow is written for; calls are not.
    assert info.revertible_after_success
    assert not registry.describe("phone-calls").revertible_after_success


def test_a_factory_is_revertible_after_success_only_when_declared() -> None:
    def plain() -> linear_flow.Flow:
        return _nested()

    registry = FlowRegistry({"outer": _nested,
                             "undoable": revertible_after_success(plain)})
    assert not registry.revertible_after_success("outer")
    assert registry.revertible_after_success("undoable")


def test_unknown_flow_names_the_registered_ones() -> None:
    registry = FlowRegistry({"outer": _nested})
    with pytest.raises(UnknownFlow, match="registered flows: outer"):
        registry.build("evil")


def test_describe_finds_optional_inputs_in_nested_flows() -> None:
    info = FlowRegistry({"outer": _nested}).describe("outer")
    assert info.requires == {"a"}
    assert info.optional == {"b"}
    assert info.provides == {"c"}
    assert info.description == "A flow with a nested sub-flow."


@pytest.mark.parametrize("name", ["Upper", "has space", "", "-lead", "a/b"])
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid flow name"):
        FlowRegistry({name: _nested})


def test_factory_that_does_not_return_a_flow_is_a_load_error() -> None:
    registry = FlowRegistry({"bad": lambda: "not a flow"})  # type: ignore[dict-item]
    with pytest.raises(FlowLoadError, match="returned str"):
        registry.build("bad")


def test_factory_that_raises_is_a_load_error() -> None:
    def boom() -> linear_flow.Flow:
        raise RuntimeError("no")

    with pytest.raises(FlowLoadError, match="raised RuntimeError: no"):
        FlowRegistry({"boom": boom}).build("boom")


def test_broken_entry_point_is_reported_by_name() -> None:
    registry = FlowRegistry({}, broken={"gone": "ImportError: no module"})
    with pytest.raises(FlowLoadError, match="'gone' is registered but failed to load"):
        registry.build("gone")
