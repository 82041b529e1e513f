"""Every service's own API docs: Swagger UI at /docs and ReDoc at /redoc load only files the service serves
itself (no CDN: they work offline), at the root and behind a path prefix; the OpenAPI document declares the
bearer scheme on exactly the operations that need a token; the token checks answer as before."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from tests.support import auth
from tests.support.prefix import behind
from tests.support.runtime import runtime_for
from trellis.embedded import SERVICES
from trellis_common.app import create_app
from trellis_common.auth import Caller, authenticate
from trellis_common.db import new_metadata
from trellis_common.runtime import ServiceDefinition

BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
PREFIXES = ("", "/surveys-api")  # at the root, and mounted or proxied under a prefix
MIN_SIZE = {".js": 500_000, ".css": 50_000, ".png": 1_000}  # the real bundles, not a stub or an error page
CONTENT_TYPES = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",), ".png": ("image/png",)}


def service_app(definition: ServiceDefinition, tmp_path: Path, **settings: Any) -> FastAPI:
    """The service's app as deployed, its runtime not started: pages and documents need no database."""
    database = f"sqlite+aiosqlite:///{tmp_path / definition.name}.db"
    runtime = runtime_for(definition, database_url=database, migrate_on_start=False, **settings)
    return create_app(definition, runtime=runtime, manage_runtime=False)


def client(app: FastAPI, root_path: str = "") -> httpx.AsyncClient:
    """Requests as uvicorn --root-path (or a host mounting the app) hands them over; paths without the prefix."""
    asgi = behind(root_path, app) if root_path else app
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://service.test")


class References(HTMLParser):
    """Every URL a page loads or links to: src and href attributes, and the inline scripts' text."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in {"src", "href", "spec-url"} and value]
        self._in_script = tag == "script" and not dict(attrs).get("src")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def references(page: str) -> References:
    parsed = References()
    parsed.feed(page)
    parsed.urls += re.findall(r"url: '([^']*)'", "".join(parsed.scripts))  # Swagger UI's OpenAPI document
    return parsed


@pytest.mark.parametrize("definition", SERVICES, ids=[d.name for d in SERVICES])
@pytest.mark.parametrize("root_path", PREFIXES, ids=["root", "prefix"])
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_load_only_what_the_service_serves(
    definition: ServiceDefinition, root_path: str, page: str, tmp_path: Path
) -> None:
    app = service_app(definition, tmp_path)
    async with client(app, root_path) as http:
        answer = await http.get(page)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
        assert not re.search(r"https?:|//[a-z]", answer.text, re.IGNORECASE), "no other host: it works offline"
        found = references(answer.text)
        assert f"{root_path}/openapi.json" in found.urls
        kinds = {Path(url).suffix for url in found.urls}
        assert {".js", ".png", ".json"} <= kinds and (page == "/redoc" or ".css" in kinds), found.urls
        for url in found.urls:
            assert url.startswith(f"{root_path}/"), f"{url} is outside the service's path"
            served = await http.get(url.removeprefix(root_path))
            assert served.status_code == 200, url
            suffix = Path(url).suffix
            if suffix in CONTENT_TYPES:
                assert served.headers["content-type"].startswith(CONTENT_TYPES[suffix]), (url, served.headers)
                assert len(served.content) >= MIN_SIZE[suffix], url
        # The page's own policy: scripts from the service and its inline script by hash, nothing else.
        policy = answer.headers["content-security-policy"]
        script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src")).split()
        hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in found.scripts}
        assert set(script_src) == {"script-src", "'self'", *hashes}
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy


@pytest.mark.parametrize("definition", SERVICES, ids=[d.name for d in SERVICES])
async def test_swagger_ui_keeps_the_token_it_is_given(definition: ServiceDefinition, tmp_path: Path) -> None:
    async with client(service_app(definition, tmp_path)) as http:
        page = (await http.get("/docs")).text
    assert '"persistAuthorization": true' in page


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    stack = [dependant]
    while stack:
        current = stack.pop()
        if current.call is not None:
            yield current.call
        stack.extend(current.dependencies)


@pytest.mark.parametrize("definition", SERVICES, ids=[d.name for d in SERVICES])
async def test_the_openapi_document_declares_the_bearer_scheme_where_a_token_is_needed(
    definition: ServiceDefinition, tmp_path: Path
) -> None:
    app = service_app(definition, tmp_path)
    async with client(app, "/prefixed") as http:
        document = (await http.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"] == {"bearer": BEARER}
    assert document["servers"] == [{"url": "/prefixed"}], "Try it out calls under the prefix"
    assert "security" not in document["paths"]["/healthz"]["get"]
    protected = public = 0
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        needs_token = authenticate in set(_calls(route.dependant))
        assert route.methods is not None, route.path_format  # an APIRoute always has its methods
        for method in route.methods - {"HEAD"}:
            operation = document["paths"][route.path_format][method.lower()]
            if needs_token:
                protected += 1
                assert operation["security"] == [{"bearer": []}], f"{method} {route.path}"
            else:
                public += 1
                assert "security" not in operation, f"{method} {route.path} needs no token"
    assert protected and public >= 4, "both kinds seen (public: at least the probes, metrics, asyncapi.json)"


router = APIRouter()


@router.get("/mine")
async def mine(caller: Caller) -> dict[str, str]:
    return {"subject": caller.subject}


GUARDED = ServiceDefinition(
    name="guarded", title="Guarded", description="", metadata=new_metadata(), migrations="unused", routers=[router]
)
MISSING = ("a bearer token is required (Authorization: Bearer <token>)", "Bearer")
INVALID = ("malformed bearer token", 'Bearer error="invalid_token"')


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (None, MISSING),
        ("Basic dGVzdDp0ZXN0", MISSING),
        ("Bearer", MISSING),
        ("Bearer   ", MISSING),
        ("bearer not-a-token", INVALID),
        ("Bearer  not-a-token ", INVALID),
    ],
)
async def test_refusals_say_why_as_before(authorization: str | None, expected: tuple[str, str], tmp_path: Path) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with client(service_app(GUARDED, tmp_path)) as http:
        answer = await http.get("/mine", headers=headers)
    assert answer.status_code == 401
    assert (answer.json()["detail"], answer.headers["www-authenticate"]) == expected


async def test_a_valid_token_is_accepted_and_a_service_without_an_issuer_answers_503(tmp_path: Path) -> None:
    async with client(service_app(GUARDED, tmp_path)) as http:
        answer = await http.get("/mine", headers=auth.admin())
    assert answer.status_code == 200 and answer.json() == {"subject": "test-admin"}
    async with client(service_app(GUARDED, tmp_path, auth_issuer=None)) as http:
        answer = await http.get("/mine", headers=auth.admin())
    assert answer.status_code == 503
    assert answer.json()["detail"] == "authentication is not configured on this service"
