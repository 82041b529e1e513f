"""Two sender replicas and a relay so slow that one batch outlasts the lease: each email still goes out once,
on its first attempt, because the sender renews the claim of the whole rest of its batch as it goes."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.integration.notifications.harness import SmtpServer, matched, member
from tests.support.polling import eventually
from tests.support.runtime import runtime_for
from trellis_common.bus import OutgoingMessage
from trellis_common.bus.memory import InMemoryBroker, InMemoryBus
from trellis_common.catalogue import spec_for_model
from trellis_common.envelope import CloudEvent, to_binary
from trellis_common.events import ContactRole, EventData
from trellis_notifications.models import deliveries
from trellis_notifications.service import DEFINITION

PEOPLE = 10


async def _publish(broker: InMemoryBroker, data: EventData) -> None:
    spec = spec_for_model(type(data))
    key = str(getattr(data, spec.key_field))
    event = CloudEvent(
        id=str(uuid.uuid4()), source="/tests", type=spec.type, subject=key, data=data.model_dump(mode="json")
    )
    headers, value = to_binary(event)
    await broker.append([OutgoingMessage(spec.topic(), key, value, headers)])


async def test_a_batch_slower_than_the_lease_is_not_taken_over(tmp_path: Path, smtp: SmtpServer) -> None:
    smtp.handler.stall_s = 0.3  # 10 emails ≈ 3 s, longer than the 2 s lease
    url = f"sqlite+aiosqlite:///{tmp_path / 'notifications.db'}"
    common: dict[str, Any] = dict(
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_starttls=False,
        smtp_rate_per_s=0,
        sender_poll_interval_s=0.05,
        send_lease_s=2.0,
        send_batch_size=50,
    )
    broker = InMemoryBroker()
    first = runtime_for(DEFINITION, database_url=url, bus=InMemoryBus(broker), **common)
    await first.start()
    second = runtime_for(
        DEFINITION,
        database_url=url,
        bus=InMemoryBus(broker),
        consume=False,
        relay=False,
        migrate_on_start=False,
        **common,
    )
    await second.start()
    try:
        people = [(f"contact-{i}", f"Person {i}", "en", ContactRole.MEMBER_CONTACT) for i in range(PEOPLE)]
        await _publish(broker, member(people=people))

        async def projected() -> bool:
            async with first.db.sessions() as session:
                return len((await session.execute(select(deliveries.c.id))).all()) == 0 and bool(
                    first.consumer and first.consumer.bus_consumer and not await _lag(first)
                )

        await eventually(projected, what="the contacts to be projected")
        await _publish(broker, matched())
        await eventually(lambda: _received(smtp, PEOPLE), timeout=30, what=f"{PEOPLE} emails")

        async def settled() -> bool:
            # The SMTP server has the last message a moment before the sender records it as sent.
            async with first.db.sessions() as session:
                statuses = (await session.execute(select(deliveries.c.status))).scalars().all()
            return all(status not in ("pending", "sending") for status in statuses)

        await eventually(settled, what="every delivery to reach a final status")
        async with first.db.sessions() as session:
            rows = (await session.execute(select(deliveries.c.status, deliveries.c.attempts))).all()
        assert [(r.status, r.attempts) for r in rows] == [("sent", 1)] * PEOPLE, "no row was taken over"
        ids = [m.message["Message-ID"] for m in smtp.handler.messages()]
        assert len(ids) == len(set(ids)) == PEOPLE, "each email once"
    finally:
        await second.stop()
        await first.stop()


async def _lag(runtime) -> int:  # type: ignore[no-untyped-def]
    return sum((await runtime.consumer.bus_consumer.lag()).values())


async def _received(smtp: SmtpServer, count: int) -> bool:
    return len(smtp.handler.messages()) >= count
