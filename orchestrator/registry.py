"""The flow registry: the only flows a conductor will build.

Stock TaskFlow rebuilds a job's flow by importing whatever factory path its flow
detail names, so anyone able to write to ZooKeeper or the database can make a
conductor call any function. Here a job names a flow by a stable registered
name, and only factories registered in the ``orchestrator.flows`` entry-point
group (or handed to the registry explicitly) are ever called.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from orchestrator.errors import FlowLoadError, UnknownFlow

if TYPE_CHECKING:
    # Loading the flows imports TaskFlow anyway; a command that reads only
    # job records never builds a registry.
    from taskflow import flow as tf_flow

LOG = logging.getLogger(__name__)

NAMESPACE = "orchestrator.flows"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")

FlowFactory = Callable[[], "tf_flow.Flow"]

#: A factory's attribute, or a flow document's key: the flow's tasks may all be
#: reverted after it succeeded (``jobs revert``). Off by default: an undo runs
#: every revert against what the run created, which the flow must be written for.
REVERTIBLE_AFTER_SUCCESS = "revertible_after_success"

F = TypeVar("F", bound=Callable[..., Any])


def revertible_after_success(factory: F) -> F:
    """Declare a flow factory's flow revertible after success (undoable)."""
    setattr(factory, REVERTIBLE_AFTER_SUCCESS, True)
    return factory


#: A factory's attribute, or a flow document's key: templates of the
#: concurrency keys its jobs carry, filled in from the store (``node:{node}``).
CONCURRENCY_KEYS = "concurrency_keys"


def concurrency_keys(*templates: str) -> Callable[[F], F]:
    """Give a flow factory's jobs concurrency keys made from their store:
    ``@concurrency_keys("node:{node}")`` lets one job per node run at once."""
    def declare(factory: F) -> F:
        setattr(factory, CONCURRENCY_KEYS, tuple(templates))
        return factory
    return declare


def key_templates_of_document(document: Mapping[str, Any] | None) -> tuple[str, ...]:
    """A flow document's concurrency key templates (none when it declares none)."""
    templates = (document or {}).get(CONCURRENCY_KEYS) or ()
    return tuple(t for t in templates if isinstance(t, str))


def document_revertible(document: Mapping[str, Any] | None) -> bool:
    """Whether a flow document (as data) declares its flow revertible after success."""
    return bool(document and document.get(REVERTIBLE_AFTER_SUCCESS) is True)


@dataclass(frozen=True)
class FlowInfo:
    name: str
    requires: frozenset[str]
    optional: frozenset[str]
    provides: frozenset[str]
    description: str
    #: The declarative document behind the flow, as data; None for a Python flow.
    document: Mapping[str, Any] | None = None
    #: Where the flow comes from: a document's file, or a factory's module:name.
    source: str | None = None
    #: Whether a SUCCESS job of the flow may be undone (``jobs revert``).
    revertible_after_success: bool = False


class FlowRegistry:
    """Maps stable flow names to the factories that build them."""

    def __init__(
        self,
        factories: Mapping[str, FlowFactory],
        broken: Mapping[str, str] | None = None,
    ) -> None:
        for name in factories:
            if not _NAME_RE.match(name):
                raise ValueError(
                    f"invalid flow name {name!r}: use lower-case letters, digits, "
                    "'.', '_' and '-'"
                )
        self._factories = dict(factories)
        self._broken = dict(broken or {})
        self._shapes: dict[str, tuple[str, frozenset[str]]] = {}
        self._records: dict[str, dict[str, Any]] = {}
        self._inputs: dict[str, frozenset[str]] = {}

    @classmethod
    def from_entry_points(cls, namespace: str = NAMESPACE) -> FlowRegistry:
        broken: dict[str, str] = {}

        def _on_failure(_mgr: Any, entry_point: Any, err: BaseException) -> None:
            name = getattr(entry_point, "name", str(entry_point))
            LOG.error("Flow %s could not be loaded: %s", name, err)
            broken[name] = f"{type(err).__name__}: {err}"

        from stevedore import extension

        mgr: extension.ExtensionManager[Any] = extension.ExtensionManager(
            namespace,
            invoke_on_load=False,
            on_load_failure_callback=_on_failure,
        )
        factories = {ext.name: ext.plugin for ext in mgr}
        return cls(factories, broken)

    def merged(self, other: Mapping[str, FlowFactory], origin: str) -> FlowRegistry:
        """A registry with ``other``'s flows added; a name defined twice is an error."""
        clash = set(self._factories) & set(other)
        if clash:
            raise FlowLoadError(f"flows {', '.join(sorted(clash))} from {origin} are also "
                                "registered through entry points")
        return FlowRegistry({**self._factories, **other}, self._broken)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def factory(self, name: str) -> FlowFactory:
        try:
            return self._factories[name]
        except KeyError:
            if name in self._broken:
                raise FlowLoadError(
                    f"flow {name!r} is registered but failed to load: "
                    f"{self._broken[name]}"
                ) from None
            raise UnknownFlow(name, self._factories) from None

    def revertible_after_success(self, name: str) -> bool:
        """Whether the registered flow declares itself revertible after success."""
        factory = self.factory(name)
        return (getattr(factory, REVERTIBLE_AFTER_SUCCESS, False) is True
                or document_revertible(getattr(factory, "document", None)))

    def key_templates(self, name: str) -> tuple[str, ...]:
        """The concurrency key templates the registered flow declares."""
        factory = self.factory(name)
        declared = getattr(factory, CONCURRENCY_KEYS, None)
        if isinstance(declared, tuple):
            return declared
        return key_templates_of_document(getattr(factory, "document", None))

    def shape(self, name: str) -> tuple[str, frozenset[str]]:
        """The flow's TaskFlow name and the inputs it requires, built once per name.

        Posting checks these for every job; a factory returns the same flow
        shape each time, so one build tells.
        """
        found = self._shapes.get(name)
        if found is None:
            flow = self.build(name)
            found = self._shapes[name] = (str(flow.name), frozenset(flow.requires))
        return found

    def shape_record(self, name: str) -> dict[str, Any]:
        """What a job of the flow records of its shape when posted (built once)."""
        found = self._records.get(name)
        if found is None:
            from orchestrator import shapes

            found = self._records[name] = shapes.record_for(self.build(name))
        return found

    def inputs(self, name: str) -> frozenset[str]:
        """Every store key the flow reads, required or optional, built once per name."""
        found = self._inputs.get(name)
        if found is None:
            found = self._inputs[name] = flow_inputs(self.build(name))
        return found

    def build(self, name: str) -> tf_flow.Flow:
        """Build a fresh flow object for the registered name."""
        factory = self.factory(name)
        try:
            flow = factory()
        except Exception as exc:
            raise FlowLoadError(
                f"the factory of flow {name!r} raised {type(exc).__name__}: {exc}"
            ) from exc
        from taskflow import flow as tf_flow

        if not isinstance(flow, tf_flow.Flow):
            raise FlowLoadError(
                f"the factory of flow {name!r} returned {type(flow).__name__}, "
                "not a TaskFlow flow"
            )
        return flow

    def describe(self, name: str) -> FlowInfo:
        flow = self.build(name)
        optional: set[str] = set()
        for atom in _iter_atoms(flow):
            optional.update(getattr(atom, "optional", ()) or ())
        factory = self.factory(name)
        doc = (factory.__doc__ or "").strip().splitlines()
        return FlowInfo(
            name=name,
            requires=frozenset(flow.requires),
            optional=frozenset(optional - set(flow.provides) - set(flow.requires)),
            provides=frozenset(flow.provides),
            description=doc[0] if doc else "",
            document=getattr(factory, "document", None),
            source=_source(factory),
            revertible_after_success=self.revertible_after_success(name),
        )

    def describe_all(self) -> Iterable[FlowInfo]:
        return [self.describe(name) for name in self.names()]


def _source(factory: FlowFactory) -> str | None:
    """A document factory's file (its ``source``), else the factory's import path."""
    source = getattr(factory, "source", None)
    if isinstance(source, str):
        return source
    module, name = getattr(factory, "__module__", None), getattr(factory, "__qualname__", None)
    return f"{module}:{name}" if module and name else None


def flow_inputs(flow: tf_flow.Flow) -> frozenset[str]:
    """The store keys ``flow`` reads: what it requires and what its atoms may take."""
    optional: set[str] = set()
    for atom in _iter_atoms(flow):
        optional.update(getattr(atom, "optional", ()) or ())
    return frozenset(flow.requires) | frozenset(optional - set(flow.provides))


def _iter_atoms(flow: tf_flow.Flow) -> Iterable[Any]:
    from taskflow import flow as tf_flow

    for node, _meta in flow.iter_nodes():
        if isinstance(node, tf_flow.Flow):
            yield from _iter_atoms(node)
        else:
            yield node
