"""The console in embedded mode with the demo loop run, and what a test needs to read its pages as a person."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from trellis.demo import run_demo
from trellis.embedded import DEMO_FILE, EmbeddedPlatform, build_embedded

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
TAXONOMY_CODES = ("digcomp:", "greencomp:", "greenwork:", "intl:")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@asynccontextmanager
async def demo_platform(data_dir: Path) -> AsyncIterator[tuple[EmbeddedPlatform, str]]:
    """The embedded platform after the demo: its cluster, members, answers, matches and emails."""
    embedded = build_embedded(data_dir)
    async with LifespanManager(embedded.app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=embedded.app)
        async with httpx.AsyncClient(
            headers=embedded.admin_headers(), transport=transport, base_url="http://trellis"
        ) as admin:
            report = await run_demo(admin, record=data_dir / DEMO_FILE)
        yield embedded, report.cluster_id


def browser(embedded: EmbeddedPlatform) -> httpx.AsyncClient:
    """A client that keeps cookies and follows redirects, as a browser does."""
    transport = httpx.ASGITransport(app=embedded.app)
    return httpx.AsyncClient(transport=transport, base_url="http://trellis", follow_redirects=True)


async def sign_in(client: httpx.AsyncClient, who: str, wanted: str = "/") -> httpx.Response:
    """Open ``wanted``, land on the sign-in page, press the button of the person named ``who``."""
    page = await client.get(wanted)
    assert page.url.path == "/signin", page.url
    form = next(f for f in page.text.split("<form")[1:] if who in f and "person" in f)
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
    return await client.post("/signin", data=fields)


class VisibleText(HTMLParser):
    """What a person reads: text and the values of controls (ids in links and hidden fields are not read)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        shown = dict(attrs)
        if tag in ("input", "button") and shown.get("type") != "hidden":
            self.parts.append(shown.get("value") or "")
        self.parts.extend(v or "" for k, v in attrs if k in ("alt", "title", "aria-label", "placeholder"))


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(parser.parts)


def assert_names_only(html: str) -> None:
    """Never a UUID on screen; never a bare taxonomy code anywhere in the page."""
    text = visible(html)
    assert not UUID.search(text), UUID.search(text)
    for code in TAXONOMY_CODES:
        assert code not in html, code
