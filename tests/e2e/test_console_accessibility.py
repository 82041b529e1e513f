"""axe-core in Debian's Chromium on every page of the manager console: each page of the console's route table, in
every shipped language, at a phone width (375 px) and a desktop width (1280 px), has no serious or critical
violation of the WCAG 2.1 A and AA rules, and does not scroll sideways (reflow, which axe cannot see). Embedded
mode with the demo data (and a survey one member answered), served on a real port; one browser context per
language and width, in which the demo manager, viewer and platform admin sign in through the sign-in page.

PAGES says how each route is reached: a URL, or for a POST the form filled and sent (with the errors it is meant
to show). A route of the console that PAGES does not reach and NOT_PAGES does not excuse fails the test, so a new
page is checked from the day it exists. TRELLIS_CONSOLE_A11Y_SCREENSHOTS=<folder> keeps a screenshot of each."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from playwright.async_api import Browser, FilePayload, Page
from playwright.async_api import Response as PageResponse
from starlette.routing import BaseRoute, Mount, Route

from tests.support.polling import eventually
from tests.support.prefix import serving
from tests.support.processes import free_port
from trellis.demo import run_demo
from trellis.embedded import DEMO_FILE, EmbeddedPlatform, build_embedded
from trellis_common.auth import Role
from trellis_console.messages import LANGUAGES
from trellis_console.session import COOKIE, Session

WIDTHS = (375, 1280)
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")
AXE = Axe()  # axe-core as axe-playwright-python ships it: nothing is fetched at test time
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]}  # passes: 1 node
SCROLLS_SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"

# What the console's route table holds that is no page of its own, and why it is not checked.
NOT_PAGES = {
    "GET /healthz": "the liveness probe: JSON for the orchestrator",
    "GET /readyz": "the readiness probe: JSON for the orchestrator",
    "GET /metrics": "Prometheus text for the scraper",
    "* /static": "the stylesheet the pages link: checked through every page",
    "GET /auth/start": "a redirect to the organisation's OIDC provider, whose pages are not ours; embedded mode has "
    "none configured and answers the 404 page checked below",
    "GET /auth/callback": "the OIDC provider's redirect back: a redirect on, or problem.html (checked below)",
    "POST /signin": "a redirect to the page wanted; every signed-in page below is reached through it",
    "POST /signout": "a redirect to the sign-in page (checked)",
    "POST /campaigns/{campaign_id}/remind": "a redirect to the campaign page, whose notice is checked (?reminded=)",
    "POST /campaigns/{campaign_id}/close": "a redirect to the campaign page, whose notice is checked (?closed=1)",
    "GET /campaigns/{campaign_id}/results.csv": "a CSV download, not a page",
    "POST /matches/{match_id}/outcome": "a redirect to the matches page, whose notices are checked (?recorded=, "
    "?refused=1)",
    "POST /clusters/{cluster_id}/emails/allow": "a redirect to the emails page, whose notice is checked (?allowed=1)",
    "GET /clusters/{cluster_id}/skills/heatmap.svg": "the image the skills page shows; its text alternative is "
    "checked there",
}

Person = Literal["nobody", "manager", "viewer", "admin", "two clusters"]
PEOPLE: tuple[Person, ...] = ("nobody", "manager", "viewer", "admin", "two clusters")  # the order of the visits


@dataclass(frozen=True)
class Demo:
    """The served platform after the demo; its ids fill the "{...}" of the paths in PAGES."""

    url: str
    embedded: EmbeddedPlatform
    cluster_id: str
    member_id: str  # Präzisionsteile Huber GmbH: contacts, gaps, matches and emails
    campaign_id: str  # a survey to the SMEs, one of which answered
    strategy_id: str  # the demo's overall strategy, given a KPI


@dataclass(frozen=True)
class Where:
    demo: Demo
    language: str

    def url(self, path: str) -> str:
        ids = {k: v for k, v in vars(self.demo).items() if isinstance(v, str)}
        filled = path.format(**ids)
        return f"{self.demo.url}{filled}{'&' if '?' in filled else '?'}lang={self.language}"


Reach = Callable[[Page, Where], Awaitable[PageResponse | None]]


async def submitted(page: Page, button: str) -> PageResponse | None:
    """Presses the form's button; the page the POST answered with (after any redirect)."""
    async with page.expect_navigation() as navigation:
        await page.locator(button).click()
    return await navigation.value


async def calendar_link(page: Page, where: Where) -> PageResponse | None:
    await page.goto(where.url("/clusters/{cluster_id}"))
    return await submitted(page, "button[data-write=calendar]")


async def new_member_refused(page: Page, where: Where) -> PageResponse | None:
    """An address the browser's own check takes and the surveys service does not (no domain)."""
    await page.goto(where.url("/clusters/{cluster_id}/members/new"))
    await page.locator("#name").fill("Graz Hydrogen Works")
    await page.locator("#contact_name_0").fill("Anna Gruber")
    await page.locator("#contact_email_0").fill("anna@localhost")
    return await submitted(page, "form.stack button[type=submit]")


async def member_edit_refused(page: Page, where: Where) -> PageResponse | None:
    await page.goto(where.url("/members/{member_id}/edit"))
    await page.locator("#name").fill(" ")  # the browser's "required" takes a space; the service does not
    return await submitted(page, "form.stack button[type=submit]")


async def import_report(page: Page, where: Where) -> PageResponse | None:
    await page.goto(where.url("/clusters/{cluster_id}/members/import"))
    csv = (
        "name,member_type,country,contact_name,contact_email\n"
        "Linz Robotics,sme,AT,Pia Lang,pia@linz-robotics.example\n"
        "Salzburg Textiles,factory,AT,Emil Bauer,emil@textiles.example\n"
        "Tyrol Timber,sme,AT,Rosa Klein,no-address\n"
    )
    await page.locator("#file").set_input_files(
        files=[FilePayload(name="members.csv", mimeType="text/csv", buffer=csv.encode())]
    )
    return await submitted(page, "form.stack button[type=submit]")


async def launch_refused(page: Page, where: Where) -> PageResponse | None:
    await page.goto(where.url("/clusters/{cluster_id}/campaigns/new"))
    await page.locator("#remind_after_days").fill("soon")  # the console wants a number of days
    return await submitted(page, "form.stack button[type=submit]")


async def measurement_refused(page: Page, where: Where) -> PageResponse | None:
    await page.goto(where.url("/strategies/{strategy_id}"))
    await page.locator("details:has(form.measurement) summary").first.click()
    await page.locator("form.measurement input[name=value]").first.fill("a lot")
    return await submitted(page, "form.measurement button[type=submit] >> nth=0")


async def review_refused(page: Page, where: Where) -> PageResponse | None:
    """A review dated ahead, as a browser without date checks would send it; the console refuses it."""
    await page.goto(where.url("/strategies/{strategy_id}"))
    await page.locator("#held_on").evaluate("field => field.removeAttribute('max')")
    await page.locator("#held_on").fill(f"{date.today().year + 1}-01-15")
    return await submitted(page, "form[action$='/reviews'] button[type=submit]")


async def partner_refused(page: Page, where: Where) -> PageResponse | None:
    """An on-site offer without the countries it is given in: the matchmaking service objects."""
    await page.goto(where.url("/clusters/{cluster_id}/partners/new"))
    await page.locator("#name").fill("Linz Lean Academy")
    await page.locator("#title").fill("Lean and digital shop floor")
    await page.locator("#skills").select_option(["digcomp:5.2"])
    await page.locator("#delivery").select_option("on_site")
    return await submitted(page, "form.stack button[type=submit]")


async def partner_import_report(page: Page, where: Where) -> PageResponse | None:
    await page.goto(where.url("/clusters/{cluster_id}/partners/import"))
    csv = (
        "partner_name,partner_type,partner_country,offer_title,skill_codes,format,delivery,countries,seats\n"
        "Graz Data School,training_provider,AT,Data basics,digcomp:1.3,training,on_site,,8\n"
        "Graz Data School,training_provider,AT,Data advanced,digcomp:1.3,training,online,,many\n"
    )
    await page.locator("#file").set_input_files(
        files=[FilePayload(name="partners.csv", mimeType="text/csv", buffer=csv.encode())]
    )
    return await submitted(page, "form.stack button[type=submit]")


async def followed(page: Page, where: Where, path: str, link: str) -> PageResponse | None:
    """Opens ``path`` and follows its first link matching the CSS selector ``link`` (the words differ by language)."""
    await page.goto(where.url(path))
    async with page.expect_navigation() as navigation:
        await page.locator(link).first.click()
    return await navigation.value


PARTNER_EDIT = "a[href*='/partners/'][href$='/edit']:not([href*='/offers/'])"
OFFER_NEW = "a[href$='/offers/new']"
OFFER_EDIT = "a[href*='/offers/'][href$='/edit']"


async def partner_edit(page: Page, where: Where) -> PageResponse | None:
    return await followed(page, where, "/clusters/{cluster_id}/partners", PARTNER_EDIT)


async def partner_edit_refused(page: Page, where: Where) -> PageResponse | None:
    """An empty name, as a browser without the form's own checks would send it: the service objects."""
    await partner_edit(page, where)
    await page.locator("#name").evaluate("field => { field.removeAttribute('required'); field.value = ''; }")
    return await submitted(page, "form.stack button[type=submit]")


async def offer_new(page: Page, where: Where) -> PageResponse | None:
    return await followed(page, where, "/clusters/{cluster_id}/partners", OFFER_NEW)


async def offer_edit(page: Page, where: Where) -> PageResponse | None:
    return await followed(page, where, "/clusters/{cluster_id}/partners", OFFER_EDIT)


async def offer_refused(page: Page, where: Where) -> PageResponse | None:
    """No seats, as a browser without the form's own checks would send it: the service objects."""
    await offer_edit(page, where)
    await page.locator("#seats").evaluate("field => { field.removeAttribute('min'); field.value = '0'; }")
    return await submitted(page, "form.stack button[type=submit]")


async def new_offer_refused(page: Page, where: Where) -> PageResponse | None:
    """An offer with no skill: the service objects."""
    await offer_new(page, where)
    await page.locator("#title").fill("Carbon accounting clinic")
    return await submitted(page, "form.stack button[type=submit]")


@dataclass(frozen=True)
class Check:
    route: str  # "<METHOD> <path>" exactly as in the console's route table
    page: str  # what is on screen, for the report
    who: Person
    reach: str | Reach  # a path to open ("{cluster_id}" and the other ids of Demo filled in), or how to get there
    status: int = 200


# Every page of the console and how to get there. A new route: add its page here (the path to open, or for a POST
# the form to fill and send), signed in as whoever may see it.
PAGES = [
    Check("GET /signin", "sign-in, the session ended", "nobody", "/signin?ended=1"),
    Check("GET /clusters/{cluster_id}", "cluster home", "manager", "/clusters/{cluster_id}"),
    Check("GET /clusters/{cluster_id}", "not found (404)", "manager", "/clusters/another-cluster", 404),
    Check("POST /clusters/{cluster_id}/calendar", "calendar link issued", "manager", calendar_link),
    Check("GET /clusters/{cluster_id}/members", "member list", "manager", "/clusters/{cluster_id}/members"),
    Check("GET /members/{member_id}", "a member, just saved", "manager", "/members/{member_id}?saved=1"),
    Check("GET /members/{member_id}/edit", "editing a member", "manager", "/members/{member_id}/edit"),
    Check("POST /members/{member_id}/edit", "editing a member, refused", "manager", member_edit_refused, 422),
    Check("GET /clusters/{cluster_id}/members/new", "adding a member", "manager", "/clusters/{cluster_id}/members/new"),
    Check("POST /clusters/{cluster_id}/members/new", "adding a member, refused", "manager", new_member_refused, 422),
    Check(
        "GET /clusters/{cluster_id}/members/import", "CSV import", "manager", "/clusters/{cluster_id}/members/import"
    ),
    Check("POST /clusters/{cluster_id}/members/import", "CSV import report", "manager", import_report, 422),
    Check("GET /clusters/{cluster_id}/campaigns", "surveys", "manager", "/clusters/{cluster_id}/campaigns"),
    Check(
        "GET /clusters/{cluster_id}/campaigns/new",
        "launching a survey",
        "manager",
        "/clusters/{cluster_id}/campaigns/new",
    ),
    Check("POST /clusters/{cluster_id}/campaigns/new", "launching a survey, refused", "manager", launch_refused, 422),
    Check(
        "GET /campaigns/{campaign_id}",
        "a survey, launched, reminded and closed",
        "manager",
        "/campaigns/{campaign_id}?launched=1&reminded=3&used_up=1&closed=1",
    ),
    Check(
        "GET /clusters/{cluster_id}/templates/{template_id}",
        "a survey's questions",
        "manager",
        "/clusters/{cluster_id}/templates/digital-skills",
    ),
    Check(
        "GET /clusters/{cluster_id}/matches",
        "matches by member, an outcome recorded",
        "manager",
        "/clusters/{cluster_id}/matches?recorded=accepted",
    ),
    Check(
        "GET /clusters/{cluster_id}/matches",
        "matches by offer, an outcome refused",
        "manager",
        "/clusters/{cluster_id}/matches?by=offer&refused=1",
    ),
    Check("GET /clusters/{cluster_id}/strategy", "strategies", "manager", "/clusters/{cluster_id}/strategy"),
    Check("GET /strategies/{strategy_id}", "a strategy", "manager", "/strategies/{strategy_id}?reviewed=1&measured=1"),
    Check(
        "POST /strategies/{strategy_id}/kpis/{kpi_id}/measurements",
        "a strategy, measurement refused",
        "manager",
        measurement_refused,
        422,
    ),
    Check("POST /strategies/{strategy_id}/reviews", "a strategy, review refused", "manager", review_refused, 422),
    Check("GET /clusters/{cluster_id}/partners", "partners", "manager", "/clusters/{cluster_id}/partners?saved=1"),
    Check(
        "GET /clusters/{cluster_id}/partners/new", "adding a partner", "manager", "/clusters/{cluster_id}/partners/new"
    ),
    Check("POST /clusters/{cluster_id}/partners/new", "adding a partner, refused", "manager", partner_refused, 422),
    Check("GET /clusters/{cluster_id}/partners/{partner_id}/edit", "editing a partner", "manager", partner_edit),
    Check(
        "POST /clusters/{cluster_id}/partners/{partner_id}/edit",
        "editing a partner, refused",
        "manager",
        partner_edit_refused,
        422,
    ),
    Check("GET /clusters/{cluster_id}/partners/{partner_id}/offers/new", "adding an offer", "manager", offer_new),
    Check(
        "POST /clusters/{cluster_id}/partners/{partner_id}/offers/new",
        "adding an offer, refused",
        "manager",
        new_offer_refused,
        422,
    ),
    Check(
        "GET /clusters/{cluster_id}/partners/{partner_id}/offers/{offer_id}/edit",
        "editing an offer",
        "manager",
        offer_edit,
    ),
    Check(
        "POST /clusters/{cluster_id}/partners/{partner_id}/offers/{offer_id}/edit",
        "editing an offer, refused",
        "manager",
        offer_refused,
        422,
    ),
    Check(
        "GET /clusters/{cluster_id}/partners/import",
        "partner CSV import",
        "manager",
        "/clusters/{cluster_id}/partners/import",
    ),
    Check(
        "POST /clusters/{cluster_id}/partners/import",
        "partner CSV import report",
        "manager",
        partner_import_report,
        422,
    ),
    Check("GET /clusters/{cluster_id}/skills", "skills", "manager", "/clusters/{cluster_id}/skills"),
    Check("GET /clusters/{cluster_id}/emails", "emails", "manager", "/clusters/{cluster_id}/emails"),
    Check(
        "GET /clusters/{cluster_id}/emails/templates/{name}",
        "an email's preview",
        "manager",
        "/clusters/{cluster_id}/emails/templates/matches",
    ),
    Check("GET /clusters/{cluster_id}", "cluster home, viewer", "viewer", "/clusters/{cluster_id}"),
    Check(
        "GET /clusters/{cluster_id}/members/new",
        "not allowed (403)",
        "viewer",
        "/clusters/{cluster_id}/members/new",
        403,
    ),
    Check("GET /clusters/{cluster_id}", "cluster home with the switcher", "admin", "/clusters/{cluster_id}"),
    Check("GET /apis", "APIs", "admin", "/apis"),
    Check(
        "GET /clusters/{cluster_id}/emails",
        "emails, an address looked up",
        "admin",
        "/clusters/{cluster_id}/emails?address=maria%40alpine-composites.example&allowed=1",
    ),
    Check("GET /", "choosing a cluster", "two clusters", "/"),
]


def console_of(embedded: EmbeddedPlatform) -> FastAPI:
    """The console as embedded mode mounts it: at "" of the host app, after the services."""
    console = next(r.app for r in embedded.app.routes if isinstance(r, Mount) and r.path == "")
    assert isinstance(console, FastAPI)
    return console


def route_keys(routes: Sequence[BaseRoute]) -> set[str]:
    """Each route as "<METHOD> <path>" (an included router's with its prefix), each mount as "* <path>"."""
    keys: set[str] = set()
    for found in iter_route_contexts(routes):
        route = found.original_route
        if isinstance(route, Mount):
            keys.add(f"* {found.path}")
        elif isinstance(route, Route):
            keys.update(f"{method} {found.path}" for method in found.methods or () if method != "HEAD")
        else:
            keys.add(f"? {route!r}")  # a kind of route this test does not know: someone must look at it
    return keys


def to_check(embedded: EmbeddedPlatform) -> set[str]:
    return route_keys(console_of(embedded).routes) - set(NOT_PAGES)


SKILL_ANSWER = {
    "skill.digcomp:5.2.current_level": "2",
    "skill.digcomp:5.2.required_level": "5",
    "skill.digcomp:5.2.headcount_having": "1",
    "skill.digcomp:5.2.headcount_needed": "4",
    "skill.digcomp:5.2.importance": "5",
    "q.digitalisation_priority": "4",
}


async def answered_survey(admin: httpx.AsyncClient, embedded: EmbeddedPlatform, cluster_id: str) -> str:
    """A survey to the SMEs, answered by the first contact invited, through the link in the email (its results
    are charts on the survey's page)."""
    launched = await admin.post(
        f"/surveys/clusters/{cluster_id}/campaigns", json={"template_id": "digital-skills", "member_type": "sme"}
    )
    assert launched.status_code == 201, launched.text

    async def invitation() -> str | None:
        links = (re.search(r"/surveys/answer/[^\s\"<>]+", mail.text()) for mail in embedded.mail.messages)
        return next((found.group(0) for found in links if found), None)

    link = await eventually(invitation, timeout=30, what="a survey invitation")
    async with httpx.AsyncClient(base_url=str(admin.base_url), timeout=30) as member:
        form = await member.get(link)
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None, form.text
        answered = await member.post(link, data={"csrf": csrf.group(1), "action": "submit", **SKILL_ANSWER})
        assert answered.status_code == 200, answered.text
    return str(launched.json()["id"])


@pytest.fixture(scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    data = tmp_path_factory.mktemp("console-a11y")
    port = free_port()
    embedded = build_embedded(data, public_url=f"http://127.0.0.1:{port}")
    async with serving(embedded.app, port) as url:
        async with httpx.AsyncClient(base_url=url, headers=embedded.admin_headers(), timeout=30) as admin:
            report = await run_demo(admin, record=data / DEMO_FILE)
            found = await admin.get(f"/surveys/clusters/{report.cluster_id}/members", params={"q": "Huber"})
            member_id = str(found.json()["items"][0]["id"])
            survey = await answered_survey(admin, embedded, report.cluster_id)
            strategy = await strategy_with_a_kpi(admin, report.cluster_id)
        yield Demo(url, embedded, report.cluster_id, member_id, survey, strategy)


async def strategy_with_a_kpi(admin: httpx.AsyncClient, cluster_id: str) -> str:
    """The demo's overall strategy, with a KPI (its measurement form) as an integrating system could add it."""
    strategy_id = str((await admin.get(f"/strategy/clusters/{cluster_id}/strategies")).json()["items"][0]["id"])
    kpi = {
        "name": "SME members with a digital skills plan",
        "unit": "%",
        "baseline": 10,
        "baseline_date": (date.today() - timedelta(days=30)).isoformat(),
        "target": 50,
        "target_date": (date.today() + timedelta(days=365)).isoformat(),
    }
    created = await admin.post(f"/strategy/strategies/{strategy_id}/kpis", json=kpi)
    assert created.status_code == 201, created.text
    return strategy_id


def test_every_route_of_the_console_is_a_page_checked_or_excused(demo: Demo) -> None:
    table = route_keys(console_of(demo.embedded).routes)
    checked = {check.route for check in PAGES}
    unchecked = sorted(table - checked - set(NOT_PAGES))
    assert not unchecked, (
        f"routes of the console no accessibility check reaches: {unchecked}; add each to PAGES in {__name__} "
        "(the path to open, or the form to send) or, if it is no page, to NOT_PAGES with the reason"
    )
    assert not checked - table, f"PAGES names routes the console does not have: {sorted(checked - table)}"
    excused = set(NOT_PAGES)
    assert not excused - table, f"NOT_PAGES names routes the console does not have: {sorted(excused - table)}"


async def become(page: Page, who: Person, where: Where) -> None:
    """Signs in as ``who`` by pressing their button on the sign-in page (or signs out, or brings a session with
    two clusters)."""
    context = page.context
    await context.clear_cookies()
    if who == "two clusters":
        # No demo person holds two clusters: a manager of the demo's and of one that does not exist lands on the
        # page to choose between them (the cookie signed as the console signs it).
        token = where.demo.embedded.auth_keys.mint(
            subject="local:two-clusters",
            roles=[Role.CLUSTER_MANAGER],
            clusters=[where.demo.cluster_id, "another-cluster"],
            ttl=timedelta(hours=1),
        )
        session = Session(csrf="two-clusters", token=token, name="Eva Steiner", language=where.language)
        cookie = console_of(where.demo.embedded).state.signer.dump(session)
        await context.add_cookies([{"name": COOKIE, "value": cookie, "url": where.demo.url}])
    elif who != "nobody":
        await page.goto(where.url("/signin"))
        signed_in = await submitted(page, f"form:has(input[name=person][value={who}]) button")
        assert signed_in is not None and signed_in.ok and "/signin" not in page.url, f"{who} did not sign in"


def violations(results: dict[str, Any], where: str) -> list[str]:
    found = []
    for violation in results["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        for node in violation["nodes"]:
            said = [item["message"] for key in ("any", "all", "none") for item in node.get(key, [])]
            targets = ", ".join(map(str, node["target"]))
            detail = f" ({said[0]})" if said else ""
            found.append(
                f"{where}: {violation['id']} ({violation['impact']}) at {targets}: {violation['help']}{detail}"
            )
    return found


async def test_axe_runs_under_the_pages_policy_and_reports_what_it_finds(browser: Browser, demo: Demo) -> None:
    """The check itself: on a console page (its Content-Security-Policy allows no script) axe runs, and a heading
    made too pale to read is reported with its rule, impact and place."""
    context = await browser.new_context(viewport={"width": 375, "height": 900})
    page = await context.new_page()
    try:
        await page.goto(Where(demo, "en").url("/signin"))
        await page.locator("h1").evaluate("heading => { heading.style.color = '#c8c8c8' }")
        results = (await AXE.run(page, options=AXE_OPTIONS)).response
    finally:
        await context.close()
    found = violations(results, "sign-in, made pale")
    assert found and all("color-contrast (serious) at h1" in line for line in found), found


@pytest.mark.parametrize("width", WIDTHS, ids=[f"{w}px" for w in WIDTHS])
@pytest.mark.parametrize("language", LANGUAGES)
async def test_no_serious_or_critical_axe_violation_on_any_page(
    browser: Browser, demo: Demo, language: str, width: int
) -> None:
    shots = os.environ.get("TRELLIS_CONSOLE_A11Y_SCREENSHOTS")
    where = Where(demo, language)
    context = await browser.new_context(viewport={"width": width, "height": 900}, locale=language)
    page = await context.new_page()
    checked: list[str] = []
    visited: set[str] = set()
    found: list[str] = []
    engine = "?"
    try:
        for who in PEOPLE:
            await become(page, who, where)
            for check in (check for check in PAGES if check.who == who):
                here = f"{check.page} ({check.route}, as {who}) [{language}, {width} px]"
                if isinstance(check.reach, str):
                    response = await page.goto(where.url(check.reach))
                else:
                    response = await check.reach(page, where)
                status = response.status if response else None
                assert status == check.status, f"{here}: {status} at {page.url}, expected {check.status}"
                results = (await AXE.run(page, options=AXE_OPTIONS)).response
                engine = results["testEngine"]["version"]
                found += violations(results, here)
                overflow = await page.evaluate(SCROLLS_SIDEWAYS)
                if overflow > 0:
                    found.append(f"{here}: reflow (WCAG 1.4.10): the page scrolls sideways by {overflow} px")
                visited.add(check.route)
                checked.append(f"{check.page} ({check.route}, as {who}, {status})")
                if shots:
                    name = re.sub(r"\W+", "-", check.page).strip("-")
                    await page.screenshot(path=f"{shots}/{name}-{language}-{width}.png", full_page=True)
    finally:
        await context.close()
    pages = "\n  ".join(checked)
    print(f"axe-core {engine}, WCAG 2.1 A/AA, {language}, {width} px: {len(checked)} pages checked\n  {pages}")
    assert not found, "serious or critical accessibility findings:\n" + "\n".join(found) + f"\nchecked:\n  {pages}"
    assert visited == to_check(demo.embedded), f"routes not visited: {sorted(to_check(demo.embedded) - visited)}"
