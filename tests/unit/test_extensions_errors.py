"""IPA's REST errors (messages, HTTP codes, serialized shape) and JSON-safe encoding."""

from __future__ import annotations

import enum
import json
import uuid
from typing import Any

import pytest

from orchestrator.extensions import encoding, errors

# (error, expected message, expected code, expected details), as IPA 13 has them.
CASES: list[tuple[errors.RESTError, str, int, Any]] = [
    (errors.RESTError(), "An error occurred", 500,
     "An unexpected error occurred. Please try back later."),
    (errors.InvalidContentError("d"), "Invalid request body", 400, "d"),
    (errors.NotFound(), "Not found", 404, "The requested URL was not found."),
    (errors.CommandExecutionError("d"), "Command execution failed", 500, "d"),
    (errors.InvalidCommandError("d"), "Invalid command", 400, "d"),
    (errors.InvalidCommandParamsError("d"), "Invalid command parameters", 400, "d"),
    (errors.RequestedObjectNotFoundError("Extension", "x"), "Not found", 404,
     "Extension with id x not found."),
    (errors.AgentIsBusy("ext.cmd"), "Agent is busy", 409, "executing command ext.cmd"),
    (errors.ContainerNotPermittedError("img"), "Container image not permitted", 500,
     "Container image img is not in [container]allowed_containers and "
     "[container]allow_arbitrary_containers is not enabled."),
    (errors.IronicAPIError("d"), "Error in call to ironic-api", 500, "d"),
    (errors.HeartbeatError("d"), "Error heartbeating to agent API", 500, "d"),
    (errors.HeartbeatConflictError("d"), "ConflictError heartbeating to agent API", 500, "d"),
    (errors.LookupNodeError("d"), "Error getting configuration from Ironic", 500, "d"),
    (errors.LookupAgentIPError("d"), "Error finding IP for Ironic Agent", 500, "d"),
    (errors.ImageDownloadError("i", "m"), "Error downloading image", 500,
     "Download of image i failed: m"),
    (errors.ImageDownloadTimeoutError("i", "m"), "Image download timeout", 408,
     "Download of image i failed: m"),
    (errors.ImageChecksumError("i", "loc", "c1", "c2"), "Error verifying image checksum", 500,
     "Image failed to verify against checksum. location: loc; image ID: i; "
     "image checksum: c1; verification checksum: c2"),
    (errors.ImageWriteError("/dev/sda", 1, "o", "e"), "Error writing image to device", 500,
     "Writing image to device /dev/sda failed with exit code 1. stdout: o. stderr: e"),
    (errors.SystemRebootError(1, "o", "e"), "Error rebooting system", 500,
     "Reboot script failed with exit code 1. stdout: o. stderr: e."),
    (errors.BlockDeviceEraseError("d"), "Error erasing block device", 500, "d"),
    (errors.BlockDeviceError("d"), "Block device caused unknown error", 500, "d"),
    (errors.SoftwareRAIDError("d"), "Software RAID caused unknown error", 500, "d"),
    (errors.VirtualMediaBootError("d"), "Configuring agent from virtual media failed", 500, "d"),
    (errors.ExtensionError("d"), "An error occurred", 500, "d"),
    (errors.UnknownNodeError(), "Agent is not associated with an Ironic node", 500,
     "An unexpected error occurred. Please try back later."),
    (errors.HardwareManagerNotFound(), "No valid HardwareManager found", 500,
     "An unexpected error occurred. Please try back later."),
    (errors.HardwareManagerMethodNotFound("m"), "No HardwareManager found to handle method",
     500, "Could not find method: m"),
    (errors.HardwareManagerConfigurationError("d"), "Hardware manager configuration error",
     500, "d"),
    (errors.IncompatibleHardwareMethodError("d"),
     "HardwareManager method is not compatible with hardware", 500, "d"),
    (errors.VersionMismatch("a", "b"),
     "Hardware managers version mismatch, reload agent with correct version", 409,
     "Current versions: a, versions used by ironic: b"),
    (errors.CleaningError("d"), "Clean step failed", 500, "d"),
    (errors.DeploymentError("d"), "Deploy step failed", 500, "d"),
    (errors.ServicingError("d"), "Service step failed", 500, "d"),
    (errors.DeviceNotFound("d"),
     "Error finding the disk or partition device to deploy the image onto", 404, "d"),
    (errors.ClockSyncError("d"), "Error syncing system clock", 500, "d"),
    (errors.InvalidImage("d"), "The provided image is not valid for use", 500, "d"),
    (errors.FileSystemNotSupported("xfs"),
     "Failed to create a file system. File system xfs is not supported.", 500,
     "Failed to create a file system. File system xfs is not supported."),
    (errors.ServiceLookupFailure("ironic"),
     "Cannot find ironic service through multicast.", 500,
     "Cannot find ironic service through multicast."),
]


@pytest.mark.parametrize(("error", "message", "code", "details"), CASES,
                         ids=[type(c[0]).__name__ for c in CASES])
def test_messages_codes_and_serialized_shape(
    error: errors.RESTError, message: str, code: int, details: Any
) -> None:
    assert (error.message, error.status_code, error.details) == (message, code, details)
    serialized = error.serialize()
    assert serialized == {"type": type(error).__name__, "code": code,
                          "message": message, "details": details}
    json.dumps(serialized, allow_nan=False)
    assert str(error) == f"{message}: {details}"
    assert repr(error) == f"{type(error).__name__}('{message}: {details}')"


def test_hierarchy_matches_ipa() -> None:
    assert issubclass(errors.InvalidCommandError, errors.InvalidContentError)
    assert issubclass(errors.InvalidCommandParamsError, errors.InvalidContentError)
    assert issubclass(errors.AgentIsBusy, errors.CommandExecutionError)
    assert issubclass(errors.RequestedObjectNotFoundError, errors.NotFound)
    assert issubclass(errors.HeartbeatConnectionError, errors.IronicAPIError)
    assert issubclass(errors.ImageDownloadFatalError, errors.ImageDownloadError)
    assert issubclass(errors.ProtectedDeviceError, errors.CleaningError)
    assert not issubclass(errors.InspectionError, errors.RESTError)
    assert errors.ImageDownloadError("i", "m").secondary_message == "m"


def test_protected_device_error_uses_its_details_as_message() -> None:
    error = errors.ProtectedDeviceError("/dev/sdb", "Ceph")
    assert error.message == error.details
    assert error.details.startswith("Protected Ceph located on device /dev/sdb.")


def test_retryable_marks_errors_a_retry_can_fix() -> None:
    assert errors.AgentIsBusy("x").retryable
    assert not errors.CommandExecutionError("x").retryable


def test_serialize_error_gives_every_exception_the_rest_shape() -> None:
    assert errors.serialize_error(errors.AgentIsBusy("c"))["code"] == 409
    assert errors.serialize_error(OSError("disk gone")) == {
        "type": "CommandExecutionError", "code": 500,
        "message": "Command execution failed", "details": "disk gone",
    }
    assert errors.serialize_error(KeyError())["details"] == "KeyError"
    assert errors.serialize_error({"error": b"text"}) == {"error": "text"}


def test_serialize_error_survives_broken_errors_and_odd_details() -> None:
    broken = errors.CleaningError("d")
    del broken.type  # a subclass that never ran RESTError.__init__
    assert errors.serialize_error(broken) == {
        "type": "CleaningError", "code": 500, "message": "Clean step failed", "details": "d",
    }
    odd = errors.CommandExecutionError({"when": object()})
    assert odd.serialize()["details"]["when"].startswith(encoding.NON_JSON_MARKER)


# -- encoding ----------------------------------------------------------------------------


class Color(enum.IntEnum):
    RED = 1


class Pair(encoding.SerializableComparable):
    serializable_fields = ("a", "b")

    def __init__(self, a: Any, b: Any) -> None:
        self.a, self.b = a, b


def test_serializable_and_comparable() -> None:
    assert Pair(1, 2).serialize() == {"a": 1, "b": 2}
    assert Pair(1, 2) == Pair(1, 2) and Pair(1, 2) != Pair(1, 3)
    assert Pair(1, 2) != "other"
    assert repr(Pair(1, "x")) == "<Pair a=1 b='x'>"
    with pytest.raises(TypeError):
        hash(Pair(1, 2))


def test_json_safe_keeps_json_and_converts_the_rest() -> None:
    plain = {"s": "x", "i": 1, "f": 1.5, "b": True, "n": None, "l": [1, {"k": "v"}]}
    assert encoding.json_safe(plain) == plain
    u = uuid.uuid4()
    converted = encoding.json_safe(
        {1: (1, 2), None: {3}, "u": u, "e": Color.RED, "p": Pair(b"ok", 2.0)}
    )
    assert converted == {"1": [1, 2], "null": [3], "u": str(u), "e": 1,
                         "p": {"a": "ok", "b": 2.0}}
    assert type(converted["e"]) is int


@pytest.mark.parametrize("value", [float("nan"), float("inf"), object(), b"\xff", 1j,
                                   Exception("x")])
def test_json_safe_marks_what_json_cannot_hold(value: Any) -> None:
    converted = encoding.json_safe({"v": value})["v"]
    assert converted.startswith(encoding.NON_JSON_MARKER)
    assert type(value).__qualname__ in converted


def test_json_safe_breaks_cycles_and_broken_reprs() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    assert encoding.json_safe(loop)[1].startswith(f"{encoding.NON_JSON_MARKER} cycle")

    class BadRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert "unrepresentable" in encoding.json_safe(BadRepr())
    shared = [1]
    assert encoding.json_safe([shared, shared]) == [[1], [1]]  # shared is not a cycle
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    json.dumps(encoding.json_safe(deep))


def test_rest_json_encoder() -> None:
    u = uuid.uuid4()
    text = json.dumps({"e": errors.NotFound(), "u": u, "o": {1, 2}}, cls=encoding.RESTJSONEncoder)
    assert json.loads(text) == {
        "e": {"type": "NotFound", "code": 404, "message": "Not found",
              "details": "The requested URL was not found."},
        "u": str(u), "o": [1, 2],
    }
    assert json.dumps([], cls=encoding.RESTJSONEncoder, indent=2).endswith("\n")


def test_remove_large_keys() -> None:
    data = {"configdrive": "x" * 100, "nested": [{"system_logs": "y"}], "keep": (1, 2)}
    assert encoding.remove_large_keys(data) == {
        "configdrive": "<...>", "nested": [{"system_logs": "<...>"}], "keep": (1, 2)
    }
