"""The embedded mail sink as people and scripts see it: emails arrive over real SMTP, the viewer lists them and
shows each one (headers, sandboxed HTML, plain text, raw .eml) under the host's path prefix, the JSON API
answers as before, and the messages are still there after the embedded platform restarts on the same data."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
from asgi_lifespan import LifespanManager
from playwright.async_api import Browser, Page

from tests.support.polling import eventually
from tests.support.prefix import behind, serving
from tests.support.processes import free_port
from trellis.embedded import EmbeddedPlatform, build_embedded

SCRIPTED_HTML = (
    "<!DOCTYPE html><html><head><title>t</title></head><body>"
    "<h1 id='greeting'>Your matches are ready</h1><p>Open <a href='https://trellis.example/survey'>the survey</a>"
    "</p><script>document.getElementById('greeting').textContent = 'script ran'</script></body></html>"
)


def email(to: str, subject: str, text: str, html: str | None = None, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Trellis <notifications@trellis.example>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="trellis.example")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


async def send(platform: EmbeddedPlatform, message: EmailMessage) -> None:
    await aiosmtplib.send(message, hostname="127.0.0.1", port=platform.mail.port, start_tls=False)


@asynccontextmanager
async def running(data_dir: Path) -> AsyncIterator[tuple[EmbeddedPlatform, httpx.AsyncClient]]:
    """The embedded platform on ``data_dir`` behind the path prefix /edge, which a proxy strips before it
    forwards (as ``uvicorn --root-path /edge`` sees requests): pages must link under /edge."""
    platform = build_embedded(data_dir)
    async with LifespanManager(platform.app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=behind("/edge", platform.app))
        async with httpx.AsyncClient(transport=transport, base_url="http://trellis.test") as client:
            yield platform, client


async def received(client: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    async def listed() -> list[dict[str, Any]] | None:
        messages: list[dict[str, Any]] = (await client.get("/mail/api/messages")).json()
        return messages if len(messages) >= count else None

    return await eventually(listed, timeout=30, what=f"{count} email(s) in the mail sink")


def hrefs(html: str) -> list[str]:
    return re.findall(r"(?:href|src|action)=\"([^\"]+)\"", html)


async def test_viewer_lists_and_shows_an_email_received_over_smtp(tmp_path: Path) -> None:
    async with running(tmp_path) as (platform, client):
        first = email("lukas@huber.example", "Einladung zur Umfrage", "Hallo Lukas")
        await send(platform, first)
        await received(client, 1)
        newest = email(
            "Maria Rossi <maria@alpine.example>",
            "Your <matches> & more",
            "Hello Maria,\n<b>not bold</b>\nhttps://trellis.example/survey",
            SCRIPTED_HTML,
            List_Unsubscribe="<https://trellis.example/unsubscribe/t0ken>",
            List_Unsubscribe_Post="List-Unsubscribe=One-Click",
        )
        newest.add_attachment(b"BEGIN:VCALENDAR", maintype="text", subtype="calendar", filename="review.ics")
        await send(platform, newest)
        listed = await received(client, 2)

        # JSON, as scripts and tests have read it: oldest first, the same fields (and an id).
        assert [m["subject"] for m in listed] == ["Einladung zur Umfrage", "Your <matches> & more"]
        assert listed[1]["to"] == ["maria@alpine.example"] and "Hello Maria" in listed[1]["text"]
        assert {"received_at", "from", "message_id"} <= listed[1].keys()
        negotiated = await client.get("/mail", headers={"Accept": "application/json"})
        assert negotiated.headers["content-type"] == "application/json" and negotiated.json() == listed
        mail_id = listed[1]["id"]
        one = (await client.get(f"/mail/api/messages/{mail_id}")).json()
        assert "Your matches are ready" in one["html"]
        assert ["List-Unsubscribe", "<https://trellis.example/unsubscribe/t0ken>"] in one["headers"]

        # The list page: newest first, escaped, every link under the prefix.
        page = await client.get("/mail", headers={"Accept": "text/html,application/xhtml+xml,*/*"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.text.index("Your &lt;matches&gt; &amp; more") < page.text.index("Einladung zur Umfrage")
        assert "<matches>" not in page.text
        assert f'href="/edge/mail/{mail_id}"' in page.text
        assert all(link.startswith("/edge/") for link in hrefs(page.text)), hrefs(page.text)
        only_lukas = await client.get("/mail", params={"to": "LUKAS@huber.example"})
        assert "Einladung zur Umfrage" in only_lukas.text and "matches" not in only_lukas.text

        # One message: its headers, the HTML in a sandboxed frame, the text, the attachment, the raw file.
        detail = await client.get(f"/mail/{mail_id}")
        assert detail.status_code == 200
        for header in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"):
            assert f"<dt>{header}</dt>" in detail.text, header
        assert "&lt;https://trellis.example/unsubscribe/t0ken&gt;" in detail.text
        assert "&lt;b&gt;not bold&lt;/b&gt;" in detail.text and "<b>not bold</b>" not in detail.text
        assert "script ran" not in detail.text and "<script" not in detail.text
        frame = re.search(r"<iframe[^>]*>", detail.text)
        assert frame is not None and f'src="/edge/mail/{mail_id}/html"' in frame.group(0)
        assert re.search(r'sandbox="[^"]*"', frame.group(0)) and "allow-scripts" not in frame.group(0)
        assert "allow-same-origin" not in frame.group(0)
        assert "review.ics" in detail.text
        assert all(link.startswith(("/edge/", "#")) for link in hrefs(detail.text)), hrefs(detail.text)

        html = await client.get(f"/mail/{mail_id}/html")
        policy_header = html.headers["content-security-policy"]
        assert "default-src 'none'" in policy_header and "script-src" not in policy_header
        assert "sandbox" in policy_header and "allow-scripts" not in policy_header
        assert "Your matches are ready" in html.text and '<base target="_blank">' in html.text

        text = await client.get(f"/mail/{mail_id}/text")
        assert text.headers["content-type"] == "text/plain; charset=utf-8"
        assert text.text.startswith("Hello Maria,\n<b>not bold</b>")

        raw = await client.get(f"/mail/{mail_id}/raw")
        assert raw.headers["content-type"] == "message/rfc822"
        assert raw.headers["content-disposition"] == f'attachment; filename="mail-{mail_id}.eml"'
        parsed = message_from_bytes(raw.content, policy=policy.default)
        assert parsed["Message-ID"] == newest["Message-ID"] and parsed["Subject"] == "Your <matches> & more"

        assert (await client.get("/mail/999")).status_code == 404
        assert (await client.get(f"/mail/{listed[0]['id']}/html")).status_code == 404  # a text-only email


async def test_received_emails_survive_a_restart_on_the_same_data(tmp_path: Path) -> None:
    message = email("jonas@sensorlabs.example", "Kept across restarts", "Still here")
    async with running(tmp_path) as (platform, client):
        await send(platform, message)
        [before] = await received(client, 1)
        raw_before = (await client.get(f"/mail/{before['id']}/raw")).content

    async with running(tmp_path) as (platform, client):
        assert (await client.get("/mail/api/messages")).json() == [before]
        assert (await client.get(f"/mail/{before['id']}/raw")).content == raw_before
        assert "Kept across restarts" in (await client.get("/mail")).text
        await send(platform, email("jonas@sensorlabs.example", "After the restart", "New"))
        after = await received(client, 2)
    assert [m["subject"] for m in after] == ["Kept across restarts", "After the restart"]
    assert after[1]["id"] > before["id"]


async def fits(page: Page) -> bool:
    return bool(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


async def test_browser_opens_the_newest_email_and_sees_its_html(browser: Browser, tmp_path: Path) -> None:
    platform = build_embedded(tmp_path)
    async with serving(platform.app, free_port()) as url, httpx.AsyncClient(base_url=url) as api:
        await send(platform, email("lukas@huber.example", "An older email", "Older"))
        await received(api, 1)
        await send(platform, email("maria@alpine.example", "Your matches", "Hello Maria", SCRIPTED_HTML))
        await received(api, 2)

        for width in (375, 1000):
            context = await browser.new_context(viewport={"width": width, "height": 800})
            page = await context.new_page()
            await page.goto(f"{url}/mail")
            assert await page.title() == "All mail · Trellis (embedded)"
            assert await fits(page), f"the list scrolls sideways at {width} px"
            newest = page.locator("table.mails tbody tr").first.locator("td.subject a")
            assert await newest.inner_text() == "Your matches"
            await newest.click()
            await page.wait_for_url(re.compile(r".*/mail/\d+$"))
            assert await page.inner_text("h1") == "Your matches"
            assert await fits(page), f"the message scrolls sideways at {width} px"
            # The email's own HTML, rendered in the sandboxed frame, its script blocked.
            greeting = page.frame_locator("iframe.email").locator("#greeting")
            assert await greeting.inner_text() == "Your matches are ready"
            box = await page.locator("iframe.email").bounding_box()
            assert box is not None and box["height"] > 300 and box["width"] > width * 0.8
            assert "Hello Maria" in await page.inner_text("pre.text")
            await context.close()
