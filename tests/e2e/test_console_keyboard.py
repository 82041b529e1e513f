"""A manager's week in the console with the keyboard only, in Debian's Chromium: no click, no URL typed after the
first; Tab (and Shift+Tab) moves the focus, Enter follows links and presses buttons, the letters are typed into
the focused field. On the way every control the focus reaches shows where it is (a visible outline), the skip link
comes first and moves the focus to the content, and each task ends with its notice on screen: sign in, accept a
proposed match, record a strategy review, add a member, sign out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page

from tests.support.prefix import serving
from tests.support.processes import free_port
from trellis.demo import CLUSTER, SIGN_IN_PEOPLE, run_demo
from trellis.embedded import DEMO_FILE, build_embedded
from trellis_console.messages import Messages

T = Messages("en")
MOST_TABS = 250  # the longest page (the matches of the demo period) has far fewer stops

# What the focused element is and whether a person can see that it has the focus: an outline that is drawn,
# or a box shadow standing in for it.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const label = el.labels && el.labels.length ? el.labels[0].innerText : "";
  const outlined = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  return {
    tag: el.tagName.toLowerCase(),
    id: el.id,
    name: (el.getAttribute("aria-label") || label || el.innerText || el.value || "").trim(),
    visible: outlined || style.boxShadow !== "none",
  };
}"""


@dataclass(frozen=True)
class Focused:
    tag: str
    id: str
    name: str
    visible: bool


async def focused(page: Page) -> Focused | None:
    found: dict[str, Any] | None = await page.evaluate(FOCUSED)
    return Focused(**found) if found else None


async def tab_to(page: Page, name: str, *, exact: bool = True) -> Focused:
    """Press Tab until the control called ``name`` has the focus (its name starts so when not ``exact``); every
    control the focus arrives at must show it. (Tab also steps through the parts of a native date field, day,
    month, year and its calendar button, which the browser itself highlights: only arrivals are checked.)"""
    seen: list[str] = []
    before: Focused | None = None
    for _ in range(MOST_TABS):
        await page.keyboard.press("Tab")
        here = await focused(page)
        if here is None or here == before or (before and here.id and here.id == before.id):
            continue
        before = here
        assert here.visible, f"the focus on {here.tag} {here.name!r} at {page.url} cannot be seen"
        seen.append(here.name)
        if here.name == name or (not exact and here.name.startswith(name)):
            return here
    raise AssertionError(f"Tab never reached {name!r} at {page.url}; it reached: {seen}")


async def press_enter(page: Page) -> None:
    """Enter on the focused link or button, and wait for the page it leads to."""
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    platform = build_embedded(tmp_path / "data", public_url=f"http://127.0.0.1:{port}")
    async with serving(platform.app, port) as url:
        async with httpx.AsyncClient(base_url=url, headers=platform.admin_headers(), timeout=30) as admin:
            await run_demo(admin, record=tmp_path / "data" / DEMO_FILE)
        yield url


async def test_a_managers_week_with_the_keyboard_only(browser: Browser, console: str) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = await context.new_page()
    try:
        await page.goto(f"{console}/")

        # The skip link is the first stop, and it moves the focus past the header to the content.
        await page.keyboard.press("Tab")
        first = await focused(page)
        assert first is not None and first.name == T("skip") and first.visible, first
        await page.keyboard.press("Enter")
        assert (await focused(page) or Focused("", "", "", visible=False)).id == "content"

        await tab_to(page, f"Sign in as {SIGN_IN_PEOPLE['manager']}", exact=False)
        await press_enter(page)
        assert await page.get_by_role("heading", level=1).inner_text() == CLUSTER["name"]

        # Accept a proposed match: the buttons name the member and the skill they act on.
        await tab_to(page, T("nav_matches"))
        await press_enter(page)
        accept = await tab_to(page, f"{T('mark_accepted')}: ", exact=False)
        await press_enter(page)
        assert T("outcome_recorded", outcome=T("ms_accepted")) in await page.get_by_role("status").inner_text()
        member = accept.name.removeprefix(f"{T('mark_accepted')}: ").split(",")[0]
        assert member, accept

        # Record a strategy review: the notes typed into the focused field, the form sent with Enter on its button.
        await tab_to(page, T("nav_strategy"))
        await press_enter(page)
        await tab_to(page, "Cluster strategy")  # the strategy the service opens for every cluster
        await press_enter(page)
        await tab_to(page, T("field_notes"))
        await page.keyboard.type("Pooled the data masterclass; two members accepted.")
        await tab_to(page, T("record_review"))
        await press_enter(page)
        assert "The review was recorded." in await page.get_by_role("status").inner_text()

        # Add a member: name typed, the type chosen with the arrow keys, saved with Enter.
        await tab_to(page, T("nav_members"))
        await press_enter(page)
        await tab_to(page, T("add_member"))
        await press_enter(page)
        await tab_to(page, T("field_name"))
        await page.keyboard.type("Wels Hydraulics")
        await tab_to(page, T("field_type"))
        before = await page.input_value("#member_type")
        await page.keyboard.press("ArrowDown")
        assert await page.input_value("#member_type") != before, "the arrow key chose another type"
        await tab_to(page, T("save"))
        await press_enter(page)
        assert await page.get_by_role("heading", level=1).inner_text() == "Wels Hydraulics"
        assert T("member_saved") in await page.get_by_role("status").inner_text()

        # Sign out from the header: Shift+Tab walks back to it.
        for _ in range(MOST_TABS):
            await page.keyboard.press("Shift+Tab")
            here = await focused(page)
            if here is not None and here.name == T("sign_out"):
                break
        else:
            raise AssertionError("Shift+Tab never reached the sign-out button")
        await press_enter(page)
        assert await page.title() == f"Sign in · {T('app')}"
    finally:
        await context.close()
