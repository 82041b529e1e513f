"""GDPR erasure and right of access in notifications: a contact that surveys.member.changed no longer lists is
forgotten in the handler's transaction, everywhere the service keeps it (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from tests.integration.notifications.harness import Harness, eventually, invitation, matched, member, review_due
from trellis_common.db import messaging_metadata, outbox
from trellis_common.events import ContactRole
from trellis_common.privacy import row_text
from trellis_notifications.models import metadata

ANNA = ("contact-1", "Anna Quellmalz", "en", ContactRole.MEMBER_CONTACT)
BEN = ("contact-2", "Ben Okafor", "en", ContactRole.CLUSTER_MANAGER)
ANNA_ADDRESS = "contact-1@member.example"  # as the harness builds addresses
LATER = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


async def rows_naming(service: Harness, *needles: str) -> list[str]:
    wanted = [n.lower() for n in needles]
    found = []
    async with service.runtime.db.sessions() as session:
        for table in [*metadata.sorted_tables, *messaging_metadata.sorted_tables]:
            for row in (await session.execute(select(table))).mappings():
                if any(n in row_text(*row.values()) for n in wanted):
                    found.append(f"{table.name}: {dict(row)}")
    return found


async def test_a_contact_left_out_of_its_member_is_erased(service: Harness) -> None:
    await service.publish(member(people=[ANNA, BEN]))
    await service.all_consumed()
    async with service.api() as api:
        # Anna's matches wait for her digest; Ben's review reminders go to Anna instead.
        await api.patch("/contacts/contact-1/preferences", json={"match_delivery": "weekly_digest"})
        await api.patch("/contacts/contact-2/preferences", json={"review_redirect": {"contact_id": "contact-1"}})
        await service.publish(matched())  # Ben by email, Anna in her digest
        await service.publish(review_due())  # Ben's reminder, sent to Anna's address on his behalf
        await service.emails(2)
        service.smtp.stop()
        await service.publish(invitation("contact-1"))  # cannot be sent: stays pending

        async def pending() -> list[dict[str, Any]]:
            return await service.deliveries(status="pending")

        await eventually(pending, "the invitation to wait for the SMTP server")
        before = await api.get("/privacy/contacts/contact-1")
        assert before.status_code == 200
        exported = before.json()
        assert exported["found"] is True and ANNA_ADDRESS in before.text
        assert len(exported["data"]["digest_items"]) == 1 and exported["data"]["review_redirects_from"] == ["contact-2"]
        assert {d["template"] for d in exported["data"]["deliveries"]} >= {"review_reminder", "survey_invitation"}
        assert await rows_naming(service, ANNA_ADDRESS, ANNA[1])
        counted = len(await service.deliveries())

        await service.publish(member(people=[BEN], changed_at=LATER))  # Anna erased (or gone) in surveys
        await service.all_consumed()

        assert (await api.get("/contacts/contact-1")).status_code == 404
        assert await rows_naming(service, ANNA_ADDRESS, ANNA[1]) == []
        after = (await api.get("/privacy/contacts/contact-1")).json()
        assert after["found"] is False, after
        ben = (await api.get("/contacts/contact-2/preferences")).json()
        assert ben["review_redirect"] is None, "Ben's reviews no longer go to Anna"
        assert (await api.get("/contacts/contact-2")).status_code == 200

    rows = await service.deliveries()
    assert len(rows) == counted, "the delivery log keeps its rows for counts and audit"
    statuses = sorted(r["status"] for r in rows if r["contact_id"].startswith("erased:"))
    assert statuses == ["cancelled"], "Anna's invitation is cancelled and unlinked from her"
    redirected = [r for r in rows if r["template"] == "review_reminder"]
    assert [(r["contact_id"], r["to_address"], r["subject"]) for r in redirected] == [("contact-2", None, None)]
    async with service.runtime.db.sessions() as session:
        keys = (await session.scalars(select(outbox.c.key).where(outbox.c.sent_at.is_not(None)))).all()
    assert "contact-1" not in keys and "contact-2" in keys, keys


async def test_the_same_contacts_again_erase_nothing(service: Harness) -> None:
    await service.publish(member(people=[ANNA, BEN]))
    await service.all_consumed()
    async with service.api() as api:
        await api.patch("/contacts/contact-1/preferences", json={"matches": False})
        await service.publish(member(people=[ANNA, BEN], changed_at=LATER))
        await service.all_consumed()
        prefs = (await api.get("/contacts/contact-1/preferences")).json()
        assert prefs["matches"] is False
        assert (await api.get("/privacy/contacts/contact-1")).json()["found"] is True
