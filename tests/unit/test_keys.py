"""Concurrency keys as posted: checked, made from templates over the store, limited
per prefix."""

from __future__ import annotations

import pytest

import jobs
from orchestrator.registry import FlowRegistry, concurrency_keys, key_templates_of_document


def test_keys_are_checked_deduplicated_and_sorted() -> None:
    assert jobs.normalize_keys(["node:b", "node:a", "node:b"]) == ("node:a", "node:b")
    for bad in ["", "has space", "x" * 256, 7]:
        with pytest.raises(jobs.InvalidKey, match="invalid concurrency key"):
            jobs.normalize_keys([bad])  # type: ignore[list-item]
    with pytest.raises(jobs.InvalidKey, match="at most 16"):
        jobs.normalize_keys([f"k:{i}" for i in range(17)])


def test_templates_are_filled_in_from_the_store() -> None:
    store = {"node": "4f2a", "volume_id": 42, "flag": True, "nested": {"a": 1}}
    assert jobs.render_keys(["node:{node}", "volume:{volume_id}", "global"], store) == (
        "global", "node:4f2a", "volume:42")
    for template, message in [("node:{missing}", "needs store key 'missing'"),
                              ("node:{flag}", "needs store key 'flag'"),
                              ("node:{nested}", "needs store key 'nested'"),
                              ("node:{node.attr}", "plain {name} fields"),
                              ("node:{0}", "plain {name} fields"),
                              ("node:{", "invalid concurrency key template")]:
        with pytest.raises(jobs.InvalidKey, match=message):
            jobs.render_keys([template], store)


def test_limits_go_by_prefix_with_a_default() -> None:
    limits = jobs.KeyLimits.parse({"volume": "3"}, default=1)
    assert (limits.limit("volume:42"), limits.limit("node:1"), limits.limit("plain")) == (
        3, 1, 1)
    with pytest.raises(jobs.InvalidKey, match="at least 1"):
        jobs.KeyLimits({"node": 0})
    with pytest.raises(jobs.InvalidKey, match="whole number"):
        jobs.KeyLimits.parse({"node": "many"})


def test_flows_declare_key_templates() -> None:
    from taskflow.patterns import linear_flow

    @concurrency_keys("node:{node}")
    def locked() -> linear_flow.Flow:
        return linear_flow.Flow("locked")

    def free() -> linear_flow.Flow:
        return linear_flow.Flow("free")

    registry = FlowRegistry({"locked": locked, "free": free})
    assert registry.key_templates("locked") == ("node:{node}",)
    assert registry.key_templates("free") == ()
    assert key_templates_of_document({"concurrency_keys": ["node:{node}"]}) == (
        "node:{node}",)
    assert key_templates_of_document(None) == ()
