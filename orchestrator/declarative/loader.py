"""Registering flow documents found in a directory."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from taskflow import flow as tf_flow

from orchestrator.commands import CommandCatalog
from orchestrator.declarative.builder import build_flow
from orchestrator.declarative.document import DocumentError, FlowDocument, parse_document

LOG = logging.getLogger(__name__)

SUFFIXES = (".yaml", ".yml", ".json")


def load_directory(directory: Path, catalog: CommandCatalog
                   ) -> dict[str, Callable[[], tf_flow.Flow]]:
    """Parse and validate every document in ``directory``; return name -> factory.

    A document that cannot be read, is invalid, or names a flow an earlier
    file (by name order) defines is logged as an error naming its file and
    skipped: one bad file must not stop every command and conductor, and a
    job of the flow it meant waits for a conductor that has the flow.
    """
    if not directory.is_dir():
        raise DocumentError(f"flow directory {directory} does not exist")
    factories: dict[str, Callable[[], tf_flow.Flow]] = {}
    sources: dict[str, Path] = {}
    for path in sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES):
        try:
            text = path.read_text()
            document = parse_document(text, source=str(path))
            build_flow(document, catalog)
            if document.name in factories:
                raise DocumentError(f"{path}: flow {document.name!r} is also defined in "
                                    f"{sources[document.name]}")
        except (DocumentError, OSError, UnicodeDecodeError) as exc:
            LOG.error("Skipping flow document %s: %s", path, exc)
            continue
        factories[document.name] = DocumentFlow(document, _as_json(text), catalog)
        sources[document.name] = path
        LOG.debug("Loaded flow %s from %s", document.name, path)
    return factories


class DocumentFlow:
    """The factory of a document's flow; it also shows the document and its file."""

    def __init__(self, document: FlowDocument, data: dict[str, Any],
                 catalog: CommandCatalog) -> None:
        self._document = document
        self._catalog = catalog
        self.document = data
        self.source = document.source
        self.__doc__ = document.description or f"Declarative flow from {document.source}"

    def __call__(self) -> tf_flow.Flow:
        return build_flow(self._document, self._catalog)


def _as_json(text: str) -> dict[str, Any]:
    """The (valid) document as JSON data: YAML's dates and the like become strings."""
    data: dict[str, Any] = json.loads(json.dumps(yaml.safe_load(text), default=str))
    return data
