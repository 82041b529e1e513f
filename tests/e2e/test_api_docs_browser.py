"""Each service's API docs in Debian's Chromium with every other host unreachable, as on a machine without
internet: Swagger UI renders under the service's prefix (embedded mode mounts each service under its name),
"Authorize" takes a bearer token that "Try it out" then sends (and that survives a reload), and ReDoc renders.
Screenshots go to the test's folder."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from tests.support.prefix import serving
from tests.support.processes import free_port
from trellis.embedded import SERVICES, build_embedded

TEMPLATES = "#operations-templates-templates_index_templates_get"  # surveys' GET /templates (a reader's route)
# ReDoc always shows its maker's logo from the maker's CDN; the page's policy refuses it and ReDoc hides it.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


class Offline:
    """A browser context that reaches 127.0.0.1 only, and what the pages tried beyond it or complained of."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.elsewhere: list[str] = []
        self.errors: list[str] = []

    @classmethod
    async def of(cls, browser: Browser) -> Offline:
        offline = cls(await browser.new_context(viewport={"width": 1280, "height": 900}))
        await offline.context.route("**/*", offline._local_only)
        return offline

    async def _local_only(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            self.elsewhere.append(route.request.url)
            await route.abort("internetdisconnected")

    async def page(self) -> Page:
        page = await self.context.new_page()
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page


async def test_swagger_ui_and_redoc_work_offline_and_authorize_sends_the_token(
    browser: Browser, tmp_path: Path
) -> None:
    port = free_port()
    platform = build_embedded(tmp_path / "data", public_url=f"http://127.0.0.1:{port}")
    token = platform.admin_headers()["Authorization"].removeprefix("Bearer ")
    async with serving(platform.app, port) as url:
        offline = await Offline.of(browser)
        page = await offline.page()
        for definition in SERVICES:
            await page.goto(f"{url}/{definition.name}/docs")
            await expect(page.locator(".swagger-ui .info .title")).to_contain_text(definition.title)
            await expect(page.locator(".opblock").first).to_be_visible()  # the operations, from openapi.json
            await expect(page.get_by_role("button", name="Authorize")).to_be_visible()

        await page.goto(f"{url}/surveys/docs")
        await page.get_by_role("button", name="Authorize").click()
        dialog = page.locator(".modal-ux")
        await expect(dialog).to_contain_text("bearer")
        await dialog.locator("input").fill(token)
        await dialog.get_by_role("button", name="Apply credentials").click()
        await dialog.get_by_role("button", name="Close").click()
        await page.screenshot(path=str(tmp_path / "swagger-ui.png"))

        await page.reload()  # the token is kept (persistAuthorization)
        await page.locator(f"{TEMPLATES} .opblock-summary-control").click()
        await page.locator(TEMPLATES).get_by_role("button", name="Try it out").click()
        await page.locator(TEMPLATES).get_by_role("button", name="Execute").click()
        status = page.locator(f"{TEMPLATES} .live-responses-table .response .response-col_status")
        await expect(status).to_have_text("200")  # without the token it would be 401
        await expect(page.locator(f"{TEMPLATES} .curl-command")).to_contain_text(f"{url}/surveys/templates")
        await page.screenshot(path=str(tmp_path / "swagger-ui-try-it-out.png"), full_page=True)

        await page.goto(f"{url}/surveys/redoc")
        await expect(page.locator("h1").first).to_contain_text("Trellis surveys")
        await expect(page.get_by_role("heading", name="Authorizations:").first).to_be_attached()  # the bearer
        await page.screenshot(path=str(tmp_path / "redoc.png"))
        await offline.context.close()
    assert offline.elsewhere == [], "the pages reached for another host"
    errors = [error for error in offline.errors if REDOC_LOGO not in error]
    assert errors == [], "console errors (a Content-Security-Policy refusal would be one)"
