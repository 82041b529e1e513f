"""REST API of the notifications service: delivery log, contact directory and preferences, suppression
list, and template previews. The unsubscribe pages are in ``unsubscribe.py``.

Access: reads need a reader of the row's cluster (``Reader``), preference changes a manager (``Writer``); the
suppression list belongs to no cluster and is for platform admins only (``Admin``); the template catalogue
is reference data for anyone holding a role. Rows outside the caller's scope are filtered out in SQL
(``repositories``), so they are "not found" like ids that do not exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import EmailStr

from trellis_common.app import CorrelationId, Runtime, not_found, page_path
from trellis_common.auth import Admin, Caller, Principal, Reader, Scope, Writer
from trellis_common.events import ContactRole
from trellis_common.settings import narrowed
from trellis_common.text import INT4_MAX
from trellis_notifications.composer import Recipient, compose
from trellis_notifications.domain.deliveries import DeliveryStatus, EmailTemplate
from trellis_notifications.domain.digest import next_digest_at
from trellis_notifications.domain.ical import ICS_FILENAME
from trellis_notifications.domain.preferences import (
    TEMPLATE_CATEGORY,
    Category,
    MatchDelivery,
    Preferences,
    ReviewRedirect,
)
from trellis_notifications.domain.rendering import SUPPORTED_LANGUAGES, Language
from trellis_notifications.repositories.contacts import find_contact
from trellis_notifications.repositories.deliveries import (
    DeliveryFilter,
    ResendFilter,
    delivery_page,
    find_delivery,
    requeue_failed,
)
from trellis_notifications.repositories.digests import waiting_for_digest
from trellis_notifications.repositories.preferences import preferences_of, save_preferences
from trellis_notifications.repositories.suppressions import suppression_page, unsuppress
from trellis_notifications.samples import SAMPLE_CLUSTER, SAMPLE_MEMBER, SAMPLE_NAME, sample_context
from trellis_notifications.schemas import (
    RESEND_AT_ONCE,
    ContactOut,
    DeliveryDetail,
    DeliveryPage,
    PreferencesOut,
    PreferencesPatch,
    ResendIn,
    ResendOut,
    SuppressionPage,
    TemplateOut,
)
from trellis_notifications.settings import NotificationsSettings

if TYPE_CHECKING:
    from sqlalchemy.engine import RowMapping
    from sqlalchemy.ext.asyncio import AsyncSession

router = APIRouter()

IdQuery = Annotated[str | None, Query(min_length=1, max_length=128)]
_REVIEW_ROLES = {ContactRole.CLUSTER_MANAGER.value, ContactRole.BOARD_MEMBER.value}
# The preview is an email rendered for a browser: no scripts, nothing fetched, never framed.
_PREVIEW_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


async def any_role(caller: Caller) -> Principal:
    """The template catalogue is reference data without cluster data: any caller holding a role may read it."""
    if not caller.roles:
        raise HTTPException(status_code=403, detail="reading the template catalogue needs a Trellis role")
    return caller


Catalogue = Annotated[Principal, Depends(any_role)]


def settings_of(runtime: Runtime) -> NotificationsSettings:
    return narrowed(runtime.settings, NotificationsSettings)


def unprocessable(loc: list[str], message: str) -> HTTPException:
    """A 422 in FastAPI's own shape, naming the field."""
    return HTTPException(status_code=422, detail=[{"loc": loc, "msg": message, "type": "value_error"}])


def _category_of(template: str) -> Category | None:
    try:
        return TEMPLATE_CATEGORY[EmailTemplate(template)]
    except ValueError:
        return None


def _delivery_out(row: RowMapping) -> dict[str, Any]:
    return {**row, "category": _category_of(row["template"])}


@router.get(
    "/deliveries",
    response_model=DeliveryPage,
    tags=["deliveries"],
    summary="The delivery log, newest first: every email's status, attempts and last error",
)
async def list_deliveries(
    runtime: Runtime,
    scope: Reader,
    cluster_id: IdQuery = None,
    member_id: IdQuery = None,
    contact_id: IdQuery = None,
    template: Annotated[EmailTemplate | None, Query()] = None,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT4_MAX)] = 0,
) -> dict[str, Any]:
    where = DeliveryFilter(
        cluster_id=cluster_id,
        member_id=member_id,
        contact_id=contact_id,
        template=template.value if template is not None else None,
        status=status.value if status is not None else None,
    )
    async with runtime.db.sessions() as session:
        rows, total = await delivery_page(session, scope, where, limit, offset)
    return {"items": [_delivery_out(row) for row in rows], "total": total, "limit": limit, "offset": offset}


@router.post(
    "/deliveries/resend",
    response_model=ResendOut,
    tags=["deliveries"],
    summary="Send failed emails again (a relay misconfiguration fixed): each failed delivery once more",
)
async def resend_failed(body: ResendIn, runtime: Runtime, scope: Writer) -> dict[str, Any]:
    """Failed deliveries of the caller's clusters (narrowed by the body) become due again with fresh attempts,
    at most 500 per call, oldest first (``more`` says whether to call again). Only failed ones change, so a
    delivery is sent again once however often this is called; ``dry_run`` lists them and changes nothing. The
    same email goes out: same Message-ID, content and recipient as rendered then. An address suppressed since
    (the relay refused the mailbox itself) is skipped as any queued email is: allow it first."""
    where = ResendFilter(
        cluster_id=body.cluster_id,
        template=body.template.value if body.template is not None else None,
        delivery_ids=tuple(body.delivery_ids) if body.delivery_ids is not None else None,
        failed_since=body.failed_since,
    )
    async with runtime.db.sessions() as session, session.begin():
        chosen, more = await requeue_failed(
            session, scope, where, runtime.clock.now(), limit=RESEND_AT_ONCE, dry_run=body.dry_run
        )
    if chosen and not body.dry_run:
        runtime.wake_workers()  # the sender takes them now, not at its next poll
    return {"dry_run": body.dry_run, "delivery_ids": chosen, "more": more}


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail, tags=["deliveries"])
async def get_delivery(delivery_id: str, runtime: Runtime, scope: Reader) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        row = await find_delivery(session, scope, delivery_id)
    if row is None:
        raise not_found("delivery", delivery_id)
    return {
        **_delivery_out(row),
        "list_unsubscribe": row["unsubscribe_url"],
        "attachments": [str(a["filename"]) for a in row["attachments"] or ()],
    }


@router.get(
    "/contacts/{contact_id}",
    response_model=ContactOut,
    tags=["contacts"],
    summary="A contact as projected from surveys.member.changed",
)
async def get_contact(contact_id: str, runtime: Runtime, scope: Reader) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        row = await find_contact(session, scope, contact_id)
    if row is None:
        raise not_found("contact", contact_id)
    return dict(row)


async def _preferences_out(runtime: Runtime, scope: Scope, contact_id: str, preferences: Preferences) -> dict[str, Any]:
    settings = settings_of(runtime)
    async with runtime.db.sessions() as session:
        waiting = await waiting_for_digest(session, scope, contact_id)
    redirect = preferences.review_redirect
    digesting = preferences.match_delivery is MatchDelivery.WEEKLY_DIGEST or bool(waiting)
    return {
        "contact_id": contact_id,
        **{c.value: preferences.receives(c) for c in Category},
        "match_delivery": preferences.match_delivery,
        "review_redirect": None
        if redirect is None
        else {"contact_id": redirect.contact_id, "email": redirect.email, "name": redirect.name},
        "next_digest_at": next_digest_at(
            runtime.clock.now(), weekday=settings.digest_weekday, hour=settings.digest_hour, zone=settings.digest_zone
        )
        if digesting
        else None,
        "matches_waiting_for_digest": waiting,
    }


@router.get(
    "/contacts/{contact_id}/preferences",
    response_model=PreferencesOut,
    tags=["contacts"],
    summary="What a contact receives: categories, match delivery, review redirect",
)
async def get_preferences(contact_id: str, runtime: Runtime, scope: Reader) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        if await find_contact(session, scope, contact_id) is None:
            raise not_found("contact", contact_id)
        preferences = await preferences_of(session, scope, contact_id)
    return await _preferences_out(runtime, scope, contact_id, preferences)


@router.patch(
    "/contacts/{contact_id}/preferences",
    response_model=PreferencesOut,
    tags=["contacts"],
    summary="Change some of a contact's choices (fields left out stay as they are)",
)
async def patch_preferences(
    contact_id: str, body: PreferencesPatch, runtime: Runtime, scope: Writer, correlation: CorrelationId
) -> dict[str, Any]:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        session = uow.session
        contact = await find_contact(session, scope, contact_id)
        if contact is None:
            raise not_found("contact", contact_id)
        current = await preferences_of(session, scope, contact_id)
        unsubscribed = set(current.unsubscribed)
        for category in Category:
            wanted = getattr(body, category.value)
            if wanted is True:
                unsubscribed.discard(category)
            elif wanted is False:
                unsubscribed.add(category)
        redirect = current.review_redirect
        if "review_redirect" in body.model_fields_set:
            redirect = await _redirect(session, scope, contact, body)
        updated = Preferences(
            unsubscribed=frozenset(unsubscribed),
            match_delivery=body.match_delivery or current.match_delivery,
            review_redirect=redirect,
        )
        await save_preferences(session, scope, contact_id, updated, uow.now)
    return await _preferences_out(runtime, scope, contact_id, updated)


async def _redirect(
    session: AsyncSession, scope: Scope, contact: RowMapping, body: PreferencesPatch
) -> ReviewRedirect | None:
    wanted = body.review_redirect
    if wanted is None:
        return None
    loc = ["body", "review_redirect"]
    if contact["role"] not in _REVIEW_ROLES:
        raise unprocessable(loc, "only cluster managers and board members receive strategy review emails")
    if wanted.contact_id is not None:
        if wanted.contact_id == contact["contact_id"]:
            raise unprocessable([*loc, "contact_id"], "a contact cannot redirect to itself; send null to clear")
        # A contact of a cluster the caller does not manage is "not in the directory", like an unknown one.
        if await find_contact(session, scope, wanted.contact_id) is None:
            raise unprocessable([*loc, "contact_id"], f"contact {wanted.contact_id!r} is not in the directory")
        return ReviewRedirect(contact_id=wanted.contact_id)
    return ReviewRedirect(email=str(wanted.email), name=wanted.name)


@router.get(
    "/suppressions",
    response_model=SuppressionPage,
    tags=["suppressions"],
    summary="Addresses that bounced hard and get no more email (stored as hashes)",
)
async def list_suppressions(
    runtime: Runtime,
    scope: Admin,
    address: Annotated[EmailStr | None, Query(description="Look up one address")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT4_MAX)] = 0,
) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        items, total = await suppression_page(session, scope, None if address is None else str(address), limit, offset)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.delete(
    "/suppressions",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["suppressions"],
    summary="Allow an address again (e.g. the mailbox was set up since)",
)
async def delete_suppression(
    runtime: Runtime, scope: Admin, correlation: CorrelationId, address: Annotated[EmailStr, Query()]
) -> Response:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        if not await unsuppress(uow.session, scope, str(address)):
            raise not_found("suppressed address", str(address))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/templates", response_model=list[TemplateOut], tags=["templates"], summary="Every email template")
async def list_templates(request: Request, caller: Catalogue) -> list[dict[str, Any]]:
    return [
        {
            "name": template,
            "category": TEMPLATE_CATEGORY[template],
            "languages": sorted(SUPPORTED_LANGUAGES),
            "attachments": [ICS_FILENAME] if template is EmailTemplate.REVIEW_REMINDER else [],
            # Under the root path, so the link still works when the API is served behind a prefix.
            "preview": page_path(request, "preview_template", name=template.value) + "?lang=en&format=html",
        }
        for template in EmailTemplate
    ]


@router.get(
    "/templates/{name}/preview",
    tags=["templates"],
    summary="A template rendered with sample data, exactly as an email would carry it",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}, "text/plain": {}}}},
)
async def preview_template(
    name: str,
    runtime: Runtime,
    caller: Catalogue,
    lang: Annotated[Language, Query(description="Template language")] = Language.EN,
    format: Annotated[Literal["html", "text"], Query(description="html part or plain-text part")] = "html",
) -> Response:
    try:
        template = EmailTemplate(name)
    except ValueError:
        known = ", ".join(t.value for t in EmailTemplate)
        raise HTTPException(status_code=404, detail=f"template {name!r} not found; templates: {known}") from None
    recipient = Recipient(
        contact_id="contact-sample",
        member_id="member-sample",
        cluster_id="cluster-sample",
        name=SAMPLE_NAME,
        email="maria.rossi@member.example",
        language=lang.value,
    )
    context = sample_context(template)
    content = compose(
        settings_of(runtime),
        template,
        recipient,
        next(iter(context.values())),
        cause_event_id="preview",
        now=runtime.clock.now(),
        cluster_name=SAMPLE_CLUSTER,
        member_name=SAMPLE_MEMBER,
    )
    if format == "text":
        return PlainTextResponse(f"Subject: {content['subject']}\n\n{content['text_body']}", headers=_PREVIEW_HEADERS)
    return HTMLResponse(content["html_body"], headers=_PREVIEW_HEADERS)
