from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

from orchestrator.cli.context import AppContext, with_app
from orchestrator.errors import InvalidRequest

if TYPE_CHECKING:
    from orchestrator.api import ApiSettings

LOG = logging.getLogger(__name__)


def api_settings(app: AppContext) -> ApiSettings:
    """The [api] group as ApiSettings; token auth without tokens is refused."""
    from orchestrator.api import ApiSettings

    conf = app.conf.api
    tokens = tuple(t for t in conf.tokens if t)
    if conf.auth_strategy == "token" and not tokens:
        raise InvalidRequest(
            "[api] auth_strategy is 'token' but [api] tokens is empty: configure at "
            "least one token, or set auth_strategy = noauth on a trusted network")
    if conf.auth_strategy == "noauth":
        tokens = ()
    return ApiSettings(tokens=tokens, max_body_size=conf.max_body_size,
                       page_size=conf.page_size)


@click.command()
@click.option("--host", help="Address to listen on (default: [api] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535),
              help="Port to listen on (default: [api] port, 8080).")
@with_app
def api(app: AppContext, host: str | None, port: int | None) -> None:
    """Serve the HTTP API and the web page until stopped.

    \b
    GET  /                         the web page: jobs, and each job's timeline
    POST /v1/jobs                  post a job (flow or document, store, priority,
                                   idempotency key)
    GET  /v1/jobs                  list jobs (?state= &flow= &since= &until=
                                   &limit= &marker=)
    GET  /v1/jobs/<id>             a job with its tasks and attempts
    GET  /v1/jobs/<id>/explain     why it is or is not running, who holds it
    POST /v1/jobs/<id>/cancel      cancel an unfinished job
    POST /v1/jobs/<id>/retry       post it again ({"resume_revert": true}:
                                   resume its failed revert)
    POST /v1/jobs/<id>/revert      undo a SUCCESS job: revert its tasks, last
                                   first (flows revertible after success)
    GET  /v1/flows                 registered flows and their inputs
    GET  /v1/conductors            conductors alive now
    POST /v1/schedules             create a schedule (name, flow, store, cron,
                                   timezone, missed, priority)
    GET  /v1/schedules[/<name>]    schedules, next fire times, fire history
    POST /v1/schedules/<name>/pause|resume    DELETE /v1/schedules/<name>
    GET  /v1/openapi.json          the OpenAPI document
    GET  /metrics                  Prometheus metrics (no token needed)
    GET  /healthz  /readyz         liveness and readiness (no token needed)

    Requests need 'Authorization: Bearer <token>' with one of [api] tokens,
    unless [api] auth_strategy = noauth. SIGTERM or Ctrl-C stops it (exit 0).
    """
    # Imported here: `api --help` need not load FastAPI.
    from orchestrator import httpserver
    from orchestrator.api import OPENAPI_URL, create_app
    from orchestrator.api.health import ApiHealth
    from orchestrator.schedules import ScheduleService
    from orchestrator.service import check_schema
    from orchestrator.settings import jobboard_settings

    settings = api_settings(app)
    conf = app.conf.api
    listen_host = host or conf.host
    listen_port = conf.port if port is None else port
    check_schema(app.database)
    service = app.orchestrator()
    if not settings.auth:
        LOG.warning("[api] auth_strategy is noauth: anyone who reaches %s can post "
                    "and cancel jobs", httpserver.url(listen_host, listen_port))
    health = ApiHealth(app.database, jobboard_settings(app.conf))
    # Loaded before serving, or the first request needing them waits half a
    # second for each: the flows (a job's page, /v1/flows) and TaskFlow's
    # history backend (a job's tasks).
    app.database.taskflow_backend()
    try:
        service.flows()
    except Exception:  # noqa: BLE001 - the requests that need them will say why
        LOG.exception("Loading the flows failed")
    try:
        schedules = ScheduleService(app.database, service)
        httpserver.serve(create_app(service, settings, health, schedules), listen_host,
                         listen_port,
                         name="API", what=f"the web page and the API ({OPENAPI_URL})")
    finally:
        health.close()
        service.close()
