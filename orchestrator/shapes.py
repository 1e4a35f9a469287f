"""Upgrade-safe resume: a flow's shape, recorded at post time, checked on resume.

TaskFlow resumes a flow detail by atom name: a release that renames, removes,
reorders or rewires a task would resume a half-done job against a flow that
no longer matches what it did. So each job records the shape of its flow when
posted (atom names, order and structure, ``provides``, ``requires``), and a
conductor about to resume a job whose flow has another shape now decides by
the flow's declared policy (``@shape_change`` on a factory, ``shape_change``
in a document):

* a registered version of the flow with the recorded shape (``previous``, side
  by side with the current one) resumes the job (``policy="wait"``, the
  default), or reverts it (``policy="revert"``); a conductor without such a
  version leaves the job to one that has it;
* ``rename={old: new}`` maps the recorded atom names onto the new flow's; it
  applies when the renamed shape is the new shape;
* with nothing declared, the job is refused and says why. It never resumes
  against a shape it was not posted with.

A job that has not started yet runs the flow as it is now. Jobs posted by a
release that recorded no shape resume as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

#: Key of the flow detail's meta that holds the shape the job was posted with.
SHAPE_KEY = "orchestrator.shape"
#: Key of the flow detail's meta saying why a job was reverted (policy "revert").
REVERTED_NOTE = "orchestrator.shape_reverted"
#: A factory's attribute, or a document's key: what to do when the shape changed.
SHAPE_CHANGE = "shape_change"
POLICIES = ("wait", "revert")

F = TypeVar("F", bound=Callable[..., Any])


class ShapeError(ValueError):
    """A shape-change declaration is malformed."""


@dataclass(frozen=True)
class ShapeChange:
    """A flow's declared answer to a job posted with another shape."""

    policy: str = "wait"
    rename: Mapping[str, str] = field(default_factory=dict)
    #: Factories of earlier versions, kept registered side by side.
    previous: Sequence[Callable[[], Any]] = ()
    declared: bool = True

    @classmethod
    def of(cls, factory: Any) -> ShapeChange:
        """What ``factory`` (or the document behind it) declares; undeclared if nothing."""
        declared = getattr(factory, SHAPE_CHANGE, None)
        if isinstance(declared, ShapeChange):
            return declared
        document = getattr(factory, "document", None)
        if isinstance(document, Mapping) and SHAPE_CHANGE in document:
            return cls.from_document(document[SHAPE_CHANGE])
        return cls(declared=False)

    @classmethod
    def from_document(cls, data: Any) -> ShapeChange:
        """From a document's ``shape_change: {policy: wait|revert, rename: {old: new}}``."""
        if not isinstance(data, Mapping) or set(data) - {"policy", "rename"}:
            raise ShapeError("shape_change must be a mapping with 'policy' and/or 'rename'")
        return cls(*_checked(data.get("policy", "wait"), data.get("rename") or {}))


def shape_change(policy: str = "wait", *, rename: Mapping[str, str] | None = None,
                 previous: Sequence[Callable[[], Any]] = ()) -> Callable[[F], F]:
    """Declare what a flow does with a job posted with another shape of it.

    ``previous``: factories of earlier versions of the flow, registered side by
    side; ``policy``: "wait" resumes a job with the version it was posted with
    (left to a conductor that has it), "revert" reverts it with that version;
    ``rename``: old atom name -> new, for a release that only renamed atoms.
    """
    checked = _checked(policy, rename or {})

    def declare(factory: F) -> F:
        setattr(factory, SHAPE_CHANGE, ShapeChange(*checked, previous=tuple(previous)))
        return factory
    return declare


def _checked(policy: Any, rename: Any) -> tuple[str, dict[str, str]]:
    if policy not in POLICIES:
        raise ShapeError(f"shape_change policy must be one of {', '.join(POLICIES)}, "
                         f"not {policy!r}")
    if not isinstance(rename, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in rename.items()):
        raise ShapeError("shape_change rename must map old atom names to new ones")
    return policy, dict(rename)


# -- shapes ----------------------------------------------------------------------


def shape_of(flow: Any) -> dict[str, Any]:
    """The flow's structure as plain data: patterns, atoms in order, their
    ``provides`` and ``requires``, and a graph's links."""
    from taskflow import flow as tf_flow
    from taskflow.patterns import graph_flow, unordered_flow

    children = []
    for node, _meta in flow.iter_nodes():
        if isinstance(node, tf_flow.Flow):
            children.append(shape_of(node))
        else:
            children.append({"atom": node.name, "provides": sorted(node.provides),
                             "requires": sorted(node.requires)})
    pattern = ("graph" if isinstance(flow, graph_flow.Flow)
               else "unordered" if isinstance(flow, unordered_flow.Flow) else "linear")
    if pattern != "linear":
        children.sort(key=lambda child: json.dumps(child, sort_keys=True))
    shape: dict[str, Any] = {"flow": flow.name, "pattern": pattern, "children": children}
    if pattern == "graph":
        shape["links"] = sorted([u.name, v.name] for u, v, _meta in flow.iter_links())
    return shape


def fingerprint(shape: Mapping[str, Any]) -> str:
    """A short, stable digest of a shape."""
    text = json.dumps(shape, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def record_for(flow: Any) -> dict[str, Any]:
    """What a job records of its flow at post time (in its flow detail's meta)."""
    shape = shape_of(flow)
    return {"fingerprint": fingerprint(shape), "shape": shape}


def recorded(meta: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The shape a job was posted with; None for a job that recorded none."""
    found = (meta or {}).get(SHAPE_KEY)
    if isinstance(found, Mapping) and isinstance(found.get("fingerprint"), str):
        return dict(found)
    return None


def renamed(shape: Mapping[str, Any], rename: Mapping[str, str]) -> dict[str, Any]:
    """``shape`` with its atoms (and graph links) renamed."""
    def walk(node: Mapping[str, Any]) -> dict[str, Any]:
        if "atom" in node:
            return {**node, "atom": rename.get(node["atom"], node["atom"])}
        out = {**node, "children": [walk(child) for child in node["children"]]}
        if node.get("pattern") != "linear":
            out["children"].sort(key=lambda child: json.dumps(child, sort_keys=True))
        if "links" in node:
            out["links"] = sorted([rename.get(u, u), rename.get(v, v)]
                                  for u, v in node["links"])
        return out
    return walk(shape)


# -- on resume --------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """How to resume a job: ``run`` (``flow``), ``revert`` it with ``flow``,
    ``rename`` its atoms then run ``flow``, or ``refuse`` (``reason``)."""

    action: str
    flow: Any = None
    rename: Mapping[str, str] = field(default_factory=dict)
    reason: str = ""


def decide(flow_name: str, posted: Mapping[str, Any], current: Any,
           change: ShapeChange) -> Decision:
    """What to do with a started job posted with shape ``posted`` (its record)
    when the flow registered now builds ``current``."""
    was = posted["fingerprint"]
    now_shape = shape_of(current)
    now = fingerprint(now_shape)
    if was == now:
        return Decision("run", current)
    for factory in change.previous:
        flow = factory()
        if fingerprint(shape_of(flow)) == was:
            return Decision("revert" if change.policy == "revert" else "run", flow)
    shape = posted.get("shape")
    if change.rename and isinstance(shape, Mapping) and \
            fingerprint(renamed(shape, change.rename)) == now:
        return Decision("rename", current, change.rename)
    changed = (f"flow {flow_name!r} has changed shape since the job was posted "
               f"(posted: {was}, registered here: {now}{_diff(shape, now_shape)})")
    if not change.declared:
        return Decision("refuse", reason=(
            f"{changed}, and it declares no shape_change policy: the job is not "
            "resumed against a shape it was not posted with. Register the previous "
            "version beside the new one (@shape_change(previous=[...])), or declare "
            "a rename, and reload the conductors"))
    if change.rename:
        return Decision("refuse", reason=(
            f"{changed}; its declared rename does not turn one into the other, and no "
            "registered version has the posted shape"))
    then = "revert" if change.policy == "revert" else "resume"
    return Decision("refuse", reason=(
        f"{changed}; no version registered here has the posted shape: the job waits "
        f"for a conductor that has it, to {then} it"))


def _diff(was: Any, now: Mapping[str, Any]) -> str:
    """Atoms gone and new, when the posted shape is known."""
    if not isinstance(was, Mapping):
        return ""
    before, after = set(_atoms(was)), set(_atoms(now))
    parts = []
    if before - after:
        parts.append("gone: " + ", ".join(sorted(before - after)))
    if after - before:
        parts.append("new: " + ", ".join(sorted(after - before)))
    return "; " + "; ".join(parts) if parts else "; same atoms, other structure"


def _atoms(shape: Mapping[str, Any]) -> list[str]:
    if "atom" in shape:
        return [shape["atom"]]
    return [name for child in shape.get("children", []) for name in _atoms(child)]
