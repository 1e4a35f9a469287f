"""A flow's shape and what a changed one leads to: the fingerprint tells what
matters to a resume (names, order, structure, provides, requires), nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from taskflow import task
from taskflow.patterns import graph_flow, linear_flow, unordered_flow

from orchestrator import shapes


class T(task.Task):
    def execute(self, x: int) -> int:
        return x


def linear(*names: str, provides: str | None = None) -> linear_flow.Flow:
    return linear_flow.Flow("f").add(*(T(n, provides=provides if n == names[0] else None)
                                       for n in names))


def fp(flow: Any) -> str:
    return shapes.fingerprint(shapes.shape_of(flow))


def test_the_fingerprint_tells_what_a_resume_depends_on() -> None:
    base = fp(linear("a", "b"))
    assert fp(linear("a", "b")) == base  # stable: built again, same shape
    assert fp(linear("b", "a")) != base  # order
    assert fp(linear("a", "c")) != base  # a name
    assert fp(linear("a", "b", provides="out")) != base  # provides
    # An unordered flow has no order; a graph's links are part of it.
    one = unordered_flow.Flow("u").add(T("a"), T("b"))
    other = unordered_flow.Flow("u").add(T("b"), T("a"))
    assert fp(one) == fp(other)
    free = graph_flow.Flow("g").add(T("a"), T("b"))
    a, b = T("a"), T("b")
    linked = graph_flow.Flow("g").add(a, b).link(a, b)
    assert fp(free) != fp(linked)


def test_a_rename_maps_the_posted_shape_onto_the_new_one() -> None:
    posted = shapes.record_for(linear("reserve", "create"))
    new = linear("reserve", "create-entry")
    assert shapes.fingerprint(shapes.renamed(posted["shape"], {"create": "create-entry"})) \
        == fp(new)


def test_decisions() -> None:
    old, new = (lambda: linear("a", "b")), (lambda: linear("a", "c"))
    posted = shapes.record_for(old())
    same = shapes.decide("f", posted, old(), shapes.ShapeChange(declared=False))
    assert same.action == "run"
    refused = shapes.decide("f", posted, new(), shapes.ShapeChange(declared=False))
    assert refused.action == "refuse"
    assert "gone: b; new: c" in refused.reason and "no shape_change policy" in refused.reason
    waits = shapes.decide("f", posted, new(), shapes.ShapeChange())
    assert waits.action == "refuse" and "waits for a conductor that has it" in waits.reason
    resumed = shapes.decide("f", posted, new(), shapes.ShapeChange(previous=(old,)))
    assert resumed.action == "run" and fp(resumed.flow) == posted["fingerprint"]
    reverted = shapes.decide("f", posted, new(), shapes.ShapeChange("revert", previous=(old,)))
    assert reverted.action == "revert"
    renamed = shapes.decide("f", posted, new(), shapes.ShapeChange(rename={"b": "c"}))
    assert renamed.action == "rename" and renamed.rename == {"b": "c"}
    wrong = shapes.decide("f", posted, new(), shapes.ShapeChange(rename={"b": "z"}))
    assert wrong.action == "refuse" and "rename does not turn" in wrong.reason


@pytest.mark.parametrize("data, message", [
    ({"policy": "later"}, "policy must be one of wait, revert"),
    ({"rename": ["a", "b"]}, "rename must map old atom names"),
    ({"colour": "red"}, "mapping with 'policy' and/or 'rename'"),
])
def test_document_declarations_are_checked(data: dict[str, Any], message: str) -> None:
    with pytest.raises(shapes.ShapeError, match=message):
        shapes.ShapeChange.from_document(data)


def test_declarations_on_factories_and_documents() -> None:
    @shapes.shape_change("revert", previous=[lambda: linear("a")])
    def factory() -> linear_flow.Flow:
        return linear("a", "b")

    declared = shapes.ShapeChange.of(factory)
    assert declared.policy == "revert" and len(declared.previous) == 1
    assert not shapes.ShapeChange.of(lambda: None).declared

    class DocumentFactory:
        document = {"shape_change": {"rename": {"a": "b"}}}

    assert shapes.ShapeChange.of(DocumentFactory()).rename == {"a": "b"}
