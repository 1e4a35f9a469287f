"""Flows without Python: YAML or JSON documents of extension-command steps.

A document names a pattern (linear, unordered, or graph ordered by what steps
require and provide), its store inputs, and its steps (``ext.cmd``, fixed
params, inputs, rebind, provides, retry count) or nested sub-flows. Documents
are validated when loaded and each time their flow is built, so a post of an
invalid flow is refused before anything is written.
"""

from orchestrator.declarative.builder import build_flow
from orchestrator.declarative.document import (
    DocumentError,
    FlowDocument,
    Step,
    SubFlow,
    parse_document,
)
from orchestrator.declarative.loader import load_directory

__all__ = [
    "DocumentError",
    "FlowDocument",
    "Step",
    "SubFlow",
    "build_flow",
    "load_directory",
    "parse_document",
]
