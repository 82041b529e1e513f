"""A member's whole journey in a real browser (Debian's Chromium) on the embedded host, where every service sits
under its own path prefix: the invitation opened from the mail viewer, the form saved, resumed and submitted, the
thank-you page; the match email, read in the viewer, names the skill and the cluster; its Accept button opens a
page that asks, one press records the answer in matchmaking, and the same button later shows the same page
without recording a second outcome."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, Page

from tests.e2e.test_surveys_browser import fill_skill
from tests.support.polling import eventually
from tests.support.prefix import serving
from tests.support.processes import free_port
from trellis.embedded import build_embedded
from trellis_common.skill_labels import skill_label

CLUSTER = "Danube Smart Manufacturing Cluster"
MEMBER = "Alpine Composites"
EMAIL = "maria@alpine.example"
OFFER = "Data-driven production masterclass"


async def seed(url: str, headers: dict[str, str]) -> dict[str, Any]:
    """A cluster with one member, a partner whose offer fits the skill the member will report, a campaign."""
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as api:
        cluster = (await api.post("/surveys/clusters", json={"name": CLUSTER, "country": "AT"})).json()
        member = (
            await api.post(
                f"/surveys/clusters/{cluster['id']}/members",
                json={
                    "name": MEMBER,
                    "member_type": "sme",
                    "country": "AT",
                    "languages": ["en"],
                    "contacts": [{"name": "Maria Rossi", "email": EMAIL, "language": "en"}],
                },
            )
        ).json()
        offer = {"title": OFFER, "skill_codes": ["digcomp:5.2"], "max_level": 6, "format": "masterclass"}
        made = await api.post(
            "/matchmaking/partners",
            json={"name": "TU Danube", "partner_type": "university", "country": "AT", "offers": [offer | {"seats": 5}]},
        )
        assert made.status_code == 201, made.text
        launched = await api.post(
            f"/surveys/clusters/{cluster['id']}/campaigns",
            json={"template_id": "digital-skills", "title": "Digital skills 2027"},
        )
        assert launched.status_code == 201, launched.text
    return {"cluster": cluster, "member": member}


async def open_mail(context: BrowserContext, url: str, subject: str) -> Page:
    """The mail viewer's newest email whose subject starts with ``subject`` (waiting for it to arrive)."""
    page = await context.new_page()

    async def listed() -> bool:
        await page.goto(f"{url}/mail")
        return await page.locator("td.subject a", has_text=subject).count() > 0

    await eventually(listed, timeout=60, interval=0.5, what=f"an email '{subject}…' in the viewer")
    await page.locator("td.subject a", has_text=subject).first.click()
    await page.wait_for_url(re.compile(r".*/mail/\d+$"))
    return page


async def follow(context: BrowserContext, mail: Page, link_text: str) -> Page:
    """Click a link of the email's HTML (shown in the viewer's sandboxed frame; links open a new tab)."""
    async with context.expect_page() as opened:
        await mail.frame_locator("iframe.email").get_by_role("link", name=link_text, exact=True).click()
    page = await opened.value
    await page.wait_for_load_state()
    return page


async def test_a_member_answers_the_survey_and_accepts_a_proposal_from_the_emails(
    browser: Browser, tmp_path: Path
) -> None:
    port = free_port()
    embedded = build_embedded(tmp_path, fast=True, public_url=f"http://127.0.0.1:{port}")
    async with serving(embedded.app, port) as url:
        seeded = await seed(url, embedded.admin_headers())
        context = await browser.new_context(viewport={"width": 390, "height": 844})

        # The invitation, opened from the mail viewer: answer part of the form, save.
        invitation = await open_mail(context, url, "Survey invitation")
        form = await follow(context, invitation, "Answer the survey")
        assert form.url.startswith(f"{url}/surveys/answer/")
        shown = await form.inner_text("main")
        assert "digcomp:" not in shown and skill_label("digcomp:5.2") in shown, "skills by name, never by code"
        await form.check("#q-digitalisation_priority-4")
        await fill_skill(form, "digcomp-5-2", "2", "5", "1", "4", "5")
        await form.click("button[value=save]")
        assert "Your answers are saved" in await form.inner_text("[role=status]")
        await form.close()

        # Later, through the same email: the answers are back; finish and submit.
        form = await follow(context, invitation, "Answer the survey")
        assert await form.input_value("#skill-digcomp-5-2-required_level") == "5"
        await form.fill("#q-employees", "40")
        await form.check("text=Yes >> nth=0")  # is it difficult to hire IT staff? yes
        await form.fill("#q-open_it_positions", "3")
        await form.click("button[value=submit]")
        assert await form.inner_text("h1") == "Thank you"
        await form.close()

        # The match email, as the member reads it: the cluster's name, the skill's name, never a code.
        mail = await open_mail(context, url, "1 collaboration partner proposal")
        assert CLUSTER in await mail.inner_text("dl"), "the cluster is the sender"
        body = await mail.frame_locator("iframe.email").locator("body").inner_text()
        assert CLUSTER in body and skill_label("digcomp:5.2") in body and OFFER in body
        assert "digcomp:" not in body and seeded["member"]["id"] not in body

        # Accept: a page that asks first, one press records it.
        reply = await follow(context, mail, "Accept")
        assert reply.url.startswith(f"{url}/matchmaking/reply/")
        assert await reply.inner_text("h1") == "Would you like to take up this offer?"
        assert OFFER in await reply.inner_text("main") and CLUSTER in await reply.inner_text("header")
        await reply.get_by_role("button", name="Yes, accept").click()
        await reply.wait_for_load_state()
        assert await reply.inner_text("h1") == "You accepted this offer"
        answered = await reply.inner_text("main")

        async with httpx.AsyncClient(base_url=url, headers=embedded.admin_headers(), timeout=10) as api:
            params = {"member_id": seeded["member"]["id"]}
            (match,) = (await api.get("/matchmaking/matches", params=params)).json()["items"]
            assert (match["status"], match["outcome_by"]) == ("accepted", "member")

            # The same button again: the same page, and no second outcome.
            again = await follow(context, mail, "Accept")
            assert await again.inner_text("h1") == "You accepted this offer"
            assert await again.inner_text("main") == answered
            (still,) = (await api.get("/matchmaking/matches", params=params)).json()["items"]
            assert (still["status"], still["outcome_at"]) == ("accepted", match["outcome_at"])
        await context.close()
