"""The whole loop with every service as its own process, on real Kafka, PostgreSQL and SMTP."""

from __future__ import annotations

import json

import httpx

from tests.conftest import NewDatabase
from tests.e2e.scenario import CORRELATION_ID, Platform, run_loop
from tests.support import auth
from tests.support.distributed import Distributed, start_services
from trellis.mailsink import MailSink


async def test_survey_response_to_match_email_and_review_reminder(
    distributed: Distributed, new_database: NewDatabase, smtp_sink: MailSink
) -> None:
    await start_services(distributed, new_database)
    clients = {
        s: httpx.AsyncClient(headers=auth.admin(), base_url=p.url, timeout=10) for s, p in distributed.processes.items()
    }
    for service, client in clients.items():  # the operations surface of every service
        assert (await client.get("/healthz")).json() == {"status": "ok", "service": service}
        assert (await client.get("/readyz")).json()["ready"] is True
        assert "trellis_outbox_backlog" in (await client.get("/metrics")).text
        assert (await client.get("/openapi.json")).json()["info"]["title"] == f"Trellis {service}"
    try:
        counts = await run_loop(Platform(clients, lambda: smtp_sink.messages))
    finally:
        for client in clients.values():
            await client.aclose()
    print(f"\ne2e distributed counts: {counts}")
    # The correlation id given to the REST call is in the JSON logs of every service the chain crossed.
    for service in ("surveys", "skills", "matchmaking", "notifications"):
        lines = [
            json.loads(line)
            for line in distributed.processes[service].log_path.read_text().splitlines()
            if line.startswith("{")
        ]
        assert any(line.get("correlation_id") == CORRELATION_ID for line in lines), f"{service} logs lack it"
