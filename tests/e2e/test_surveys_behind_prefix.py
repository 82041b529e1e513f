"""A member answers a survey in a real browser while the surveys service sits behind a path prefix.

Embedded: the whole platform on uvicorn, the surveys app mounted at /surveys, the link taken from the email in
the mail sink. Distributed: the surveys service as its own process with TRELLIS_HTTP_ROOT_PATH=/surveys,
behind a reverse proxy that strips /surveys before forwarding (as an ingress does), on PostgreSQL and Kafka.
Either way the member saves, comes back to the draft and submits, and every request stays under the prefix.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser

from tests.conftest import NewDatabase
from tests.e2e.test_surveys_browser import EMAIL, SECRET, fill_skill, launch_campaign, published
from tests.support import auth
from tests.support.polling import eventually
from tests.support.prefix import behind, serving, stripping_proxy
from tests.support.processes import ServiceProcess, free_port
from trellis.embedded import build_embedded
from trellis_common.catalogue import spec_for_model
from trellis_common.envelope import from_kafka
from trellis_common.events import InvitationRequested, ResponseCompleted

ANSWERS = {"digitalisation_priority": 4, "hiring_difficulty": "yes", "open_it_positions": 3, "employees": 40}


async def answer_in_browser(browser: Browser, link: str) -> None:
    """Save half-way, reopen the link (the draft is back), submit: every page comes from the link's own URL."""
    first = await browser.new_context()
    page = await first.new_page()
    await page.goto(link)
    assert await page.title() == "Digital skills demand and supply"
    await page.check("#q-digitalisation_priority-4")
    await fill_skill(page, "digcomp-5-2", "2", "5", "1", "4", "5")
    await page.fill("#q-employees", "40")
    await page.click("button[value=save]")
    assert page.url == link, f"the form posted outside the prefix, to {page.url}"
    assert "Your answers are saved" in await page.inner_text("[role=status]")
    assert await page.get_attribute("form", "action") == urlsplit(link).path
    await first.close()

    later = await browser.new_context()
    page = await later.new_page()
    await page.goto(link)
    assert await page.input_value("#skill-digcomp-5-2-required_level") == "5"
    assert await page.is_checked("#q-digitalisation_priority-4")
    assert await page.input_value("#q-employees") == "40"
    await page.check("text=Yes >> nth=0")  # is it difficult to hire IT staff? yes
    await page.fill("#q-open_it_positions", "3")
    await page.click("button[value=submit]")
    assert page.url == link, f"the form posted outside the prefix, to {page.url}"
    assert await page.inner_text("h1") == "Thank you"
    await later.close()


async def test_embedded_platform_serves_the_form_under_its_mount_path(browser: Browser, tmp_path: Path) -> None:
    port = free_port()
    embedded = build_embedded(tmp_path, fast=True, public_url=f"http://127.0.0.1:{port}")
    async with (
        serving(embedded.app, port) as url,
        httpx.AsyncClient(base_url=f"{url}/surveys", headers=embedded.admin_headers(), timeout=10) as api,
    ):
        member, campaign = await launch_campaign(api)

        async def invitation_mail() -> str | None:
            texts = [m.text() for m in embedded.mail.messages if EMAIL in m.recipients]
            found = [re.search(rf"{re.escape(url)}/surveys/answer/\S+", text) for text in texts]
            return next((match.group(0) for match in found if match), None)

        link = await eventually(invitation_mail, timeout=60, interval=0.1, what=f"the invitation email to {EMAIL}")
        await answer_in_browser(browser, link)

        topic = spec_for_model(ResponseCompleted).topic()

        async def completed() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            for record in embedded.broker.topics.get(topic, []):
                if record.value is None:
                    continue
                data = from_kafka(record.headers, record.value).data
                assert data is not None, "a completed response carries its data"
                if data["member_id"] == member["id"]:
                    found.append(data)
            return found

        [event] = await eventually(completed, timeout=30, what="surveys.response.completed on the bus")
        assert event["answers"] == ANSWERS and [s["skill_code"] for s in event["skills"]] == ["digcomp:5.2"]
        progress = (await api.get(f"/campaigns/{campaign['id']}")).json()["progress"]
        assert progress["opened"] == progress["started"] == progress["completed"] == 1

        # The host's own pages (the console at its root), served behind a prefix too, link under that prefix.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=behind("/edge", embedded.app))) as edge:
            landing = await edge.get("http://trellis.test/")
            assert landing.status_code == 303 and landing.headers["location"].startswith("/edge/signin?next=/edge/")
            for page in ("/apis", "/signin"):
                html = (await edge.get(f"http://trellis.test{page}")).text
                links = re.findall(r"(?:href|action)=[\"']([^\"'#]+)", html)
                assert links and all(link.startswith("/edge/") for link in links), (page, links)


@pytest.fixture
async def surveys_behind_proxy(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase
) -> AsyncIterator[str]:
    """The surveys service as its own process, reached through a proxy at <proxy>/surveys; yields that URL."""
    proxy_port = free_port()
    public_url = f"http://127.0.0.1:{proxy_port}/surveys"
    env = {
        "TRELLIS_SERVICE_NAME": "surveys",
        "TRELLIS_ENVIRONMENT": "test",
        "TRELLIS_SURVEY_LINK_SECRET": SECRET,
        "TRELLIS_DATABASE_URL": await new_database("surveys"),
        "TRELLIS_BUS": "kafka",
        "TRELLIS_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TRELLIS_TOPIC_PREFIX": topic_prefix,
        "TRELLIS_RELAY_POLL_INTERVAL_S": "0.05",
        "TRELLIS_RETRY_MAX_BACKOFF_S": "1",
        "TRELLIS_HTTP_ROOT_PATH": "/surveys",
        "TRELLIS_PUBLIC_BASE_URL": public_url,
        **auth.auth_env(),
    }
    process = ServiceProcess("surveys", env, tmp_path).start()
    try:
        await process.wait_ready()  # probes reach the pod directly, without the prefix
        async with serving(stripping_proxy("/surveys", process.url), proxy_port):
            yield public_url
    finally:
        process.stop()


async def test_distributed_service_serves_the_form_behind_a_prefix_stripping_proxy(
    browser: Browser, surveys_behind_proxy: str, kafka_bootstrap: str, topic_prefix: str
) -> None:
    async with httpx.AsyncClient(base_url=surveys_behind_proxy, headers=auth.admin(), timeout=10) as api:
        member, campaign = await launch_campaign(api)
        [invitation] = await published(
            kafka_bootstrap, spec_for_model(InvitationRequested).topic(topic_prefix), member["id"]
        )
        link = invitation["link"]
        assert link.startswith(f"{surveys_behind_proxy}/answer/")

        await answer_in_browser(browser, link)

        [event] = await published(kafka_bootstrap, spec_for_model(ResponseCompleted).topic(topic_prefix), member["id"])
        assert event["answers"] == ANSWERS and [s["skill_code"] for s in event["skills"]] == ["digcomp:5.2"]
        progress = (await api.get(f"/campaigns/{campaign['id']}")).json()["progress"]
        assert progress["opened"] == progress["started"] == progress["completed"] == 1
