"""What every page module needs: the settings, the renderer, the services' clients and who is signed in."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from trellis_console.backends import Backends
from trellis_console.claims import Claims, read_claims
from trellis_console.pages import Pages
from trellis_console.session import Session
from trellis_console.settings import ConsoleSettings


@dataclass(frozen=True)
class Person:
    """The signed-in person of a request: their token for the services and what it says they may do."""

    token: str
    claims: Claims


@dataclass(frozen=True)
class Console:
    settings: ConsoleSettings
    pages: Pages
    backends: Backends
    signed_in: Callable[[Request], Awaitable[Session | None]]  # refreshes a token about to end

    async def person(self, request: Request) -> Person | None:
        session = await self.signed_in(request)
        if session is None or session.token is None:
            return None
        claims = read_claims(session.token, self.settings.roles_claim, self.settings.clusters_claim)
        return Person(session.token, claims)

    async def posted(self, request: Request, *, max_part_size: int = 1024 * 1024) -> tuple[Person, FormData] | Response:
        """A form a signed-in person posted with this session's CSRF token; else the page to answer with."""
        person = await self.person(request)
        if person is None:
            return self.pages.to_sign_in(request)
        submitted = await request.form(max_part_size=max_part_size)
        if not self.pages.signer.csrf_ok(self.pages.session(request), form_text(submitted, "csrf")):
            return self.pages.problem(request, 403, "csrf")
        return person, submitted

    def refused(self, request: Request, person: Person, cluster_id: str) -> Response:
        """A write page the person may not use: "not allowed" (403) in their own cluster; a cluster they cannot
        even read looks like one that does not exist (404), as the services answer."""
        readable = person.claims.platform_admin or cluster_id in person.claims.clusters
        return self.pages.problem(request, 403 if readable else 404, "forbidden" if readable else "not_found")


def form_text(submitted: FormData, key: str) -> str:
    """A form field as typed, trimmed; a missing field or a file reads as empty."""
    value = submitted.get(key)
    return value.strip() if isinstance(value, str) else ""


def page_number(raw: str | None) -> int:
    """A ``?page=`` as typed: a page from 1 on; anything else is the first page, not an error."""
    return max(1, min(int(raw), 100_000)) if raw and raw.isdigit() else 1


def pager(here: str, chosen: Mapping[str, str], page: int, total: int, size: int) -> dict[str, Any]:
    """What ``_pager.html`` shows: the page, how many there are, and links that keep the filters chosen."""
    pages_total = max(1, math.ceil(total / size))

    def link(number: int) -> str:
        return f"{here}?{urlencode({**chosen, 'page': number})}"

    return {
        "page": page,
        "pages_total": pages_total,
        "previous": link(page - 1) if page > 1 else None,
        "following": link(page + 1) if page < pages_total else None,
    }
