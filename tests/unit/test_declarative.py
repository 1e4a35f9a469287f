"""Declarative flow documents: validation errors, and flows that run and revert."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import taskflow.engines
import yaml

from orchestrator.commands import CommandCatalog, RunnerSettings, configure
from orchestrator.declarative import DocumentError, build_flow, load_directory, parse_document
from orchestrator.extensions.base import BaseAgentExtension, async_command, sync_command


class FilesExtension(BaseAgentExtension):
    """Writes marker files, so tests can see side effects and their undoing."""

    @sync_command("create", revert="delete")
    def create(self, path: str, content: str = "x") -> dict[str, str]:
        Path(path).write_text(content)
        return {"path": path}

    @sync_command("delete")
    def delete(self, path: str, result: Any = None, content: str = "x") -> None:
        Path(path).unlink()

    @async_command("slow_echo")
    def slow_echo(self, value: str) -> dict[str, str]:
        return {"echo": value}

    @sync_command("fail")
    def fail(self, why: str = "no reason", attempts_file: str | None = None) -> None:
        if attempts_file:
            with open(attempts_file, "a") as attempts:
                attempts.write("attempt\n")
        raise RuntimeError(why)

    @sync_command("note")
    def note(self, text: str) -> dict[str, str]:
        return {"noted": text}


CATALOG = CommandCatalog({"files": FilesExtension})


@pytest.fixture(autouse=True)
def local_extensions() -> Iterator[None]:
    configure(RunnerSettings(poll_interval=0.05, command_timeout=10),
              extensions={"files": FilesExtension()})
    yield
    configure(RunnerSettings(), extensions={})


def _doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "markers",
        "description": "Create two markers, then maybe fail.",
        "inputs": ["dir_a", "dir_b", "why"],
        "steps": [
            {"name": "create-a", "command": "files.create", "inputs": ["path"],
             "rebind": {"path": "dir_a"}, "params": {"content": "a"}, "provides": "a"},
            {"name": "both", "flow": {"pattern": "unordered", "steps": [
                {"name": "create-b", "command": "files.create", "inputs": ["path"],
                 "rebind": {"path": "dir_b"}},
                {"name": "echo", "command": "files.slow_echo", "params": {"value": "hi"},
                 "provides": "echoed"},
            ]}},
            {"name": "maybe-fail", "command": "files.fail", "inputs": ["why"]},
        ],
    }
    doc.update(overrides)
    return doc


def _parse(doc: dict[str, Any]) -> Any:
    return parse_document(yaml.safe_dump(doc), source="markers.yaml")


def test_a_failing_step_reverts_earlier_steps_through_their_compensating_commands(
        tmp_path: Path) -> None:
    flow = build_flow(_parse(_doc()), CATALOG)
    a, b = tmp_path / "a", tmp_path / "b"
    engine = taskflow.engines.load(flow, store={"dir_a": str(a), "dir_b": str(b),
                                                "why": "disk full"})
    with pytest.raises(Exception, match="disk full"):
        engine.run()
    assert not a.exists() and not b.exists()
    assert engine.storage.get_revert_result("create-a") == {
        "undone": True, "command": "files.delete", "result": None}
    # A command that declares no compensation records that nothing was undone.
    assert engine.storage.get_revert_result("echo")["undone"] is False


def test_a_flow_without_failure_provides_results(tmp_path: Path) -> None:
    doc = _doc(steps=_doc()["steps"][:2], inputs=["dir_a", "dir_b"])
    engine = taskflow.engines.load(build_flow(_parse(doc), CATALOG),
                                   store={"dir_a": str(tmp_path / "a"),
                                          "dir_b": str(tmp_path / "b")})
    engine.run()
    assert engine.storage.fetch("a") == {"path": str(tmp_path / "a")}
    assert engine.storage.fetch("echoed") == {"result": "slow_echo: hi"} or \
        engine.storage.fetch("echoed") == {"echo": "hi"}
    assert (tmp_path / "a").read_text() == "a"


def test_retry_reruns_a_failing_step(tmp_path: Path) -> None:
    attempts = tmp_path / "attempts"
    doc = {"name": "retrying", "inputs": [], "steps": [
        {"name": "boom", "command": "files.fail", "retry": 2,
         "params": {"attempts_file": str(attempts)}}]}
    engine = taskflow.engines.load(build_flow(_parse(doc), CATALOG))
    with pytest.raises(Exception, match="no reason"):
        engine.run()
    assert attempts.read_text().count("attempt") == 3


@pytest.mark.parametrize("change, message", [
    ({"pattern": "circle"}, "pattern: must be one of linear, unordered, graph"),
    ({"steps": []}, "steps: must be a non-empty list"),
    ({"colour": "red"}, "unknown keys colour"),
    ({"name": "Bad Name"}, "name: must be a name"),
    ({"inputs": "dir_a"}, "inputs: must be a list of names"),
    ({"revertible_after_success": "yes"}, "revertible_after_success: must be true or false"),
    ({"concurrency_keys": "node:{node}"}, "concurrency_keys: must be a list of key templates"),
])
def test_document_errors_name_the_problem(change: dict[str, Any], message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        _parse(_doc(**change))


@pytest.mark.parametrize("step, message", [
    ({"name": "x", "command": "nope.create"}, "unknown extension 'nope'"),
    ({"name": "x", "command": "files.explode"}, "extension 'files' has no command 'explode'"),
    ({"name": "x", "command": "files"}, "must name a command as extension.command"),
    ({"name": "x", "command": "files.note", "retry": -1}, "retry: must be a whole number"),
    ({"name": "x", "command": "files.note", "inputs": ["text"], "rebind": {"t": "y"}},
     "rebinds t, which are not among the step's inputs"),
    ({"name": "x", "command": "files.note", "inputs": ["text"]},
     "steps require text, which no earlier step provides"),
])
def test_step_errors_name_the_step(step: dict[str, Any], message: str) -> None:
    doc = {"name": "one", "inputs": [], "steps": [step]}
    with pytest.raises(DocumentError, match=message):
        build_flow(_parse(doc), CATALOG)


def test_duplicate_step_names_are_refused() -> None:
    step = {"name": "x", "command": "files.note", "params": {"text": "t"}}
    with pytest.raises(DocumentError, match="duplicate step name 'x'"):
        _parse({"name": "dup", "steps": [step, step]})


def test_a_graph_cycle_is_refused() -> None:
    doc = {"name": "cycle", "pattern": "graph", "inputs": [], "steps": [
        {"name": "p", "command": "files.note", "inputs": ["text"], "rebind": {"text": "q"},
         "provides": "p"},
        {"name": "q", "command": "files.note", "inputs": ["text"], "rebind": {"text": "p"},
         "provides": "q"},
    ]}
    with pytest.raises(DocumentError, match="cycle"):
        build_flow(_parse(doc), CATALOG)


def test_a_graph_orders_steps_by_what_they_provide(tmp_path: Path) -> None:
    doc = {"name": "ordered", "pattern": "graph", "inputs": [], "steps": [
        {"name": "second", "command": "files.note", "inputs": ["text"],
         "rebind": {"text": "first_out"}, "provides": "second_out"},
        {"name": "first", "command": "files.note", "params": {"text": "hello"},
         "provides": "first_out"},
    ]}
    engine = taskflow.engines.load(build_flow(_parse(doc), CATALOG))
    engine.run()
    assert engine.storage.fetch("second_out") == {"noted": str({"noted": "hello"})} or \
        engine.storage.fetch("second_out")["noted"] == {"noted": "hello"}


def test_load_directory_registers_documents_and_skips_bad_ones(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(_doc()))
    (tmp_path / "notes.txt").write_text("ignored")
    factories = load_directory(tmp_path, CATALOG)
    assert list(factories) == ["markers"]
    assert factories["markers"].__doc__ == "Create two markers, then maybe fail."
    (tmp_path / "b.json").write_text(yaml.safe_dump(_doc()))
    (tmp_path / "c.yaml").write_text("name: broken\nsteps: [")
    (tmp_path / "d.yaml").write_text(yaml.safe_dump({**_doc(), "name": "other"}))
    with caplog.at_level("ERROR"):
        factories = load_directory(tmp_path, CATALOG)
    assert sorted(factories) == ["markers", "other"]  # the good ones, the first of a name
    skipped = [r.getMessage() for r in caplog.records]
    assert len(skipped) == 2
    assert "b.json" in skipped[0] and "also defined in" in skipped[0]
    assert "c.yaml" in skipped[1]


def test_a_document_declares_its_flow_revertible_after_success(tmp_path: Path) -> None:
    from orchestrator.registry import FlowRegistry

    (tmp_path / "a.yaml").write_text(yaml.safe_dump(_doc()))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(
        {**_doc(), "name": "undoable", "revertible_after_success": True}))
    registry = FlowRegistry(load_directory(tmp_path, CATALOG))
    assert not registry.revertible_after_success("markers")
    assert registry.revertible_after_success("undoable")
    assert registry.describe("undoable").revertible_after_success
