"""The console's survey pages in embedded mode: a manager launches a survey to the SME members (after fixing
what the form refused), a member answers through the emailed link, the campaign page shows the progress and
the results by name with the CSV behind them; reminders go now, the survey closes early; the questions preview
in each language; viewers get no launch, remind or close controls and their forged forms are refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest

from tests.e2e.console_support import CSRF, assert_names_only, browser, demo_platform, sign_in, visible
from tests.support.polling import eventually
from trellis.demo import MEMBERS, SIGN_IN_PEOPLE
from trellis.embedded import EmbeddedPlatform
from trellis_common.skill_labels import skill_label

SKILL = {
    "skill.digcomp:5.2.current_level": "2",
    "skill.digcomp:5.2.required_level": "5",
    "skill.digcomp:5.2.headcount_having": "1",
    "skill.digcomp:5.2.headcount_needed": "4",
    "skill.digcomp:5.2.importance": "5",
    "q.digitalisation_priority": "4",  # a likert question: its result reads in words
}
SMES = [m for m in MEMBERS if m["member_type"] == "sme"]


@pytest.fixture(scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[EmbeddedPlatform, str]]:
    async with demo_platform(tmp_path_factory.mktemp("console-campaigns")) as found:
        yield found


@pytest.fixture(scope="module")
async def campaign(platform: tuple[EmbeddedPlatform, str]) -> str:
    """A survey the demo manager launched through the console, with one member's answer."""
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"])
        form = await client.get(f"/clusters/{cluster_id}/campaigns/new")
        fields = {
            "csrf": CSRF.findall(form.text)[0],
            "template": "digital-skills",
            "title": "Digital skills 2027",
            "member_type": "sme",
            "country": "",
            "closes_on": (date.today() - timedelta(days=1)).isoformat(),
            "remind_after_days": "soon",
            "reminders": "2",
        }
        refused = await client.post(f"/clusters/{cluster_id}/campaigns/new", data=fields)
        assert refused.status_code == 422 and "Not a number." in refused.text, refused.text
        fields.update(csrf=CSRF.findall(refused.text)[0], remind_after_days="7")
        refused = await client.post(f"/clusters/{cluster_id}/campaigns/new", data=fields)
        assert refused.status_code == 422 and "The closing date must be in the future." in refused.text
        assert 'value="Digital skills 2027"' in refused.text, "what was typed is kept"
        fields.update(csrf=CSRF.findall(refused.text)[0], closes_on=(date.today() + timedelta(days=30)).isoformat())
        launched = await client.post(f"/clusters/{cluster_id}/campaigns/new", data=fields)
        assert launched.status_code == 200 and launched.url.path.startswith("/campaigns/"), launched.text
        assert "The survey was launched" in launched.text
        campaign_id = launched.url.path.removeprefix("/campaigns/")

    huber = next(m for m in SMES if m["name"].startswith("Präzisionsteile"))["contacts"][0]["email"]

    async def invitation() -> str | None:
        for mail in embedded.mail.messages:
            found = re.search(r"/surveys/answer/[^\s\"<>]+", mail.text()) if huber in mail.recipients else None
            if found:
                return found.group(0)
        return None

    path = await eventually(invitation, timeout=30, what="the invitation email")
    transport = httpx.ASGITransport(app=embedded.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://trellis") as member:
        page = await member.get(path)
        answered = await member.post(path, data={"csrf": CSRF.findall(page.text)[0], "action": "submit", **SKILL})
        assert answered.status_code == 200, answered.text
    return campaign_id


async def test_the_launched_survey_shows_its_progress_and_results_by_name(
    platform: tuple[EmbeddedPlatform, str], campaign: str
) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"])
        listed = await client.get(f"/clusters/{cluster_id}/campaigns")
        assert "Digital skills 2027" in listed.text
        assert f"1 of {len(SMES)} members answered" in visible(listed.text), "only the SMEs were invited"
        page = await client.get(f"/campaigns/{campaign}")
        text = visible(page.text)
        assert "Send reminders now" in text and "Close the survey now" in text
        results = page.text.split('id="results-h"')[1]
        assert skill_label("digcomp:5.2", "en") in results, "the skill is named, not coded"
        shown = visible(results)
        assert "4 – Agree" in shown, "a likert answer in the scale's words"
        assert shown.index("1 – Strongly disagree") < shown.index("4 – Agree") < shown.index("5 – Strongly agree")
        assert_names_only(page.text)
        german = await client.get(f"/campaigns/{campaign}", params={"lang": "de"})
        assert skill_label("digcomp:5.2", "de") in german.text and "Mitgliedern haben geantwortet" in german.text
        assert "4 – Stimme eher zu" in german.text
        csv = await client.get(f"/campaigns/{campaign}/results.csv")
        assert csv.headers["content-type"].startswith("text/csv")
        assert "attachment" in csv.headers["content-disposition"]
        assert csv.text.splitlines()[0].startswith("member_id,member_name") and "Präzisionsteile" in csv.text


async def test_a_manager_reminds_now_and_closes_early(platform: tuple[EmbeddedPlatform, str], campaign: str) -> None:
    embedded, _cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"], wanted=f"/campaigns/{campaign}?lang=en")
        page = await client.get(f"/campaigns/{campaign}")
        reminded = await client.post(f"/campaigns/{campaign}/remind", data={"csrf": CSRF.findall(page.text)[0]})
        not_yet = len(SMES) - 1  # one contact each; one answered
        assert f"Reminders go to {not_yet} contacts now." in reminded.text
        closed = await client.post(f"/campaigns/{campaign}/close", data={"csrf": CSRF.findall(reminded.text)[0]})
        assert "The survey is closed" in closed.text and "Closed on" in closed.text
        assert "Send reminders now" not in closed.text, "nothing to remind or close any more"
        again = await client.post(f"/campaigns/{campaign}/close", data={"csrf": CSRF.findall(closed.text)[0]})
        assert again.status_code == 200 and again.url.path == f"/campaigns/{campaign}", "closed meanwhile: no error"


async def test_the_questions_preview_in_each_language(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["viewer"])
        english = await client.get(f"/clusters/{cluster_id}/templates/digital-skills")
        assert english.status_code == 200 and skill_label("digcomp:5.2", "en") in english.text
        german = await client.get(f"/clusters/{cluster_id}/templates/digital-skills", params={"in": "de"})
        assert 'lang="de"' in german.text and skill_label("digcomp:5.2", "de") in german.text
        assert "Bedarf und Angebot an digitalen Kompetenzen" in german.text
        assert_names_only(german.text)


async def test_a_viewer_cannot_launch_remind_or_close(platform: tuple[EmbeddedPlatform, str], campaign: str) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        home = await sign_in(client, SIGN_IN_PEOPLE["viewer"])
        csrf = CSRF.findall(home.text)[0]
        listed = await client.get(f"/clusters/{cluster_id}/campaigns")
        assert "Launch a survey" not in listed.text
        page = await client.get(f"/campaigns/{campaign}")
        assert "Send reminders now" not in page.text
        assert (await client.get(f"/clusters/{cluster_id}/campaigns/new")).status_code == 403
        for action in ("remind", "close"):
            refused = await client.post(f"/campaigns/{campaign}/{action}", data={"csrf": csrf})
            assert refused.status_code == 403 and "Not allowed" in refused.text
        launched = await client.post(
            f"/clusters/{cluster_id}/campaigns/new", data={"csrf": csrf, "template": "digital-skills"}
        )
        assert launched.status_code == 403
        other = await client.get("/clusters/another-cluster/campaigns")
        assert other.status_code == 404
