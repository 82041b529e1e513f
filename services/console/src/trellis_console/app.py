"""The console's FastAPI app: sign-in (the organisation's OIDC provider, or the local demo people) and sign-out,
the cluster home, probes and metrics."""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import httpx
import structlog
from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest

from trellis_common.http_guards import SecurityHeaders
from trellis_common.logging import get_logger
from trellis_console.backends import Backends, Forbidden, NotFound, ServiceProblem, SignInAgain
from trellis_console.campaigns import campaigns_routes
from trellis_console.claims import read_claims
from trellis_console.context import Console
from trellis_console.emails import emails_routes
from trellis_console.home import cluster_home
from trellis_console.matches import matches_routes
from trellis_console.members import members_routes
from trellis_console.oidc import OidcConfig, OidcSignIn, SignInFailed, expires_soon
from trellis_console.pages import Pages, root, safe_next
from trellis_console.partners import partners_routes
from trellis_console.session import PENDING_COOKIE, PENDING_MAX_AGE_S, CookieTooLarge, Session, SessionSigner
from trellis_console.settings import SERVICES, ConsoleSettings
from trellis_console.signin import LocalSignIn
from trellis_console.skills import skills_routes
from trellis_console.strategy import strategy_routes

log = get_logger(__name__)
PAGES_SERVED = Counter("trellis_console_pages_total", "Console pages answered, by status class", ["status"])
# Probes and static files would drown the log.
_QUIET = ("/healthz", "/readyz", "/metrics", "/static/")
# Without a session secret (dev only) the cookies are signed with a key made at start: restarts sign people out.
_DEV_SECRET = uuid.uuid4().hex + uuid.uuid4().hex


@dataclass(frozen=True)
class ApiLink:
    """A link on the APIs page (embedded mode: each service's docs, the mail sink)."""

    name: str
    path: str
    kind: str = "api"  # "api" or "mail"


def create_console(
    settings: ConsoleSettings,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    local_sign_in: LocalSignIn | None = None,
    api_links: Sequence[ApiLink] = (),
) -> FastAPI:
    """``transports``: in embedded mode the services' apps in-process."""
    secret = settings.session_secret.get_secret_value() if settings.session_secret else _DEV_SECRET
    oidc = _oidc(settings)
    if oidc is not None:
        local_sign_in = None  # the organisation's provider decides who may sign in, never a demo list
    pages = Pages(settings, SessionSigner(secret, settings.session_max_age_s))
    urls = {name: settings.service_url(name) for name in SERVICES}
    backends = Backends(urls, timeout_s=settings.http_timeout_s, transports=transports)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await backends.aclose()
            if oidc is not None:
                await oidc.aclose()

    app = FastAPI(title="Trellis manager console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.signer = pages.signer  # tests forge sessions with it (an expired token inside a valid cookie)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "console"}

    @app.get("/readyz")
    async def readyz() -> dict[str, object]:
        # The console keeps no state; whether the services answer shows on each page, not in its readiness.
        return {"ready": True, "checks": {"console": "ok"}}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/signin")
    async def sign_in_page(request: Request, next: str | None = None, ended: bool = False) -> Response:
        people = list(local_sign_in.people()) if local_sign_in else []
        return pages.render(
            request,
            "signin.html",
            people=people,
            local=local_sign_in is not None,
            demo_later=local_sign_in is not None and local_sign_in.demo and len(people) < 2,
            oidc=oidc is not None,
            next=safe_next(request, next),
            ended=ended,
        )

    @app.post("/signin")
    async def sign_in(
        request: Request,
        person: Annotated[str, Form(max_length=64)],
        csrf: Annotated[str, Form(max_length=512)] = "",
        next: Annotated[str, Form(max_length=2048)] = "/",
    ) -> Response:
        session = pages.session(request)
        if not pages.signer.csrf_ok(session, csrf):
            return pages.problem(request, 403, "csrf")
        chosen = local_sign_in.person(person) if local_sign_in else None
        if local_sign_in is None or chosen is None:
            return pages.problem(request, 403, "forbidden")
        signed_in = session.signed_in_as(local_sign_in.mint(chosen), chosen.name)
        log.info("console_sign_in", person=chosen.key)
        return pages.redirect(request, safe_next(request, next), signed_in)

    def callback_url(request: Request) -> str:
        return f"{public_base(request)}/auth/callback"

    def public_base(request: Request) -> str:
        return (settings.public_url or str(request.base_url)).rstrip("/")

    @app.get("/auth/start")
    async def oidc_start(request: Request, next: str | None = None) -> Response:
        """Off to the organisation's provider; what must survive the trip rides in a short-lived signed cookie."""
        if oidc is None:
            return pages.problem(request, 404, "not_found")
        try:
            url, pending = await oidc.begin(callback_url(request), safe_next(request, next))
        except SignInFailed as exc:
            log.warning("oidc_unavailable", error=str(exc))
            return pages.problem(request, 503, "signin_failed")
        response = RedirectResponse(url, status_code=302)
        response.set_cookie(
            PENDING_COOKIE,
            pages.signer.dump_pending(pending),
            max_age=PENDING_MAX_AGE_S,
            path=root(request) or "/",
            httponly=True,
            samesite="lax",  # the provider sends the browser back with a top-level GET: Lax cookies come along
            secure=settings.secure_cookie,
        )
        return response

    @app.get("/auth/callback")
    async def oidc_callback(
        request: Request, code: str | None = None, state: str | None = None, error: str | None = None
    ) -> Response:
        if oidc is None:
            return pages.problem(request, 404, "not_found")
        pending = pages.signer.load_pending(request.cookies.get(PENDING_COOKIE))
        if error is not None:
            log.info("oidc_sign_in_refused", error=error[:64])
            return pages.problem(request, 400, "signin_cancelled" if error == "access_denied" else "signin_failed")
        if pending is None or state is None or not hmac.compare_digest(state.encode(), pending.state.encode()):
            return pages.problem(request, 400, "signin_stale")  # no sign-in of this browser, or another one's
        if not code:
            return pages.problem(request, 400, "signin_failed")
        try:
            tokens = await oidc.finish(code, pending, callback_url(request))
            session = pages.session(request).signed_in_as(tokens.access, tokens.name, tokens.refresh)
            response = pages.redirect(request, safe_next(request, pending.next), session)
        except SignInFailed as exc:
            log.warning("oidc_sign_in_failed", error=str(exc))
            return pages.problem(request, 502, "signin_failed")
        except CookieTooLarge as exc:
            log.error("oidc_tokens_too_large", cookie_bytes=exc.args[0])
            return pages.problem(request, 502, "signin_failed")
        response.delete_cookie(PENDING_COOKIE, path=root(request) or "/")
        log.info("console_sign_in", via="oidc")
        return response

    async def signed_in(request: Request) -> Session | None:
        """The signed-in session, its access token refreshed first when it is about to end; None: signed out."""
        session = pages.session(request)
        if session.token is None:
            return None
        if oidc is not None and session.refresh is not None and expires_soon(session.token):
            try:
                tokens = await oidc.refresh(session.refresh, session.name)
            except SignInFailed as exc:
                log.info("oidc_refresh_failed", error=str(exc))
                raise SignInAgain(401, "console", "refresh") from exc
            session = session.with_tokens(tokens.access, tokens.refresh)
            request.state.session = session
        return session

    @app.post("/signout")
    async def sign_out(request: Request, csrf: Annotated[str, Form(max_length=512)] = "") -> Response:
        session = pages.session(request)
        if not pages.signer.csrf_ok(session, csrf):
            return pages.problem(request, 403, "csrf")
        signed_out = session.signed_out()
        request.state.session = signed_out
        sign_in_page = f"{root(request)}/signin"
        if oidc is not None:
            # The provider ends its own session too, or the next "Sign in" would be silent.
            ended_there = await oidc.end_session_url(after=f"{public_base(request)}/signin")
            if ended_there:
                return pages.store(request, RedirectResponse(ended_there, status_code=303), signed_out)
        return pages.redirect(request, sign_in_page, signed_out)

    @app.get("/")
    async def landing(request: Request, cluster: str | None = None) -> Response:
        """A person with one cluster lands on it; a platform admin on the one chosen, else the first known."""
        session = await signed_in(request)
        if session is None or session.token is None:
            return pages.to_sign_in(request)
        claims = read_claims(session.token, settings.roles_claim, settings.clusters_claim)
        if cluster and (claims.platform_admin or cluster in claims.clusters):
            return pages.redirect(request, f"{root(request)}/clusters/{quote(cluster, safe='')}")
        clusters = await _readable_clusters(session.token)  # the token's clusters that exist, by name
        if len(clusters) == 1 or (clusters and claims.platform_admin):
            return pages.redirect(request, f"{root(request)}/clusters/{quote(clusters[0][0], safe='')}")
        return pages.render(request, "choose.html", clusters=clusters, admin=claims.platform_admin)

    async def _readable_clusters(token: str) -> list[tuple[str, str]]:
        """The clusters the person may read, by name (every cluster for a platform admin, the first page)."""
        found = await backends.optional(token, "surveys", "/clusters", {"limit": 200})
        return [(str(c["id"]), str(c["name"])) for c in (found or {}).get("items", [])]

    @app.get("/clusters/{cluster_id}")
    async def home(request: Request, cluster_id: str) -> Response:
        session = await signed_in(request)
        if session is None or session.token is None:
            return pages.to_sign_in(request)
        claims = read_claims(session.token, settings.roles_claim, settings.clusters_claim)
        data = await cluster_home(backends, session.token, cluster_id, pages.language(request))
        switcher: list[tuple[str, str]] = []
        if claims.platform_admin:
            switcher = await _readable_clusters(session.token)
        return pages.render(request, "home.html", home=data, may_write=claims.may_write(cluster_id), switcher=switcher)

    console = Console(settings, pages, backends, signed_in)

    @app.post("/clusters/{cluster_id}/calendar")
    async def issue_calendar(request: Request, cluster_id: str) -> Response:
        posted = await console.posted(request)
        if isinstance(posted, Response):
            return posted
        person, _ = posted
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)  # the service would refuse too: no need to ask
        issued = await backends.request(person.token, "strategy", "POST", f"/clusters/{cluster_id}/calendar-token")
        feed = f"{settings.strategy_public_url or settings.strategy_url}{issued['path']}"
        found = await backends.optional(person.token, "surveys", f"/clusters/{cluster_id}")
        name = str(found["name"]) if found else None
        home = f"{root(request)}/clusters/{cluster_id}"
        return pages.render(request, "calendar.html", cluster_id=cluster_id, cluster_name=name, feed=feed, here=home)

    app.include_router(members_routes(console))
    app.include_router(campaigns_routes(console))
    app.include_router(skills_routes(console))
    app.include_router(matches_routes(console))
    app.include_router(partners_routes(console))
    app.include_router(strategy_routes(console))
    app.include_router(emails_routes(console))

    if api_links:

        @app.get("/apis")
        async def apis(request: Request) -> Response:
            return pages.render(request, "apis.html", links=api_links)

    @app.exception_handler(SignInAgain)
    async def expired(request: Request, _exc: SignInAgain) -> Response:
        return pages.to_sign_in(request, ended=True)

    @app.exception_handler(ServiceProblem)
    async def refused(request: Request, exc: ServiceProblem) -> Response:
        if isinstance(exc, Forbidden):
            return pages.problem(request, 403, "forbidden")
        if isinstance(exc, NotFound):
            return pages.problem(request, 404, "not_found")
        return pages.problem(request, 503, "unavailable")

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, _exc: RequestValidationError) -> Response:
        return pages.problem(request, 400, "csrf")  # only a form that is not ours, or an old one, gets here

    @app.exception_handler(404)
    async def unknown(request: Request, _exc: Exception) -> Response:
        return pages.problem(request, 404, "not_found")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled_error", path=request.url.path, error=repr(exc), exc_info=exc)
        return pages.problem(request, 500, "unavailable")

    @app.middleware("http")
    async def log_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = str(uuid.uuid4())
        structlog.contextvars.bind_contextvars(correlation_id=request_id, service="console")
        started = time.perf_counter()
        try:
            response = await call_next(request)
            PAGES_SERVED.labels(status=f"{response.status_code // 100}xx").inc()
            path = request.url.path.removeprefix(root(request))
            if not path.startswith(_QUIET):
                log.info(
                    "http_request",
                    method=request.method,
                    path=request.url.path,
                    status=response.status_code,
                    ms=round((time.perf_counter() - started) * 1000, 1),
                )
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id", "service")
        return response

    app.add_middleware(SecurityHeaders)
    return app


def _oidc(settings: ConsoleSettings) -> OidcSignIn | None:
    if not settings.oidc_issuer:
        return None
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
    config = OidcConfig(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=secret,
        scopes=settings.oidc_scopes,
        name_claim=settings.oidc_name_claim,
    )
    return OidcSignIn(config, timeout_s=settings.http_timeout_s)
