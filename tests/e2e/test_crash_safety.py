"""Crash safety on real Kafka and PostgreSQL: processes are SIGKILLed at the worst moments.

1. A consumer dies after its database commit and before its offset commit: the event is redelivered,
   recognised by the inbox, and nothing is doubled.
2. A relay dies after publishing and before marking its outbox rows sent: the event is published twice,
   and consumers still apply it once.
3. A consumer dies with a whole batch in flight, before or after the batch's database commit: each event of
   the batch is still applied once.
"""

from __future__ import annotations

import re

import asyncpg
import httpx
import pytest

from tests.conftest import NewDatabase, asyncpg_dsn
from tests.e2e.scenario import MEMBER_EMAIL, Platform, seed, submit_response, to, wait_for_mail
from tests.support import auth
from tests.support.distributed import Distributed, start_services
from tests.support.kafka import header, read_all
from tests.support.polling import eventually
from trellis.mailsink import MailSink
from trellis_common.catalogue import spec_for_model
from trellis_common.events import GapsAssessed, ResponseCompleted
from trellis_common.failpoints import CONSUMER_AFTER_DB_COMMIT, CONSUMER_BEFORE_DB_COMMIT, RELAY_AFTER_PUBLISH

RESPONSES = spec_for_model(ResponseCompleted).type


def on_responses(failpoint: str) -> str:
    """The failpoint armed for a batch holding a survey response (skills also reads member events first)."""
    return f"{failpoint}@{RESPONSES}"


async def count(database_url: str, sql: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


def consumed(metrics: str, outcome: str, event_type: str) -> float:
    pattern = (
        rf'trellis_events_consumed_total\{{[^}}]*outcome="{outcome}"[^}}]*type="{re.escape(event_type)}"[^}}]*\}} (\S+)'
    )
    alt = (
        rf'trellis_events_consumed_total\{{[^}}]*type="{re.escape(event_type)}"[^}}]*outcome="{outcome}"[^}}]*\}} (\S+)'
    )
    found = re.search(pattern, metrics) or re.search(alt, metrics)
    return float(found.group(1)) if found else 0.0


async def platform_for(distributed: Distributed, smtp_sink: MailSink) -> Platform:
    clients = {
        s: httpx.AsyncClient(headers=auth.admin(), base_url=p.url, timeout=10) for s, p in distributed.processes.items()
    }
    return Platform(clients, lambda: smtp_sink.messages)


async def test_consumer_killed_between_db_commit_and_offset_commit(
    distributed: Distributed, new_database: NewDatabase, smtp_sink: MailSink
) -> None:
    dbs = await start_services(distributed, new_database, skills=on_responses(CONSUMER_AFTER_DB_COMMIT))
    platform = await platform_for(distributed, smtp_sink)
    await seed(platform)
    await submit_response(platform, "member")

    skills = distributed.processes["skills"]
    assert await skills.wait_exit() == -9, "the failpoint killed skills right after its DB commit"
    assert await count(dbs["skills"], "SELECT count(*) FROM assessments") == 1
    assert await count(dbs["skills"], f"SELECT count(*) FROM inbox WHERE event_type = '{RESPONSES}'") == 1

    skills.start()  # same database, same consumer group, no failpoint
    await skills.wait_ready()
    await wait_for_mail(platform, MEMBER_EMAIL)

    async with httpx.AsyncClient(headers=auth.admin(), base_url=skills.url) as client:
        metrics = await eventually(
            lambda: _metrics_with(client, "duplicate"), what="the redelivered event to be recognised"
        )
    assert consumed(metrics, "duplicate", RESPONSES) == 1, "the uncommitted offset was redelivered"
    assert consumed(metrics, "processed", RESPONSES) == 0, "…and not applied a second time"
    # A last barrier through the whole pipeline before counting.
    await submit_response(platform, "other")
    await wait_for_mail(platform, "other@sme.example")
    assert await count(dbs["skills"], "SELECT count(*) FROM assessments") == 2
    assert await count(dbs["skills"], "SELECT count(*) FROM outbox") == 2, "one gaps event per response"
    assert await count(dbs["matchmaking"], "SELECT count(*) FROM match_runs") == 2
    assert len(to(MEMBER_EMAIL, smtp_sink.messages)) == 1
    print(
        f"\ncrash (consumer): assessments=2 match_runs=2 emails_to_member={len(to(MEMBER_EMAIL, smtp_sink.messages))}"
    )
    for client in platform.clients.values():
        await client.aclose()


async def _metrics_with(client: httpx.AsyncClient, outcome: str) -> str | None:
    text = (await client.get("/metrics")).text
    return text if f'outcome="{outcome}"' in text else None


async def test_relay_killed_between_publish_and_marking_sent(
    distributed: Distributed, new_database: NewDatabase, smtp_sink: MailSink
) -> None:
    dbs = await start_services(distributed, new_database, skills=RELAY_AFTER_PUBLISH)
    platform = await platform_for(distributed, smtp_sink)
    await seed(platform)
    await submit_response(platform, "member")

    skills = distributed.processes["skills"]
    assert await skills.wait_exit() == -9, "the failpoint killed skills right after publishing"
    assert await count(dbs["skills"], "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 1

    skills.start()
    await skills.wait_ready()
    await wait_for_mail(platform, MEMBER_EMAIL)

    gaps_topic = spec_for_model(GapsAssessed).topic(distributed.topic_prefix)
    records = await eventually(
        lambda: _n_records(distributed.kafka_bootstrap, gaps_topic, 2), what="the re-published gaps event"
    )
    assert len({header(r, "ce_id") for r in records}) == 1, "the same event, published twice"
    await eventually(lambda: _outbox_empty(dbs["skills"]), what="the outbox to be marked sent")

    await submit_response(platform, "other")
    await wait_for_mail(platform, "other@sme.example")
    assert await count(dbs["matchmaking"], "SELECT count(*) FROM match_runs") == 2, "applied once despite two copies"
    assert (
        await count(dbs["notifications"], "SELECT count(*) FROM deliveries WHERE to_address = 'member@sme.example'")
        == 1
    )
    assert len(to(MEMBER_EMAIL, smtp_sink.messages)) == 1
    print(f"\ncrash (relay): gaps records on Kafka={len(records)} match_runs=2 emails_to_member=1")
    for client in platform.clients.values():
        await client.aclose()


async def _n_records(bootstrap: str, topic: str, n: int):  # type: ignore[no-untyped-def]
    records = await read_all(bootstrap, topic)
    return records if len(records) >= n else None


async def _outbox_empty(url: str) -> bool:
    return await count(url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0


@pytest.mark.parametrize("failpoint", [CONSUMER_BEFORE_DB_COMMIT, CONSUMER_AFTER_DB_COMMIT])
async def test_a_consumer_killed_with_a_batch_in_flight_applies_each_event_once(
    distributed: Distributed, new_database: NewDatabase, smtp_sink: MailSink, failpoint: str
) -> None:
    """A dozen responses wait on Kafka; skills starts, takes them as one batch and is killed with it in flight:
    before its database commit (nothing of the batch may remain) or after it (all of it stays, and the
    redelivered batch is recognised). Restarted, every response is assessed, matched and emailed once."""
    responses = 12
    dbs = await start_services(distributed, new_database)
    platform = await platform_for(distributed, smtp_sink)
    await seed(platform)
    skills = distributed.processes["skills"]
    skills.stop()
    for n in range(responses):
        await submit_response(platform, "member" if n % 2 else "other")

    skills.start(TRELLIS_FAILPOINTS=on_responses(failpoint))
    assert await skills.wait_exit() == -9, f"the failpoint {failpoint} killed skills"
    assessed = await count(dbs["skills"], "SELECT count(*) FROM assessments")
    inboxed = await count(dbs["skills"], f"SELECT count(*) FROM inbox WHERE event_type = '{RESPONSES}'")
    if failpoint == CONSUMER_BEFORE_DB_COMMIT:
        assert (assessed, inboxed) == (0, 0), "a batch killed before its commit leaves nothing"
    else:
        assert 1 < assessed == inboxed <= responses, "the batch was applied together"

    skills.start()
    await skills.wait_ready()

    async def all_mailed() -> bool:
        members = to(MEMBER_EMAIL, smtp_sink.messages) + to("other@sme.example", smtp_sink.messages)
        return len(members) >= responses

    await eventually(all_mailed, timeout=120, what=f"{responses} match emails")
    await eventually(lambda: _outbox_empty(dbs["skills"]), what="skills' outbox to be published")
    assert await count(dbs["skills"], "SELECT count(*) FROM assessments") == responses
    assert await count(dbs["skills"], "SELECT count(*) FROM outbox") == responses, "one gaps event per response"
    assert await count(dbs["matchmaking"], "SELECT count(*) FROM match_runs WHERE reason = 'assessment'") == responses
    emails = to(MEMBER_EMAIL, smtp_sink.messages) + to("other@sme.example", smtp_sink.messages)
    assert len(emails) == responses and len({m.message["Message-ID"] for m in emails}) == responses
    print(f"\ncrash ({failpoint}, {responses} responses): assessed before the restart={assessed}, emails={len(emails)}")
    for client in platform.clients.values():
        await client.aclose()
