"""The notifications service's delivery machinery: matches, reviews and invitations reach the right people
once, through outages, refusals, crashes, concurrent senders and erasure (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from unittest.mock import patch

import httpx
import pytest
from sqlalchemy import func, insert, select

from tests.integration.notifications.harness import (
    MAIL_DOMAIN,
    TWO_CONTACTS,
    Harness,
    SmtpServer,
    emails_total,
    events_consumed,
    eventually,
    invitation,
    matched,
    member,
    ready,
    review_due,
)
from tests.support import auth
from tests.support.runtime import runtime_for
from trellis.deliveries_cli import resend
from trellis_common.app import create_app
from trellis_common.bus.memory import InMemoryBroker, InMemoryBus
from trellis_common.catalogue import spec_for_model
from trellis_common.consumer import Incoming
from trellis_common.envelope import CloudEvent
from trellis_common.events import (
    ContactRole,
    EmailDelivered,
    EmailFailed,
    InvitationRequested,
    MemberChanged,
    PartnersMatched,
)
from trellis_notifications.domain.deliveries import message_id_for
from trellis_notifications.handlers import on_partners_matched
from trellis_notifications.models import contacts, deliveries
from trellis_notifications.service import DEFINITION
from trellis_notifications.settings import NotificationsSettings
from trellis_notifications.workers.sender import EmailSender

# -------------------------------------------------------------------------------------------------- tests


async def test_member_then_matches_sends_one_email_with_the_matches(service: Harness) -> None:
    await service.publish(member())
    await service.all_consumed()
    event = await service.publish(matched())

    [mail] = await service.emails(1)
    assert mail.rcpt_tos == ["contact-1@member.example"]
    assert mail.mail_from == "notifications@notifications.test"
    assert mail.message["To"].addresses[0].display_name == "Anna Schmidt"
    # The cluster writes: its name is the sender's and the email's, and the member is named.
    assert mail.message["From"].addresses[0].display_name == "Rhine Photonics Cluster"
    assert mail.message["From"].addresses[0].addr_spec == "notifications@notifications.test"
    assert mail.message["Subject"] == "2 collaboration partner proposals for your skill gaps"
    assert mail.message["Message-ID"] == message_id_for(event.id, "contact-1", "matches", MAIL_DOMAIN)
    for expected in (
        "Rhine Photonics Cluster",
        "Member member-1",
        "Digital Innovation Hub North",
        "Cyber security for SMEs",
        "Protecting personal data and privacy",
        "86%",
        "Data literacy masterclass",
        "on site",
        "3 members, 12 seats",
    ):
        assert expected in mail.text, expected
        assert expected in mail.html, expected
    assert "digcomp:" not in mail.text and "digcomp:" not in mail.html

    [row] = await service.deliveries()
    assert row["status"] == "sent" and row["attempts"] == 1 and row["sent_at"] is not None
    assert row["message_id"] == mail.message["Message-ID"]
    assert row["correlation_id"] == "correlation-1"

    delivered_topic = spec_for_model(EmailDelivered).topic()
    records = await eventually(lambda: ready(service.broker.topics[delivered_topic]), "EmailDelivered on the bus")
    assert len(records) == 1
    assert b'"delivery_id":"' + row["id"].encode() + b'"' in (records[0].value or b"")
    assert ("ce_correlationid", b"correlation-1") in records[0].headers


async def test_the_same_matched_event_twice_sends_one_email(service: Harness) -> None:
    await service.publish(member())
    await service.all_consumed()
    duplicates_before = events_consumed(PartnersMatched, "duplicate")
    event = await service.publish(matched())
    await service.republish(event, "member-1")  # redelivered: same CloudEvent id
    await service.all_consumed()

    await service.emails(1)
    assert len(await service.deliveries()) == 1
    assert events_consumed(PartnersMatched, "duplicate") - duplicates_before == 1


async def test_the_unique_delivery_key_holds_even_without_the_inbox(service: Harness) -> None:
    await service.publish(member())
    await service.all_consumed()
    data = matched()
    envelope = CloudEvent(id="event-42", source="/tests", type=spec_for_model(PartnersMatched).type)
    for _ in range(2):  # two transactions, neither claiming an inbox row
        async with service.runtime.unit_of_work(cause=envelope) as uow:
            await on_partners_matched(uow, Incoming(envelope, data, "member-1"))
    await service.emails(1)
    assert [r["cause_event_id"] for r in await service.deliveries()] == ["event-42"]


async def test_matches_before_the_member_are_parked_then_delivered(service: Harness) -> None:
    event = await service.publish(matched())
    await service.all_consumed()
    [parked] = await service.deliveries()
    assert parked["status"] == "parked"
    assert parked["contact_id"] == "member:member-1"
    assert parked["payload"]["match_run_id"] == event.data["match_run_id"]  # type: ignore[index]
    assert service.smtp.handler.messages() == []

    await service.publish(member(people=TWO_CONTACTS))
    mails = await service.emails(2)
    by_recipient = {m.rcpt_tos[0]: m for m in mails}
    assert by_recipient["contact-1@member.example"].message["Subject"].startswith("2 collaboration partner")
    assert by_recipient["contact-2@member.example"].message["Subject"].startswith("2 Vorschläge")
    assert "Guten Tag Jürgen Müller," in by_recipient["contact-2@member.example"].text

    rows = await service.deliveries()
    assert sorted(r["contact_id"] for r in rows) == ["contact-1", "contact-2"]
    assert all(r["status"] == "sent" and r["cause_event_id"] == event.id for r in rows)
    assert {m.message["Message-ID"] for m in mails} == {
        message_id_for(event.id, c, "matches", MAIL_DOMAIN) for c in ("contact-1", "contact-2")
    }


async def test_an_smtp_outage_is_retried_and_each_email_sent_exactly_once(service: Harness) -> None:
    retried_before = emails_total("retried")
    service.smtp.stop()
    await service.publish(member(people=TWO_CONTACTS))
    await service.all_consumed()
    await service.publish(matched())

    async def attempted(times: int) -> list[dict[str, Any]]:
        rows = await service.deliveries()
        ok = len(rows) == 2 and all(r["status"] == "pending" and r["attempts"] == times for r in rows)
        return rows if ok else []

    rows = await eventually(lambda: attempted(1), "a first failed attempt")
    now = service.clock.now()
    for row in rows:
        assert "cannot connect to the SMTP relay" in row["last_error"]
        assert row["next_attempt_at"] == now + timedelta(seconds=1)  # base backoff

    service.advance(timedelta(seconds=1))
    rows = await eventually(lambda: attempted(2), "a second failed attempt")
    assert all(r["next_attempt_at"] == service.clock.now() + timedelta(seconds=2) for r in rows)
    assert emails_total("retried") - retried_before == 4

    service.smtp.start()
    service.advance(timedelta(seconds=2))
    mails = await service.emails(2)
    assert sorted(m.rcpt_tos[0] for m in mails) == ["contact-1@member.example", "contact-2@member.example"]
    assert len({m.message["Message-ID"] for m in mails}) == 2
    rows = await service.deliveries()
    assert all(r["status"] == "sent" and r["attempts"] == 3 for r in rows)


async def test_a_temporary_refusal_is_retried(service: Harness) -> None:
    service.smtp.handler.data_replies.append("451 4.3.0 Try again later")
    await service.publish(member())
    await service.all_consumed()
    await service.publish(matched())

    async def deferred() -> list[dict[str, Any]]:
        rows = await service.deliveries()
        return rows if rows and rows[0]["status"] == "pending" and rows[0]["attempts"] == 1 else []

    [row] = await eventually(deferred, "the 451 to defer the email")
    assert row["last_error"].startswith("451")
    service.advance(timedelta(seconds=1))
    await service.emails(1)
    [row] = await service.deliveries()
    assert row["status"] == "sent" and row["attempts"] == 2


@pytest.mark.parametrize("stage", ["rcpt", "data"])
async def test_a_permanent_refusal_fails_the_delivery_and_emits_email_failed(service: Harness, stage: str) -> None:
    reply = "550 5.1.1 <contact-1@member.example>: mailbox unavailable"
    if stage == "rcpt":
        service.smtp.handler.rcpt_reply = reply
    else:
        service.smtp.handler.data_replies.append(reply)
    failed_before = emails_total("failed")
    await service.publish(member())
    await service.all_consumed()
    event = await service.publish(matched())

    async def failed() -> list[dict[str, Any]]:
        rows = await service.deliveries(status="failed")
        return rows

    [row] = await eventually(failed, "the delivery to fail")
    assert row["attempts"] == 1  # a 5xx is not retried
    assert row["last_error"] == "550 5.1.1 <<recipient>>: mailbox unavailable"
    assert emails_total("failed") - failed_before == 1

    [payload] = await eventually(lambda: service.outbox_events(spec_for_model(EmailFailed).type), "EmailFailed")
    failure = EmailFailed.model_validate_json(payload)
    assert failure.delivery_id == row["id"]
    assert failure.cause_event_id == event.id
    assert failure.contact_id == "contact-1"
    assert failure.template == "matches"
    assert failure.message_id == message_id_for(event.id, "contact-1", "matches", MAIL_DOMAIN)
    assert "member.example" not in failure.error  # no personal data in audit events
    assert service.smtp.handler.messages() == []


async def test_review_due_emails_every_cluster_manager(service: Harness) -> None:
    await service.publish(
        member(
            "member-1",
            people=[
                ("manager-1", "Clara Manager", "de", ContactRole.CLUSTER_MANAGER),
                ("contact-1", "Anna Schmidt", "en", ContactRole.MEMBER_CONTACT),
            ],
        )
    )
    await service.publish(member("member-2", people=[("manager-2", "Mark Manager", "en", ContactRole.CLUSTER_MANAGER)]))
    await service.publish(
        member("member-9", cluster_id="cluster-9", people=[("manager-9", "Other", "en", ContactRole.CLUSTER_MANAGER)])
    )
    await service.all_consumed()
    event = await service.publish(review_due("cluster-1"))

    mails = await service.emails(2)
    by_recipient = {m.rcpt_tos[0]: m for m in mails}
    assert set(by_recipient) == {"manager-1@member.example", "manager-2@member.example"}
    assert by_recipient["manager-1@member.example"].message["Subject"] == (
        "Strategieüberprüfung heute fällig: Aviation skills 2030"
    )
    english = by_recipient["manager-2@member.example"]
    assert english.message["Subject"] == "Strategy review due today: Aviation skills 2030"
    assert "31\xa0March 2026" in english.text and "Pool the cyber training" in english.text
    rows = await service.deliveries()
    assert {(r["contact_id"], r["template"], r["cause_event_id"]) for r in rows} == {
        ("manager-1", "review_reminder", event.id),
        ("manager-2", "review_reminder", event.id),
    }


async def test_review_due_before_any_cluster_manager_waits_for_one(service: Harness) -> None:
    await service.publish(review_due("cluster-1"))
    await service.all_consumed()
    [parked] = await service.deliveries()
    assert (parked["status"], parked["contact_id"]) == ("parked", "cluster:cluster-1")

    await service.publish(member("member-1"))  # a member contact only: still nobody to remind
    await service.all_consumed()
    assert [r["status"] for r in await service.deliveries()] == ["parked"]

    await service.publish(member("member-2", people=[("manager-2", "Mark Manager", "en", ContactRole.CLUSTER_MANAGER)]))
    [mail] = await service.emails(1)
    assert mail.rcpt_tos == ["manager-2@member.example"]
    assert [(r["contact_id"], r["status"]) for r in await service.deliveries()] == [("manager-2", "sent")]


async def test_survey_invitation_and_reminder(service: Harness) -> None:
    await service.publish(member())
    await service.all_consumed()
    await service.publish(invitation(reminder=0))
    await service.publish(invitation(reminder=1))
    mails = await service.emails(2)
    subjects = sorted(m.message["Subject"] for m in mails)
    assert subjects == ["Reminder: Digital skills check 2026", "Survey invitation: Digital skills check 2026"]
    assert all("https://surveys.trellis.example/s/abc?sig=1" in m.text for m in mails)
    assert sorted(r["template"] for r in await service.deliveries()) == ["survey_invitation", "survey_reminder"]


async def test_an_invitation_for_an_unknown_contact_waits_for_it(service: Harness) -> None:
    await service.publish(invitation(contact_id="contact-7"))
    await service.all_consumed()
    [parked] = await service.deliveries()
    assert (parked["status"], parked["contact_id"]) == ("parked", "contact:contact-7")
    await service.publish(member(people=[("contact-7", "Nina Neu", "de", ContactRole.MEMBER_CONTACT)]))
    [mail] = await service.emails(1)
    assert mail.message["Subject"] == "Einladung zur Umfrage: Digital skills check 2026"


async def test_an_invitation_with_a_non_web_link_is_dead_lettered(service: Harness) -> None:
    await service.publish(member())
    await service.publish(invitation(link="javascript:alert(1)"))
    await service.all_consumed()
    dlq = spec_for_model(InvitationRequested).dlq_topic()
    [record] = await eventually(lambda: ready(service.broker.topics[dlq]), "the invitation in the DLQ")
    assert any(name == "trellis_error" and b"http(s)" in value for name, value in record.headers)
    assert await service.deliveries() == []


async def test_a_tombstone_erases_the_member(service: Harness) -> None:
    app = create_app(DEFINITION, runtime=service.runtime, manage_runtime=False)
    async with httpx.AsyncClient(
        headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url="http://notifications"
    ) as api:
        await service.publish(member(people=TWO_CONTACTS))
        await service.all_consumed()
        response = await api.get("/contacts/contact-1")
        assert response.status_code == 200
        assert response.json()["email"] == "contact-1@member.example"

        await service.publish(matched())  # delivered to both
        await service.emails(2)
        service.smtp.stop()
        await service.publish(invitation("contact-1"))  # cannot be sent: stays pending

        async def pending() -> list[dict[str, Any]]:
            return await service.deliveries(status="pending")

        await eventually(pending, "the invitation to wait for the relay")

        await service.publish(None, key="member-1", spec_model=MemberChanged)
        await service.all_consumed()

        for contact_id in ("contact-1", "contact-2"):
            assert (await api.get(f"/contacts/{contact_id}")).status_code == 404
        async with service.runtime.db.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(contacts)) == 0
        rows = await service.deliveries()
        assert sorted(r["status"] for r in rows) == ["cancelled", "sent", "sent"]
        for row in rows:
            assert row["to_address"] is None and row["to_name"] is None
            assert row["text_body"] is None and row["html_body"] is None


async def test_a_send_interrupted_by_a_crash_is_resent_after_the_lease(service: Harness) -> None:
    await service.publish(member(people=TWO_CONTACTS))
    await service.all_consumed()
    resent_before = emails_total("resent_after_crash")
    now = service.clock.now()
    lease = timedelta(seconds=service.runtime.settings.send_lease_s)  # type: ignore[attr-defined]
    # Two rows a sender claimed and then died with: one just now, one longer ago than the lease.
    crashed = {
        "contact-1": now - lease - timedelta(seconds=1),
        "contact-2": now - timedelta(seconds=5),
    }
    async with service.runtime.db.transaction() as session:
        for contact_id, claimed_at in crashed.items():
            await session.execute(
                insert(deliveries).values(
                    id=f"delivery-{contact_id}",
                    cause_event_id="event-crashed",
                    contact_id=contact_id,
                    member_id="member-1",
                    cluster_id="cluster-1",
                    template="matches",
                    to_address=f"{contact_id}@member.example",
                    to_name="Someone",
                    subject="Proposals",
                    text_body="text",
                    html_body="<p>html</p>",
                    message_id=message_id_for("event-crashed", contact_id, "matches", MAIL_DOMAIN),
                    status="sending",
                    attempts=1,
                    next_attempt_at=claimed_at,
                    claimed_at=claimed_at,
                    created_at=claimed_at,
                )
            )
    service.runtime.wake_workers()

    [mail] = await eventually(lambda: ready(service.smtp.handler.messages()), "the resend")
    assert mail.rcpt_tos == ["contact-1@member.example"]
    assert mail.message["Message-ID"] == message_id_for("event-crashed", "contact-1", "matches", MAIL_DOMAIN)
    assert emails_total("resent_after_crash") - resent_before == 1
    rows = {r["contact_id"]: r for r in await eventually(lambda: service.deliveries(status="sent"), "sent")}
    assert rows["contact-1"]["attempts"] == 2
    [still_leased] = await service.deliveries(contact_id="contact-2")
    assert still_leased["status"] == "sending"  # its sender may still be alive: not due yet

    service.advance(lease)
    await service.emails(2)


async def test_the_delivery_log_api(service: Harness) -> None:
    app = create_app(DEFINITION, runtime=service.runtime, manage_runtime=False)
    async with httpx.AsyncClient(
        headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url="http://notifications"
    ) as api:
        await service.publish(member(people=TWO_CONTACTS))
        await service.publish(
            member(
                "member-9", cluster_id="cluster-9", people=[("contact-9", "Other", "en", ContactRole.MEMBER_CONTACT)]
            )
        )
        await service.all_consumed()
        await service.publish(matched())
        await service.publish(matched("member-9", "cluster-9"))
        await service.emails(3)

        page = (await api.get("/deliveries", params={"cluster_id": "cluster-1"})).json()
        assert page["total"] == 2 and page["limit"] == 50 and page["offset"] == 0
        item = next(i for i in page["items"] if i["contact_id"] == "contact-1")
        for key in (
            "id",
            "template",
            "status",
            "attempts",
            "last_error",
            "message_id",
            "to_address",
            "created_at",
            "sent_at",
        ):
            assert key in item
        assert {i["status"] for i in page["items"]} == {"sent"}

        first = (await api.get("/deliveries", params={"limit": 1, "offset": 0})).json()
        second = (await api.get("/deliveries", params={"limit": 1, "offset": 1})).json()
        assert first["total"] == 3 and len(first["items"]) == 1
        assert first["items"][0]["id"] != second["items"][0]["id"]
        assert (await api.get("/deliveries", params={"member_id": "member-9"})).json()["total"] == 1
        assert (await api.get("/deliveries", params={"status": "failed"})).json()["total"] == 0

        detail = (await api.get(f"/deliveries/{item['id']}")).json()
        assert detail["subject"] == "2 collaboration partner proposals for your skill gaps"
        assert detail["correlation_id"] == "correlation-1"

        assert (await api.get("/deliveries/nope")).status_code == 404
        assert (await api.get("/contacts/nope")).status_code == 404
        too_many = await api.get("/deliveries", params={"limit": 201})
        assert too_many.status_code == 422 and "limit" in str(too_many.json())
        bad_status = await api.get("/deliveries", params={"status": "lost"})
        assert bad_status.status_code == 422 and "status" in str(bad_status.json())


async def test_concurrent_senders_send_each_email_once(database_url: str, smtp: SmtpServer) -> None:
    """Three sender replicas with small batches compete for 24 emails: each goes out once, on its first claim."""
    broker = InMemoryBroker()
    runtime = runtime_for(
        DEFINITION,
        database_url=database_url,
        bus=InMemoryBus(broker),
        clock="manual",
        workers=False,  # the replicas below are the only senders
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_starttls=False,
        mail_domain=MAIL_DOMAIN,
        sender_poll_interval_s=0.02,
        send_batch_size=3,
    )
    assert isinstance(runtime.settings, NotificationsSettings)
    await runtime.start()
    harness = Harness(runtime, broker, smtp)
    stop = asyncio.Event()
    replicas = [asyncio.create_task(EmailSender(runtime, runtime.settings).run(stop)) for _ in range(3)]
    try:
        people = [(f"contact-{i:02d}", f"Person {i}", "en", ContactRole.MEMBER_CONTACT) for i in range(24)]
        await harness.publish(member(people=people))
        await harness.all_consumed()
        await harness.publish(matched())
        mails = await harness.emails(24)
        assert len({m.message["Message-ID"] for m in mails}) == 24
        rows = await harness.deliveries()
        assert len(rows) == 24 and all(r["status"] == "sent" and r["attempts"] == 1 for r in rows)
    finally:
        stop.set()
        await asyncio.gather(*replicas)
        await runtime.stop()


async def test_a_claimed_email_that_is_no_longer_ours_is_not_sent(database_url: str, smtp: SmtpServer) -> None:
    """Between claim and send the member is erased: the renewed claim fails and nothing goes out."""
    broker = InMemoryBroker()
    runtime = runtime_for(
        DEFINITION,
        database_url=database_url,
        bus=InMemoryBus(broker),
        clock="manual",
        workers=False,  # this test is the sender
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_starttls=False,
        mail_domain=MAIL_DOMAIN,
    )
    assert isinstance(runtime.settings, NotificationsSettings)
    await runtime.start()
    harness = Harness(runtime, broker, smtp)
    try:
        await harness.publish(member(people=TWO_CONTACTS))
        await harness.all_consumed()
        await harness.publish(matched())
        await harness.all_consumed()
        sender = EmailSender(runtime, runtime.settings)
        batch, exhausted = await sender.claim()
        assert len(batch) == 2 and exhausted == []
        assert {r["status"] for r in await harness.deliveries()} == {"sending"}

        await harness.publish(None, key="member-1", spec_model=MemberChanged)
        await harness.all_consumed()
        await sender.send_batch(batch, asyncio.Event())

        assert smtp.handler.messages() == []
        assert {r["status"] for r in await harness.deliveries()} == {"cancelled"}
    finally:
        await runtime.stop()


async def test_a_stalling_relay_is_abandoned_within_the_lease(database_url: str, smtp: SmtpServer) -> None:
    """A relay slower than half the lease: the sender gives up on the exchange and schedules a retry."""
    smtp.handler.stall_s = 2.0
    broker = InMemoryBroker()
    runtime = runtime_for(
        DEFINITION,
        database_url=database_url,
        bus=InMemoryBus(broker),
        clock="manual",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_starttls=False,
        mail_domain=MAIL_DOMAIN,
        sender_poll_interval_s=0.05,
        send_lease_s=1.0,  # so each message has 0.5 s
    )
    await runtime.start()
    harness = Harness(runtime, broker, smtp)
    try:
        await harness.publish(member())
        await harness.all_consumed()
        await harness.publish(matched())

        async def deferred() -> list[dict[str, Any]]:
            rows = await harness.deliveries(status="pending")
            return rows if rows and rows[0]["attempts"] == 1 else []

        [row] = await eventually(deferred, "the stalled send to be scheduled for a retry")
        assert row["last_error"].startswith("TimeoutError")
        assert row["next_attempt_at"] > harness.clock.now()
    finally:
        await runtime.stop()


async def test_an_email_is_given_up_after_max_attempts(service: Harness) -> None:
    service.smtp.stop()
    await service.publish(member())
    await service.all_consumed()
    await service.publish(matched())
    max_attempts = 5  # the fixture's setting
    for attempt in range(1, max_attempts):

        async def failed_attempt(n: int = attempt) -> list[dict[str, Any]]:
            return [r for r in await service.deliveries(status="pending") if r["attempts"] == n]

        [row] = await eventually(failed_attempt, f"failed attempt {attempt}")
        service.advance(row["next_attempt_at"] - service.clock.now())

    [row] = await eventually(lambda: service.deliveries(status="failed"), "the delivery to be given up")
    assert row["attempts"] == max_attempts
    assert row["last_error"].startswith(f"gave up after {max_attempts} attempts: cannot connect to the SMTP relay")
    [payload] = await eventually(lambda: service.outbox_events(spec_for_model(EmailFailed).type), "EmailFailed")
    assert EmailFailed.model_validate_json(payload).attempts == max_attempts


async def test_a_crashed_send_without_attempts_left_fails_instead_of_sending(service: Harness) -> None:
    now = service.clock.now()
    long_ago = now - timedelta(hours=1)
    async with service.runtime.db.transaction() as session:
        await session.execute(
            insert(deliveries).values(
                id="delivery-exhausted",
                cause_event_id="event-crashed",
                contact_id="contact-1",
                member_id="member-1",
                cluster_id="cluster-1",
                template="matches",
                to_address="contact-1@member.example",
                to_name="Anna Schmidt",
                subject="Proposals",
                text_body="text",
                html_body="<p>html</p>",
                message_id=message_id_for("event-crashed", "contact-1", "matches", MAIL_DOMAIN),
                status="sending",
                attempts=5,  # max_attempts, the last one interrupted
                next_attempt_at=long_ago,
                claimed_at=long_ago,
                created_at=long_ago,
            )
        )
    service.runtime.wake_workers()
    [row] = await eventually(lambda: service.deliveries(status="failed"), "the exhausted delivery to fail")
    assert row["attempts"] == 5 and "interrupted" in row["last_error"]
    [payload] = await eventually(lambda: service.outbox_events(spec_for_model(EmailFailed).type), "EmailFailed")
    assert EmailFailed.model_validate_json(payload).delivery_id == "delivery-exhausted"
    assert service.smtp.handler.messages() == []


async def test_an_event_for_one_cluster_never_reaches_another_clusters_people(service: Harness) -> None:
    """A producer (an integration of cluster-2, or a mistake) naming cluster-1's member in cluster-2's event: the
    email is parked as if the member were unknown, and nothing reaches cluster-1's contact."""
    await service.publish(member(member_id="member-1", cluster_id="cluster-1"))
    await service.publish(matched(member_id="member-1", cluster_id="cluster-2"))
    await service.all_consumed()
    rows = await service.deliveries()
    assert [(r["status"], r["cluster_id"]) for r in rows] == [("parked", "cluster-2")]
    assert service.smtp.handler.messages() == []


async def test_failed_emails_are_sent_again_once_on_request(service: Harness) -> None:
    """A relay misconfiguration (a 5xx to the message) fails the email; once it is fixed, a manager sends the
    failed emails again: a dry run lists them and changes nothing, the request sends each once (the same
    Message-ID), and asking again sends nothing more. A viewer may not; another cluster's manager finds none."""
    service.smtp.handler.data_replies.append("554 5.7.1 relay access denied")
    await service.publish(member())
    await service.all_consumed()
    event = await service.publish(matched())
    [failed] = await eventually(lambda: service.deliveries(status="failed"), "the delivery to fail")

    def as_(role: str, cluster: str = "cluster-1") -> dict[str, str]:
        return {"Authorization": f"Bearer {auth.token(role, clusters=(cluster,))}"}

    async with service.api() as api:
        viewer = await api.post("/deliveries/resend", json={}, headers=as_("cluster-viewer"))
        assert viewer.status_code == 403
        stranger = await api.post("/deliveries/resend", json={}, headers=as_("cluster-manager", "cluster-2"))
        assert stranger.json() == {"dry_run": False, "delivery_ids": [], "more": False}
        dry = await api.post("/deliveries/resend", json={"dry_run": True}, headers=as_("cluster-manager"))
        assert dry.json() == {"dry_run": True, "delivery_ids": [failed["id"]], "more": False}
        assert [row["status"] for row in await service.deliveries()] == ["failed"], "a dry run changes nothing"
        assert (await api.post("/deliveries/resend", json={"template": "nope"})).status_code == 422

        narrowed = {"cluster_id": "cluster-1", "template": "matches"}
        again = await api.post("/deliveries/resend", json=narrowed, headers=as_("cluster-manager"))
        assert again.json() == {"dry_run": False, "delivery_ids": [failed["id"]], "more": False}
        [email] = await service.emails(1)
        assert email.message["Message-ID"] == message_id_for(event.id, "contact-1", "matches", MAIL_DOMAIN)
        [row] = await eventually(lambda: service.deliveries(status="sent"), "the email sent")
        assert row["id"] == failed["id"] and row["attempts"] == 1
        twice = await api.post("/deliveries/resend", json={}, headers=as_("cluster-manager"))
        assert twice.json()["delivery_ids"] == [], "sent once, however often it is asked"
        audit = (await api.get("/audit")).json()
        assert any(entry["path"].endswith("/deliveries/resend") for entry in audit), audit
    assert len(service.smtp.handler.messages()) == 1


async def test_the_cli_sends_failed_emails_again_in_chunks_with_progress(service: Harness) -> None:
    service.smtp.handler.data_replies.extend(["554 5.7.1 relay access denied"] * 3)
    for n in (1, 2, 3):
        person = (f"contact-{n}", f"Person {n}", "en", ContactRole.MEMBER_CONTACT)
        await service.publish(member(f"member-{n}", people=[person]))
    await service.all_consumed()
    for n in (1, 2, 3):
        await service.publish(matched(f"member-{n}"))

    async def three_failed() -> list[dict[str, Any]] | None:
        rows = await service.deliveries(status="failed")
        return rows if len(rows) == 3 else None

    await eventually(three_failed, "three deliveries to fail")
    app = create_app(DEFINITION, runtime=service.runtime, manage_runtime=False)
    transport = httpx.ASGITransport(app=app)
    token = auth.token("cluster-manager", clusters=("cluster-1",))
    progress: list[tuple[int, int]] = []
    assert await resend("http://n", token, {}, dry_run=True, transport=transport) == (3, False)
    assert len(await service.deliveries(status="failed")) == 3, "a dry run changes nothing"
    with patch("trellis.deliveries_cli.CHUNK", 2):
        sent = await resend(
            "http://n", token, {}, dry_run=False, transport=transport, on_progress=lambda *p: progress.append(p)
        )
    assert sent == (3, False) and progress == [(2, 3), (3, 3)]
    await service.emails(3)
    assert await resend("http://n", token, {}, dry_run=False, transport=transport) == (0, False), "once"
