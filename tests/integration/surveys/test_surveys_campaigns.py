"""Templates adapted by a cluster, campaigns with signed links, reminders on a controlled clock, and the
answering form (save, resume, submit) driven over HTTP."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.integration.surveys.conftest import BASE_URL, START, Surveys, cluster_with_members, ok
from trellis_common.events import InvitationRequested, ResponseCompleted
from trellis_common.scheduler import Scheduler
from trellis_surveys.models import responses
from trellis_surveys.workers import ReminderJob


async def tick(surveys: Surveys) -> int:
    return await Scheduler([ReminderJob()]).tick(surveys.runtime)


def path_of(link: str) -> str:
    assert link.startswith(f"{BASE_URL}/answer/")
    return link.removeprefix(BASE_URL)


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


SKILL = {
    "skill.digcomp:5.2.current_level": "2",
    "skill.digcomp:5.2.required_level": "5",
    "skill.digcomp:5.2.headcount_having": "1",
    "skill.digcomp:5.2.headcount_needed": "4",
    "skill.digcomp:5.2.importance": "5",
}


async def answer(surveys: Surveys, link: str, action: str, **fields: Any) -> Any:
    path = path_of(link)
    page = await surveys.client.get(path)
    return await surveys.client.post(path, data={"csrf": csrf(page.text), "action": action, **fields})


async def launch(surveys: Surveys, cluster_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "template_id": "digital-skills",
        "reminder_after_hours": 48,
        "max_reminders": 2,
        "closes_at": (START + timedelta(days=21)).isoformat(),
        **changes,
    }
    campaign: dict[str, Any] = await ok(await surveys.client.post(f"/clusters/{cluster_id}/campaigns", json=body), 201)
    return campaign


async def test_non_responders_get_at_most_the_configured_reminders_and_responders_none(surveys: Surveys) -> None:
    cluster_id, member_ids = await cluster_with_members(surveys.client, 3)
    campaign = await launch(surveys, cluster_id)
    invited = await surveys.invitations()
    assert len(invited) == 3 and {i.reminder for i in invited} == {0}
    assert all(i.link.startswith(f"{BASE_URL}/answer/") and i.expires_at == START + timedelta(days=21) for i in invited)
    responder = next(i for i in invited if i.member_id == member_ids[0])
    done = await answer(surveys, responder.link, "submit", **SKILL)
    assert done.status_code == 200, done.text

    assert await tick(surveys) == 0  # nothing is due before the delay
    for _ in range(4):  # more rounds than reminders allowed
        surveys.move_clock(timedelta(hours=49))
        await tick(surveys)
        assert await tick(surveys) == 0  # a second tick at the same moment sends nothing again
    reminders = [i for i in (await surveys.invitations()) if i.reminder > 0]
    by_member: dict[str, list[int]] = {}
    for reminder in reminders:
        by_member.setdefault(reminder.member_id, []).append(reminder.reminder)
    assert by_member == {member_ids[1]: [1, 2], member_ids[2]: [1, 2]}
    progress = (await ok(await surveys.client.get(f"/campaigns/{campaign['id']}")))["progress"]
    assert progress == {
        "invited": 3,
        "opened": 1,
        "started": 1,
        "completed": 1,
        "members_invited": 3,
        "members_completed": 1,
        "reminders_sent": 4,
        "response_rate": 0.3333,
    }


async def test_reminders_stop_at_the_close_date_and_after_downtime_fire_once(surveys: Surveys) -> None:
    cluster_id, _ = await cluster_with_members(surveys.client, 1)
    await launch(surveys, cluster_id, max_reminders=5, closes_at=(START + timedelta(days=5)).isoformat())
    surveys.move_clock(timedelta(days=4, hours=1))  # two delays passed while the service was down
    assert await tick(surveys) == 1
    surveys.move_clock(timedelta(days=3))  # past the close date
    assert await tick(surveys) == 0
    assert [i.reminder for i in (await surveys.invitations())] == [0, 1]


async def test_save_resume_submit_and_resubmit(surveys: Surveys) -> None:
    cluster_id, member_ids = await cluster_with_members(surveys.client, 2)
    campaign = await launch(surveys, cluster_id)
    invitation = next(i for i in (await surveys.invitations()) if i.member_id == member_ids[0])
    path = path_of(invitation.link)

    page = await surveys.client.get(path)
    assert page.status_code == 200 and 'lang="en"' in page.text
    assert '<label for="skill-digcomp-5-2-current_level">' in page.text  # every field has a label
    saved = await surveys.client.post(
        path, data={"csrf": csrf(page.text), "action": "save", "q.employees": "40", **SKILL}
    )
    assert saved.status_code == 200 and "saved" in saved.text
    resumed = await surveys.client.get(path)
    assert 'value="40"' in resumed.text and '<option value="5" selected>' in resumed.text

    # A bad answer: the page shows an error summary linking to the field; nothing is recorded.
    bad = await surveys.client.post(
        path, data={"csrf": csrf(resumed.text), "action": "submit", "q.employees": "forty", **SKILL}
    )
    assert bad.status_code == 422 and 'role="alert"' in bad.text and 'href="#q-employees"' in bad.text
    assert await surveys.count(responses) == 0

    forged = await surveys.client.post(path, data={"csrf": "nope", "action": "submit", **SKILL})
    assert forged.status_code == 403 and "<h1>" in forged.text

    done = await surveys.client.post(
        path,
        data={
            "csrf": csrf(resumed.text),
            "action": "submit",
            "q.employees": "40",
            "q.hiring_difficulty": "yes",
            "q.open_it_positions": "3",
            "q.obstacles": ["cost", "time"],
            **SKILL,
        },
    )
    assert done.status_code == 200 and "Thank you" in done.text
    # What happens next, and until when answers can change, in the cluster's time (Brussels by default), not UTC.
    closes = datetime.fromisoformat(campaign["closes_at"]).astimezone(ZoneInfo("Europe/Brussels"))
    assert "What happens next" in done.text and f"{closes:%H:%M} {closes:%Z}" in done.text and "UTC" not in done.text
    again = await surveys.client.post(
        path,
        data={
            "csrf": csrf(resumed.text),
            "action": "submit",
            "q.employees": "40",
            "q.hiring_difficulty": "yes",
            "q.open_it_positions": "3",
            "q.obstacles": ["cost", "time"],
            **SKILL,
        },
    )
    assert again.status_code == 200  # a retry changes nothing and publishes nothing
    assert await surveys.outbox_rows(ResponseCompleted) == 1
    changed = await surveys.client.post(
        path, data={"csrf": csrf(resumed.text), "action": "submit", "q.employees": "45", **SKILL}
    )
    assert changed.status_code == 200
    assert await surveys.outbox_rows(ResponseCompleted) == 2
    assert await surveys.count(responses) == 1  # one response per member per campaign, replaced

    results = await ok(await surveys.client.get(f"/campaigns/{campaign['id']}/results"))
    assert [r["answers"] for r in results["responses"]] == [{"employees": 45}]
    counts = {q["question_id"]: q for q in results["questions"]}
    assert counts["digital_skills"]["counts"] == {"digcomp:5.2": 1}
    csv_export = await surveys.client.get(f"/campaigns/{campaign['id']}/results", params={"format": "csv"})
    assert csv_export.status_code == 200 and "digcomp:5.2=2/5" in csv_export.text


async def test_a_manager_reminds_non_responders_now_up_to_the_campaigns_reminders(surveys: Surveys) -> None:
    cluster_id, member_ids = await cluster_with_members(surveys.client, 3)
    campaign = await launch(surveys, cluster_id, max_reminders=2)
    responder = next(i for i in await surveys.invitations() if i.member_id == member_ids[0])
    assert (await answer(surveys, responder.link, "submit", **SKILL)).status_code == 200
    remind = f"/campaigns/{campaign['id']}/reminders"
    for number in (1, 2):  # no time passes: each press brings the next reminder forward
        assert await ok(await surveys.client.post(remind)) == {"scheduled": 2, "reminders_used_up": 0}
        assert await tick(surveys) == 2
        assert await tick(surveys) == 0, "each reminder goes once"
        sent = [i for i in await surveys.invitations() if i.reminder == number]
        assert sorted(i.member_id for i in sent) == sorted(member_ids[1:])
    assert await ok(await surveys.client.post(remind)) == {"scheduled": 0, "reminders_used_up": 2}
    assert await tick(surveys) == 0
    surveys.move_clock(timedelta(hours=49))
    assert await tick(surveys) == 0, "the scheduled reminders were the ones sent early"


async def test_a_manager_closes_a_campaign_early(surveys: Surveys) -> None:
    cluster_id, member_ids = await cluster_with_members(surveys.client, 2)
    campaign = await launch(surveys, cluster_id)
    closed = await ok(await surveys.client.post(f"/campaigns/{campaign['id']}/close"))
    assert datetime.fromisoformat(closed["closes_at"]) == START
    invitation = next(i for i in await surveys.invitations() if i.member_id == member_ids[0])
    page = await surveys.client.get(path_of(invitation.link))
    assert page.status_code == 410 and "This survey has closed" in page.text
    surveys.move_clock(timedelta(hours=49))
    assert await tick(surveys) == 0, "no reminder for a closed campaign"
    again = await surveys.client.post(f"/campaigns/{campaign['id']}/close")
    assert again.status_code == 409 and again.json()["detail"] == "the campaign is already closed"
    assert (await surveys.client.post(f"/campaigns/{campaign['id']}/reminders")).status_code == 409


async def test_forged_expired_and_translated_pages(surveys: Surveys) -> None:
    cluster_id, member_ids = await cluster_with_members(surveys.client, 2)
    await launch(surveys, cluster_id)
    invitations = {i.member_id: i for i in (await surveys.invitations())}
    german = await surveys.client.get(path_of(invitations[member_ids[1]].link))
    assert 'lang="de"' in german.text and "Bedarf und Angebot an digitalen Kompetenzen" in german.text
    assert "Ihre Digitalisierung" in german.text and "Stimme voll und ganz zu" in german.text
    tampered = await surveys.client.get(path_of(invitations[member_ids[0]].link)[:-3] + "abc")
    assert tampered.status_code == 404 and "This link does not work" in tampered.text
    script = await surveys.client.get("/answer/<script>alert(1)</script>")
    assert "<script>" not in script.text
    surveys.move_clock(timedelta(days=22))
    expired = await surveys.client.get(path_of(invitations[member_ids[0]].link))
    assert expired.status_code == 410 and "This survey has closed" in expired.text


async def test_a_cluster_adapts_a_copy_and_published_versions_never_change(surveys: Surveys) -> None:
    cluster_id, _ = await cluster_with_members(surveys.client, 1)
    copy = await ok(
        await surveys.client.post(
            f"/clusters/{cluster_id}/templates",
            json={
                "source_template_id": "digital-skills",
                "template_id": "danube-digital",
                "title": "Danube digital needs",
            },
        ),
        201,
    )
    assert copy["status"] == "draft" and copy["based_on"] == "digital-skills@1" and copy["version"] == 1
    draft_launch = await surveys.client.post(
        f"/clusters/{cluster_id}/campaigns", json={"template_id": "danube-digital"}
    )
    assert draft_launch.status_code == 422 and "draft" in draft_launch.text

    shorter = [q for q in copy["questions"] if q["id"] != "comments"]
    adapted = await ok(
        await surveys.client.put(f"/clusters/{cluster_id}/templates/danube-digital", json={"questions": shorter})
    )
    assert adapted["version"] == 1 and len(adapted["questions"]) == 9
    broken = await surveys.client.put(
        f"/clusters/{cluster_id}/templates/danube-digital",
        json={"questions": [{"id": "x", "type": "single_choice", "text": "?"}]},
    )
    assert broken.status_code == 422 and "two options" in broken.text
    published = await ok(
        await surveys.client.post(f"/clusters/{cluster_id}/templates/danube-digital/versions/1/publish")
    )
    assert published["status"] == "published"
    twice = await surveys.client.post(f"/clusters/{cluster_id}/templates/danube-digital/versions/1/publish")
    assert twice.status_code == 409

    # Changing a published template makes version 2; version 1 stays as it was.
    v2 = await ok(
        await surveys.client.put(
            f"/clusters/{cluster_id}/templates/danube-digital", json={"title": "Danube digital needs 2026"}
        )
    )
    assert v2["version"] == 2 and v2["status"] == "draft" and v2["based_on"] == "digital-skills@1"
    v1 = await ok(await surveys.client.get("/templates/danube-digital", params={"version": 1}))
    assert v1["title"] == "Danube digital needs" and v1["status"] == "published"
    campaign = await launch(surveys, cluster_id, template_id="danube-digital")
    assert campaign["template_version"] == 1 and campaign["title"] == "Danube digital needs"
    listed = await ok(await surveys.client.get("/templates", params={"cluster_id": cluster_id}))
    assert {(t["id"], t["version"], t["status"]) for t in listed} >= {
        ("danube-digital", 1, "published"),
        ("danube-digital", 2, "draft"),
    }
    assert await ok(await surveys.client.get("/templates/digital-skills")) is not None


async def test_bad_campaigns_are_refused(surveys: Surveys) -> None:
    cluster_id, _ = await cluster_with_members(surveys.client, 1)
    for body, field in (
        ({"template_id": "nope"}, "template_id"),
        ({"template_id": "digital-skills", "member_ids": ["x"]}, "member_ids"),
        ({"template_id": "digital-skills", "closes_at": START.isoformat()}, "closes_at"),
        ({"template_id": "digital-skills", "max_reminders": 99}, "max_reminders"),
    ):
        response = await surveys.client.post(f"/clusters/{cluster_id}/campaigns", json=body)
        assert response.status_code == 422 and field in response.text, (body, response.text)
    assert (await surveys.invitations()) == [] and await surveys.outbox_rows(InvitationRequested) == 0


async def test_a_french_contact_gets_the_french_title_and_form(surveys: Surveys) -> None:
    cluster_id, _ = await cluster_with_members(surveys.client, 1)
    contact = {"name": "Claire Martin", "email": "claire@membre.example", "language": "fr"}
    member = await ok(
        await surveys.client.post(
            f"/clusters/{cluster_id}/members", json={"name": "Membre", "country": "FR", "contacts": [contact]}
        ),
        201,
    )
    await launch(surveys, cluster_id)
    french = next(i for i in await surveys.invitations() if i.member_id == member["id"])
    assert french.survey_title == "Besoins et offre en compétences numériques"
    page = await surveys.client.get(path_of(french.link))
    assert page.status_code == 200 and 'lang="fr"' in page.text
    for text in ("Votre transformation numérique", "Tout à fait d’accord", "Programmation", "Envoyer les réponses"):
        assert text in page.text
