"""The IPA 13 command contract of orchestrator.extensions.base, and where it improves on IPA."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from stevedore.extension import Extension, ExtensionManager

from orchestrator.extensions import base, errors
from tests.helpers import wait_for


class Agent:
    def __init__(self) -> None:
        self.heartbeats = 0

    def force_heartbeat(self) -> None:
        self.heartbeats += 1


def _check_n(ext: SampleExtension, **params: Any) -> None:
    ext.validator_threads.append(threading.current_thread().name)
    if params.get("n", 0) < 0:
        raise errors.InvalidCommandParamsError("n must be >= 0")
    if params.get("lookup"):
        {}["missing"]  # a KeyError from a validator is not a missing extension


class SampleExtension(base.BaseAgentExtension):
    def __init__(self, agent: Any = None) -> None:
        self.validator_threads: list[str] = []
        self.body_threads: list[str] = []
        self.gate = threading.Event()
        super().__init__(agent)

    @base.sync_command("echo", validator=_check_n)
    def echo(self, **params: Any) -> Any:
        self.body_threads.append(threading.current_thread().name)
        if params.get("hold"):
            assert self.gate.wait(10)
        return params.get("value", params)

    @base.sync_command("boom")
    def boom(self, exc: BaseException) -> None:
        raise exc

    @base.async_command("run", validator=_check_n)
    def run(self, value: Any = None, exc: BaseException | None = None, hold: bool = False,
            n: int = 0, lookup: bool = False) -> Any:
        self.body_threads.append(threading.current_thread().name)
        if hold:
            assert self.gate.wait(10)
        if exc is not None:
            raise exc
        return value

    @base.sync_command("create", revert="undo")
    def create(self, name: str) -> dict[str, str]:
        return {"created": name}

    @base.async_command("undo")
    def undo(self, name: str, result: Any = None) -> dict[str, Any]:
        return {"undone": name, "of": result}


def make_host(ext: SampleExtension | None = None, **kwargs: Any) -> Host:
    ext = ext or SampleExtension(agent=Agent())
    mgr = ExtensionManager.make_test_instance([Extension("sample", None, SampleExtension, ext)])
    return Host(ext_mgr=mgr, **kwargs)


class Host(base.ExecuteCommandMixin):
    pass


@pytest.fixture
def ext() -> SampleExtension:
    return SampleExtension(agent=Agent())


# -- BaseAgentExtension ------------------------------------------------------------------


def test_command_map_is_built_once_from_decorated_members(ext: SampleExtension) -> None:
    assert set(ext.command_map) == {"echo", "boom", "run", "create", "undo"}
    assert ext.command_map["echo"] == ext.echo  # bound methods
    command_map = ext.command_map
    SampleExtension.late = base.sync_command("late")(lambda self: None)  # type: ignore[attr-defined]
    try:
        ext.execute("echo")
        assert ext.command_map is command_map and "late" not in ext.command_map
    finally:
        del SampleExtension.late  # type: ignore[attr-defined]


def test_unknown_command_is_invalid_command_error(ext: SampleExtension) -> None:
    with pytest.raises(errors.InvalidCommandError) as info:
        ext.execute("nope")
    assert info.value.details == "Unknown command: nope"
    assert info.value.status_code == 400


def test_commands_take_keyword_arguments_only(ext: SampleExtension) -> None:
    with pytest.raises(TypeError):
        ext.echo(1)
    with pytest.raises(TypeError):
        ext.execute("echo", 1)  # type: ignore[misc]


@pytest.mark.parametrize("command", ["echo", "run"])
def test_validator_runs_first_in_callers_thread_and_its_error_propagates(
    ext: SampleExtension, command: str
) -> None:
    with pytest.raises(errors.InvalidCommandParamsError):
        ext.execute(command, n=-1)
    assert ext.validator_threads == [threading.current_thread().name]
    assert ext.body_threads == []  # no result, no thread: the body never ran


def test_sync_body_exception_propagates_from_execute(ext: SampleExtension) -> None:
    with pytest.raises(ZeroDivisionError):
        ext.execute("boom", exc=ZeroDivisionError("no"))


@pytest.mark.parametrize("value", ["text", b"bytes"])
def test_sync_str_and_bytes_are_wrapped(ext: SampleExtension, value: Any) -> None:
    result = ext.execute("echo", value=value)
    assert isinstance(result, base.SyncCommandResult)
    assert result.command_status == "SUCCEEDED"
    assert result.command_result == {"result": value}
    failed = base.SyncCommandResult("x.y", {}, False, value)
    assert (failed.command_status, failed.command_error) == ("FAILED", {"error": value})


def test_sync_other_values_are_kept_as_they_are(ext: SampleExtension) -> None:
    assert ext.execute("echo", value=[1, 2]).command_result == [1, 2]


def test_async_result_runs_in_a_named_thread_and_prefixes_strings(ext: SampleExtension) -> None:
    result = ext.execute("run", value="hello")
    assert isinstance(result, base.AsyncCommandResult)
    assert result.join() is result
    assert ext.body_threads == [f"agent-command-{result.id}"]
    assert result.command_result == {"result": "run: hello"}
    assert ext.execute("run", value={"a": 1}).wait() == {"a": 1}


def test_async_failure_is_wrapped_as_command_execution_error(ext: SampleExtension) -> None:
    original = ValueError("bad input")
    result = ext.execute("run", exc=original).join()
    assert result.command_status == base.AgentCommandStatus.FAILED
    assert isinstance(result.command_error, errors.CommandExecutionError)
    assert result.command_error.details == "bad input"
    assert result.command_error.__cause__ is original
    rest = errors.CleaningError("kept")
    assert ext.execute("run", exc=rest).join().command_error is rest


def test_async_version_mismatch_has_its_own_status(ext: SampleExtension) -> None:
    result = ext.execute("run", exc=errors.VersionMismatch("1", "2")).join()
    assert result.command_status == "CLEAN_VERSION_MISMATCH"
    assert result.command_result is None


@pytest.mark.parametrize("exc", [None, RuntimeError("x")])
def test_async_heartbeats_once_at_the_end(exc: Exception | None) -> None:
    agent = Agent()
    ext = SampleExtension(agent=agent)
    result = ext.execute("run", exc=exc, hold=True)
    assert agent.heartbeats == 0
    ext.gate.set()
    result.join()
    assert agent.heartbeats == 1
    SampleExtension(agent=None).execute("run", value=1).join()  # no agent: no heartbeat


def test_statuses() -> None:
    status = base.AgentCommandStatus
    assert (status.RUNNING, status.SUCCEEDED, status.FAILED) == ("RUNNING", "SUCCEEDED", "FAILED")
    assert status.VERSION_MISMATCH == status.CLEAN_VERSION_MISMATCH == "CLEAN_VERSION_MISMATCH"


def test_serialize_has_exactly_ipas_keys_and_no_params(ext: SampleExtension) -> None:
    result = ext.execute("echo", value="v", secret="s")
    assert result.serialize() == {
        "id": result.id,
        "command_name": "echo",
        "command_status": "SUCCEEDED",
        "command_error": None,
        "command_result": {"result": "v"},
    }
    assert result.command_params == {"value": "v", "secret": "s"}


def test_is_done_wait_and_join_while_running_and_after(ext: SampleExtension) -> None:
    result = ext.execute("run", value=7, hold=True)
    assert not result.is_done() and result.command_status == "RUNNING"
    assert result.join(timeout=0.01) is result
    with pytest.raises(TimeoutError):
        result.wait(timeout=0.01)
    ext.gate.set()
    assert result.wait() == 7
    assert result.is_done()
    sync = ext.execute("echo", value=1)
    assert sync.is_done() and sync.join() is sync and sync.wait() == 1


def test_wait_raises_the_error(ext: SampleExtension) -> None:
    with pytest.raises(errors.CommandExecutionError, match="nope"):
        ext.execute("run", exc=OSError("nope")).wait()
    with pytest.raises(errors.CommandExecutionError, match="text"):
        base.SyncCommandResult("x", {}, False, "text").wait()


# -- ExecuteCommandMixin -----------------------------------------------------------------


def test_split_command() -> None:
    host = Host()
    assert host.split_command("sample.echo") == ("sample", "echo")
    assert host.split_command("a.b.c") == ("a", "b.c")
    with pytest.raises(errors.InvalidCommandError) as info:
        host.split_command("nodot")
    assert info.value.details == "Command name must be of the form <extension>.<name>"


def test_execute_command_runs_stores_in_order_and_sets_ext_mgr(ext: SampleExtension) -> None:
    host = make_host(ext)
    first = host.execute_command("sample.echo", value=1)
    second = host.execute_command("sample.run", value=2).join()
    assert list(host.command_results) == [first.id, second.id]
    assert host.list_command_results() == [first, second]
    assert host.get_command_result(second.id) is second
    assert ext.ext_mgr is host.ext_mgr


def test_busy_while_the_last_command_runs(ext: SampleExtension) -> None:
    host = make_host(ext)
    running = host.execute_command("sample.run", hold=True)
    with pytest.raises(errors.AgentIsBusy) as info:
        host.execute_command("sample.echo")
    assert (info.value.status_code, info.value.details) == (409, "executing command run")
    ext.gate.set()
    running.join()
    assert host.execute_command("sample.echo").is_done()


def test_missing_extension_is_404() -> None:
    with pytest.raises(errors.RequestedObjectNotFoundError) as info:
        make_host().execute_command("nope.echo")
    assert info.value.status_code == 404
    assert info.value.details == "Extension with id nope not found."


@pytest.mark.parametrize(
    ("name", "params", "error"),
    [
        ("sample.missing", {}, errors.InvalidCommandError),
        ("sample.echo", {"n": -1}, errors.InvalidCommandParamsError),
        ("nodot", {}, errors.InvalidCommandError),
    ],
)
def test_invalid_content_propagates_and_stores_nothing(name: str, params: Any, error: Any) -> None:
    host = make_host()
    with pytest.raises(error):
        host.execute_command(name, **params)
    assert host.command_results == {}


def test_other_errors_become_a_stored_failed_sync_result() -> None:
    host = make_host()
    exc = RuntimeError("broken")
    result = host.execute_command("sample.boom", exc=exc)
    assert isinstance(result, base.SyncCommandResult)
    assert (result.command_status, result.command_error) == ("FAILED", exc)
    assert host.command_results[result.id] is result


def test_results_can_be_listed_while_a_sync_command_holds_the_lock(ext: SampleExtension) -> None:
    host = make_host(ext)
    first = host.execute_command("sample.echo", value=1)
    caller = threading.Thread(target=host.execute_command, args=("sample.echo",),
                              kwargs={"hold": True})
    caller.start()
    try:
        wait_for(lambda: len(ext.body_threads) == 2, timeout=10, message="the sync command")
        assert host.command_lock.locked()
        assert host.list_command_results() == [first]
    finally:
        ext.gate.set()
        caller.join(10)
    assert len(host.list_command_results()) == 2


def test_no_extension_manager() -> None:
    host = Host()
    with pytest.raises(errors.ExtensionError):
        host.get_extension("sample")
    result = host.execute_command("sample.echo")  # IPA records this as a failure
    assert isinstance(result.command_error, errors.ExtensionError)
    with pytest.raises(errors.RequestedObjectNotFoundError):
        host.get_command_result("unknown")


# -- better than IPA ---------------------------------------------------------------------


def test_any_failure_or_odd_value_still_serializes_and_lists() -> None:
    host = make_host()
    host.execute_command("sample.boom", exc=ValueError("plain"))
    host.execute_command("sample.boom", exc=ValueError())
    host.execute_command("sample.echo", value={"s": {1}, "nan": float("nan"), "o": object()})
    host.execute_command("sample.echo", value=b"\xff")
    listing = json.dumps([r.serialize() for r in host.list_command_results()], allow_nan=False)
    first, second, odd, raw = json.loads(listing)
    assert first["command_error"] == {
        "type": "CommandExecutionError",
        "code": 500,
        "message": "Command execution failed",
        "details": "plain",
    }
    assert second["command_error"]["details"] == "ValueError"
    assert odd["command_result"]["s"] == [1]
    assert odd["command_result"]["nan"].startswith("<non-JSON")
    assert odd["command_result"]["o"].startswith("<non-JSON builtins.object")
    assert raw["command_result"]["result"].startswith("<non-JSON builtins.bytes")


@pytest.mark.parametrize("command", ["boom", "echo"])
def test_key_error_inside_a_command_is_a_failed_command(command: str) -> None:
    params = {"exc": KeyError("k")} if command == "boom" else {"lookup": True}
    result = make_host().execute_command(f"sample.{command}", **params)
    assert result.command_status == "FAILED"
    assert isinstance(result.command_error, KeyError)


def test_results_history_is_bounded_and_keeps_running_commands(ext: SampleExtension) -> None:
    host = make_host(ext, max_command_results=3)
    running = ext.execute("run", hold=True)
    done = base.SyncCommandResult("sample.echo", {}, True, None)
    # The oldest entry still running, and a finished one after it (so not busy).
    host.command_results.update({running.id: running, done.id: done})
    ids = [host.execute_command("sample.echo", value=i).id for i in range(5)]
    assert list(host.command_results) == [running.id, *ids[-2:]]
    ext.gate.set()
    running.join()
    newest = host.execute_command("sample.echo").id
    assert list(host.command_results) == [*ids[-2:], newest]
    assert Host().command_results_limit == base.DEFAULT_MAX_COMMAND_RESULTS == 1000
    assert Host(max_command_results=None).command_results_limit is None
    with pytest.raises(ValueError):
        Host(max_command_results=0)


def test_bounded_history_under_load() -> None:
    host = make_host(max_command_results=10)
    for i in range(200):
        host.execute_command("sample.echo", value=i)
    assert len(host.command_results) == 10
    assert host.list_command_results()[-1].command_result == 199


# -- revert ------------------------------------------------------------------------------


def test_revert_is_declared_on_the_decorators(ext: SampleExtension) -> None:
    assert ext.revert_command_for("create") == "undo"
    assert ext.revert_command_for("echo") is None
    assert SampleExtension.create.command_revert == "undo"  # type: ignore[attr-defined]
    assert SampleExtension.echo.command_revert is None  # type: ignore[attr-defined]
    with pytest.raises(errors.InvalidCommandError):
        ext.revert_command_for("nope")
    done = ext.execute("create", name="n")
    undone = ext.execute(ext.revert_command_for("create") or "", name="n",
                         result=done.command_result)
    assert undone.wait() == {"undone": "n", "of": {"created": "n"}}


def test_revert_must_name_a_command_of_the_same_extension() -> None:
    class Broken(base.BaseAgentExtension):
        @base.sync_command("do", revert="missing")
        def do(self) -> None: ...

    with pytest.raises(errors.ExtensionError, match="missing"):
        Broken()
    with pytest.raises(TypeError):
        base.sync_command("x", revert=42)(lambda self: None)  # type: ignore[arg-type]

