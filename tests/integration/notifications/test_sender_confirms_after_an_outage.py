"""An email the relay took while the database was away is recorded once the database is back, not sent again after
its lease: the sender keeps trying the confirmation. Found by the chaos runs: each PostgreSQL restart resent the
emails of the chunk in flight (the same Message-IDs, but twice in the member's inbox)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest

from tests.integration.notifications.harness import Harness, SmtpServer, matched, member, running_service
from trellis_notifications.repositories import send_queue
from trellis_notifications.workers.sender import EmailSender


async def queued_match_email(service: Harness) -> None:
    await service.publish(member())
    await service.all_consumed()
    await service.publish(matched())
    await service.all_consumed()


async def test_a_sent_email_is_confirmed_after_the_database_comes_back(
    database_url: str, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_service(database_url, smtp, workers=False) as service:  # the test's sender only
        await queued_match_email(service)
        await _confirmed_late(service, monkeypatch)


async def _confirmed_late(service: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    record_sent = send_queue.record_sent
    refused = 0

    async def database_away_twice(session: Any, sent: Sequence[Any], now: datetime) -> set[str]:
        nonlocal refused
        if refused < 2:
            refused += 1
            raise ConnectionRefusedError(111, "the database is restarting")
        return await record_sent(session, sent, now)

    monkeypatch.setattr(send_queue, "record_sent", database_away_twice)
    sender = EmailSender(service.runtime, service.settings)
    try:
        assert await asyncio.wait_for(sender.send_due(asyncio.Event()), 30) >= 1
    finally:
        await sender.close()

    assert refused == 2, "the confirmation met the outage"
    [delivery] = await service.deliveries(template="matches")
    assert delivery["status"] == "sent"
    assert len(service.smtp.handler.messages()) == 1, "sent once, confirmed late"


async def test_a_stopping_sender_leaves_an_unconfirmed_email_to_its_lease(
    database_url: str, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shutting down while the database is away: no waiting it out, the row stays claimed (sent again after the
    lease with the same Message-ID: the documented at-least-once window)."""
    async with running_service(database_url, smtp, workers=False) as service:
        await queued_match_email(service)
        await _left_to_the_lease(service, monkeypatch)


async def _left_to_the_lease(service: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    async def database_away(session: Any, sent: Sequence[Any], now: datetime) -> set[str]:
        raise ConnectionRefusedError(111, "the database is restarting")

    monkeypatch.setattr(send_queue, "record_sent", database_away)
    sender = EmailSender(service.runtime, service.settings)
    stop = asyncio.Event()
    stop_soon = asyncio.get_running_loop().call_later(0.5, stop.set)
    try:
        with pytest.raises(ConnectionRefusedError):
            await asyncio.wait_for(sender.send_due(stop), 30)
    finally:
        stop_soon.cancel()
        await sender.close()
    [delivery] = await service.deliveries(template="matches")
    assert delivery["status"] == "sending"
