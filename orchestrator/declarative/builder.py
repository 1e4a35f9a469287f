"""Building a TaskFlow flow of CommandTasks from a validated document."""

from __future__ import annotations

from taskflow import exceptions as tf_exc
from taskflow import flow as tf_flow
from taskflow import retry
from taskflow.patterns import graph_flow, linear_flow, unordered_flow

from orchestrator.commands import CommandCatalog, CommandTask, UnknownCommand
from orchestrator.declarative.document import DocumentError, FlowDocument, Step, SubFlow

_PATTERNS: dict[str, type[tf_flow.Flow]] = {
    "linear": linear_flow.Flow,
    "unordered": unordered_flow.Flow,
    "graph": graph_flow.Flow,
}


def build_flow(document: FlowDocument, catalog: CommandCatalog) -> tf_flow.Flow:
    """Build the document's flow; raise DocumentError naming what is wrong."""
    flow = _build(document.root, catalog, document.source, "")
    undeclared = set(flow.requires) - set(document.inputs)
    if undeclared:
        raise DocumentError(
            f"{document.source}: steps require {', '.join(sorted(undeclared))}, which no "
            "earlier step provides and 'inputs' does not declare")
    return flow


def _build(sub: SubFlow, catalog: CommandCatalog, source: str, path: str) -> tf_flow.Flow:
    flow = _PATTERNS[sub.pattern](sub.name)
    for index, item in enumerate(sub.steps):
        here = f"{path}steps[{index}]"
        atom: object
        if isinstance(item, SubFlow):
            atom = _build(item, catalog, source, f"{here}.flow.")
        else:
            atom = _task(item, catalog, source, here)
        try:
            flow.add(atom)
        except (tf_exc.DependencyFailure, tf_exc.InvalidFormat, ValueError) as exc:
            text = str(exc)
            # TaskFlow reports a cycle as an impossible ordering of the graph.
            problem = "its requires and provides form a cycle with earlier steps" \
                if "cycle" in text.lower() or "No path through" in text else text
            raise DocumentError(f"{source}: {here} ({item.name}): {problem}") from exc
    return flow


def _task(step: Step, catalog: CommandCatalog, source: str, here: str) -> object:
    try:
        info = catalog.get(step.command)
    except UnknownCommand as exc:
        raise DocumentError(f"{source}: {here}.command: {exc}") from exc
    task = CommandTask(
        step.name,
        step.command,
        params=step.params,
        inputs=step.inputs,
        rebind=step.rebind,
        provides=step.provides,
        revert_command=f"{info.extension}.{info.revert}" if info.revert else None,
        remote=step.remote,
        timeout=step.timeout,
    )
    if not step.retry:
        return task
    # A retry controller re-runs the step (after reverting it) up to retry times more.
    return linear_flow.Flow(f"{step.name}.retrying",
                            retry=retry.Times(step.retry + 1, name=f"{step.name}.retry")
                            ).add(task)
