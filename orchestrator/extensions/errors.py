"""The REST errors of extension commands: IPA 13's ``ironic_python_agent.errors``.

Every class keeps IPA's name, ``message``, ``status_code`` and constructor, so an
extension written for IPA raises the same errors after changing its imports. A
``RESTError`` serializes to ``{type, code, message, details}``; ``serialize_error``
gives that shape for *any* exception, which is how results stay JSON-safe.

``retryable`` (not serialized) says whether the same request may succeed later.
"""

from __future__ import annotations

from typing import Any

from orchestrator.extensions.encoding import Serializable, json_safe


class RESTError(Exception, Serializable):
    """Base class for errors generated in ironic-python-client."""

    # `message` should not end with a period (IPA's convention).
    message = "An error occurred"
    details: Any = "An unexpected error occurred. Please try back later."
    status_code = 500
    retryable = False
    serializable_fields = ("type", "code", "message", "details")

    def __init__(self, details: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.type = self.__class__.__name__
        self.code = self.status_code
        if details:
            self.details = details

    def serialize(self) -> dict[str, Any]:
        """``{type, code, message, details}``, always JSON-encodable."""
        data: dict[str, Any] = json_safe(super().serialize())
        return data

    def __str__(self) -> str:
        return f"{self.message}: {self.details}"

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}('{self}')"


class InvalidContentError(RESTError):
    """The request's content cannot be parsed or does not validate."""
    message = "Invalid request body"
    status_code = 400

    def __init__(self, details: Any) -> None:
        super().__init__(details)


class NotFound(RESTError):
    """Error which occurs if a non-existent API endpoint is called."""
    message = "Not found"
    status_code = 404
    details = "The requested URL was not found."


class CommandExecutionError(RESTError):
    """Error raised when a command fails to execute."""
    message = "Command execution failed"

    def __init__(self, details: Any) -> None:
        super().__init__(details)


class InvalidCommandError(InvalidContentError):
    """Error which is raised when an unknown command is issued."""
    message = "Invalid command"


class InvalidCommandParamsError(InvalidContentError):
    """Error which is raised when command parameters are invalid."""
    message = "Invalid command parameters"


class RequestedObjectNotFoundError(NotFound):
    """The object (an extension, a command result...) does not exist."""

    def __init__(self, type_descr: str, obj_id: Any) -> None:
        super().__init__(f"{type_descr} with id {obj_id} not found.")


class AgentIsBusy(CommandExecutionError):
    """Another command is still running; try again once it has finished."""
    message = "Agent is busy"
    status_code = 409
    retryable = True

    def __init__(self, command_name: str) -> None:
        super().__init__(f"executing command {command_name}")


class ContainerNotPermittedError(CommandExecutionError):
    """Error raised when a container image is not permitted to run."""
    message = "Container image not permitted"

    def __init__(self, container_url: str) -> None:
        super().__init__(
            f"Container image {container_url} is not in [container]allowed_containers and "
            "[container]allow_arbitrary_containers is not enabled."
        )


class IronicAPIError(RESTError):
    """Error raised when a call to the agent API fails."""
    message = "Error in call to ironic-api"

    def __init__(self, details: Any) -> None:
        super().__init__(details)


class HeartbeatError(IronicAPIError):
    """Error raised when a heartbeat to the agent API fails."""
    message = "Error heartbeating to agent API"


class HeartbeatConflictError(IronicAPIError):
    """ConflictError raised when a heartbeat to the agent API fails."""
    message = "ConflictError heartbeating to agent API"


class LookupNodeError(IronicAPIError):
    """Error raised when the node lookup to the Ironic API fails."""
    message = "Error getting configuration from Ironic"


class LookupAgentIPError(IronicAPIError):
    """Error raised when automatic IP lookup fails."""
    message = "Error finding IP for Ironic Agent"


class HeartbeatConnectionError(IronicAPIError):
    """Transitory connection failure occurred attempting to contact the API."""
    message = (
        "Error attempting to heartbeat - Possible transitory network "
        "failure or blocking port may be present."
    )
    retryable = True


class ImageDownloadError(RESTError):
    """Error raised when an image cannot be downloaded."""
    message = "Error downloading image"

    def __init__(self, image_id: str, msg: str) -> None:
        self.secondary_message = msg
        super().__init__(f"Download of image {image_id} failed: {msg}")


class ImageDownloadTimeoutError(RESTError):
    """Raised when an image download operation exceeds its allowed time limit."""
    message = "Image download timeout"
    status_code = 408

    def __init__(self, image_id: str, msg: str) -> None:
        self.secondary_message = msg
        super().__init__(f"Download of image {image_id} failed: {msg}")


class ImageDownloadOutofSpaceError(ImageDownloadError):
    """Raised when an image download fails due to insufficient storage."""


class ImageDownloadFatalError(ImageDownloadError):
    """Raised when an image download fails with a non-retryable error."""


class ImageChecksumError(RESTError):
    """Error raised when an image fails to verify against its checksum."""
    message = "Error verifying image checksum"
    details_str = (
        "Image failed to verify against checksum. location: {}; image ID: {}; "
        "image checksum: {}; verification checksum: {}"
    )

    def __init__(
        self, image_id: str, image_location: str, checksum: str, calculated_checksum: str
    ) -> None:
        super().__init__(
            self.details_str.format(image_location, image_id, checksum, calculated_checksum)
        )


class ImageWriteError(RESTError):
    """Error raised when an image cannot be written to a device."""
    message = "Error writing image to device"

    def __init__(self, device: str, exit_code: Any, stdout: Any, stderr: Any) -> None:
        super().__init__(
            f"Writing image to device {device} failed with exit code {exit_code}. "
            f"stdout: {stdout}. stderr: {stderr}"
        )


class SystemRebootError(RESTError):
    """Error raised when a system cannot reboot."""
    message = "Error rebooting system"

    def __init__(self, exit_code: Any, stdout: Any, stderr: Any) -> None:
        super().__init__(
            f"Reboot script failed with exit code {exit_code}. stdout: {stdout}. "
            f"stderr: {stderr}."
        )


class _DetailsError(RESTError):
    # IPA's many "def __init__(self, details=None)" classes, written once.
    def __init__(self, details: Any = None) -> None:
        super().__init__(details)


class BlockDeviceEraseError(_DetailsError):
    """Error raised when an error occurs erasing a block device."""
    message = "Error erasing block device"


class BlockDeviceError(_DetailsError):
    """Error raised when a block devices causes an unknown error."""
    message = "Block device caused unknown error"


class SoftwareRAIDError(_DetailsError):
    """Error raised when a Software RAID causes an error."""
    message = "Software RAID caused unknown error"


class VirtualMediaBootError(_DetailsError):
    """Error raised when virtual media device cannot be found for config."""
    message = "Configuring agent from virtual media failed"


class ExtensionError(RESTError):
    """An extension could not be found or used (e.g. no extension manager)."""


class UnknownNodeError(_DetailsError):
    """Error raised when the agent is not associated with an Ironic node."""
    message = "Agent is not associated with an Ironic node"


class HardwareManagerNotFound(_DetailsError):
    """Error raised when no valid HardwareManager can be found."""
    message = "No valid HardwareManager found"


class HardwareManagerMethodNotFound(RESTError):
    """Error raised when all HardwareManagers fail to handle a method."""
    message = "No HardwareManager found to handle method"

    def __init__(self, method: str) -> None:
        super().__init__(f"Could not find method: {method}")


class HardwareManagerConfigurationError(_DetailsError):
    """Error raised when a hardware manager has invalid configuration."""
    message = "Hardware manager configuration error"


class IncompatibleHardwareMethodError(_DetailsError):
    """Error raised when HardwareManager method incompatible with hardware."""
    message = "HardwareManager method is not compatible with hardware"


class VersionMismatch(RESTError):
    """Error raised when Ironic and the Agent have different versions."""
    message = "Hardware managers version mismatch, reload agent with correct version"

    def __init__(self, agent_version: Any, node_version: Any) -> None:
        self.status_code = 409  # set before RESTError copies it into ``code``
        super().__init__(
            f"Current versions: {agent_version}, versions used by ironic: {node_version}"
        )


class CleaningError(_DetailsError):
    """Error raised when a cleaning step fails."""
    message = "Clean step failed"


class DeploymentError(_DetailsError):
    """Error raised when a deploy step fails."""
    message = "Deploy step failed"


class ServicingError(_DetailsError):
    """Error raised when a service step fails."""
    message = "Service step failed"


class IncompatibleNumaFormatError(RESTError):
    """Error raised when unexpected format data in NUMA node."""
    message = "Error in NUMA node data format"


class DeviceNotFound(NotFound):
    """Error raised when the device to deploy the image onto is not found."""
    message = "Error finding the disk or partition device to deploy the image onto"

    def __init__(self, details: Any) -> None:
        super().__init__(details)


class InspectionError(Exception):
    """Failure during inspection (never returned to a user, so not a RESTError)."""


class ClockSyncError(RESTError):
    """Error raised when attempting to sync the system clock."""
    message = "Error syncing system clock"


class ProtectedDeviceError(CleaningError):
    """Error raised when a cleaning is halted due to a protected device."""
    message = "Protected device located, cleaning aborted."

    def __init__(self, device: str, what: str) -> None:
        details = (
            f"Protected {what} located on device {device}. This volume or contents may "
            "be a shared block device. Please consult your storage administrator, and "
            "restart cleaning after either detaching the volumes, or instructing IPA to "
            "not protect contents. See Ironic Python Agent documentation for more "
            "information."
        )
        self.message = details
        super().__init__(details)


class InvalidImage(DeploymentError):
    """Error raised when an image fails validation for any reason."""
    message = "The provided image is not valid for use"


class FileSystemNotSupported(RESTError):
    """Error raised when a file system is not supported."""

    def __init__(self, fs: str) -> None:
        details = f"Failed to create a file system. File system {fs} is not supported."
        self.message = details
        # IPA skips RESTError.__init__ here, leaving no ``type``/``code`` to serialize.
        super().__init__(details)


class InvalidMetricConfig(RESTError):
    """Error raised when a metric config is invalid."""
    message = "Invalid value for metrics config option."


class MetricsNotSupported(RESTError):
    """Error raised when a metrics action is not supported."""
    message = (
        "Metrics action is not supported. You may need to "
        "adjust the [metrics] section in ironic.conf."
    )


class ServiceLookupFailure(RESTError):
    """Error raised when an mdns service lookup fails."""

    def __init__(self, service: str = "unknown") -> None:
        details = f"Cannot find {service} service through multicast."
        self.message = details
        super().__init__(details)  # IPA skips RESTError.__init__ (see above)


def serialize_error(error: Any) -> Any:
    """The REST error shape ``{type, code, message, details}`` of any command error.

    A RESTError serializes itself; any other exception is reported as IPA reports a
    failed asynchronous command, a ``CommandExecutionError`` carrying ``str(error)``.
    A non-exception error (``{'error': text}`` from a failed SyncCommandResult) is
    returned JSON-safe as it is.
    """
    if isinstance(error, RESTError):
        try:
            return error.serialize()
        except Exception:  # a subclass that broke its own attributes
            fields = ("message", "details")
            data = {f: getattr(error, f, getattr(RESTError, f)) for f in fields}
            code = getattr(error, "status_code", 500)
            return json_safe({"type": type(error).__name__, "code": code, **data})
    if isinstance(error, BaseException):
        return CommandExecutionError(describe_error(error)).serialize()
    return json_safe(error)


def describe_error(error: BaseException) -> str:
    """``str(error)``, or the exception's type name when that is empty."""
    # str() of a bare ``ValueError()`` is empty, and RESTError would then fall back
    # to its generic details: name the exception type instead.
    try:
        text = str(error)
    except Exception:
        text = ""
    return text or type(error).__name__
