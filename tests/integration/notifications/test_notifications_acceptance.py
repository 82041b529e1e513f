"""Acceptance of the notifications issue against a real SMTP server (aiosmtpd), on SQLite and PostgreSQL:
every template arrives complete in two languages, one-click unsubscribe stops one category, hard bounces
are suppressed, the weekly digest collects a week of matches into one email, review emails can be
redirected and escalate to the board."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import icalendar
import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from tests.integration.notifications.harness import (
    MAIL_DOMAIN,
    REPLY_LINK,
    Harness,
    Received,
    SmtpServer,
    eventually,
    invitation,
    matched,
    member,
    review_due,
    running_service,
)
from trellis_common.catalogue import spec_for_model
from trellis_common.db import schedule_fires
from trellis_common.events import ContactRole, EmailFailed, MemberChanged, ReminderKind, ReviewDue
from trellis_notifications.composer import unsubscribe_signer
from trellis_notifications.domain.deliveries import message_id_for
from trellis_notifications.models import contact_preferences, digest_items
from trellis_notifications.workers.digests import WeeklyDigestJob, digest_id_for
from trellis_notifications.workers.sender import EmailSender

TUESDAY = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
DIGEST_DUE = datetime(2026, 3, 9, 7, 0, tzinfo=UTC)  # Monday 08:00 in Brussels, the default digest slot
SENDER = "notifications@notifications.test"

SUBJECTS = {
    "en": {
        "survey_invitation": "Survey invitation: Digital skills check 2026",
        "survey_reminder": "Reminder: Digital skills check 2026",
        "matches": "2 collaboration partner proposals for your skill gaps",
        "review_reminder": "Strategy review due today: Aviation skills 2030",
        "review_escalation": "Escalation: strategy review overdue since 31 March 2026: Aviation skills 2030",
        "matches_digest": "Your weekly digest: 2 partner proposals for your skill gaps",
    },
    "de": {
        "survey_invitation": "Einladung zur Umfrage: Digital skills check 2026",
        "survey_reminder": "Erinnerung: Digital skills check 2026",
        "matches": "2 Vorschläge für Kooperationspartner zu Ihren Kompetenzlücken",
        "review_reminder": "Strategieüberprüfung heute fällig: Aviation skills 2030",
        "review_escalation": "Eskalation: Strategieüberprüfung seit 31. März 2026 überfällig: Aviation skills 2030",
        "matches_digest": "Ihre Wochenübersicht: 2 Partnervorschläge zu Ihren Kompetenzlücken",
    },
}
# Words each template must carry in both parts, whatever the language.
CONTENT = {
    "survey_invitation": ["Digital skills check 2026", "https://surveys.trellis.example/s/abc?sig=1"],
    "survey_reminder": ["Digital skills check 2026", "https://surveys.trellis.example/s/abc?sig=1"],
    "matches": ["Cyber security for SMEs", "Digital Innovation Hub North", "Data literacy masterclass"],
    "review_reminder": ["Aviation skills 2030", "Pool the cyber training", "strategy-review.ics"],
    "review_escalation": ["Aviation skills 2030", "Pool the cyber training"],
    "matches_digest": ["Cyber security for SMEs", "Data literacy masterclass", "University of Applied Sciences"],
}
UNSUBSCRIBABLE = {
    "survey_invitation": "invitations",
    "survey_reminder": "reminders",
    "matches": "matches",
    "matches_digest": "digests",
}


def overdue(cluster_id: str = "cluster-1", **fields: Any) -> ReviewDue:
    return review_due(cluster_id).model_copy(
        update={
            "kind": ReminderKind.OVERDUE,
            "escalation": True,
            "recipients_role": ContactRole.BOARD_MEMBER,
            "overdue_since": date(2026, 3, 31),
            "fired_at": datetime(2026, 4, 14, 8, 0, tzinfo=UTC),
            **fields,
        }
    )


def cluster_office(language: str, **extra: tuple[str, str, str, ContactRole]) -> Any:
    people = [
        ("manager-1", "Clara Manager", language, ContactRole.CLUSTER_MANAGER),
        ("board-1", "Bernd Board", language, ContactRole.BOARD_MEMBER),
        ("staff-1", "Sam Staff", language, ContactRole.MEMBER_CONTACT),  # neither manager nor board
    ]
    return member("office", people=[*people, *extra.values()])


TWO_PEOPLE = [
    ("contact-1", "Anna Schmidt", "en", ContactRole.MEMBER_CONTACT),
    ("contact-2", "Jürgen Müller", "de", ContactRole.MEMBER_CONTACT),
]


def normal(text: str) -> str:
    return text.replace("\xa0", " ")


async def set_preferences(service: Harness, contact_id: str, **changes: Any) -> dict[str, Any]:
    async with service.api() as api:
        response = await api.patch(f"/contacts/{contact_id}/preferences", json=changes)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def parts(mail: Received) -> tuple[str, str]:
    return normal(mail.text), normal(mail.html)


@pytest.mark.parametrize("language", ["en", "de"])
async def test_every_template_arrives_with_both_parts_and_correct_headers(service: Harness, language: str) -> None:
    service.clock.set(TUESDAY)
    await service.publish(
        member(
            people=[
                ("contact-each", "Anna Schmidt", language, ContactRole.MEMBER_CONTACT),
                ("contact-weekly", "Jürgen Müller", language, ContactRole.MEMBER_CONTACT),
            ]
        )
    )
    await service.publish(cluster_office(language))
    await service.all_consumed()
    await set_preferences(service, "contact-weekly", match_delivery="weekly_digest")

    causes = {
        "survey_invitation": await service.publish(invitation("contact-each", reminder=0)),
        "survey_reminder": await service.publish(invitation("contact-each", reminder=1)),
        "matches": await service.publish(matched()),
        "review_reminder": await service.publish(review_due()),
        "review_escalation": await service.publish(overdue()),
    }
    await service.all_consumed()
    service.advance(DIGEST_DUE - TUESDAY)  # the weekly digest of contact-weekly falls due

    mails = await service.emails(7)
    by_key = {(m.rcpt_tos[0].split("@")[0], m.message["Subject"]): m for m in mails}
    expected = {
        ("contact-each", "survey_invitation"),
        ("contact-each", "survey_reminder"),
        ("contact-each", "matches"),
        ("contact-weekly", "matches_digest"),
        ("manager-1", "review_reminder"),
        ("manager-1", "review_escalation"),
        ("board-1", "review_escalation"),
    }
    assert set(by_key) == {(who, SUBJECTS[language][template]) for who, template in expected}
    names = {"contact-each": "Anna Schmidt", "contact-weekly": "Jürgen Müller", "manager-1": "Clara Manager"}
    names["board-1"] = "Bernd Board"
    settings = service.settings
    for who, template in sorted(expected):
        mail = by_key[(who, SUBJECTS[language][template])]
        message: EmailMessage = mail.message
        assert mail.mail_from == SENDER and mail.rcpt_tos == [f"{who}@member.example"]
        assert str(message["From"]) == f"Rhine Photonics Cluster <{SENDER}>", "the cluster writes, from our address"
        [to] = message["To"].addresses
        assert (to.addr_spec, to.display_name) == (f"{who}@member.example", names[who])
        cause = digest_id_for(who, DIGEST_DUE) if template == "matches_digest" else causes[template].id
        assert message["Message-ID"] == message_id_for(cause, who, template, MAIL_DOMAIN)
        assert message["Date"] is not None and message["Auto-Submitted"] == "auto-generated"
        text, html = parts(mail)
        assert html.lstrip().lower().startswith("<!doctype html>") and f'lang="{language}"' in html
        for words in CONTENT[template]:
            assert words in text, (template, words)
            assert words in html.replace("&amp;", "&"), (template, words)
        if template in UNSUBSCRIBABLE:
            url = str(message["List-Unsubscribe"]).strip("<>")
            assert url.startswith("https://trellis.test/notifications/unsubscribe/")
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            token = url.rsplit("/", 1)[1]
            payload = unsubscribe_signer(settings).loads(token, service.clock.now(), settings.unsubscribe_link_max_age)
            assert payload == {"c": who, "k": UNSUBSCRIBABLE[template]}
            assert url in text and url in html
        else:
            assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None
        if template in ("matches", "matches_digest"):
            # One click to answer the proposal that holds a seat; the alternative without one has no buttons.
            for answer in ("accepted", "declined"):
                link = f"{REPLY_LINK}?answer={answer}&lang={language}"
                assert text.count(link) == 1 and html.count(f'href="{link.replace("&", "&amp;")}"') == 1
    calendar_part = next(
        p
        for p in by_key[("manager-1", SUBJECTS[language]["review_reminder"])].message.walk()
        if p.get_content_type() == "text/calendar"
    )
    assert calendar_part.get_filename() == "strategy-review.ics"
    calendar_bytes = calendar_part.get_payload(decode=True)
    assert isinstance(calendar_bytes, bytes)
    calendar = icalendar.Calendar.from_ical(calendar_bytes)
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == date(2026, 3, 31)
    assert "Aviation skills 2030" in str(event["summary"])


async def test_one_click_unsubscribe_stops_that_category_and_nothing_else(service: Harness) -> None:
    await service.publish(member())
    await service.all_consumed()
    await service.publish(matched())
    [first] = await service.emails(1)
    url = str(first.message["List-Unsubscribe"]).strip("<>")
    path = url.removeprefix(service.settings.public_base_url)

    async with service.api() as api:
        page = await api.get(path)  # a link scanner, or a person following the footer link
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert '<form method="post">' in page.text and "partner proposals" in page.text
        assert "Rhine Photonics Cluster" in page.text and "Trellis" not in page.text, "the member's cluster speaks"
        assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
        assert (await service.deliveries(status="skipped")) == []  # a GET changes nothing

        # What a mail provider sends when someone presses its unsubscribe button (RFC 8058).
        posted = await api.post(
            path,
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert posted.status_code == 200 and "You are unsubscribed from partner proposals" in posted.text
        again = await api.post(path, content=b"List-Unsubscribe=One-Click")
        assert again.status_code == 200  # pressing twice is harmless

        prefs = (await api.get("/contacts/contact-1/preferences")).json()
        assert prefs["matches"] is False and prefs["invitations"] is True

        tampered = await api.post(path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"))
        assert tampered.status_code == 400 and "not valid" in tampered.text
        assert "Your cluster" in tampered.text, "a link naming nobody names no cluster"

    later = await service.publish(matched())
    await service.publish(invitation("contact-1"))  # another category: still arrives
    mails = await service.emails(2)
    assert [m.message["Subject"] for m in mails[1:]] == ["Survey invitation: Digital skills check 2026"]
    [skipped] = await service.deliveries(status="skipped")
    assert (skipped["cause_event_id"], skipped["last_error"]) == (later.id, "unsubscribed from matches")


async def test_unsubscribing_also_stops_what_is_still_queued(service: Harness) -> None:
    service.smtp.stop()
    await service.publish(member())
    await service.all_consumed()
    await service.publish(matched())

    async def failed_once() -> list[dict[str, Any]]:
        return [r for r in await service.deliveries(status="pending") if r["attempts"] == 1]

    [pending] = await eventually(failed_once, "a first failed attempt")
    async with service.api() as api:
        path = pending["unsubscribe_url"].removeprefix(service.settings.public_base_url)
        assert (await api.post(path)).status_code == 200
    service.smtp.start()
    service.advance(timedelta(minutes=10))
    await service.publish(invitation("contact-1"))
    [mail] = await service.emails(1)
    assert mail.message["Subject"].startswith("Survey invitation")
    [row] = await service.deliveries(template="matches")
    assert row["status"] == "skipped" and row["attempts"] == 1


async def test_a_hard_bounce_fails_logs_and_suppresses_the_address(service: Harness) -> None:
    service.smtp.handler.rcpt_reply = "550 5.1.1 <contact-1@member.example>: no such mailbox"
    await service.publish(member())
    await service.all_consumed()
    with capture_logs() as logs:
        bounced = await service.publish(matched())
        [row] = await eventually(lambda: service.deliveries(status="failed"), "the bounce")
    assert row["last_error"] == "550 5.1.1 <<recipient>>: no such mailbox" and row["attempts"] == 1
    [payload] = await eventually(lambda: service.outbox_events(spec_for_model(EmailFailed).type), "EmailFailed")
    assert EmailFailed.model_validate_json(payload).cause_event_id == bounced.id
    events = {entry["event"] for entry in logs}
    assert {"email_failed", "address_suppressed"} <= events

    service.smtp.handler.rcpt_reply = None  # the mailbox exists now, but nobody told us
    await service.publish(invitation("contact-1"))
    await service.all_consumed()
    [skipped] = await eventually(lambda: service.deliveries(status="skipped"), "the skipped invitation")
    assert skipped["last_error"] == "address suppressed after a hard bounce"
    assert service.smtp.handler.messages() == []

    async with service.api() as api:
        listed = (await api.get("/suppressions", params={"address": "Contact-1@member.example"})).json()
        assert listed["total"] == 1 and "member.example" not in str(listed)  # a hash, no address
        assert (await api.delete("/suppressions", params={"address": "contact-1@member.example"})).status_code == 204
        assert (await api.delete("/suppressions", params={"address": "contact-1@member.example"})).status_code == 404
        bad = await api.get("/suppressions", params={"address": "not an address"})
        assert bad.status_code == 422 and "address" in bad.text
    await service.publish(invitation("contact-1"))
    [mail] = await service.emails(1)
    assert mail.rcpt_tos == ["contact-1@member.example"]


async def test_the_weekly_digest_collects_a_week_of_matches_into_one_email(service: Harness) -> None:
    service.clock.set(TUESDAY)
    await service.publish(member(people=[("contact-1", "Anna Schmidt", "en", ContactRole.MEMBER_CONTACT)]))
    await service.all_consumed()
    prefs = await set_preferences(service, "contact-1", match_delivery="weekly_digest")
    assert prefs["next_digest_at"] == "2026-03-09T07:00:00Z"

    runs = []
    for _ in range(3):  # Tuesday, Wednesday, Thursday: three match runs, nothing sent yet
        runs.append(await service.publish(matched()))
        await service.all_consumed()
        service.advance(timedelta(days=1))
    async with service.runtime.db.sessions() as session:
        waiting = (await session.execute(select(digest_items.c.cause_event_id))).scalars().all()
    assert sorted(waiting) == sorted(r.id for r in runs)
    assert service.smtp.handler.messages() == [] and await service.deliveries() == []

    service.advance(DIGEST_DUE - service.clock.now() - timedelta(minutes=1))
    assert await WeeklyDigestJob(service.settings).run_due(service.runtime, service.clock.now()) == 0  # not yet

    service.advance(timedelta(minutes=1))
    [mail] = await service.emails(1)
    assert mail.message["Subject"] == "Your weekly digest: 2 partner proposals for your skill gaps"
    text = normal(mail.text)
    assert "(3 needs assessments)" in text and "Proposed 3 times this week" in text
    assert text.count("Cyber security for SMEs") == 2  # once as a proposal, once as a pooled opportunity
    [row] = await service.deliveries()
    assert row["template"] == "matches_digest" and row["cause_event_id"] == digest_id_for("contact-1", DIGEST_DUE)

    # A match after the digest time waits for next week's digest.
    await service.publish(matched())
    await service.all_consumed()
    service.advance(timedelta(days=6))
    assert await WeeklyDigestJob(service.settings).run_due(service.runtime, service.clock.now()) == 0
    service.advance(timedelta(days=1))
    await service.emails(2)


async def test_a_digest_backlog_after_downtime_is_one_late_email(database_url: str, smtp: SmtpServer) -> None:
    """No scheduler ran for three weeks; then two replicas look at once: one digest, late, with everything."""
    async with running_service(database_url, smtp, workers=False) as service:
        service.clock.set(TUESDAY - timedelta(days=21))
        await service.publish(member())
        await service.all_consumed()
        await set_preferences(service, "contact-1", match_delivery="weekly_digest")
        for _ in range(3):
            await service.publish(matched())
            await service.all_consumed()
            service.clock.advance(timedelta(days=7))
        service.clock.set(DIGEST_DUE + timedelta(hours=5))

        job = WeeklyDigestJob(service.settings)
        fired = await asyncio.gather(*(job.run_due(service.runtime, service.clock.now()) for _ in range(2)))
        assert sorted(fired) == [0, 1]
        sender = EmailSender(service.runtime, service.settings)
        await sender.send_due(asyncio.Event())
        await sender.close()
        [mail] = service.smtp.handler.messages()
        assert "(3 needs assessments)" in normal(mail.text)
        async with service.runtime.db.sessions() as session:
            fires = (await session.execute(select(schedule_fires))).mappings().all()
        assert [(f["schedule_key"], f["due_at"], f["late"]) for f in fires] == [("digest:contact-1", DIGEST_DUE, 1)]
        assert await job.run_due(service.runtime, service.clock.now()) == 0


async def test_review_emails_follow_redirects_and_reach_owners(service: Harness) -> None:
    await service.publish(
        cluster_office(
            "en",
            deputy=("manager-2", "Mia Manager", "de", ContactRole.CLUSTER_MANAGER),
        )
    )
    await service.publish(member("member-9", people=[("owner-9", "Otto Owner", "en", ContactRole.MEMBER_CONTACT)]))
    await service.all_consumed()
    # Clara's go to a deputy outside the directory; Mia's to Clara (who gets them anyway: one email).
    await set_preferences(
        service, "manager-1", review_redirect={"email": "deputy@cluster.example", "name": "Dora Deputy"}
    )
    await set_preferences(service, "manager-2", review_redirect={"contact_id": "manager-1"})
    await service.publish(review_due().model_copy(update={"owner_contact_ids": ["owner-9"]}))
    mails = await service.emails(3)
    by_rcpt = {m.rcpt_tos[0]: m for m in mails}
    assert set(by_rcpt) == {"deputy@cluster.example", "manager-1@member.example", "owner-9@member.example"}
    deputy = by_rcpt["deputy@cluster.example"]
    assert deputy.message["To"].addresses[0].display_name == "Dora Deputy"
    assert "Clara Manager asked for strategy review emails to be sent to you" in normal(deputy.text)
    assert "Mia Manager hat veranlasst" not in normal(by_rcpt["manager-1@member.example"].text)

    await service.publish(overdue())  # escalation: managers and board, redirects still apply
    mails = await service.emails(3 + 3)
    escalations = {m.rcpt_tos[0] for m in mails if m.message["Subject"].startswith("Escalation")}
    assert escalations == {"deputy@cluster.example", "manager-1@member.example", "board-1@member.example"}

    async with service.api() as api:
        staff = await api.patch("/contacts/staff-1/preferences", json={"review_redirect": {"contact_id": "board-1"}})
        assert staff.status_code == 422 and "cluster managers and board members" in staff.text
        unknown = await api.patch("/contacts/manager-1/preferences", json={"review_redirect": {"contact_id": "nobody"}})
        assert unknown.status_code == 422 and "review_redirect" in unknown.text
        target = {"contact_id": "board-1", "email": "a@b.example"}
        both = await api.patch("/contacts/manager-1/preferences", json={"review_redirect": target})
        assert both.status_code == 422
        cleared = await api.patch("/contacts/manager-1/preferences", json={"review_redirect": None})
        assert cleared.status_code == 200 and cleared.json()["review_redirect"] is None
        assert (await api.patch("/contacts/nobody/preferences", json={"matches": False})).status_code == 404
        extra = await api.patch("/contacts/manager-1/preferences", json={"everything": False})
        assert extra.status_code == 422 and "everything" in extra.text
        unsubscribe_reviews = await api.patch("/contacts/manager-1/preferences", json={"reviews": False})
        assert unsubscribe_reviews.status_code == 422  # there is no such category to switch off


async def test_an_escalation_before_anyone_is_known_waits_for_a_board_member(service: Harness) -> None:
    await service.publish(overdue())
    await service.all_consumed()
    [parked] = await service.deliveries()
    assert (parked["status"], parked["contact_id"]) == ("parked", "board:cluster-1")
    await service.publish(member("office", people=[("board-1", "Bernd Board", "de", ContactRole.BOARD_MEMBER)]))
    [mail] = await service.emails(1)
    assert mail.rcpt_tos == ["board-1@member.example"] and mail.message["Subject"].startswith("Eskalation")


async def test_template_previews(service: Harness) -> None:
    async with service.api() as api:
        listed = (await api.get("/templates")).json()
        assert {t["name"] for t in listed} == {
            "matches",
            "matches_digest",
            "answers_received",
            "review_reminder",
            "review_escalation",
            "survey_invitation",
            "survey_reminder",
        }
        for template in listed:
            for lang in ("en", "de", "fr"):
                html = await api.get(f"/templates/{template['name']}/preview", params={"lang": lang})
                assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
                assert f'lang="{lang}"' in html.text and "default-src 'none'" in html.headers["content-security-policy"]
                text = await api.get(f"/templates/{template['name']}/preview", params={"lang": lang, "format": "text"})
                assert text.status_code == 200 and text.text.startswith("Subject: ")
        german = await api.get("/templates/review_escalation/preview", params={"lang": "de", "format": "text"})
        assert "Eskalation" in german.text and "überfällig" in german.text
        missing = await api.get("/templates/newsletter/preview")
        assert missing.status_code == 404 and "survey_invitation" in missing.text
        bad_lang = await api.get("/templates/matches/preview", params={"lang": "xx"})
        assert bad_lang.status_code == 422 and "lang" in bad_lang.text
        bad_format = await api.get("/templates/matches/preview", params={"format": "pdf"})
        assert bad_format.status_code == 422 and "format" in bad_format.text


async def test_the_delivery_log_filters_by_contact_and_template(service: Harness) -> None:
    await service.publish(member())
    await service.all_consumed()
    await service.publish(matched())
    await service.publish(invitation("contact-1"))
    await service.emails(2)
    async with service.api() as api:
        page = (await api.get("/deliveries", params={"contact_id": "contact-1", "template": "matches"})).json()
        assert page["total"] == 1 and page["items"][0]["category"] == "matches"
        detail = (await api.get(f"/deliveries/{page['items'][0]['id']}")).json()
        assert detail["list_unsubscribe"].startswith("https://trellis.test/notifications/unsubscribe/")
        assert detail["attachments"] == []
        bad = await api.get("/deliveries", params={"template": "newsletter"})
        assert bad.status_code == 422 and "template" in bad.text


async def test_erasure_takes_preferences_and_waiting_digest_items_along(service: Harness) -> None:
    await service.publish(member(people=TWO_PEOPLE))
    await service.all_consumed()
    await set_preferences(service, "contact-1", match_delivery="weekly_digest", invitations=False)
    await set_preferences(service, "contact-2", match_delivery="weekly_digest")
    await service.publish(matched())
    await service.all_consumed()

    # contact-2 leaves the member: its choices and waiting matches go with it
    await service.publish(member(people=TWO_PEOPLE[:1]))
    await service.all_consumed()
    async with service.runtime.db.sessions() as session:
        kept = (await session.execute(select(contact_preferences.c.contact_id))).scalars().all()
        waiting = (await session.execute(select(digest_items.c.contact_id))).scalars().all()
    assert kept == ["contact-1"] and waiting == ["contact-1"]

    await service.publish(None, key="member-1", spec_model=MemberChanged)  # the member is deleted
    await service.all_consumed()
    async with service.runtime.db.sessions() as session:
        assert (await session.execute(select(contact_preferences))).all() == []
        assert (await session.execute(select(digest_items))).all() == []
    async with service.api() as api:
        assert (await api.get("/contacts/contact-1/preferences")).status_code == 404


async def test_an_assessment_no_offer_fits_gets_one_answers_received_email(service: Harness) -> None:
    """A member whose gaps fit no offer hears that the answers arrived and a person follows up; a re-match that
    finds nothing new sends nothing, and the same event twice is one email."""
    await service.publish(member())
    await service.all_consumed()
    nothing = matched().model_copy(update={"options": [], "pooled": [], "reason": "assessment"})
    first = await service.publish(nothing)
    await service.publish(nothing, event_id=first.id)  # redelivered: same event id
    await service.publish(matched().model_copy(update={"options": [], "pooled": [], "reason": "rematch"}))
    await service.all_consumed()
    assert [d["template"] for d in await service.deliveries()] == ["answers_received"], "one, for the assessment"
    [mail] = await service.emails(1)
    assert str(mail.message["Subject"]) == "We have your answers"
    body = mail.message.get_body(preferencelist=("plain",))
    assert body is not None and "cluster manager will look at them and follow up" in body.get_content()
