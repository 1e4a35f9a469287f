"""Flows without Python: YAML or JSON documents of extension-command steps.

A document names a pattern (linear, unordered, or graph ordered by what steps
require and provide), its store inputs, and its steps (``ext.cmd``, fixed
params, inputs, rebind, provides, retry count) or nested sub-flows. Documents
are validated when loaded and each time their flow is built, so a post of an
invalid flow is refused before anything is written.
"""

from collections.abc import Mapping
from typing import Any

from taskflow import flow as tf_flow

from orchestrator.commands import CommandCatalog
from orchestrator.declarative.builder import build_flow
from orchestrator.declarative.document import (
    DocumentError,
    FlowDocument,
    Step,
    SubFlow,
    from_data,
    parse_document,
)
from orchestrator.declarative.loader import load_directory

__all__ = [
    "DocumentError",
    "FlowDocument",
    "Step",
    "SubFlow",
    "build_flow",
    "flow_from_data",
    "load_directory",
    "parse_document",
]


def flow_from_data(data: Mapping[str, Any], catalog: CommandCatalog | None = None,
                   source: str = "<document>") -> tuple[str, tf_flow.Flow]:
    """Validate a document given as data (parsed JSON) and build its flow.

    Without a ``catalog``, the installed extensions' commands are used.
    Returns the document's name and the flow; raises ``DocumentError``.
    """
    document = from_data(data, source)
    return document.name, build_flow(document, catalog or CommandCatalog.installed())
