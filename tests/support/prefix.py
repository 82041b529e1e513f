"""Serving an app behind a path prefix, as deployments do: a reverse proxy that strips the prefix before it
forwards (an ingress controller), uvicorn told the prefix with ``--root-path``, and uvicorn in the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.support.polling import eventually

# Hop-by-hop headers, and the ones httpx already applied when it read the body.
_NOT_FORWARDED = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer", "content-length", "content-encoding"}
)


def behind(root_path: str, app: ASGIApp) -> ASGIApp:
    """What ``uvicorn --root-path`` does with each request a prefix-stripping proxy forwards (for ASGI tests)."""

    async def prefixed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "root_path": root_path, "path": root_path + scope["path"]}
        await app(scope, receive, send)

    return prefixed


def stripping_proxy(prefix: str, upstream: str) -> Starlette:
    """Forwards ``<prefix>/x`` to ``<upstream>/x`` and answers 404 for anything outside the prefix, as an
    ingress with a rewrite rule does. The original host and scheme travel as X-Forwarded-* headers."""
    client = httpx.AsyncClient(base_url=upstream, timeout=30)

    async def forward(request: Request) -> Response:
        path = request.url.path
        if path != prefix and not path.startswith(f"{prefix}/"):
            return Response("not behind this proxy", status_code=404, media_type="text/plain")
        headers = [(k, v) for k, v in request.headers.items() if k not in _NOT_FORWARDED and k != "host"]
        headers += [("x-forwarded-host", request.url.netloc), ("x-forwarded-proto", request.url.scheme)]
        upstream_response = await client.request(
            request.method,
            path.removeprefix(prefix) or "/",
            params=tuple(request.query_params.multi_items()),
            headers=headers,
            content=await request.body(),
        )
        kept = {k: v for k, v in upstream_response.headers.items() if k not in _NOT_FORWARDED}
        return Response(upstream_response.content, status_code=upstream_response.status_code, headers=kept)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with client:
            yield

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)], lifespan=lifespan)


@asynccontextmanager
async def serving(app: ASGIApp, port: int) -> AsyncIterator[str]:
    """The app on uvicorn at 127.0.0.1:port in this event loop, its lifespan run; yields its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        if task.done():
            task.result()  # surfaces the start-up error
            raise AssertionError("uvicorn stopped before it started")
        return server.started

    try:
        await eventually(started, timeout=60, interval=0.05, what=f"uvicorn on port {port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
