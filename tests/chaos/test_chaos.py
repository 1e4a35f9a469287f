"""The promise under faults, with real processes: no job lost, no completed step
run twice, no write or task start by a stale owner, poison jobs quarantined.

Small workloads of each scenario in ``tests/chaos/scenarios.py``; ``bench/chaos.py``
runs them at full size and prints the figures (docs/reliability.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.standalone.zookeeper import LocalZooKeeper, LocalZooKeeperEnsemble
from tests.chaos import scenarios
from tests.chaos.scenarios import Cluster, describe
from tests.services import LocalPostgres, take_down

pytestmark = [pytest.mark.functional, pytest.mark.chaos]


def test_kill_9_in_a_loop_loses_no_job_and_reruns_no_completed_step(
        tmp_path: Path, postgres_url: str, zk_hosts: str) -> None:
    result = scenarios.kill_loop(Cluster(tmp_path, postgres_url, zk_hosts),
                                 jobs_count=24, conductors=3, kill_every=2.5,
                                 step_seconds=0.3, timeout=240)
    print(describe(result))
    assert result.kills >= 2, describe(result)
    assert result.lost == 0, describe(result)
    assert result.completed_reruns == 0, describe(result)
    # At most one re-run of the interrupted step per interruption of a job.
    assert result.over_budget == [], describe(result)
    assert result.takeovers, describe(result)


def test_kill_9_in_a_loop_never_lets_two_jobs_hold_one_key(
        tmp_path: Path, postgres_url: str, zk_hosts: str) -> None:
    result = scenarios.kill_loop(Cluster(tmp_path, postgres_url, zk_hosts),
                                 jobs_count=15, conductors=3, kill_every=2.5,
                                 step_seconds=0.2, timeout=240, keys=3)
    print(describe(result))
    assert result.kills >= 2, describe(result)
    assert result.key_overlaps == [], describe(result)
    assert result.lost == 0, describe(result)
    assert result.completed_reruns == 0, describe(result)
    assert result.over_budget == [], describe(result)


def test_a_frozen_conductor_neither_writes_nor_starts_a_task_once_taken_over(
        tmp_path: Path, postgres_url: str, zk_hosts: str) -> None:
    result = scenarios.freeze(Cluster(tmp_path, postgres_url, zk_hosts), jobs_count=2,
                              freeze_seconds=6, step_seconds=1.0)
    print(describe(result))
    assert result.taken_over == 2, describe(result)
    assert result.stale_writes == 0, describe(result)
    assert result.stale_starts == 0, describe(result)
    assert result.states == {"SUCCESS": 2}, describe(result)
    assert result.completed_reruns == 0, describe(result)
    # Thawed, it found its session gone, registered again and serves on.
    assert result.stale_rejoined, describe(result)


def test_a_job_that_kills_its_conductor_is_quarantined_and_the_others_succeed(
        tmp_path: Path, postgres_url: str, zk_hosts: str) -> None:
    result = scenarios.poison(Cluster(tmp_path, postgres_url, zk_hosts, max_attempts=3,
                                      retry_delay=0.5), ordinary=6, step_seconds=0.3)
    print(describe(result))
    assert result.poison_state == "FAILED", describe(result)
    assert result.poison_attempts == 3, describe(result)
    assert result.poison_error is not None
    assert result.poison_error.startswith("quarantined after 3 attempts; conductor c")
    assert "during step step-2" in result.poison_error
    assert result.others == {"SUCCESS": 6}, describe(result)
    assert result.conductor_deaths == 3, describe(result)
    assert result.completed_reruns == 0, describe(result)


def test_postgresql_stopped_mid_run_fails_no_job(
        tmp_path: Path, private_postgres: LocalPostgres, zk_hosts: str) -> None:
    private_postgres.create_database("chaos")
    result = scenarios.outage(
        Cluster(tmp_path, private_postgres.url_for("chaos"), zk_hosts),
        lambda: take_down(private_postgres), private_postgres.start,
        jobs_count=12, down_seconds=8)
    print(describe(result))
    assert result.states == {"SUCCESS": 12}, describe(result)
    assert result.completed_reruns == 0, describe(result)
    assert result.over_budget == [], describe(result)
    assert result.starts_while_down == 0, describe(result)
    assert result.left_on_board == 0, describe(result)


def test_zookeeper_stopped_mid_run_fails_no_job(
        tmp_path: Path, postgres_url: str, private_zookeeper: LocalZooKeeper) -> None:
    result = scenarios.outage(
        Cluster(tmp_path, postgres_url, private_zookeeper.hosts),
        lambda: take_down(private_zookeeper), private_zookeeper.start,
        jobs_count=12, down_seconds=8)
    print(describe(result))
    assert result.states == {"SUCCESS": 12}, describe(result)
    assert result.completed_reruns == 0, describe(result)
    assert result.over_budget == [], describe(result)
    assert result.starts_while_down == 0, describe(result)
    assert result.left_on_board == 0, describe(result)


def test_the_zookeeper_leader_killed_mid_run_fails_no_job(
        tmp_path: Path, postgres_url: str, zookeeper_ensemble: LocalZooKeeperEnsemble) -> None:
    def kill_leader() -> None:
        leader = zookeeper_ensemble.leader()
        assert leader is not None
        zookeeper_ensemble.kill(leader)

    result = scenarios.outage(
        Cluster(tmp_path, postgres_url, zookeeper_ensemble.hosts), kill_leader,
        lambda: None, jobs_count=12, down_seconds=0)
    print(describe(result))
    assert result.states == {"SUCCESS": 12}, describe(result)
    assert result.completed_reruns == 0, describe(result)
