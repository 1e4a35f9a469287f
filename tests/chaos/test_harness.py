"""The chaos harness itself: the ledger reader, signals, and the Supervisor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.flows import ledger
from tests.chaos.harness import (
    LedgerCounts,
    LedgerEntry,
    LedgerFormatError,
    StepCount,
    Supervisor,
    overlapping_holders,
    parse_ledger_line,
    process_state,
    read_ledger,
    suspended,
)
from tests.helpers import wait_for

# A child that does nothing until it is killed; it must not exit by itself.
IDLE = [sys.executable, "-c", "import signal; signal.pause()"]


# --- Ledger reader -------------------------------------------------------------------


def test_reads_the_lines_the_product_writes(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    ledger.record(path, "start", "step-1")
    ledger.record(path, "execute", "step-1")

    entries = read_ledger(path)

    assert entries == [
        LedgerEntry("start", "step-1", os.getpid()),
        LedgerEntry("execute", "step-1", os.getpid()),
    ]


def test_an_optional_fourth_field_is_the_job() -> None:
    assert parse_ledger_line("revert step-2 42 job-7") == LedgerEntry(
        "revert", "step-2", 42, job="job-7"
    )
    assert parse_ledger_line("revert step-2 42").job is None


@pytest.mark.parametrize(
    "line", ["", "execute", "execute step-1", "execute step-1 notapid", "a b 1 c d",
             "a b 1 c 2 e"]
)
def test_a_malformed_line_is_an_error(line: str) -> None:
    with pytest.raises(LedgerFormatError, match="not a ledger"):
        parse_ledger_line(line)


def test_a_line_naming_its_job_carries_the_time() -> None:
    entry = parse_ledger_line("start step-3 42 job-7 1764504000.250000")
    assert (entry.job, entry.at) == ("job-7", 1764504000.25)


def test_an_absent_ledger_is_empty(tmp_path: Path) -> None:
    assert read_ledger(tmp_path / "nothing-yet") == []
    assert LedgerCounts.read(tmp_path / "nothing-yet").steps() == {}


def test_an_unfinished_last_line_is_left_for_later(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    path.write_text("start step-1 10\nexecute step-1 10\nexec")

    assert [e.action for e in read_ledger(path)] == ["start", "execute"]


def test_a_corrupt_complete_line_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    path.write_text("start step-1 10\ngarbage\n")

    with pytest.raises(LedgerFormatError):
        read_ledger(path)


def test_counts_per_job_and_step(tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    path.write_text(
        "start step-1 10 job-a\n"
        "execute step-1 10 job-a\n"
        "start step-2 10 job-a\n"
        # The conductor died mid-step-2; another one ran it again, then reverted.
        "start step-2 11 job-a\n"
        "execute step-2 11 job-a\n"
        "revert step-2 11 job-a\n"
        "revert step-1 11 job-a\n"
        "start step-1 12 job-b\n"
        "execute step-1 12\n"
        "retry step-1 12 job-b\n"
    )

    counts = LedgerCounts.read(path)

    assert counts.of("step-1", "job-a") == StepCount(start=1, execute=1, revert=1)
    assert counts.of("step-2", "job-a") == StepCount(start=2, execute=1, revert=1)
    assert counts.of("step-1", "job-b") == StepCount(start=1)
    assert counts.of("step-1") == StepCount(execute=1)  # the line without a job
    assert counts.of("step-9", "job-a") == StepCount()
    assert counts.count("retry", "step-1", "job-b") == 1
    assert counts.jobs() == {"job-a", "job-b", None}
    assert list(counts.steps()) == [
        (None, "step-1"),
        ("job-a", "step-1"),
        ("job-a", "step-2"),
        ("job-b", "step-1"),
    ]


# --- Signals -------------------------------------------------------------------------


@pytest.fixture
def idle_process() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(IDLE, start_new_session=True)
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_suspended_freezes_the_group_and_thaws_it(
    idle_process: subprocess.Popen[bytes],
) -> None:
    pid = idle_process.pid
    wait_for(lambda: process_state(pid) == "S", timeout=10, message="the child to idle")

    with suspended(pid):
        wait_for(lambda: process_state(pid) == "T", timeout=5, message="a stopped child")

    wait_for(lambda: process_state(pid) == "S", timeout=5, message="a running child")


def test_process_state_of_a_process_that_is_gone() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert process_state(process.pid) is None


# --- Supervisor ----------------------------------------------------------------------


def _alive(pid: int) -> bool:
    return process_state(pid) not in (None, "Z")


def test_restarts_a_killed_child_and_counts_the_death(tmp_path: Path) -> None:
    with Supervisor({"a": IDLE, "b": IDLE}, tmp_path) as supervisor:
        first = supervisor.pid("a")
        other = supervisor.pid("b")
        assert first is not None and other is not None

        assert supervisor.kill("a") == first

        wait_for(lambda: supervisor.pid("a") not in (None, first), timeout=10,
                 message="child a to be restarted")
        stats = supervisor.stats("a")
        assert (stats.starts, stats.deaths, stats.kills) == (2, 1, 1)
        assert stats.exit_codes == (-signal.SIGKILL,)
        assert supervisor.pid("b") == other
        assert supervisor.stats("b").deaths == 0

    assert stats.pid is not None
    assert not _alive(stats.pid) and not _alive(other)
    assert supervisor.pid("a") is None


def test_a_child_that_exits_by_itself_is_restarted_too(tmp_path: Path) -> None:
    marker = tmp_path / "runs"
    # Exits at once on its first run, stays up on the later ones.
    script = (
        "import pathlib, signal, sys\n"
        f"p = pathlib.Path({str(marker)!r})\n"
        "first = not p.exists()\n"
        "p.write_text('x')\n"
        "sys.exit(3) if first else signal.pause()\n"
    )
    with Supervisor({"flaky": [sys.executable, "-c", script]}, tmp_path) as supervisor:
        wait_for(lambda: supervisor.stats("flaky").starts == 2 and supervisor.pid("flaky"),
                 timeout=10, message="the flaky child to run a second time")
        stats = supervisor.stats("flaky")
    assert stats.exit_codes == (3,)
    assert stats.kills == 0


def test_chaos_kills_random_children_until_stopped(tmp_path: Path) -> None:
    names = ["a", "b", "c"]
    with Supervisor({name: IDLE for name in names}, tmp_path) as supervisor:
        supervisor.start_chaos(every=0.1, seed=1)
        wait_for(lambda: supervisor.total_deaths >= 4, timeout=20,
                 message="four chaos kills to be noticed")
        supervisor.stop_chaos()
        kills = supervisor.total_kills
        assert kills >= 4
        # Every kill is noticed and answered with a restart.
        wait_for(lambda: all(supervisor.pid(n) for n in names)
                 and supervisor.total_deaths == kills,
                 timeout=10, message="every killed child to be running again")
        for name in names:
            stats = supervisor.stats(name)
            assert stats.starts == stats.deaths + 1
            assert set(stats.exit_codes) <= {-signal.SIGKILL}
        assert supervisor.total_kills == kills  # no kills once chaos stopped


def test_stop_ends_frozen_children_and_restarts_stay_off(tmp_path: Path) -> None:
    supervisor = Supervisor({"frozen": IDLE}, tmp_path)
    supervisor.start()
    pid = supervisor.suspend("frozen")
    assert pid is not None
    wait_for(lambda: process_state(pid) == "T", timeout=5, message="a frozen child")

    supervisor.stop(timeout=5)

    assert not _alive(pid)
    assert supervisor.pid("frozen") is None
    assert supervisor.stats("frozen").starts == 1
    supervisor.stop()  # idempotent


def test_without_restarts_a_dead_child_stays_dead(tmp_path: Path) -> None:
    with Supervisor({"once": IDLE}, tmp_path) as supervisor:
        supervisor.set_restart(False)
        supervisor.kill("once")
        wait_for(lambda: supervisor.stats("once").deaths == 1, timeout=10,
                 message="the death to be noticed")
        assert supervisor.pid("once") is None
        assert supervisor.stats("once").starts == 1


def test_overlapping_holders_finds_two_jobs_of_a_key_at_work_at_once() -> None:
    def at(job: str, pid: int, t: float) -> LedgerEntry:
        return LedgerEntry("start", "step-1", pid, job, t)

    # a then b on node:1 (a killed in pid 1, resumed in pid 3 after b): no overlap;
    # c works on another key meanwhile.
    apart = [at("a", 1, 0.0), at("a", 1, 1.0), at("b", 2, 1.5), at("b", 2, 2.0),
             at("a", 3, 2.5), at("a", 3, 3.0), at("c", 4, 0.5), at("c", 4, 2.8)]
    keys = {"a": "node:1", "b": "node:1", "c": "node:2"}
    assert overlapping_holders(apart, keys) == []
    # b inside the span of a's first process, however many runs lie between.
    inside = [at("a", 1, 0.0), at("a", 5, 0.1), at("a", 5, 0.2), at("b", 2, 0.5),
              at("a", 1, 4.0)]
    assert overlapping_holders(inside, keys) == [("node:1", "a", "b")]
