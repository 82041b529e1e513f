"""The README's demo: embedded mode seeded with a cluster prints gaps, matches, emails and the next review."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from trellis.demo import RESPONSES, render, run_demo
from trellis.embedded import build_embedded


async def test_demo_sends_emails_and_schedules_a_review(tmp_path: Path) -> None:
    embedded = build_embedded(tmp_path)
    async with LifespanManager(embedded.app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=embedded.app)
        async with httpx.AsyncClient(
            headers=embedded.admin_headers(), transport=transport, base_url="http://trellis"
        ) as client:
            report = await run_demo(client)
            mail = (await client.get("/mail/api/messages")).json()
    assert report.emails_sent >= len(RESPONSES)
    assert len([m for m in mail if "Eva Steiner" not in str(m["to"])]) == report.emails_sent
    assert report.next_review is not None and datetime.fromisoformat(report.next_review) > datetime.fromisoformat(
        mail[0]["received_at"]
    )
    assert report.pooled, "two members share the DigComp 5.2 gap: one pooled masterclass is proposed"
    text = render(report, "http://127.0.0.1:8000")
    assert "Emails sent: 3" in text and "Next strategy review due: " in text
    assert "http://127.0.0.1:8000/notifications/docs" in text
