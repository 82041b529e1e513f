"""The one app factory every service uses: its routes plus /healthz, /readyz, /metrics and error handling."""

from __future__ import annotations

import functools
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AwareDatetime, BaseModel

from trellis_common import asyncapi, audit
from trellis_common.audit import audit_router
from trellis_common.auth import TokenVerifier
from trellis_common.clock import ManualClock
from trellis_common.http_guards import SecurityHeaders, error_headers
from trellis_common.logging import get_logger
from trellis_common.runtime import ServiceDefinition, ServiceRuntime
from trellis_common.settings import ServiceSettings
from trellis_common.text import printable, storable_parameters

log = get_logger(__name__)
CORRELATION_HEADER = "X-Correlation-ID"
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes would drown the log


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]


def correlation_id(request: Request) -> str | None:
    """The caller's X-Correlation-ID when it is usable (see ``_usable_correlation_id``), else none."""
    return _usable_correlation_id(request.headers.get(CORRELATION_HEADER))


def _usable_correlation_id(value: str | None) -> str | None:
    # It is stored (events, audit log: 128 characters) and logged: anything longer or odd is replaced.
    if value and len(value) <= 128 and value.isprintable():
        return value
    return None


CorrelationId = Annotated[str | None, Depends(correlation_id)]


class ClockBody(BaseModel):
    now: AwareDatetime


def _ops_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.settings.service_name}

    @router.get("/readyz", summary="Database and bus reachable, consumer assigned, relay running")
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @router.get("/asyncapi.json", summary="The AsyncAPI 3.0 document of every Trellis event (the event contract)")
    async def asyncapi_document() -> dict[str, Any]:
        return _asyncapi_document()

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    if isinstance(runtime.clock, ManualClock):
        clock = runtime.clock

        @router.get("/admin/clock", summary="The service's manual clock (test and demo deployments only)")
        async def get_clock() -> dict[str, datetime]:
            return {"now": clock.now()}

        @router.put("/admin/clock", summary="Move the manual clock; schedules run at once")
        async def set_clock(body: ClockBody) -> dict[str, datetime]:
            clock.set(body.now)
            runtime.wake_workers()
            return {"now": clock.now()}

    return router


@functools.cache
def _asyncapi_document() -> dict[str, Any]:
    return asyncapi.document()


def create_app(
    definition: ServiceDefinition,
    settings: ServiceSettings | None = None,
    *,
    runtime: ServiceRuntime | None = None,
    manage_runtime: bool = True,
) -> FastAPI:
    """Build the service's FastAPI app. ``manage_runtime=False`` when a host (embedded mode) runs it."""
    runtime = runtime or ServiceRuntime(definition, settings or definition.settings_class())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage_runtime:
            await runtime.start()
        try:
            yield
        finally:
            if manage_runtime:
                await runtime.stop()

    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version="1.0.0",
        lifespan=lifespan,
        max_body_size=runtime.settings.http_max_body_bytes,  # 413 before any route reads a larger body
        dependencies=[Depends(storable_parameters)],  # NUL in a path or query parameter: 422, not a 500
    )
    app.state.runtime = runtime
    # Routes that need a caller (Depends(authenticate)) answer 503 until an issuer is configured.
    app.state.verifier = TokenVerifier(runtime.settings) if runtime.settings.auth_issuer else None
    app.include_router(_ops_router(runtime))
    app.include_router(audit_router(runtime))
    for router in definition.routers:
        app.include_router(router)

    @app.middleware("http")
    async def bind_request_context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = _usable_correlation_id(request.headers.get(CORRELATION_HEADER)) or str(uuid.uuid4())
        request.state.correlation_id = request_id
        structlog.contextvars.bind_contextvars(correlation_id=request_id, service=runtime.settings.service_name)
        started = time.perf_counter()
        try:
            response = await call_next(request)
            await audit.record(runtime, request, response.status_code, request_id)
            # Compared without the root path, so probes stay quiet behind a path prefix too.
            if request.url.path.removeprefix(request.scope.get("root_path", "")) not in _QUIET_PATHS:
                log.info(
                    "http_request",
                    method=request.method,
                    path=_loggable_path(request),
                    status=response.status_code,
                    ms=round((time.perf_counter() - started) * 1000, 1),
                )
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id", "service")
        response.headers[CORRELATION_HEADER] = request_id
        return response

    app.add_middleware(SecurityHeaders)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input; an input of NaN or Infinity cannot be written as JSON and
        # would turn the caller's mistake into a 500, and so would a lone surrogate. Spell such values as text.
        return JSONResponse({"detail": _printable(jsonable_encoder(list(exc.errors())))}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Never a stack trace to the caller; the log has it, keyed by the correlation id.
        log.error("unhandled_error", path=request.url.path, error=repr(exc), exc_info=exc)
        # Starlette writes this answer outside the middleware stack: it gets the usual headers here.
        headers = error_headers(getattr(request.state, "correlation_id", None))
        body = {"detail": "internal error; the operators have the details in the logs"}
        return JSONResponse(body, status_code=500, headers=headers)

    return app


def _printable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {_printable(key): _printable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(item) for item in value]
    return value


def _loggable_path(request: Request) -> str:
    """The path without the signed token of a member's link (survey, unsubscribe, accept/decline): logs travel
    further than links should, and the token alone lets its holder act in the member's name."""
    path = request.url.path
    token = request.scope.get("path_params", {}).get("token")
    return path.replace(token, "[token]") if isinstance(token, str) and token else path


def page_path(request: Request, route: str, **params: Any) -> str:
    """A route of this service as a host-less path under the ASGI root path (where a host mounted the app, or
    the prefix a proxy stripped), for links and form actions in pages. Not ``request.url_for``: it looks the
    name up in the outermost app, where another mounted service may have a route of the same name."""
    return str(request.scope.get("root_path", "")) + str(request.app.url_path_for(route, **params))


def not_found(what: str, ident: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"{what} {ident!r} not found")


def invalid(field: str, message: str) -> HTTPException:
    """A 422 in FastAPI's own shape naming the body field at fault (``a.b`` for nested fields), so clients
    read a rule the schema cannot express like any other validation error."""
    return HTTPException(422, detail=[{"type": "value_error", "loc": ["body", *field.split(".")], "msg": message}])


def report_or_invalid(model: type[BaseModel], description: str) -> dict[str, Any]:
    """OpenAPI of a 422 that is either the route's own report (e.g. rows to fix) or a validation error."""
    schemas = [{"$ref": f"#/components/schemas/{model.__name__}"}, {"$ref": "#/components/schemas/HTTPValidationError"}]
    return {"description": description, "content": {"application/json": {"schema": {"anyOf": schemas}}}}
