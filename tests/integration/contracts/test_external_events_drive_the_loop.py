"""Another system's events, sent as the integration docs say, drive the loop to a match email.

A survey tool publishes ``surveys.response.completed.v1`` in structured mode with aiokafka; another is sent
in binary mode by the ``trellis emit`` code path. Both come from the committed golden example, with the ids
of members that exist in this cluster.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tests.conftest import NewDatabase
from tests.e2e.scenario import MEMBER_EMAIL, OFFER_TITLE, OTHER_EMAIL, Platform, seed, wait_for_mail
from tests.support import auth
from tests.support.distributed import Distributed, start_services
from trellis.integrator import check_text, emit
from trellis.mailsink import MailSink

EXAMPLE = Path(__file__).resolve().parents[3] / "contracts" / "examples" / "surveys.response.completed.v1.json"


@pytest.fixture
async def distributed(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase, smtp_sink: MailSink
) -> AsyncIterator[Distributed]:
    platform = Distributed(tmp_path, kafka_bootstrap, topic_prefix, smtp_sink)
    try:
        yield platform
    finally:
        platform.stop_all()


def _response_event(cluster_id: str, member_id: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(EXAMPLE.read_text("utf-8"))
    event["id"] = str(uuid.uuid4())
    event["source"] = "/survey-tools/example"
    event["subject"] = member_id
    event["data"].update(cluster_id=cluster_id, member_id=member_id, response_id=f"ext-{uuid.uuid4().hex[:8]}")
    return event


async def test_structured_and_binary_events_from_outside_reach_members_as_match_emails(
    distributed: Distributed, new_database: NewDatabase, smtp_sink: MailSink, kafka_bootstrap: str, topic_prefix: str
) -> None:
    await start_services(distributed, new_database)
    clients = {
        s: httpx.AsyncClient(headers=auth.admin(), base_url=p.url, timeout=10) for s, p in distributed.processes.items()
    }
    try:
        platform = Platform(clients, lambda: smtp_sink.messages)
        await seed(platform)
        cluster = platform.ids["cluster"]

        structured = _response_event(cluster, platform.ids["member"])
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
        await producer.start()
        try:
            await producer.send_and_wait(
                f"{topic_prefix}surveys.response.completed.v1",
                json.dumps(structured).encode(),
                key=structured["data"]["member_id"].encode(),
                headers=[("content-type", b"application/cloudevents+json")],
            )
        finally:
            await producer.stop()

        checked = check_text(json.dumps(_response_event(cluster, platform.ids["other"])))
        assert [c.errors for c in checked] == [()]
        sent = await emit(kafka_bootstrap, checked, topic_prefix)
        assert [s.topic for s in sent] == [f"{topic_prefix}surveys.response.completed.v1"]

        for address in (MEMBER_EMAIL, OTHER_EMAIL):
            mails = await wait_for_mail(platform, address, timeout=90)
            assert OFFER_TITLE in mails[0].text()
    finally:
        for client in clients.values():
            await client.aclose()
