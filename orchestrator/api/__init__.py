"""The HTTP API and web page served by ``orchestrator api``."""

from orchestrator.api.app import OPENAPI_URL, ApiSettings, create_app

__all__ = ["OPENAPI_URL", "ApiSettings", "create_app"]
