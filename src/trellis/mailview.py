"""The embedded mail sink's viewer: what the services sent, as a person reads it, and as JSON for scripts.

``/mail`` lists the messages (newest first, optionally only those to one address); ``/mail/{id}`` shows one
with its headers, HTML and plain-text versions, and the raw ``.eml``. The email's own HTML is served on its
own route with a sandboxing Content-Security-Policy and shown in a sandboxed iframe, so it can neither run
scripts nor reach the viewer. ``/mail/api/messages`` (or ``/mail`` with ``Accept: application/json``) is the
JSON list, oldest first, as the sink has always answered.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Coroutine
from email.message import EmailMessage
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute

from trellis.mailsink import MailSink, ReceivedMail
from trellis_common.app import page_path
from trellis_common.logging import get_logger

log = get_logger(__name__)

_pages = jinja2.Environment(
    loader=jinja2.PackageLoader("trellis", "web"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)

LIST_LIMIT = 200
To = Annotated[str | None, Query(max_length=320, description="Only emails to this address")]
# Above the email (who, when), and below it (what a mail client uses), in this order when the message has
# them; every header is also under "All headers".
TOP_HEADERS = ("From", "To", "Cc", "Date")
MORE_HEADERS = (
    "Subject",
    "Reply-To",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Auto-Submitted",
)
_COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",  # emails carry signed links: never leak them to other sites
    "cache-control": "no-store",
}
_PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# The email's own HTML: no scripts, no plugins, no remote content (as mail clients block remote images), and
# a sandbox even when opened on its own; links open in a new tab outside the sandbox.
_EMAIL_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; form-action 'none'; "
    "frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox"
)
_HEAD = re.compile(r"<head(\s[^>]*)?>", re.IGNORECASE)


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n")  # as sent over SMTP; browsers would show the CRs in <pre> and text/plain


def _when(mail: ReceivedMail) -> str:
    return mail.received_at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _header(message: EmailMessage, name: str) -> str:
    values = message.get_all(name) or []
    return ", ".join(str(v) for v in values)


def _people(message: EmailMessage, name: str, envelope: list[str]) -> list[tuple[str, str]]:
    """(display name, address) of each address in a header; the envelope's addresses when it has none."""
    found: list[tuple[str, str]] = []
    for value in message.get_all(name) or []:
        found.extend((a.display_name, a.addr_spec) for a in getattr(value, "addresses", ()))
    return found or [("", address) for address in envelope]


def _row(request: Request, mail: ReceivedMail) -> dict[str, Any]:
    return {
        "id": mail.id,
        "when": _when(mail),
        "day": mail.received_at.strftime("%Y-%m-%d"),
        "time": mail.received_at.strftime("%H:%M:%S UTC"),
        "sender": _people(mail.message, "From", [mail.mail_from]),
        "to": _people(mail.message, "To", mail.recipients),
        "subject": mail.subject or "(no subject)",
        "url": page_path(request, "mail_message", mail_id=mail.id),
    }


def _page(name: str, **context: Any) -> HTMLResponse:
    html = _pages.get_template(name).render(**context)
    return HTMLResponse(html, headers={**_COMMON, "content-security-policy": _PAGE_CSP})


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _found(sink: MailSink, mail_id: int) -> ReceivedMail:
    mail = sink.get(mail_id)
    if mail is None:
        raise HTTPException(404, detail=f"no email {mail_id} in the mail sink")
    return mail


def _to(mails: list[ReceivedMail], address: str | None) -> list[ReceivedMail]:
    if not address:
        return mails
    wanted = address.strip().casefold()
    return [m for m in mails if any(r.casefold() == wanted for r in m.recipients)]


class _LoggedRoute(APIRoute):
    """Logs each request as the services' apps do (the host's own routes have no such middleware)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def logged(request: Request) -> Response:
            started, status = time.perf_counter(), 500
            try:
                response = await handle(request)
                status = response.status_code
                return response
            except HTTPException as exc:
                status = exc.status_code
                raise
            finally:
                ms = round((time.perf_counter() - started) * 1000, 1)
                log.info(
                    "http_request",
                    service="mail sink",
                    method=request.method,
                    path=request.url.path,
                    status=status,
                    ms=ms,
                )

        return logged


def mail_router(sink: MailSink) -> APIRouter:
    router = APIRouter(tags=["mail sink"], route_class=_LoggedRoute)

    @router.get("/mail/api/messages", summary="Emails the local mail sink received, oldest first")
    async def mail_api_list(to: To = None) -> list[dict[str, Any]]:
        return [m.summary() for m in _to(sink.messages, to)]

    @router.get("/mail/api/messages/{mail_id:int}", summary="One email: envelope, headers, plain text and HTML")
    async def mail_api_message(mail_id: int) -> dict[str, Any]:
        mail = _found(sink, mail_id)
        headers = [[name, str(value)] for name, value in mail.message.items()]
        return {**mail.summary(), "headers": headers, "html": mail.html()}

    @router.get("/mail", response_class=HTMLResponse, include_in_schema=False)
    async def mail_list(request: Request, to: To = None) -> Response:
        mails = _to(sink.messages, to)
        if _wants_json(request):
            return JSONResponse([m.summary() for m in mails])
        newest = list(reversed(mails))
        return _page(
            "mail_list.html",
            rows=[_row(request, m) for m in newest[:LIST_LIMIT]],
            total=len(newest),
            limit=LIST_LIMIT,
            to=to or "",
            list_url=page_path(request, "mail_list"),
            smtp=f"{sink.host}:{sink.port}",
        )

    @router.get("/mail/{mail_id:int}", response_class=HTMLResponse, include_in_schema=False)
    async def mail_message(request: Request, mail_id: int) -> Response:
        mail = _found(sink, mail_id)
        message = mail.message
        top_headers = [(name, _header(message, name)) for name in TOP_HEADERS if name in message]
        more_headers = [(name, _header(message, name)) for name in MORE_HEADERS if name in message]
        return _page(
            "mail_message.html",
            mail=_row(request, mail),
            top_headers=top_headers,
            more_headers=more_headers,
            all_headers=[(name, str(value)) for name, value in message.items()],
            envelope_from=mail.mail_from,
            envelope_to=", ".join(mail.recipients),
            has_html=mail.html() is not None,
            text=_lines(mail.text()),
            attachments=mail.attachments(),
            list_url=page_path(request, "mail_list"),
            html_url=page_path(request, "mail_html", mail_id=mail.id),
            text_url=page_path(request, "mail_text", mail_id=mail.id),
            raw_url=page_path(request, "mail_raw", mail_id=mail.id),
        )

    @router.get("/mail/{mail_id:int}/html", include_in_schema=False)
    async def mail_html(mail_id: int) -> Response:
        html = _found(sink, mail_id).html()
        if html is None:
            raise HTTPException(404, detail=f"email {mail_id} has no HTML part")
        # Links would otherwise open inside the sandboxed frame, where forms and scripts do not work.
        base = '<base target="_blank">'
        html = _HEAD.sub(lambda m: m.group(0) + base, html, count=1) if _HEAD.search(html) else base + html
        headers = {**_COMMON, "content-security-policy": _EMAIL_CSP, "x-frame-options": "SAMEORIGIN"}
        return HTMLResponse(html, headers=headers)

    @router.get("/mail/{mail_id:int}/text", include_in_schema=False)
    async def mail_text(mail_id: int) -> Response:
        text = _lines(_found(sink, mail_id).text())
        headers = {**_COMMON, "content-security-policy": "default-src 'none'; frame-ancestors 'none'"}
        return Response(text, media_type="text/plain; charset=utf-8", headers=headers)

    @router.get("/mail/{mail_id:int}/raw", include_in_schema=False)
    async def mail_raw(mail_id: int) -> Response:
        mail = _found(sink, mail_id)
        headers = {**_COMMON, "content-disposition": f'attachment; filename="mail-{mail.id}.eml"'}
        return Response(mail.raw, media_type="message/rfc822", headers=headers)

    return router
