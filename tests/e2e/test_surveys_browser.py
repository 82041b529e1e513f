"""A member answers a skill-matrix survey in a real browser (Debian's headless Chromium via Playwright).

The surveys service runs as its own process on the real PostgreSQL and Kafka. The test opens the
invitation link the campaign published, fills the skill matrix, saves, comes back, fixes an error the form
reports, submits, and reads ``surveys.response.completed`` off Kafka with the answers and taxonomy codes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page

from tests.conftest import NewDatabase
from tests.support import auth
from tests.support.kafka import read_all
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from trellis_common.catalogue import spec_for_model
from trellis_common.events import InvitationRequested, ResponseCompleted

SECRET = "browser-test-link-secret-0123456789abcdef"
EMAIL = "maria@alpine.example"


@pytest.fixture
async def surveys_process(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase
) -> AsyncIterator[ServiceProcess]:
    env = {
        "TRELLIS_SERVICE_NAME": "surveys",
        "TRELLIS_ENVIRONMENT": "test",  # not dev: the service insists on a real link secret
        "TRELLIS_SURVEY_LINK_SECRET": SECRET,
        "TRELLIS_DATABASE_URL": await new_database("surveys"),
        "TRELLIS_BUS": "kafka",
        "TRELLIS_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TRELLIS_TOPIC_PREFIX": topic_prefix,
        "TRELLIS_RELAY_POLL_INTERVAL_S": "0.05",
        "TRELLIS_RETRY_MAX_BACKOFF_S": "1",
        **auth.auth_env(),
    }
    process = ServiceProcess("surveys", env, tmp_path)
    process.start(TRELLIS_PUBLIC_BASE_URL=process.url)
    try:
        await process.wait_ready()
        yield process
    finally:
        process.stop()


async def published(bootstrap: str, topic: str, member_id: str) -> list[dict[str, Any]]:
    async def found() -> list[dict[str, Any]] | None:
        values = [json.loads(r.value) for r in await read_all(bootstrap, topic) if r.value]
        mine = [v for v in values if v["member_id"] == member_id]
        return mine or None

    return await eventually(found, timeout=30, interval=0.2, what=f"an event on {topic}")


async def fill_skill(
    page: Page, anchor: str, current: str, required: str, having: str, needed: str, importance: str
) -> None:
    await page.select_option(f"#skill-{anchor}-current_level", current)
    await page.select_option(f"#skill-{anchor}-required_level", required)
    await page.fill(f"#skill-{anchor}-headcount_having", having)
    await page.fill(f"#skill-{anchor}-headcount_needed", needed)
    await page.select_option(f"#skill-{anchor}-importance", importance)


async def launch_campaign(api: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """A cluster with one member, and a campaign that invites its contact; returns (member, campaign)."""
    cluster = (await api.post("/clusters", json={"name": "Browser cluster", "country": "AT"})).json()
    member = (
        await api.post(
            f"/clusters/{cluster['id']}/members",
            json={
                "name": "Alpine Composites",
                "member_type": "sme",
                "country": "AT",
                "contacts": [{"name": "Maria Rossi", "email": EMAIL, "language": "en"}],
            },
        )
    ).json()
    launched = await api.post(
        f"/clusters/{cluster['id']}/campaigns", json={"template_id": "digital-skills", "title": "Digital skills"}
    )
    assert launched.status_code == 201, launched.text
    return member, launched.json()


async def test_a_member_answers_a_skill_matrix_survey_in_the_browser(
    browser: Browser, surveys_process: ServiceProcess, kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with httpx.AsyncClient(headers=auth.admin(), base_url=surveys_process.url, timeout=10) as api:
        member, campaign = await launch_campaign(api)

    invitation_topic = spec_for_model(InvitationRequested).topic(topic_prefix)
    [invitation] = await published(kafka_bootstrap, invitation_topic, member["id"])
    link = invitation["link"]
    assert link.startswith(f"{surveys_process.url}/answer/")

    # First visit on a phone-sized screen: part of the matrix, then save.
    phone = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await phone.new_page()
    await page.goto(link)
    assert await page.title() == "Digital skills demand and supply"
    unlabelled = await page.evaluate(
        "() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
        ".filter(el => !(el.id && document.querySelector(`label[for='${el.id}']`))).map(el => el.name)"
    )
    assert unlabelled == []
    await page.check("#q-digitalisation_priority-4")
    await fill_skill(page, "digcomp-5-2", "2", "5", "1", "4", "5")
    await page.fill("#q-employees", "forty")
    await page.click("button[value=save]")
    assert "Your answers are saved" in await page.inner_text("[role=status]")
    await phone.close()

    # Later, on another device: the saved answers are back; submitting reports the bad number first.
    desk = await browser.new_context()
    page = await desk.new_page()
    await page.goto(link)
    assert await page.input_value("#skill-digcomp-5-2-required_level") == "5"
    assert await page.is_checked("#q-digitalisation_priority-4")
    await fill_skill(page, "digcomp-3-4", "1", "4", "0", "2", "4")
    await page.click("button[value=submit]")
    summary = page.locator("#error-summary")
    assert "must be a whole number" in await summary.inner_text()
    await page.click("#error-summary a[href='#q-employees']")
    await page.fill("#q-employees", "40")
    await page.check("text=Yes >> nth=0")  # is it difficult to hire IT staff? yes
    await page.fill("#q-open_it_positions", "3")
    await page.click("button[value=submit]")
    assert await page.inner_text("h1") == "Thank you"
    await desk.close()

    response_topic = spec_for_model(ResponseCompleted).topic(topic_prefix)
    [event] = await published(kafka_bootstrap, response_topic, member["id"])
    assert event["template_id"] == "digital-skills" and event["theme"] == "digital"
    assert event["answers"] == {
        "digitalisation_priority": 4,
        "hiring_difficulty": "yes",
        "open_it_positions": 3,
        "employees": 40,
    }
    assert sorted(event["skills"], key=lambda s: s["skill_code"]) == [
        {
            "skill_code": "digcomp:3.4",
            "current_level": 1,
            "required_level": 4,
            "headcount_having": 0,
            "headcount_needed": 2,
            "importance": 4,
            "level_scale_max": 8,  # the digital-skills matrix rates 0-8
        },
        {
            "skill_code": "digcomp:5.2",
            "current_level": 2,
            "required_level": 5,
            "headcount_having": 1,
            "headcount_needed": 4,
            "importance": 5,
            "level_scale_max": 8,
        },
    ]
    async with httpx.AsyncClient(headers=auth.admin(), base_url=surveys_process.url, timeout=10) as api:
        progress = (await api.get(f"/campaigns/{campaign['id']}")).json()["progress"]
    assert progress["invited"] == progress["opened"] == progress["started"] == progress["completed"] == 1
