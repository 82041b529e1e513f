"""The accept/decline links of match emails: signed by matchmaking onto each proposal it announces, opening a page
that asks (a GET changes nothing), a POST that records the member's answer once, and the same page whenever the
link is opened again. The service runs in-process on SQLite with a manual clock."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from tests.integration.matchmaking.conftest import (
    START,
    created,
    deliver,
    gaps_assessed,
    move_clock,
    name_member,
    offer,
    partner,
    skill_gap,
)
from tests.support.prefix import behind
from trellis_common.app import create_app
from trellis_common.runtime import ServiceRuntime
from trellis_common.settings import narrowed
from trellis_common.skill_labels import skill_label
from trellis_common.tokens import TokenSigner
from trellis_matchmaking.reply_links import REPLY_PURPOSE
from trellis_matchmaking.service import DEFINITION
from trellis_matchmaking.settings import MatchmakingSettings

GAP = skill_gap("digcomp:5.2", current=2, required=5, headcount_gap=3, importance=5)


@pytest.fixture
async def member(matchmaking: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    """What a member's browser reaches: the service's pages, with no bearer token."""
    app = create_app(DEFINITION, runtime=matchmaking, manage_runtime=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://matchmaking") as client:
        yield client


async def proposal_link(matchmaking: ServiceRuntime, api: httpx.AsyncClient, member_id: str = "m-1") -> str:
    """The path of the reply link on the member's proposal, as the match email carries it."""
    await created(await api.post("/partners", json=partner("TU Danube", "university", offer("Data", "digcomp:5.2", 2))))
    (told,) = await deliver(matchmaking, gaps_assessed(member_id, [GAP]))
    (option,) = told.options
    assert option.match_id and option.reply_link
    base = narrowed(matchmaking.settings, MatchmakingSettings).public_base_url
    assert option.reply_link.startswith(f"{base}/reply/")
    return urlsplit(option.reply_link).path


def text_of(page: httpx.Response) -> str:
    """What the member reads (the body's text, white space, no-break spaces included, as single spaces)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text.split("<body", 1)[1])).strip()


async def match_of(api: httpx.AsyncClient, member_id: str = "m-1") -> dict[str, object]:
    (match,) = (await api.get("/matches", params={"member_id": member_id})).json()["items"]
    return dict(match)


async def test_a_member_accepts_with_one_click_and_the_link_then_shows_the_answer(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient, member: httpx.AsyncClient
) -> None:
    await name_member(matchmaking, "m-1", "Alpine Composites")
    link = await proposal_link(matchmaking, api)

    # Opening the link asks, in the language the email put on it, and names everything.
    asked = await member.get(link, params={"answer": "accepted", "lang": "de"})
    assert asked.status_code == 200 and 'lang="de"' in asked.text
    shown = text_of(asked)
    for words in ("Danube", "Möchten Sie dieses Angebot annehmen?", "Data", "von TU Danube", "Alpine Composites"):
        assert words in shown, words
    assert f"Kompetenz: {skill_label('digcomp:5.2', 'de')}" in shown
    assert "digcomp" not in shown and "m-1" not in shown, "names, never codes or ids"
    assert (
        asked.headers["cache-control"] == "no-store"
        and "frame-ancestors 'none'" in asked.headers["content-security-policy"]
    )
    buttons = re.findall(r'<button type="submit" name="answer" value="(\w+)" class="([\w ]+)"', asked.text)
    assert buttons == [("accepted", "primary accept"), ("declined", "secondary decline")]
    assert f'action="{link}?lang=de"' in asked.text
    assert (await match_of(api))["status"] == "proposed", "opening the link records nothing"

    # Pressing the button records the answer and shows the page again (a reload sends nothing twice).
    move_clock(matchmaking, START + timedelta(hours=2))
    pressed = await member.post(f"{link}?lang=de", data={"answer": "accepted"})
    assert pressed.status_code == 303 and pressed.headers["location"] == f"{link}?lang=de"
    accepted = await match_of(api)
    assert (accepted["status"], accepted["outcome_by"]) == ("accepted", "member")
    after = text_of(await member.get(pressed.headers["location"]))
    assert "Sie haben dieses Angebot angenommen" in after and "Angenommen am 2. März 2026." in after

    # The same link again, days later: the same page; pressing again records no second outcome.
    move_clock(matchmaking, START + timedelta(days=3))
    again = await member.get(link, params={"answer": "accepted", "lang": "de"})
    assert text_of(again) == after
    assert (await member.post(f"{link}?lang=de", data={"answer": "accepted"})).status_code == 303
    assert (await match_of(api))["outcome_at"] == accepted["outcome_at"], "no second outcome"

    # Plans change: the member withdraws; a declined proposal cannot be accepted through the link again.
    withdrawn = await member.post(link, data={"answer": "declined"})
    assert withdrawn.status_code == 303 and (await match_of(api))["status"] == "declined"
    assert (await api.get(f"/offers/{accepted['offer_id']}")).json()["seats_taken"] == 0, "the seat is free again"
    refused = await member.post(link, data={"answer": "accepted"})
    assert refused.status_code == 409 and "can no longer be recorded" in text_of(refused)
    assert "You declined this offer" in text_of(refused) and "<button" not in refused.text
    assert (await match_of(api))["status"] == "declined"


async def test_declining_asks_first_and_the_page_speaks_the_browser_language(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient, member: httpx.AsyncClient
) -> None:
    link = await proposal_link(matchmaking, api)
    asked = await member.get(link, params={"answer": "declined"}, headers={"Accept-Language": "fr-BE,fr;q=0.9"})
    shown = text_of(asked)
    assert 'lang="fr"' in asked.text and "Souhaitez-vous refuser cette offre ?" in shown
    assert "Votre cluster" in shown, "a cluster whose name is not known yet is named neutrally"
    buttons = re.findall(r'name="answer" value="(\w+)"', asked.text)
    assert buttons == ["declined", "accepted"], "the answer the member clicked comes first"
    assert (await member.post(link, data={"answer": "declined"})).status_code == 303
    assert (await match_of(api))["status"] == "declined"
    assert "Vous avez refusé cette offre" in text_of(await member.get(link, params={"lang": "fr"}))


async def test_a_link_that_is_not_ours_or_too_old_changes_nothing(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient, member: httpx.AsyncClient
) -> None:
    link = await proposal_link(matchmaking, api)
    settings = narrowed(matchmaking.settings, MatchmakingSettings)
    match_id = str((await match_of(api))["id"])
    other_purpose = TokenSigner(settings.reply_signing_secret, "notifications.unsubscribe.v1").dumps(
        {"m": match_id}, START
    )
    unknown_match = TokenSigner(settings.reply_signing_secret, REPLY_PURPOSE).dumps({"m": "no-such-match"}, START)
    for bad in (link[:-3] + "abc", "/reply/garbage", f"/reply/{other_purpose}", f"/reply/{unknown_match}"):
        page = await member.get(bad)
        assert page.status_code == 400 and "This link does not work" in text_of(page), bad
        assert (await member.post(bad, data={"answer": "accepted"})).status_code == 400, bad
    assert (await match_of(api))["status"] == "proposed"

    nonsense = await member.post(link, data={"answer": "maybe"})
    assert nonsense.status_code == 400 and (await match_of(api))["status"] == "proposed"
    assert (await member.post(link)).status_code == 400, "no answer at all"

    move_clock(matchmaking, START + settings.reply_link_max_age + timedelta(minutes=1))
    expired = await member.get(link)
    assert expired.status_code == 400 and f"more than {settings.reply_link_max_age_days} days old" in text_of(expired)
    assert (await member.post(link, data={"answer": "accepted"})).status_code == 400
    assert (await match_of(api))["status"] == "proposed"


async def test_behind_a_path_prefix_the_form_posts_under_the_prefix(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient
) -> None:
    link = await proposal_link(matchmaking, api)
    app = behind("/matchmaking", create_app(DEFINITION, runtime=matchmaking, manage_runtime=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://host") as browser:
        page = await browser.get(link, params={"lang": "en"})  # as the proxy forwards it, prefix stripped
        assert page.status_code == 200 and f'action="/matchmaking{link}?lang=en"' in page.text
        pressed = await browser.post(f"{link}?lang=en", data={"answer": "accepted"})
        assert pressed.headers["location"] == f"/matchmaking{link}?lang=en"
    assert (await match_of(api))["status"] == "accepted"


async def test_the_runs_a_manager_reads_carry_no_reply_links(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient
) -> None:
    await proposal_link(matchmaking, api)
    (run,) = (await api.get("/members/m-1/matches")).json()
    assert run["options"][0]["match_id"] and run["options"][0]["reply_link"] is None
