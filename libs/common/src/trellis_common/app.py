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
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AwareDatetime, BaseModel

from trellis_common import asyncapi, audit, heap
from trellis_common.audit import audit_router
from trellis_common.auth import TokenVerifier
from trellis_common.clock import ManualClock, ShiftedClock
from trellis_common.http_guards import SecurityHeaders, docs_page_policy, error_headers
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
# A cluster named in a route's path: the id surveys gave it.
ClusterId = Annotated[str, Path(min_length=1, max_length=128, description="The cluster's id (as in surveys)")]


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

    if isinstance(runtime.clock, ManualClock | ShiftedClock):
        clock = runtime.clock

        @router.get("/admin/clock", summary="The service's movable clock (test, demo and chaos deployments only)")
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
    settle_heap: bool = False,
) -> FastAPI:
    """Build the service's FastAPI app. ``manage_runtime=False`` when a host (embedded mode) runs it;
    ``settle_heap`` in a serving process (``heap.settle_after_start`` once started), never in tests."""
    runtime = runtime or ServiceRuntime(definition, settings or definition.settings_class())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage_runtime:
            await runtime.start()
        if settle_heap:
            heap.settle_after_start()
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
        docs_url=None,  # FastAPI's own pages load Swagger UI and ReDoc from a CDN; _add_docs serves them here
        redoc_url=None,
    )
    app.state.runtime = runtime
    # Routes that need a caller (Depends(authenticate)) answer 503 until an issuer is configured.
    app.state.verifier = TokenVerifier(runtime.settings) if runtime.settings.auth_issuer else None
    app.include_router(_ops_router(runtime))
    _add_docs(app)
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


_DOCS_ASSETS = "docs-assets"
# Added to FastAPI's defaults: the token given to "Authorize" survives a reload of the page (the browser keeps it).
_SWAGGER_UI_PARAMETERS = {"persistAuthorization": True}


def _add_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc with the files of the fastapi-offline package, served by the service itself:
    no CDN, so the pages work offline; their links carry the root path like every other page's."""
    app.mount("/docs/assets", StaticFiles(packages=[("fastapi_offline", "static")]), name=_DOCS_ASSETS)

    def asset(request: Request, name: str) -> str:
        return page_path(request, _DOCS_ASSETS, path=name)

    async def swagger_ui(request: Request) -> Response:
        return _docs_page(
            get_swagger_ui_html(
                openapi_url=page_path(request, "openapi"),
                title=f"{app.title} · Swagger UI",
                swagger_js_url=asset(request, "swagger-ui-bundle.js"),
                swagger_css_url=asset(request, "swagger-ui.css"),
                swagger_favicon_url=asset(request, "favicon.png"),
                oauth2_redirect_url=None,  # bearer tokens only: no OAuth2 flow to come back from
                swagger_ui_parameters=_SWAGGER_UI_PARAMETERS,
            )
        )

    async def redoc(request: Request) -> Response:
        return _docs_page(
            get_redoc_html(
                openapi_url=page_path(request, "openapi"),
                title=f"{app.title} · ReDoc",
                redoc_js_url=asset(request, "redoc.standalone.js"),
                redoc_favicon_url=asset(request, "favicon.png"),
                with_google_fonts=False,
            )
        )

    app.add_route("/docs", swagger_ui, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)


def _docs_page(page: HTMLResponse) -> HTMLResponse:
    page.headers["content-security-policy"] = docs_page_policy(bytes(page.body).decode())
    return page


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
