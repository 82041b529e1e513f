"""Baseline security headers on every response of every service.

Pages that need a particular Content-Security-Policy set it themselves (framing is forbidden in it too); the
default forbids everything, which suits JSON and images. (The request body size cap is FastAPI's own
``max_body_size``, set by the app factory.)
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'"
BASELINE_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # Member links carry signed tokens in their path: never leak them to other sites.
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


# The headers of a page behind a member's signed link (survey form, unsubscribe, accept/decline): the link is a
# credential, so the page stays out of caches, referrers and search engines; it styles itself inline, posts only
# to itself and is framed by nobody.
LINK_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_page_policy(page: str) -> str:
    """The policy of an API docs page (Swagger UI, ReDoc): scripts, styles and the OpenAPI document from this
    origin only, the page's own inline scripts by hash. Styles may be inline (both UIs inject them), images may
    be data: URLs (Swagger UI's icons) and ReDoc runs its search in a worker it makes from a blob."""
    hashes = "".join(f" 'sha256-{_sha256(script)}'" for script in _INLINE_SCRIPT.findall(page))
    return (
        f"default-src 'none'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def with_frame_ancestors(policy: str | None) -> str:
    """The default policy, or a page's own with framing forbidden added when it does not say."""
    if not policy:
        return DEFAULT_CSP
    if "frame-ancestors" in policy:
        return policy
    return f"{policy.rstrip('; ')}; frame-ancestors 'none'"


def error_headers(correlation_id: str | None) -> dict[str, str]:
    """The headers of an answer written outside the middleware stack (the catch-all 500)."""
    headers = {**BASELINE_HEADERS, "content-security-policy": DEFAULT_CSP}
    if correlation_id:
        headers["x-correlation-id"] = correlation_id
    return headers


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in BASELINE_HEADERS.items():
                    headers.setdefault(name, value)
                headers["content-security-policy"] = with_frame_ancestors(headers.get("content-security-policy"))
            await send(message)

        await self.app(scope, receive, with_headers)
