"""The same loop in embedded mode: one process, SQLite, in-process bus, the local mail sink."""

from __future__ import annotations

from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from tests.e2e.scenario import Platform, run_loop
from trellis.embedded import build_embedded


async def test_survey_response_to_match_email_and_review_reminder_embedded(tmp_path: Path) -> None:
    embedded = build_embedded(tmp_path, manual_clock=True, fast=True)
    async with LifespanManager(embedded.app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=embedded.app)
        clients = {
            name: httpx.AsyncClient(
                headers=embedded.admin_headers(), transport=transport, base_url=f"http://trellis/{name}"
            )
            for name in embedded.runtimes
        }
        try:
            counts = await run_loop(Platform(clients, lambda: embedded.mail.messages))
        finally:
            for client in clients.values():
                await client.aclose()
    print(f"\ne2e embedded counts: {counts}")
