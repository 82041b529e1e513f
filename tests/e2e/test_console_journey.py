"""The manager's whole journey through the console in Debian's Chromium, in distributed mode (every service and
the console as processes on Kafka, PostgreSQL and an SMTP sink, sign-in at a real OpenID Connect provider
process) and in embedded mode (the local sign-in page): sign in → import members (first a CSV with a mistake:
the report, nothing written; then the fixed file) → register a partner with an offer → launch a survey → a new
member answers through the link emailed to them → the console shows that member's gaps, the heatmap with names
and the match → mark it accepted, then completed → record a strategy review → the next review date moves."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from playwright.async_api import Browser, FilePayload, Page

from tests.conftest import NewDatabase
from tests.e2e.test_surveys_browser import fill_skill
from tests.support.distributed import SERVICES, Distributed, start_services
from tests.support.oidc import CONSOLE_CLIENT, OidcServer, oidc_server_libs
from tests.support.polling import eventually
from tests.support.prefix import serving
from tests.support.processes import ServiceProcess, free_port
from trellis.demo import CLUSTER, SIGN_IN_PEOPLE, run_demo
from trellis.embedded import DEMO_FILE, build_embedded
from trellis.mailsink import MailSink, ReceivedMail
from trellis_common.skill_labels import skill_label

NEW_MEMBER = "Linz Robotics"
NEW_CONTACT = "ops@linz-robotics.example"
PARTNER = "Robotics Academy Linz"
OFFER = "Data-driven shop floor"
MEMBERS_CSV = (
    "name,member_type,country,contact_name,contact_email,contact_language\n"
    f"{NEW_MEMBER},sme,AT,Olga Berger,{NEW_CONTACT},en\n"
    "Steyr Castings,foundry,AT,Paul Huber,paul@steyr-castings.example,de\n"
)


async def navigate(page: Page, cluster: str, to: str) -> None:
    """Follow the cluster navigation, as a person does."""
    await page.get_by_role("navigation", name=cluster).get_by_role("link", name=to).click()
    await page.wait_for_load_state()


def invitation_in(mails: Callable[[], list[ReceivedMail]]) -> Callable[[], Awaitable[str | None]]:
    async def link() -> str | None:
        for mail in mails():
            found = re.search(r"https?://[^\s\"<>]+/answer/[^\s\"<>]+", mail.text())
            if found and NEW_CONTACT in mail.recipients:
                return found.group(0)
        return None

    return link


async def answer_the_emailed_survey(page: Page, link: Callable[[], Awaitable[str | None]]) -> None:
    await page.goto(await eventually(link, timeout=90, what="the survey invitation to the new member"))
    await page.check("#q-digitalisation_priority-4")
    await fill_skill(page, "digcomp-5-2", "1", "5", "0", "3", "5")
    await page.fill("#q-employees", "25")
    await page.check("text=Yes >> nth=0")
    await page.fill("#q-open_it_positions", "2")
    await page.click("button[value=submit]")
    assert await page.inner_text("h1") == "Thank you"


async def manager_journey(page: Page, cluster: str, invitation: Callable[[], Awaitable[str | None]]) -> None:
    """From a signed-in manager on the cluster home to a recorded review."""
    # Import members: the report first, nothing written; then the fixed file.
    await navigate(page, cluster, "Members")
    await page.get_by_role("link", name="Import from CSV").click()
    upload: FilePayload = {"name": "members.csv", "mimeType": "text/csv", "buffer": MEMBERS_CSV.encode()}
    await page.get_by_label("CSV file").set_input_files(files=[upload])
    await page.get_by_role("button", name="Check and import").click()
    assert "Nothing was imported: 1 of 2 rows need fixing." in await page.inner_text("[role=alert]")
    assert await page.locator("table.report tbody tr").count() == 1
    fixed: FilePayload = {**upload, "buffer": MEMBERS_CSV.replace(",foundry,", ",sme,").encode()}
    await page.get_by_label("CSV file").set_input_files(files=[fixed])
    await page.get_by_role("button", name="Check and import").click()
    assert "2 members imported." in await page.inner_text("[role=status]")

    # A partner whose offer fits the gap the new member will report.
    await navigate(page, cluster, "Partners")
    await page.get_by_role("link", name="Register a partner").click()
    await page.get_by_label("Organisation name").fill(PARTNER)
    await page.get_by_label("Kind of partner").select_option("training_provider")
    await page.get_by_label("Title").fill(OFFER)
    await page.get_by_label("Skills it teaches").select_option("digcomp:5.2")
    await page.get_by_label("Format", exact=True).select_option("training")
    await page.get_by_label("Seats per period").fill("10")
    await page.get_by_role("button", name="Save").click()
    assert "The partner was saved." in await page.inner_text("[role=status]")

    # Launch a survey to every member.
    await navigate(page, cluster, "Surveys")
    await page.get_by_role("link", name="Launch a survey").click()
    await page.get_by_label("Title members see").fill("Digital skills 2027")
    await page.get_by_role("button", name="Launch and send the invitations").click()
    assert "The survey was launched" in await page.inner_text("[role=status]")

    member_page = await page.context.new_page()
    await answer_the_emailed_survey(member_page, invitation)
    await member_page.close()

    # The console shows the member's gaps and match, and the heatmap names them.
    await navigate(page, cluster, "Members")
    await page.get_by_role("link", name=NEW_MEMBER).click()
    member_url = page.url

    async def matched() -> bool:
        await page.goto(member_url)
        return await page.locator("#matches-h + div table").count() > 0

    await eventually(matched, timeout=60, interval=0.5, what="the new member's match on its page")
    gaps = await page.locator("section[aria-labelledby=gaps-h]").inner_text()
    assert skill_label("digcomp:5.2", "en") in gaps
    assert OFFER in await page.locator("section[aria-labelledby=matches-h]").inner_text()
    await navigate(page, cluster, "Skills")
    heatmap = await page.request.get(f"{page.url.split('?')[0]}/heatmap.svg")
    assert NEW_MEMBER in await heatmap.text()

    # Accepted, then completed, from the matches page.
    await navigate(page, cluster, "Matches")
    row = page.locator("tr", has_text=OFFER).filter(has=page.get_by_role("button", name=re.compile("^Accepted")))
    await row.first.get_by_role("button", name=re.compile("^Accepted")).click()
    assert "Recorded: Accepted." in await page.inner_text("[role=status]")
    row = page.locator("tr", has_text=OFFER).filter(has=page.get_by_role("button", name=re.compile("^Completed")))
    await row.first.get_by_role("button", name=re.compile("^Completed")).click()
    assert "Recorded: Completed." in await page.inner_text("[role=status]")

    # A strategy review moves the next review date.
    await navigate(page, cluster, "Strategy")
    await page.locator("ul.plain h2 a").first.click()
    before = await page.locator("p.figure.date").inner_text()
    await page.get_by_label("Notes").fill("Agreed a shop-floor training for the new members.")
    await page.get_by_label("Decisions (one per line)").fill("Book the training")
    await page.get_by_role("button", name="Record a review").click()
    assert "The review was recorded." in await page.inner_text("[role=status]")
    assert await page.locator("p.figure.date").inner_text() != before


async def test_the_manager_journey_in_embedded_mode(browser: Browser, tmp_path: Path) -> None:
    port = free_port()
    platform = build_embedded(tmp_path, fast=True, public_url=f"http://127.0.0.1:{port}")
    async with serving(platform.app, port) as url:
        async with httpx.AsyncClient(base_url=url, headers=platform.admin_headers(), timeout=60) as admin:
            await run_demo(admin, record=tmp_path / DEMO_FILE)
        context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page = await context.new_page()
        await page.goto(f"{url}/?lang=en")
        await page.get_by_role("button", name=f"Sign in as {SIGN_IN_PEOPLE['manager']}").click()
        await page.wait_for_url(f"{url}/clusters/*")
        await manager_journey(page, CLUSTER["name"], invitation_in(lambda: platform.mail.messages))
        await context.close()


async def test_the_manager_journey_in_distributed_mode_signed_in_at_the_oidc_provider(
    browser: Browser, distributed: Distributed, new_database: NewDatabase, smtp_sink: MailSink, tmp_path: Path
) -> None:
    provider = OidcServer(oidc_server_libs(), tmp_path / "oidc.log")
    try:
        await provider.wait_ready()
        await start_services(distributed, new_database, environment=provider.service_env())
        surveys = distributed.processes["surveys"].url
        admin = {"Authorization": f"Bearer {await provider.admin_token()}"}
        async with httpx.AsyncClient(base_url=surveys, headers=admin, timeout=30) as api:
            created = await api.post("/clusters", json={"name": CLUSTER["name"], "country": "AT"})
            assert created.status_code == 201, created.text
        cluster_id = created.json()["id"]
        console = ServiceProcess("console", console_env(provider, distributed), tmp_path)
        console.start(TRELLIS_CONSOLE_HTTP_PORT=str(console.port))
        distributed.processes["console"] = console
        await console.wait_ready()

        context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page = await context.new_page()
        await page.goto(f"{console.url}/?lang=en")
        await page.get_by_role("link", name="Sign in with your organisation's account").click()
        await page.locator("input[name=username]").fill("eva.steiner")
        claims = {"name": "Eva Steiner", "roles": ["cluster-manager"], "clusters": [cluster_id]}
        await page.locator("textarea[name=claims]").fill(json.dumps(claims))
        await page.locator("input[type=submit]").click()
        await page.wait_for_url(f"{console.url}/clusters/{cluster_id}")
        await manager_journey(page, CLUSTER["name"], invitation_in(lambda: smtp_sink.messages))
        await context.close()
    finally:
        provider.stop()


def console_env(provider: OidcServer, platform: Distributed) -> dict[str, str]:
    urls = {f"TRELLIS_CONSOLE_{name.upper()}_URL": platform.processes[name].url for name in SERVICES}
    return {
        **urls,
        "TRELLIS_CONSOLE_ENVIRONMENT": "test",
        "TRELLIS_CONSOLE_SESSION_SECRET": "a-journey-session-secret-of-32-chars-or-more",
        "TRELLIS_CONSOLE_COOKIE_SECURE": "false",
        "TRELLIS_CONSOLE_HTTP_HOST": "127.0.0.1",
        "TRELLIS_CONSOLE_OIDC_ISSUER": provider.issuer,
        "TRELLIS_CONSOLE_OIDC_CLIENT_ID": CONSOLE_CLIENT,
    }
