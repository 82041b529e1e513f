"""The emails page: the cluster's delivery log with each email's status, attempts and last error; for platform
admins, looking an address up among the suppressed ones and allowing it again; every template previewed with
sample data in each language, exactly as the notifications service renders it."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from trellis_console.backends import NotFound, Rejected
from trellis_console.context import Console, form_text, page_number, pager
from trellis_console.messages import LANGUAGES
from trellis_console.pages import root

PAGE_SIZE = 50
STATUSES = ("pending", "sending", "sent", "failed", "parked", "cancelled", "skipped")
# A preview is an email's HTML: its inlined styles and the data: images of the layout, nothing else.
PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'"


def emails_routes(console: Console) -> APIRouter:
    router = APIRouter()
    pages, backends = console.pages, console.backends

    @router.get("/clusters/{cluster_id}/emails")
    async def email_log(request: Request, cluster_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        query = request.query_params
        status = query.get("status") if query.get("status") in STATUSES else None
        page = page_number(query.get("page"))
        params: dict[str, Any] = {"cluster_id": cluster_id, "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}
        if status:
            params["status"] = status
        cluster, log, templates = await asyncio.gather(
            backends.get(person.token, "surveys", f"/clusters/{cluster_id}"),
            backends.optional(person.token, "notifications", "/deliveries", params),
            backends.optional(person.token, "notifications", "/templates"),
        )
        chosen = {"status": status} if status else {}
        here = f"{root(request)}/clusters/{cluster_id}/emails"
        total = int(log["total"]) if log else 0
        lookup = await _lookup(console, person.token, query.get("address")) if person.claims.platform_admin else None
        return pages.render(
            request,
            "emails.html",
            cluster_id=cluster_id,
            cluster_name=cluster["name"],
            deliveries=None if log is None else log["items"],
            total=total,
            statuses=STATUSES,
            chosen=chosen,
            **pager(here, chosen, page, total, PAGE_SIZE),
            templates=None if templates is None else [t["name"] for t in templates],
            languages_shipped=LANGUAGES,
            admin=person.claims.platform_admin,
            lookup=lookup,
            allowed=query.get("allowed") == "1",
        )

    @router.get("/clusters/{cluster_id}/emails/templates/{name}")
    async def template_preview(request: Request, cluster_id: str, name: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        await backends.get(person.token, "surveys", f"/clusters/{cluster_id}")  # 404 for another cluster
        shown = request.query_params.get("in")
        language = shown if shown in LANGUAGES else pages.language(request)
        html = await backends.text(
            person.token, "notifications", f"/templates/{name}/preview", {"lang": language, "format": "html"}
        )
        headers = {"Content-Security-Policy": PREVIEW_CSP, "Cache-Control": "no-store"}
        return Response(html, media_type="text/html; charset=utf-8", headers=headers)

    @router.post("/clusters/{cluster_id}/emails/allow")
    async def allow_address(request: Request, cluster_id: str) -> Response:
        """Platform admins: an address that bounced may receive email again (its mailbox exists now)."""
        posted = await console.posted(request)
        if isinstance(posted, Response):
            return posted
        person, submitted = posted
        if not person.claims.platform_admin:
            return console.refused(request, person, cluster_id)
        address = form_text(submitted, "address")
        here = f"{root(request)}/clusters/{cluster_id}/emails"
        try:
            await backends.request(person.token, "notifications", "DELETE", "/suppressions", {"address": address})
        except (NotFound, Rejected):
            return pages.redirect(request, f"{here}?{urlencode({'address': address})}")
        return pages.redirect(request, f"{here}?{urlencode({'address': address, 'allowed': 1})}")

    return router


async def _lookup(console: Console, token: str, address: str | None) -> dict[str, Any] | None:
    """Whether an address is among the suppressed ones (the list keeps only hashes: one asks by address)."""
    if not address or len(address) > 320 or "@" not in address:
        return {"address": address, "invalid": True} if address else None
    try:
        found = await console.backends.get(token, "notifications", "/suppressions", {"address": address})
    except Rejected:
        return {"address": address, "invalid": True}
    items = found["items"]
    return {"address": address, "suppressed": items[0] if items else None}
