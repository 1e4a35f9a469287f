from __future__ import annotations

import uuid

import pytest

from jobs import InvalidJobDetails, JobSpec, flow_meta, flow_name_from_meta


def _spec() -> JobSpec:
    return JobSpec(job_id=str(uuid.uuid4()), flow_name="phone-calls",
                   flow_detail_id=str(uuid.uuid4()), store={"a": 1})


def test_round_trip() -> None:
    spec = _spec()
    assert JobSpec.from_details(spec.to_details()) == spec


def test_payload_names_the_flow_detail_as_taskflow_expects() -> None:
    spec = _spec()
    assert spec.to_details()["flow_uuid"] == spec.flow_detail_id
    assert spec.to_details()["version"] == 1


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("version"), "unsupported job payload version None"),
    (lambda d: d.update(version=99), "version 99"),
    (lambda d: d.update(job_id="x"), "'job_id' is not a UUID"),
    (lambda d: d.update(flow_uuid=None), "'flow_uuid' is not a UUID"),
    (lambda d: d.update(flow=""), "names no flow"),
    (lambda d: d.update(store=[1]), "store is not a mapping"),
])
def test_malformed_payloads_are_refused(mutate, message) -> None:  # type: ignore[no-untyped-def]
    details = _spec().to_details()
    mutate(details)
    with pytest.raises(InvalidJobDetails, match=message):
        JobSpec.from_details(details)


def test_details_that_are_not_a_mapping_are_refused() -> None:
    with pytest.raises(InvalidJobDetails):
        JobSpec.from_details(None)


def test_flow_meta_never_holds_a_factory_path() -> None:
    meta = flow_meta("create-volume")
    assert "factory" not in meta
    assert flow_name_from_meta(meta) == "create-volume"
    assert flow_name_from_meta({"factory": {"name": "os.system"}}) is None
