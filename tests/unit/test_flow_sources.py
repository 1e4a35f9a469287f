"""What ``flows`` and ``GET /v1/flows`` tell of where each flow comes from."""

from __future__ import annotations

from pathlib import Path

import yaml

from orchestrator import views
from orchestrator.commands import CommandCatalog
from orchestrator.declarative import load_directory
from orchestrator.extensions.builtin.demo import DemoExtension
from orchestrator.flows import slow
from orchestrator.registry import FlowRegistry

DOCUMENT = {
    "name": "echo-twice",
    "description": "Echo a message twice.",
    "inputs": ["message"],
    "steps": [
        {"name": "first", "command": "demo.echo", "inputs": ["message"], "provides": "once"},
        {"name": "second", "command": "demo.echo", "params": {"n": 2}, "provides": "twice"},
    ],
}


def test_a_document_flow_shows_its_document_and_file_and_a_python_flow_its_factory(
        tmp_path: Path) -> None:
    path = tmp_path / "echo.yaml"
    path.write_text(yaml.safe_dump(DOCUMENT))
    registry = FlowRegistry({"slow-steps": slow.make_flow}).merged(
        load_directory(tmp_path, CommandCatalog({"demo": DemoExtension})), str(tmp_path))

    shown = {info.name: views.flow_dict(info) for info in registry.describe_all()}

    echo = shown["echo-twice"]
    assert echo["document"] == DOCUMENT
    assert echo["source"] == str(path)
    assert echo["description"] == "Echo a message twice."
    assert echo["requires"] == ["message"]
    assert echo["provides"] == ["once", "twice"]
    python = shown["slow-steps"]
    assert python["document"] is None
    assert python["source"] == "orchestrator.flows.slow:make_flow"
