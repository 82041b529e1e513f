"""One-click unsubscribe (RFC 8058) and its confirmation page.

Every email one can unsubscribe from carries ``List-Unsubscribe: <…/unsubscribe/{token}>`` and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``. Mail providers POST to the URL when someone presses
their "unsubscribe" button; people who follow the link in the footer GET a page that asks first (link
scanners and prefetchers only ever GET, so a GET never changes anything) and whose button POSTs the same
request. Both work without JavaScript or cookies. The token is signed for this purpose only and names the
contact and the category; repeating the POST is harmless.

These pages need no bearer token: the signed token is the authorisation, and it reaches exactly one contact
(every query below is keyed by the contact it names), whichever cluster that contact is in.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from trellis_common.app import Runtime
from trellis_common.auth import Scope
from trellis_common.http_guards import LINK_PAGE_HEADERS
from trellis_common.logging import get_logger
from trellis_common.rate_limit import PublicLimit, rate_limited
from trellis_common.repositories.names import names_of
from trellis_common.tokens import TokenError
from trellis_notifications.api.deliveries import settings_of
from trellis_notifications.composer import unsubscribe_signer
from trellis_notifications.domain.preferences import Category
from trellis_notifications.domain.rendering import default_renderer
from trellis_notifications.models import NAMES
from trellis_notifications.repositories.contacts import find_contact
from trellis_notifications.repositories.preferences import unsubscribe

log = get_logger(__name__)
router = APIRouter(tags=["unsubscribe"])

State = Literal["confirm", "done", "invalid"]


def _link_scope(contact_id: str) -> Scope:
    """What a valid link may touch: the rows of the contact it names, in whatever cluster they are."""
    return Scope.everything(f"unsubscribe-link:{contact_id}")


def _read(runtime: Runtime, token: str) -> tuple[str, Category] | None:
    settings = settings_of(runtime)
    try:
        payload = unsubscribe_signer(settings).loads(token, runtime.clock.now(), settings.unsubscribe_link_max_age)
        return payload["c"], Category(payload["k"])
    except (TokenError, KeyError, ValueError):
        return None


async def _reader(runtime: Runtime, contact_id: str) -> tuple[str | None, str | None]:
    """The contact's language and cluster name (either unknown for an erased contact or an unnamed cluster)."""
    async with runtime.db.sessions() as session:
        contact = await find_contact(session, _link_scope(contact_id), contact_id)
        if contact is None:
            return None, None
        names = await names_of(session, NAMES, cluster_ids=[str(contact["cluster_id"])])
    return str(contact["language"]), names.cluster(str(contact["cluster_id"]))


def _page(
    runtime: Runtime, state: State, reader: tuple[str | None, str | None], category: Category | None
) -> HTMLResponse:
    language, cluster_name = reader
    html = default_renderer().render_page(
        "unsubscribe",
        language,
        state=state,
        category=category.value if category else None,
        max_age_days=settings_of(runtime).unsubscribe_link_max_age_days,
        cluster_name=cluster_name,
    )
    return HTMLResponse(html, status_code=400 if state == "invalid" else 200, headers=LINK_PAGE_HEADERS)


# Mail providers send one-click unsubscribes for many people from few addresses: limit per link, not per client.
_per_link = rate_limited("unsubscribe-link", "public_rate_per_minute", 60, key=lambda request: request.url.path)


@router.get(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    summary="The page behind an email's unsubscribe link: asks before it unsubscribes",
    responses={400: {"description": "The link is not valid (tampered with, incomplete or too old)"}},
)
async def confirm_page(token: str, runtime: Runtime, _limit: PublicLimit) -> HTMLResponse:
    read = _read(runtime, token)
    if read is None:
        return _page(runtime, "invalid", (None, None), None)
    contact_id, category = read
    return _page(runtime, "confirm", await _reader(runtime, contact_id), category)


@router.post(
    "/unsubscribe/{token}",
    response_class=HTMLResponse,
    summary="RFC 8058 one-click unsubscribe (body List-Unsubscribe=One-Click): stops the token's category",
    responses={400: {"description": "The link is not valid (tampered with, incomplete or too old)"}},
)
async def one_click(token: str, runtime: Runtime, _limit: Annotated[None, Depends(_per_link)]) -> HTMLResponse:
    read = _read(runtime, token)
    if read is None:
        log.info("unsubscribe_refused", reason="invalid token")
        return _page(runtime, "invalid", (None, None), None)
    contact_id, category = read
    async with runtime.unit_of_work() as uow:
        known = await unsubscribe(uow.session, _link_scope(contact_id), contact_id, category, uow.now)
    # An unknown (erased) contact gets the same answer: nothing is sent to it anyway, and the page must not
    # tell a stranger holding the link whether the person is in the directory.
    log.info("unsubscribed", contact_id=contact_id, category=category.value, known=known)
    return _page(runtime, "done", await _reader(runtime, contact_id), category)
