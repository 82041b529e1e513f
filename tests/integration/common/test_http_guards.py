"""Every service's baseline: oversized bodies are refused before a route reads them; security headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tests.support.runtime import runtime_for
from trellis_common.app import create_app
from trellis_common.db import new_metadata
from trellis_common.runtime import ServiceDefinition

router = APIRouter()
reads: list[int] = []


@router.post("/echo")
async def echo(request: Request) -> dict[str, int]:
    body = await request.body()
    reads.append(len(body))
    return {"bytes": len(body)}


@router.get("/page", response_class=HTMLResponse)
async def page() -> HTMLResponse:
    return HTMLResponse("<p>hi</p>", headers={"Content-Security-Policy": "default-src 'self'"})


GUARDED = ServiceDefinition(
    name="guarded", title="Guarded", description="", metadata=new_metadata(), migrations="unused", routers=[router]
)
LIMIT = 2048


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    runtime = runtime_for(
        GUARDED,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'g.db'}",
        migrate_on_start=False,
        http_max_body_bytes=LIMIT,
    )
    app = create_app(GUARDED, runtime=runtime, manage_runtime=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://guarded") as http:
        yield http


async def test_a_body_over_the_limit_is_413_and_never_reaches_the_route(client: httpx.AsyncClient) -> None:
    reads.clear()
    assert (await client.post("/echo", content=b"x" * LIMIT)).json() == {"bytes": LIMIT}
    declared = await client.post("/echo", content=b"x" * (LIMIT + 1))
    assert declared.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(4):
            yield b"y" * 1000

    streamed = await client.post("/echo", content=chunks())
    assert streamed.status_code == 413
    assert reads == [LIMIT], "the oversized bodies never reached the route"


async def test_responses_carry_security_headers(client: httpx.AsyncClient) -> None:
    api = await client.get("/healthz")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.headers["referrer-policy"] == "no-referrer"
    assert api.headers["x-frame-options"] == "DENY"
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    own = await client.get("/page")
    assert own.headers["content-security-policy"] == "default-src 'self'; frame-ancestors 'none'", "kept, unframable"
    docs = await client.get("/docs")  # its own policy (tests/integration/common/test_api_docs.py), unframable
    assert docs.status_code == 200 and docs.headers["content-security-policy"].endswith("frame-ancestors 'none'")
