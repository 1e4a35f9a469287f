"""Parsing a flow document into typed steps, with errors that name where they are."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import yaml

from orchestrator.errors import InvalidRequest

PATTERNS = ("linear", "unordered", "graph")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
_STEP_KEYS = {"name", "command", "params", "inputs", "rebind", "provides", "retry",
              "remote", "timeout"}
_FLOW_KEYS = {"name", "pattern", "steps"}
_DOC_KEYS = {"name", "description", "pattern", "inputs", "steps", "version",
             "revertible_after_success", "concurrency_keys", "shape_change"}


class DocumentError(InvalidRequest):
    """The flow document is invalid."""

    code = "invalid_document"


@dataclass(frozen=True)
class Step:
    name: str
    command: str
    params: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    rebind: Mapping[str, str] = field(default_factory=dict)
    provides: str | None = None
    retry: int = 0
    remote: bool = False
    timeout: float | None = None


@dataclass(frozen=True)
class SubFlow:
    name: str
    pattern: str
    steps: tuple[Step | SubFlow, ...]


@dataclass(frozen=True)
class FlowDocument:
    name: str
    description: str
    inputs: tuple[str, ...]
    root: SubFlow
    source: str = "<document>"


def parse_document(text: str, source: str = "<document>") -> FlowDocument:
    """Parse YAML or JSON text (JSON is YAML) into a FlowDocument."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DocumentError(f"{source}: not valid YAML or JSON: {exc}") from exc
    return from_data(data, source)


def from_data(data: Any, source: str = "<document>") -> FlowDocument:
    where = _Where(source)
    doc = where.mapping(data, "the document", _DOC_KEYS)
    name = where.name(doc.get("name"), "name")
    if doc.get("version", 1) != 1:
        where.fail("version", f"unsupported version {doc.get('version')!r} (only 1)")
    description = doc.get("description", "")
    if not isinstance(description, str):
        where.fail("description", "must be a string")
    inputs = where.names(doc.get("inputs", []), "inputs")
    if not isinstance(doc.get("revertible_after_success", False), bool):
        where.fail("revertible_after_success", "must be true or false")
    if "shape_change" in doc:
        from orchestrator.shapes import ShapeChange, ShapeError

        try:
            ShapeChange.from_document(doc["shape_change"])
        except ShapeError as exc:
            where.fail("shape_change", str(exc))
    templates = doc.get("concurrency_keys", [])
    if not isinstance(templates, list) or not all(isinstance(t, str) and t
                                                  for t in templates):
        where.fail("concurrency_keys", "must be a list of key templates such as "
                   "node:{node}")
    root = _flow({"name": name, "pattern": doc.get("pattern", "linear"),
                  "steps": doc.get("steps")}, where, "")
    return FlowDocument(name=name, description=description, inputs=inputs, root=root,
                        source=source)


def _flow(data: Mapping[str, Any], where: _Where, path: str) -> SubFlow:
    pattern = data.get("pattern", "linear")
    if pattern not in PATTERNS:
        where.fail(f"{path}pattern", f"must be one of {', '.join(PATTERNS)}, not {pattern!r}")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        where.fail(f"{path}steps", "must be a non-empty list of steps")
    steps: list[Step | SubFlow] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_steps):
        here = f"{path}steps[{index}]"
        item = where.mapping(raw, here, _STEP_KEYS | {"flow"})
        if "flow" in item:
            extra = set(item) - {"flow", "name"}
            if extra:
                where.fail(here, f"a sub-flow step takes only 'name' and 'flow', not "
                                 f"{', '.join(sorted(extra))}")
            sub = where.mapping(item["flow"], f"{here}.flow", _FLOW_KEYS)
            sub_name = where.name(item.get("name", sub.get("name", f"{pattern}-{index}")),
                                  f"{here}.name")
            child: Step | SubFlow = _flow({**sub, "name": sub_name}, where, f"{here}.flow.")
        else:
            child = _step(item, where, here)
        if child.name in seen:
            where.fail(f"{here}.name", f"duplicate step name {child.name!r}")
        seen.add(child.name)
        steps.append(child)
    return SubFlow(name=str(data["name"]), pattern=str(pattern), steps=tuple(steps))


def _step(item: Mapping[str, Any], where: _Where, here: str) -> Step:
    name = where.name(item.get("name"), f"{here}.name")
    command = item.get("command")
    if not isinstance(command, str) or command.count(".") < 1:
        where.fail(f"{here}.command", "must name a command as extension.command")
    params = item.get("params", {})
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        where.fail(f"{here}.params", "must be a mapping of parameter names to values")
    try:
        json.dumps(params)
    except (TypeError, ValueError):
        where.fail(f"{here}.params", "must hold plain JSON values")
    rebind = item.get("rebind", {})
    if not isinstance(rebind, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in rebind.items()):
        where.fail(f"{here}.rebind", "must map parameter names to store names")
    inputs = where.names(item.get("inputs", []), f"{here}.inputs")
    unknown_rebind = set(rebind) - set(inputs)
    if unknown_rebind:
        where.fail(f"{here}.rebind", f"rebinds {', '.join(sorted(unknown_rebind))}, which "
                                     "are not among the step's inputs")
    provides = item.get("provides")
    if provides is not None and not isinstance(provides, str):
        where.fail(f"{here}.provides", "must be a name")
    retry = item.get("retry", 0)
    if not isinstance(retry, int) or isinstance(retry, bool) or not 0 <= retry <= 100:
        where.fail(f"{here}.retry", "must be a whole number of retries from 0 to 100")
    remote = item.get("remote", False)
    if not isinstance(remote, bool):
        where.fail(f"{here}.remote", "must be true or false")
    timeout = item.get("timeout")
    if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
        where.fail(f"{here}.timeout", "must be a positive number of seconds")
    return Step(name=name, command=str(command), params=dict(params), inputs=inputs,
                rebind=dict(rebind), provides=provides, retry=retry, remote=remote,
                timeout=float(timeout) if timeout is not None else None)


class _Where:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> NoReturn:
        raise DocumentError(f"{self.source}: {path}: {message}")

    def mapping(self, value: Any, path: str, allowed: set[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(path, f"must be a mapping, not {type(value).__name__}")
        unknown = set(value) - allowed
        if unknown:
            self.fail(path, f"unknown keys {', '.join(sorted(map(str, unknown)))}; "
                            f"allowed: {', '.join(sorted(allowed))}")
        return value

    def name(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not _NAME_RE.match(value):
            self.fail(path, f"must be a name of lower-case letters, digits, '.', '_' and "
                            f"'-', not {value!r}")
        return str(value)

    def names(self, value: Any, path: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(path, "must be a list of names")
        return tuple(value)
