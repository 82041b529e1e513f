"""The whole loop as a cluster would live it, written once and run both distributed and embedded.

survey response → skills gaps → partner matches → one email to the member; the strategy clock passes the
review date → one reminder email to the cluster manager.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.support.polling import eventually
from trellis.mailsink import ReceivedMail
from trellis_common.skill_labels import skill_label

MANAGER_EMAIL = "manager@cluster.example"
MEMBER_EMAIL = "member@sme.example"
OTHER_EMAIL = "other@sme.example"
OFFER_TITLE = "Data-driven production masterclass"


@dataclass
class Platform:
    clients: dict[str, httpx.AsyncClient]
    mails: Callable[[], list[ReceivedMail]]
    ids: dict[str, str] = field(default_factory=dict)


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def to(address: str, mails: list[ReceivedMail]) -> list[ReceivedMail]:
    return [m for m in mails if address in m.recipients]


async def seed(platform: Platform) -> None:
    surveys, matchmaking = platform.clients["surveys"], platform.clients["matchmaking"]
    cluster = await ok(await surveys.post("/clusters", json={"name": "Loop test cluster", "country": "AT"}), 201)
    platform.ids["cluster"] = cluster["id"]
    manager = await ok(
        await surveys.post(
            f"/clusters/{cluster['id']}/members",
            json={
                "name": "Cluster office",
                "member_type": "cluster_organisation",
                "country": "AT",
                "contacts": [{"name": "Clara Manager", "email": MANAGER_EMAIL, "role": "cluster_manager"}],
            },
        ),
        201,
    )
    platform.ids["manager_member"] = manager["id"]
    for key, email in (("member", MEMBER_EMAIL), ("other", OTHER_EMAIL)):
        member = await ok(
            await surveys.post(
                f"/clusters/{cluster['id']}/members",
                json={
                    "name": f"SME {key}",
                    "member_type": "sme",
                    "country": "AT",
                    "languages": ["en"],
                    "contacts": [{"name": f"Sam {key}", "email": email, "language": "en"}],
                },
            ),
            201,
        )
        platform.ids[key] = member["id"]
    await ok(
        await matchmaking.post(
            "/partners",
            json={
                "name": "TU Danube",
                "partner_type": "university",
                "country": "AT",
                "offers": [
                    {
                        "title": OFFER_TITLE,
                        "skill_codes": ["digcomp:5.2"],
                        "max_level": 6,
                        "format": "masterclass",
                        "delivery": "online",
                        "seats": 10,
                    }
                ],
            },
        ),
        201,
    )


async def submit_response(platform: Platform, member_key: str, correlation_id: str | None = None) -> dict[str, Any]:
    headers = {"X-Correlation-ID": correlation_id} if correlation_id else {}
    submitted: dict[str, Any] = await ok(
        await platform.clients["surveys"].post(
            "/responses",
            headers=headers,
            json={
                "member_id": platform.ids[member_key],
                "template_id": "digital-skills",
                "theme": "digital",
                "skills": [
                    {
                        "skill_code": "digcomp:5.2",
                        "current_level": 2,
                        "required_level": 5,
                        "headcount_having": 1,
                        "headcount_needed": 4,
                        "importance": 5,
                    }
                ],
            },
        ),
        201,
    )
    return submitted


CORRELATION_ID = "e2e-correlation-0001"


async def wait_for_mail(platform: Platform, address: str, count: int = 1, timeout: float = 60) -> list[ReceivedMail]:
    async def arrived() -> list[ReceivedMail] | None:
        found = to(address, platform.mails())
        return found if len(found) >= count else None

    return await eventually(arrived, timeout=timeout, interval=0.1, what=f"{count} email(s) to {address}")


async def accept_by_link(platform: Platform, match_mail: ReceivedMail) -> None:
    """The member follows the email's accept link: a page that asks, one POST, and matchmaking records it."""
    matchmaking = platform.clients["matchmaking"]
    found = re.search(r"/reply/([^?\s]+)\?answer=accepted&lang=en", match_mail.text())
    assert found, "the match email carries an accept link"
    path = f"/reply/{found.group(1)}"
    page = await matchmaking.get(path, params={"answer": "accepted", "lang": "en"})
    assert page.status_code == 200 and "Would you like to take up this offer?" in page.text, page.text
    pressed = await matchmaking.post(f"{path}?lang=en", data={"answer": "accepted"}, follow_redirects=False)
    assert pressed.status_code == 303, pressed.text
    (match,) = (await ok(await matchmaking.get("/matches", params={"member_id": platform.ids["member"]})))["items"]
    assert (match["status"], match["outcome_by"]) == ("accepted", "member")


async def run_loop(platform: Platform) -> dict[str, int]:
    await seed(platform)
    await submit_response(platform, "member", correlation_id=CORRELATION_ID)

    (match_mail,) = await wait_for_mail(platform, MEMBER_EMAIL)
    assert OFFER_TITLE in match_mail.text(), "the email lists the member's matches"
    assert skill_label("digcomp:5.2") in match_mail.text(), "the skill by its label"
    assert "digcomp:" not in match_mail.text(), "never by its code"
    await accept_by_link(platform, match_mail)

    strategy = platform.clients["strategy"]
    cluster_id = platform.ids["cluster"]

    async def schedule() -> dict[str, Any] | None:
        response = await strategy.get(f"/clusters/{cluster_id}/schedule")
        return response.json() if response.status_code == 200 else None

    due = datetime.fromisoformat((await eventually(schedule, what="the cluster's review schedule"))["next_due_at"])
    assert not to(MANAGER_EMAIL, platform.mails()), "no reminder before the due date"
    await ok(await strategy.put("/admin/clock", json={"now": (due + timedelta(minutes=1)).isoformat()}))
    (_reminder,) = await wait_for_mail(platform, MANAGER_EMAIL)

    # A second member's response is the barrier: once its email is out, the pipeline and the scheduler have
    # run many more times, so a duplicate would have arrived by now.
    await submit_response(platform, "other")
    await wait_for_mail(platform, OTHER_EMAIL)
    mails = platform.mails()
    counts = {
        "emails_total": len(mails),
        "match_emails_to_member": len(to(MEMBER_EMAIL, mails)),
        "reminders_to_manager": len(to(MANAGER_EMAIL, mails)),
        "match_emails_to_other": len(to(OTHER_EMAIL, mails)),
    }
    assert counts == {
        "emails_total": 3,
        "match_emails_to_member": 1,
        "reminders_to_manager": 1,
        "match_emails_to_other": 1,
    }, counts
    next_due = datetime.fromisoformat((await ok(await strategy.get(f"/clusters/{cluster_id}/schedule")))["next_due_at"])
    assert next_due > due, "the fired review moved the schedule on"
    return counts


Check = Callable[[], Awaitable[bool]]
