"""GDPR erasure and right of access across the whole platform, on real Kafka and PostgreSQL.

All six services run as their own processes. A contact's data spreads the usual ways: a survey campaign
invites them (invitation email), a response reaches skills and matchmaking and the contact gets the match
email. The export collects what surveys and notifications hold about the contact; then the contact is erased
through the surveys API, and once every service has followed, every text, JSON and binary column of every
table of every service's database (outbox, inbox and audit log included) is searched for the contact's
address and name.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from tests.conftest import NewDatabase, asyncpg_dsn
from tests.e2e.foreign import prepare_loop, wait_for_match_email
from tests.e2e.scenario import ok, to
from tests.support import auth
from tests.support.distributed import SERVICES, Distributed, start_services
from tests.support.kafka import read_all
from tests.support.polling import eventually
from trellis.mailsink import MailSink
from trellis.privacy_cli import collect
from trellis_common.envelope import from_kafka

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ALL_SERVICES = (*SERVICES, "ingress")
HOLDERS = ("surveys", "notifications")  # the services that serve GET /privacy/contacts/{id}
SCANNED_TYPES = ("text", "character varying", "character", "json", "jsonb", "bytea")


@dataclass
class Scan:
    tables: int
    columns: int
    hits: Counter[str]  # "service.table.column" -> rows mentioning a needle


async def scan(databases: Mapping[str, str], needles: list[str]) -> Scan:
    """Every text/JSON/bytea column of every table of every database, searched case-insensitively."""
    tables = columns = 0
    hits: Counter[str] = Counter()
    for service, url in databases.items():
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            rows = await conn.fetch(
                "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
                "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
                "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' ORDER BY 1, 2"
            )
            tables += len({r["table_name"] for r in rows})
            for row in rows:
                if row["data_type"] not in SCANNED_TYPES:
                    continue
                columns += 1
                column = f'"{row["table_name"]}"."{row["column_name"]}"'
                as_text = f"convert_from({column}, 'UTF8')" if row["data_type"] == "bytea" else f"{column}::text"
                for needle in needles:
                    found = await conn.fetchval(
                        f'SELECT count(*) FROM "{row["table_name"]}" WHERE strpos(lower({as_text}), $1) > 0',
                        needle.lower(),
                    )
                    if found:
                        hits[f"{service}.{row['table_name']}.{row['column_name']}"] += found
        finally:
            await conn.close()
    return Scan(tables, columns, hits)


async def test_an_erased_contact_leaves_no_trace_in_any_service_database(
    distributed: Distributed, new_database: NewDatabase, smtp_sink: MailSink
) -> None:
    databases = await start_services(distributed, new_database, ALL_SERVICES)
    clients = {
        s: httpx.AsyncClient(headers=auth.admin(), base_url=p.url, timeout=10) for s, p in distributed.processes.items()
    }
    try:
        await run(distributed, databases, clients, smtp_sink)
    finally:
        for client in clients.values():
            await client.aclose()


async def run(
    distributed: Distributed, databases: Mapping[str, str], clients: Mapping[str, httpx.AsyncClient], smtp: MailSink
) -> None:
    prepared = await prepare_loop(clients, label="erasure")
    surveys, notifications = clients["surveys"], clients["notifications"]
    member = await ok(await surveys.get(f"/members/{prepared.member_id}"))
    [contact] = member["contacts"]
    contact_id, name, email = contact["id"], contact["name"], contact["email"]
    needles = [email, name]

    # The contact's data spreads: a response leads to the match email, a campaign invites them to a survey.
    token = auth.bearer("integration", clusters=(prepared.cluster_id,), subject="survey-tool")
    headers = {f"ce-{k}": v for k, v in prepared.attributes().items()} | {"content-type": "application/json"}
    posted = await clients["ingress"].post("/events", content=json.dumps(prepared.event_data), headers=headers | token)
    assert posted.status_code == 202, posted.text
    await wait_for_match_email(smtp, prepared)
    await ok(
        await surveys.post(f"/clusters/{prepared.cluster_id}/campaigns", json={"template_id": "digital-skills"}), 201
    )

    async def invited() -> bool:
        return len(to(email, smtp.messages)) == 2

    await eventually(invited, timeout=45, what=f"the survey invitation to {email}")
    await ok(await notifications.patch(f"/contacts/{contact_id}/preferences", json={"reminders": False}))

    urls = {s: distributed.processes[s].url for s in HOLDERS}
    before_export = await collect(contact_id, urls, auth.admin())
    assert before_export["found"] is True
    for service in HOLDERS:
        answer = before_export["services"][service]
        assert answer["found"] is True and email in json.dumps(answer), (service, answer)
    assert before_export["services"]["notifications"]["data"]["deliveries"], "no delivery log in the export"
    assert before_export["services"]["surveys"]["data"]["invitations"], "no invitation in the export"

    before = await scan(databases, needles)
    for expected in ("surveys.contacts.email", "notifications.contacts.email", "notifications.deliveries.to_address"):
        assert before.hits[expected] >= 1, (expected, before.hits)

    erased = await surveys.delete(f"/members/{prepared.member_id}/contacts/{contact_id}")
    assert erased.status_code == 204, erased.text
    assert (await ok(await surveys.get(f"/members/{prepared.member_id}")))["contacts"] == []

    async def forgotten() -> bool:
        return (await notifications.get(f"/contacts/{contact_id}")).status_code == 404

    await eventually(forgotten, timeout=30, what="notifications to forget the erased contact")
    after = await scan(databases, needles)
    after_export = await collect(contact_id, urls, auth.admin())

    print(
        f"\nscanned {after.tables} tables, {after.columns} text/JSON/bytea columns in {len(databases)} databases; "
        f"rows naming the contact before erasure: {sum(before.hits.values())} ({dict(before.hits)}), "
        f"after: {sum(after.hits.values())} ({dict(after.hits)})"
    )
    assert after.columns == before.columns and after.columns >= 100, after.columns
    assert not after.hits, f"the erased contact is still in {dict(after.hits)}"
    assert after_export["found"] is False, after_export
    for service in HOLDERS:
        assert after_export["services"][service]["found"] is False
    assert email not in json.dumps(after_export) and name not in json.dumps(after_export)

    # Kept for counts and audit, without the person: the delivery log rows and the campaign's invitation.
    log = await ok(await notifications.get("/deliveries", params={"cluster_id": prepared.cluster_id}))
    assert log["total"] >= 2 and all(item["to_address"] is None for item in log["items"]), log
    # The compacted topic's newest record of the member lists no contact.
    records = await read_all(distributed.kafka_bootstrap, f"{distributed.topic_prefix}surveys.member.changed.v1")
    latest = [r for r in records if r.key == prepared.member_id.encode()][-1]
    assert latest.value is not None
    assert from_kafka(latest.headers, latest.value).data["contacts"] == []  # type: ignore[index]
