"""Input checks: what the service refuses before anything is written, and why."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

import jobs
import persistence
from jobs import MAX_POSTING_BYTES, JobSpec, posting_size
from orchestrator import validation
from orchestrator.conf import api as api_conf
from orchestrator.errors import (
    InvalidRequest,
    InvalidStore,
    InvalidText,
    JobTooLarge,
    NestingTooDeep,
)
from orchestrator.registry import FlowRegistry
from orchestrator.service import Orchestrator

VOLUME = {"raw_size": 10, "raw_availability_zone": "az-1", "raw_volume_type": "ssd"}


def _nested(depth: int, leaf: Any = 1) -> Any:
    """``depth`` levels of arrays around ``leaf``, built without recursion."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


# text ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "plain", "ünïcödé €", "\U0001f600 paired",
                                  "tab\tand\nnewline", "\ufffd"])
def test_valid_text_passes(text: str) -> None:
    validation.check_text(text, "the text")


@pytest.mark.parametrize("text,kind", [
    ("a\x00b", "NUL"), ("\x00", "NUL"), ("\ud800", r"U\+D800"), ("x\udfff", r"U\+DFFF"),
    ("low then high \udc00\ud800", r"U\+DC00"),
])
def test_nul_and_unpaired_surrogates_are_refused(text: str, kind: str) -> None:
    with pytest.raises(InvalidText, match=kind) as err:
        validation.check_text(text, "the text")
    assert str(err.value).startswith("the text holds")
    assert err.value.client_error and not err.value.retryable


def test_a_surrogate_pair_decoded_from_json_is_one_valid_character() -> None:
    text = json.loads('"\\ud83d\\ude00"')
    assert text == "\U0001f600"
    validation.check_text(text, "the text")


# structure -----------------------------------------------------------------


@pytest.mark.parametrize("value,where", [
    ({"a": "x\x00"}, "the store['a']"),
    ({"a": [1, {"b": "\ud800"}]}, "the store['a'][1]['b']"),
    ({"a": ("t", "\udc80")}, "the store['a'][1]"),
    ({"ok": 1, "k\x00": 1}, "a key in the store ('k\\x00')"),
    ({"a": {"\udfff": 1}}, "a key in the store['a']"),
])
def test_every_key_and_string_inside_is_checked(value: Any, where: str) -> None:
    with pytest.raises(InvalidText) as err:
        validation.check_json(value, "the store", max_depth=64)
    assert str(err.value).startswith(where), str(err.value)


def test_nesting_up_to_the_limit_passes_and_one_more_level_is_refused() -> None:
    # The store is level 1: {"a": [...]} with 63 arrays is 64 levels.
    validation.check_json({"a": _nested(63)}, "the store", max_depth=64)
    validation.check_json({"a": _nested(63, leaf={})}, "the store", max_depth=65)
    with pytest.raises(NestingTooDeep, match="more than 64 levels deep") as err:
        validation.check_json({"a": _nested(64)}, "the store", max_depth=64)
    assert err.value.limit == 64
    assert "[api] max_nesting_depth" in str(err.value)


def test_scalars_add_no_depth() -> None:
    validation.check_json({"a": "s", "b": 1, "c": None, "d": 1.5}, "the store",
                          max_depth=1)
    validation.check_json("just text", "the value", max_depth=1)


def test_any_depth_is_refused_without_exhausting_the_stack() -> None:
    with pytest.raises(NestingTooDeep) as err:
        validation.check_json({"a": _nested(200_000)}, "the store", max_depth=64)
    # The path is shortened: 65 levels of [0] say no more than the first few.
    assert len(str(err.value)) < 250


def test_a_container_holding_itself_is_refused_for_its_depth() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(NestingTooDeep):
        validation.check_json(loop, "the store", max_depth=64)


# size ----------------------------------------------------------------------


def test_the_posting_size_is_what_the_jobboard_encodes() -> None:
    spec = JobSpec(job_id="00000000-0000-0000-0000-000000000000", flow_name="f",
                   flow_detail_id="00000000-0000-0000-0000-000000000000",
                   store={"a": "€"})
    assert validation.check_posting_size("f", {"a": "€"}, priority="HIGH") == \
        posting_size(spec, name="f", priority="HIGH")


def test_a_posting_over_the_jobboard_limit_is_refused_with_both_sizes() -> None:
    base = validation.check_posting_size("f", {"pad": ""})
    fits = {"pad": "x" * (MAX_POSTING_BYTES - base)}
    assert validation.check_posting_size("f", fits) == MAX_POSTING_BYTES
    with pytest.raises(JobTooLarge) as err:
        validation.check_posting_size("f", {"pad": fits["pad"] + "x"})
    message = str(err.value)
    assert "too large for the jobboard" in message
    assert f"{MAX_POSTING_BYTES + 1} bytes" in message and f"{MAX_POSTING_BYTES} bytes" in message
    assert err.value.size == MAX_POSTING_BYTES + 1 and err.value.limit == MAX_POSTING_BYTES


def test_the_posting_size_counts_utf8_bytes_not_characters() -> None:
    chars = MAX_POSTING_BYTES // 3 + 1000  # fewer characters than the limit...
    with pytest.raises(JobTooLarge):  # ...but three bytes each
        validation.check_posting_size("f", {"pad": "€" * chars})


# time ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    None, datetime(2026, 1, 1, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=timezone(-timedelta(hours=14))),
    datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=14))),
])
def test_listing_bounds_within_utc_pass(value: datetime | None) -> None:
    validation.check_time(value, "since")


@pytest.mark.parametrize("value,message", [
    (datetime(2026, 1, 1), "must include a timezone"),
    (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), "out of range"),
    (datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=14))), "out of range"),
])
def test_naive_or_unrepresentable_bounds_are_refused(value: datetime, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        validation.check_time(value, "since")


# configuration -------------------------------------------------------------


def test_the_option_matches_the_module_limits() -> None:
    option = next(o for o in api_conf.OPTS if o.name == "max_nesting_depth")
    assert option.default == validation.DEFAULT_MAX_NESTING_DEPTH
    assert option.type.max == validation.MAX_NESTING_DEPTH_LIMIT


# the service: refused before anything is written ----------------------------


@pytest.fixture
def orch(db: persistence.Database) -> Iterator[Orchestrator]:
    # Nothing listens on port 1: a post that got past the checks would fail
    # on ZooKeeper, not pass.
    board = jobs.JobboardSettings(hosts=("127.0.0.1:1",), connect_timeout=1)
    with Orchestrator(db, FlowRegistry.from_entry_points(), board) as service:
        yield service


def _job_rows(db: persistence.Database) -> int:
    with db.session() as session:
        return len(persistence.list_jobs(session, limit=1000))


@pytest.mark.parametrize("flow,store,document,error", [
    ("create-volume", {**VOLUME, "note": "\ud800"}, None, InvalidText),
    ("create-volume", {**VOLUME, "n\x00": 1}, None, InvalidText),
    ("create-volume\x00", VOLUME, None, InvalidText),
    ("create-volume", {**VOLUME, "deep": _nested(64)}, None, NestingTooDeep),
    ("create-volume", {**VOLUME, "deep": _nested(100_000)}, None, NestingTooDeep),
    (None, {}, {"name": "d\x00", "steps": []}, InvalidText),
    (None, {}, {"name": "d", "steps": [], "x": _nested(70)}, NestingTooDeep),
    ("create-volume", {**VOLUME, "pad": "x" * MAX_POSTING_BYTES}, None, JobTooLarge),
    ("create-volume", {**VOLUME, "nan": float("nan")}, None, InvalidStore),
], ids=["surrogate", "nul-key", "nul-flow", "deep", "very-deep", "nul-document",
        "deep-document", "too-large", "nan"])
def test_submit_refuses_before_writing_or_connecting(
        orch: Orchestrator, db: persistence.Database, flow: str | None,
        store: dict[str, Any], document: dict[str, Any] | None,
        error: type[Exception]) -> None:
    with pytest.raises(error):
        orch.submit(flow, store, document=document, idempotency_key="key-1")
    assert _job_rows(db) == 0


def test_the_nesting_limit_is_the_services_setting(db: persistence.Database) -> None:
    board = jobs.JobboardSettings(hosts=("127.0.0.1:1",), connect_timeout=1)
    with Orchestrator(db, FlowRegistry.from_entry_points(), board,
                      max_nesting_depth=3) as strict:
        strict.validate("create-volume", {**VOLUME, "a": [[1]]})
        with pytest.raises(NestingTooDeep, match="more than 3 levels"):
            strict.validate("create-volume", {**VOLUME, "a": [[[1]]]})


@pytest.mark.parametrize("call", [
    lambda o: o.get_job("a\x00b"),
    lambda o: o.job_history("\ud800"),
    lambda o: o.cancel("a\x00b"),
    lambda o: o.page_jobs(marker="a\x00b"),
    lambda o: o.page_jobs(flow_name="f\x00"),
    lambda o: o.list_jobs(flow_name="\udc00"),
], ids=["get", "history", "cancel", "marker", "flow", "list-flow"])
def test_lookups_with_unstorable_text_are_refused_before_the_database(
        sqlite_url: str, call: Any) -> None:
    # Never upgraded: a lookup that reached the database would fail on its schema.
    database = persistence.Database(sqlite_url)
    try:
        with Orchestrator(database, FlowRegistry({}), jobs.JobboardSettings()) as o, \
                pytest.raises(InvalidText):
            call(o)
    finally:
        database.close()


def test_listing_bounds_out_of_range_are_refused(orch: Orchestrator) -> None:
    with pytest.raises(InvalidRequest, match="out of range"):
        orch.page_jobs(until=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))))
