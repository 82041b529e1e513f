"""The manager console in Debian's Chromium at a phone width (375 px) and a desktop width (1280 px): sign in as
the demo manager by pressing her button, read the cluster home; no page scrolls sideways, and the keyboard
focus is visible. Screenshots go to the test's folder, or to TRELLIS_CONSOLE_SCREENSHOTS (docs/console/)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from playwright.async_api import Browser, FilePayload, Page

from tests.support.prefix import serving
from tests.support.processes import free_port
from trellis.demo import CLUSTER, SIGN_IN_PEOPLE, run_demo
from trellis.embedded import DEMO_FILE, build_embedded

WIDTHS = {"phone": 375, "desktop": 1280}


async def no_sideways_scrolling(page: Page) -> None:
    overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow} px"


async def test_sign_in_and_the_cluster_home_at_phone_and_desktop_widths(browser: Browser, tmp_path: Path) -> None:
    shots = Path(os.environ.get("TRELLIS_CONSOLE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    port = free_port()
    platform = build_embedded(tmp_path / "data", public_url=f"http://127.0.0.1:{port}")
    async with serving(platform.app, port) as url:
        async with httpx.AsyncClient(base_url=url, headers=platform.admin_headers(), timeout=30) as admin:
            await run_demo(admin, record=tmp_path / "data" / DEMO_FILE)
        for label, width in WIDTHS.items():
            context = await browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB")
            page = await context.new_page()
            await page.goto(f"{url}/")
            assert await page.title() == "Sign in · Trellis manager console"
            await no_sideways_scrolling(page)
            await page.screenshot(path=str(shots / f"sign-in-{label}.png"), full_page=True)

            await page.keyboard.press("Tab")  # the skip link first, then the language links and the people
            assert await page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"

            await page.get_by_role("button", name=f"Sign in as {SIGN_IN_PEOPLE['manager']}").click()
            await page.wait_for_url(f"{url}/clusters/*")
            assert await page.get_by_role("heading", level=1).inner_text() == CLUSTER["name"]
            await no_sideways_scrolling(page)
            await page.screenshot(path=str(shots / f"home-{label}.png"), full_page=True)

            await page.get_by_role("navigation", name=CLUSTER["name"]).get_by_role("link", name="Members").click()
            await page.wait_for_url(f"{url}/clusters/*/members")
            await no_sideways_scrolling(page)
            await page.screenshot(path=str(shots / f"members-{label}.png"), full_page=True)
            await page.get_by_role("link", name="Präzisionsteile Huber GmbH").click()
            await page.wait_for_url(f"{url}/members/*")
            await no_sideways_scrolling(page)
            await page.screenshot(path=str(shots / f"member-{label}.png"), full_page=True)
            await page.get_by_role("link", name="Edit").click()
            await page.get_by_label("Organisation name").fill("")
            await page.get_by_role("button", name="Save").click()  # the browser's own check: name is required
            assert await page.evaluate("document.activeElement.id") == "name"
            await no_sideways_scrolling(page)
            await page.screenshot(path=str(shots / f"member-form-{label}.png"), full_page=True)

            await page.goto(f"{url}/")
            await page.get_by_role("navigation", name=CLUSTER["name"]).get_by_role("link", name="Members").click()
            await page.get_by_role("link", name="Import from CSV").click()
            csv = "name,member_type\nLinz Robotics,sme\nSalzburg Textiles,factory\n"
            await page.get_by_label("CSV file").set_input_files(
                files=[FilePayload(name="members.csv", mimeType="text/csv", buffer=csv.encode())]
            )
            await page.get_by_role("button", name="Check and import").click()
            assert await page.get_by_role("alert").count() == 1
            await no_sideways_scrolling(page)
            await page.screenshot(path=str(shots / f"member-import-report-{label}.png"), full_page=True)
            await context.close()
