"""The HTTP API (version 1) and the web page, one FastAPI app over the service layer.

Every route calls ``Orchestrator``; nothing here posts, reads or cancels a job
on its own. Every error, the client's or ours, is a JSON body
``{"error": {"status": 409, "code": "job_finished", "message": "..."}}``.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import persistence
from orchestrator import errors, views
from orchestrator.api import schemas
from orchestrator.api.health import ApiHealth, health_router
from orchestrator.api.middleware import JsonBodies
from orchestrator.api.schedules import schedules_router
from orchestrator.api.wire import presentable
from orchestrator.schedules import ScheduleService
from orchestrator.service import JobState, Orchestrator

LOG = logging.getLogger(__name__)

VERSION = "v1"
PREFIX = f"/{VERSION}"
OPENAPI_URL = f"{PREFIX}/openapi.json"
STATIC_DIR = Path(__file__).parent / "static"


@dataclass(frozen=True)
class ApiSettings:
    """``tokens`` empty means no authentication (standalone mode)."""

    tokens: Sequence[str] = ()
    max_body_size: int = 1024 * 1024
    page_size: int = 50

    @property
    def auth(self) -> bool:
        return bool(self.tokens)


# Client mistakes and what status each one gets; the first match wins.
_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (errors.JobNotFound, 404),
    (errors.ScheduleNotFound, 404),
    (errors.Conflict, 409),
    (errors.InvalidMarker, 400),
    (errors.JobTooLarge, 413),
    # Unknown flow, missing inputs, invalid store or document...
    (errors.InvalidRequest, 422),
    (errors.ServiceUnavailable, 503),
    (persistence.PersistenceError, 503),
    (errors.FlowLoadError, 500),
)


def create_app(service: Orchestrator, settings: ApiSettings,
               health: ApiHealth | None = None,
               schedules: ScheduleService | None = None) -> FastAPI:
    """The app; with ``health``, also /metrics, /healthz and /readyz; with
    ``schedules``, /v1/schedules."""
    app = FastAPI(
        title="orchestrator",
        summary="Post TaskFlow jobs to conductors and read their history.",
        version=VERSION,
        openapi_url=OPENAPI_URL,
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
        responses={401: {"model": schemas.Error}, 422: {"model": schemas.Error}},
    )
    app.add_middleware(JsonBodies)
    app.add_middleware(_BodyLimit, limit=settings.max_body_size)
    app.add_exception_handler(errors.OrchestratorError, _service_error)
    app.add_exception_handler(persistence.PersistenceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
    app.include_router(_api_router(service, settings, schedules))
    if health is not None:
        # Without the token dependency on purpose: Prometheus and load
        # balancers carry no token (see orchestrator.api.health).
        app.include_router(health_router(health))
    _add_pages(app)
    return app


def _api_router(service: Orchestrator, settings: ApiSettings,
                schedules: ScheduleService | None = None) -> APIRouter:
    tokens = [t.encode() for t in settings.tokens]

    def authenticate(authorization: Annotated[str | None, Header()] = None) -> None:
        if not tokens:
            return
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise HTTPException(401, "this API needs 'Authorization: Bearer <token>'",
                                headers={"WWW-Authenticate": "Bearer"})
        offered = given.strip().encode()
        # Every token is compared, each in constant time: neither the time
        # nor the order reveals which, if any, came close.
        matches = [hmac.compare_digest(offered, token) for token in tokens]
        if not any(matches):
            raise HTTPException(401, "the bearer token is not valid",
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})

    public = APIRouter(prefix=PREFIX)
    router = APIRouter(prefix=PREFIX, dependencies=[Depends(authenticate)])

    @public.get("", include_in_schema=False)
    def root() -> dict[str, Any]:
        return {"version": VERSION, "openapi": OPENAPI_URL, "auth": settings.auth,
                "links": {"jobs": f"{PREFIX}/jobs", "flows": f"{PREFIX}/flows",
                          "conductors": f"{PREFIX}/conductors",
                          "schedules": f"{PREFIX}/schedules"}}

    @router.post("/jobs", status_code=201, response_model=schemas.Job,
                 responses={200: {"model": schemas.Job,
                                  "description": "Posted earlier with this idempotency key"},
                            400: {"model": schemas.Error, "description": "Malformed JSON"},
                            409: {"model": schemas.Error},
                            413: {"model": schemas.Error,
                                  "description": "The body is over [api] max_body_size, "
                                  "or the encoded job over what the jobboard takes"},
                            503: {"model": schemas.Error}})
    def post_job(body: schemas.JobRequest, response: Response,
                 idempotency_key: Annotated[str | None, Header()] = None) -> Any:
        """Post a job; with an idempotency key already used, return that job (200)."""
        key = body.idempotency_key
        if idempotency_key is not None:
            if key is not None and key != idempotency_key:
                raise errors.InvalidRequest(
                    "the Idempotency-Key header and the body's idempotency_key differ")
            key = idempotency_key
        posted = service.submit(body.flow, body.store, priority=body.priority,
                                idempotency_key=key, document=body.document,
                                strict=body.strict, concurrency_keys=body.concurrency_keys)
        response.headers["Location"] = f"{PREFIX}/jobs/{posted.record.id}"
        if posted.unused_keys:
            # RFC 7234's 299, a lasting warning. JSON-escaped: a key may hold any
            # character, a header only printable ASCII.
            keys = json.dumps(list(posted.unused_keys)).replace('"', "'")
            response.headers["Warning"] = (
                f'299 orchestrator "no task of the flow reads store keys {keys}"')
        if not posted.created:
            response.status_code = 200
        return presentable(views.job_summary_dict(posted.record))

    @router.get("/jobs", response_model=schemas.JobList,
                responses={400: {"model": schemas.Error}})
    def list_jobs(
        state: Annotated[list[schemas.State] | None, Query(
            description="Only jobs in these states (repeat for several).")] = None,
        flow: Annotated[str | None, Query(min_length=1,
                                          description="Only jobs of this flow.")] = None,
        since: Annotated[datetime | None, Query(
            description="Only jobs created at or after (ISO 8601, with a timezone).")] = None,
        until: Annotated[datetime | None, Query(
            description="Only jobs created before (ISO 8601, with a timezone).")] = None,
        limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
        marker: Annotated[str | None, Query(
            min_length=1, description="The next_marker of the previous page.")] = None,
    ) -> Any:
        """Jobs newest first, a page at a time."""
        page = service.page_jobs(
            states=[JobState(s) for s in state] if state else None, flow_name=flow,
            since=since, until=until, limit=limit or settings.page_size, marker=marker)
        return presentable({"jobs": [views.job_summary_dict(r) for r in page.jobs],
                            "next_marker": page.next_marker})

    @router.get("/jobs/{job_id}", response_model=schemas.JobDetail,
                responses={404: {"model": schemas.Error}})
    def get_job(job_id: str) -> Any:
        """The job and its tasks in execution order: states, results, failures, times."""
        history = service.job_history(job_id)
        return presentable(views.job_detail_dict(
            history, undoable=service.undoable(history.record) is None))

    @router.post("/jobs/{job_id}/cancel", status_code=202, response_model=schemas.Job,
                 responses={404: {"model": schemas.Error}, 409: {"model": schemas.Error}})
    def cancel_job(job_id: str, body: schemas.CancelRequest | None = None) -> Any:
        """Cancel an unfinished job: it stops at its next task boundary and reverts.

        A job no conductor has started is REVERTED at once. A finished job: 409.
        """
        by = body.requested_by if body is not None and body.requested_by else "api"
        return presentable(views.job_summary_dict(service.cancel(job_id, by)))

    @router.post("/jobs/{job_id}/retry", status_code=201, response_model=schemas.Job,
                 responses={202: {"model": schemas.Job,
                                  "description": "The revert resumed (resume_revert)."},
                            404: {"model": schemas.Error}, 409: {"model": schemas.Error},
                            503: {"model": schemas.Error}})
    def retry_job(job_id: str, response: Response,
                  body: schemas.RetryRequest | None = None) -> Any:
        """Post a new job with a finished job's flow, document, store and priority.

        The new job's retry_of names the original, whose retried_by lists it.
        An unfinished job: 409. With {"resume_revert": true}: 202 and the same
        job, reopened to resume its failed revert; a job that is not FAILED
        because a revert failed: 409.
        """
        if body is not None and body.resume_revert:
            response.status_code = 202
            record = service.resume_revert(job_id, body.requested_by or "api")
            return presentable(views.job_summary_dict(record))
        if body is not None and body.requested_by is not None:
            raise errors.InvalidRequest("requested_by goes with resume_revert")
        posted = service.retry(job_id)
        response.headers["Location"] = f"{PREFIX}/jobs/{posted.record.id}"
        return presentable(views.job_summary_dict(posted.record))

    @router.post("/jobs/{job_id}/revert", status_code=202, response_model=schemas.Job,
                 responses={404: {"model": schemas.Error}, 409: {"model": schemas.Error},
                            503: {"model": schemas.Error}})
    def undo_job(job_id: str, body: schemas.UndoRequest | None = None) -> Any:
        """Undo a SUCCESS job: the same job is reopened and a conductor reverts each
        task, last first, with the result it recorded; it ends REVERTED.

        Only for flows that declare themselves revertible after success; any
        other job, or a job that is not SUCCESS: 409.
        """
        by = body.requested_by if body is not None and body.requested_by else "api"
        return presentable(views.job_summary_dict(service.undo(job_id, by)))

    @router.get("/jobs/{job_id}/explain", response_model=schemas.Explanation,
                responses={404: {"model": schemas.Error}})
    def explain_job(job_id: str) -> Any:
        """Why the job is, or is not, running now, and who holds it."""
        return presentable(views.explanation_dict(service.explain(job_id)))

    @router.get("/flows", response_model=schemas.FlowList)
    def list_flows() -> Any:
        """Registered flows and the inputs each one requires."""
        return presentable({"flows": [views.flow_dict(info) for info in service.flows()]})

    @router.get("/conductors", response_model=schemas.ConductorList,
                responses={503: {"model": schemas.Error}})
    def list_conductors() -> Any:
        """Conductors alive now, as registered in ZooKeeper."""
        return presentable(
            {"conductors": [views.conductor_dict(c) for c in service.conductors()]})

    if schedules is not None:
        router.include_router(schedules_router(schedules, PREFIX))
    combined = APIRouter()
    combined.include_router(public)
    combined.include_router(router)
    return combined


def _add_pages(app: FastAPI) -> None:
    """The web page: static files whose script reads the API (so it needs no auth)."""

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/jobs/{job_id}", include_in_schema=False)
    def job_page(job_id: str) -> FileResponse:
        return FileResponse(STATIC_DIR / "job.html")

    @app.get("/conductors", include_in_schema=False)
    def conductors_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "conductors.html")

    @app.get("/flows", include_in_schema=False)
    def flows_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "flows.html")

    @app.get("/schedules", include_in_schema=False)
    def schedules_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "schedules.html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


# errors --------------------------------------------------------------------


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    # Messages quote the request (a field name, a flow name...), which may
    # not be valid Unicode.
    return JSONResponse({"error": {"status": status, "code": code,
                                   "message": presentable(message)}},
                        status_code=status, headers=headers)


def _code(exc: Exception) -> str:
    """An error class's ``code``, else its name in snake case (UnknownFlow: unknown_flow)."""
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return code
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


async def _service_error(request: Request, exc: Exception) -> Response:
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), None)
    if status is None:
        status = 400 if getattr(exc, "client_error", False) else 503
    if status >= 500:
        LOG.warning("%s %s: %s", request.method, request.url.path, exc)
    return error_response(status, _code(exc), str(exc))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        detail = next(p for p in problems if p.get("type") == "json_invalid")
        reason = (detail.get("ctx") or {}).get("error", "")
        return error_response(400, "malformed_json",
                              f"the request body is not valid JSON: {reason}".rstrip(": "))
    parts = []
    for problem in problems:
        where = ".".join(str(p) for p in problem.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {problem.get('msg', 'invalid')}")
    return error_response(422, "invalid_request", "; ".join(parts))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    unreadable = _unreadable_body(exc)
    if unreadable is not None:
        return error_response(400, "malformed_json",
                              f"the request body is not valid JSON: {unreadable}")
    codes = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
             413: "payload_too_large"}
    message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such resource: {request.url.path}"
    return error_response(exc.status_code, codes.get(exc.status_code, "http_error"),
                          message, headers=dict(exc.headers or {}))


def _unreadable_body(exc: StarletteHTTPException) -> str | None:
    """Why the body could not be parsed, when that is what ``exc`` reports.

    FastAPI answers a body that ``json.loads`` fails on for another reason
    than a syntax error with a bare 400 chained to that error.
    """
    cause = exc.__cause__
    if exc.status_code != 400:
        return None
    if isinstance(cause, UnicodeDecodeError):
        return "it is not UTF-8"
    if isinstance(cause, RecursionError):
        return "it nests objects and arrays too deeply to be read"
    return None


async def _internal_error(request: Request, exc: Exception) -> Response:
    LOG.exception("%s %s failed", request.method, request.url.path)
    return error_response(500, "internal_error",
                          f"the server failed: {type(exc).__name__} (see its log)")


class _BodyLimit:
    """Refuses bodies over ``limit`` bytes (413) before they are read into memory."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, counting_receive, send)

    def _message(self) -> str:
        return f"the request body is larger than the limit of {self.limit} bytes"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "payload_too_large", self._message())
        await response(scope, receive, send)
