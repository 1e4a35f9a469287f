from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from orchestrator.cli.context import AppContext, again, with_app
from orchestrator.errors import InvalidRequest, InvalidStore, OrchestratorError
from persistence.states import JobState

if TYPE_CHECKING:
    from orchestrator.service import Orchestrator


def _load_store(store_json: str | None, store_file: Any) -> dict[str, Any]:
    if store_json is not None and store_file is not None:
        raise click.UsageError("give --store-json or --store-file, not both")
    text = store_json if store_json is not None else (
        store_file.read() if store_file is not None else "{}")
    source = "--store-json" if store_json is not None else "--store-file"
    try:
        store = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidStore(f"{source} is not valid JSON: {exc}") from exc
    if not isinstance(store, dict):
        raise InvalidStore(f"{source} must be a JSON object, not {type(store).__name__}")
    return store


def _load_document(file: Any) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(file.read())
    except yaml.YAMLError as exc:
        raise InvalidRequest(f"--document {file.name} is not valid YAML or JSON: {exc}") \
            from exc
    if not isinstance(data, dict):
        raise InvalidRequest(f"--document {file.name} must hold a mapping, not "
                             f"{type(data).__name__}")
    return data


@click.command()
@click.argument("flow", required=False)
@click.option("--document", "document_file", type=click.File("r"),
              help="Run the declarative flow in this YAML or JSON file instead of "
              "a registered FLOW; the document travels with the job.")
@click.option("--store-json", metavar="JSON", help="The flow's inputs as a JSON object.")
@click.option("--store-file", type=click.File("r"), help="Read the inputs from a JSON file.")
@click.option("--priority", default="NORMAL", show_default=True,
              type=click.Choice(["VERY_LOW", "LOW", "NORMAL", "HIGH", "VERY_HIGH"],
                                case_sensitive=False))
@click.option("--idempotency-key", metavar="KEY",
              help="Posting again with the same key prints the first job instead of "
              "posting another.")
@click.option("--strict", is_flag=True,
              help="Refuse a store key no task of the flow reads, instead of warning.")
@click.option("--key", "concurrency_keys", metavar="KEY", multiple=True,
              help="A concurrency key, such as node:4f2a (repeat for several): across "
              "all conductors, at most N jobs sharing a key run at once (N per key "
              "prefix, 1 unless configured); the others wait their turn.")
@click.option("--wait", is_flag=True,
              help="Follow the job to its end, showing its progress on stderr; "
              "exit 1 unless it succeeded.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="With --wait: give up after this many seconds (exit 1).")
@click.option("--json", "as_json", is_flag=True, help="Print the job record as JSON.")
@with_app
def post(app: AppContext, flow: str | None, document_file: Any, store_json: str | None,
         store_file: Any, priority: str, idempotency_key: str | None, strict: bool,
         concurrency_keys: tuple[str, ...], wait: bool, timeout: float | None,
         as_json: bool) -> None:
    """Post a job running FLOW (or --document) to the jobboard and print its id.

    The flow must be registered (see 'orchestrator flows') or given as a
    document, and the store must hold every input it requires; otherwise
    nothing is posted and the exit code is 2.
    """
    # Imported here, so that `post --help` answers at once.
    from orchestrator.cli import progress
    from orchestrator.cli.jsonout import history_json

    if (flow is None) == (document_file is None):
        raise click.UsageError("give a registered FLOW or --document FILE (one of them)")
    store = _load_store(store_json, store_file)
    document = None
    if document_file is not None:
        document = _load_document(document_file)
    with app.orchestrator() as orch:
        posted = orch.submit(flow, store, priority=priority.upper(),
                             idempotency_key=idempotency_key, document=document,
                             strict=strict, concurrency_keys=concurrency_keys)
        record = posted.record
        if posted.created and not _any_conductor(orch):
            click.echo("warning: no conductor is alive; the job waits on the jobboard until "
                       f"one starts ({again('conductor')})", err=True)
        if posted.unused_keys:
            click.echo(f"warning: no task of flow {record.flow_name!r} reads store key(s) "
                       f"{', '.join(posted.unused_keys)} (a typo?); --strict refuses them",
                       err=True)
        if not as_json:
            click.echo(record.id)
        if not wait:
            if as_json:
                click.echo(history_json(orch.job_history(record.id)))
            return
        try:
            final = progress.watch(orch, record.id, timeout=timeout)
        except KeyboardInterrupt:
            # Only the watching stops: the job is on the board and runs on.
            click.echo(f"\nStopped watching; job {record.id} goes on. Follow it with:\n"
                       f"  {again('jobs', 'watch', record.id)}", err=True)
            raise SystemExit(130) from None
        if as_json:
            # What `jobs show --json` prints: the record and its tasks.
            click.echo(history_json(orch.job_history(final.id)))
    if not as_json:
        click.echo(final.state.value)
        if final.last_error:
            click.echo(f"  error: {final.last_error}", err=True)
    if final.state is not JobState.SUCCESS:
        raise SystemExit(1)


def _any_conductor(orch: Orchestrator) -> bool:
    """Whether a conductor is alive; True when that cannot be told (the job is posted)."""
    try:
        return bool(orch.conductors())
    except OrchestratorError:
        return True
