"""The statements of a person's erasure and export: what goes, what is cancelled and what is blanked when a
contact or a member is erased, and what a contact's export reads. Which of them run, and why, is in the
service's ``privacy`` module."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, delete, func, literal, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.privacy import ERASED
from trellis_notifications.domain.deliveries import OPEN_STATUSES, DeliveryStatus
from trellis_notifications.models import contact_preferences, contacts, deliveries, digest_items

# A delivery's columns that may name its recipient or the person it was sent on behalf of.
_PERSONAL = ("to_address", "to_name", "subject", "text_body", "html_body")


def _contains_any(column: ColumnElement[Any], needles: Sequence[str]) -> ColumnElement[bool]:
    return or_(*(func.lower(column).contains(needle, autoescape=True) for needle in needles))


async def delete_digest_items(session: AsyncSession, contact_ids: Sequence[str]) -> None:
    """The contacts' digest items, waiting or sent."""
    await session.execute(delete(digest_items).where(digest_items.c.contact_id.in_(contact_ids)))


async def drop_redirects_to(
    session: AsyncSession, contact_ids: Sequence[str], addresses: Sequence[str], clusters: Sequence[str]
) -> None:
    """Take these contacts out of other people's review redirects: by id anywhere, by address (lower-cased)
    only in the contacts' own clusters, since another cluster's use of the same address is that cluster's
    business (and may be another person's record)."""
    await session.execute(
        update(contact_preferences)
        .where(contact_preferences.c.review_redirect_contact_id.in_(contact_ids))
        .values(review_redirect_contact_id=None, review_redirect_name=None)
    )
    if addresses:
        in_their_clusters = select(contacts.c.contact_id).where(contacts.c.cluster_id.in_(clusters))
        await session.execute(
            update(contact_preferences)
            .where(
                func.lower(contact_preferences.c.review_redirect_email).in_(addresses),
                contact_preferences.c.contact_id.in_(in_their_clusters),
            )
            .values(review_redirect_email=None, review_redirect_name=None)
        )


async def drop_parked(session: AsyncSession, placeholders: Sequence[str]) -> None:
    """Parked notices waiting for these audiences."""
    await session.execute(
        delete(deliveries).where(
            deliveries.c.contact_id.in_(placeholders), deliveries.c.status == DeliveryStatus.PARKED.value
        )
    )


async def cancel_open(session: AsyncSession, contact_ids: Sequence[str]) -> None:
    """The contacts' emails not sent yet: never to be sent."""
    await session.execute(
        update(deliveries)
        .where(deliveries.c.contact_id.in_(contact_ids), deliveries.c.status.in_(OPEN_STATUSES))
        .values(
            status=DeliveryStatus.CANCELLED.value,
            last_error="cancelled: the contact was erased",
            next_attempt_at=None,
        )
    )


async def deliveries_naming(
    session: AsyncSession,
    contact_ids: Sequence[str],
    addresses: Sequence[str],
    names: Sequence[str],
    clusters: Sequence[str],
) -> Sequence[RowMapping]:
    """Id, contact id and last error of the deliveries that name these people: sent to them (by contact id,
    or by address within their clusters), or sent to someone else naming them (a review redirected on their
    behalf), within their clusters only. ``addresses`` and ``names`` are lower-case."""
    conditions: list[ColumnElement[bool]] = [deliveries.c.contact_id.in_(list(contact_ids))]
    if addresses and clusters:
        conditions.append(
            func.lower(deliveries.c.to_address).in_(list(addresses)) & deliveries.c.cluster_id.in_(clusters)
        )
    needles = [*addresses, *names]
    if needles and clusters:
        named = or_(*(_contains_any(deliveries.c[column], needles) for column in _PERSONAL))
        conditions.append(deliveries.c.cluster_id.in_(list(clusters)) & named)
    found = await session.execute(
        select(deliveries.c.id, deliveries.c.contact_id, deliveries.c.last_error).where(or_(*conditions))
    )
    return found.mappings().all()


async def anonymise_delivery(session: AsyncSession, delivery_id: str, *, error_too: bool, contact_too: bool) -> None:
    """Blank a delivery's personal content (address, name, subject, bodies, attachments, unsubscribe link,
    parked data); with ``error_too`` its error text as well, with ``contact_too`` its contact id, which
    becomes ``erased:<delivery id>``. Template, status, times, attempts, cluster and member stay, for counts
    and audit."""
    values: dict[str, Any] = {column: None for column in _PERSONAL}
    values |= {"attachments": None, "unsubscribe_url": None, "payload": None}
    if error_too:
        values["last_error"] = "erased"
    if contact_too:
        values["contact_id"] = literal(f"{ERASED}:", String) + deliveries.c.id
    await session.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**values))


async def delete_contacts(session: AsyncSession, contact_ids: Sequence[str]) -> None:
    await session.execute(delete(contacts).where(contacts.c.contact_id.in_(contact_ids)))


async def delete_member_contacts(session: AsyncSession, member_id: str) -> None:
    """The member's contacts and every digest item of the member."""
    await session.execute(delete(digest_items).where(digest_items.c.member_id == member_id))
    await session.execute(delete(contacts).where(contacts.c.member_id == member_id))


async def erase_member_deliveries(session: AsyncSession, member_id: str) -> None:
    """The member's parked notices go, its emails not sent yet are cancelled, and every delivery of the member
    loses its personal content."""
    await session.execute(
        delete(deliveries).where(
            deliveries.c.member_id == member_id, deliveries.c.status == DeliveryStatus.PARKED.value
        )
    )
    await session.execute(
        update(deliveries)
        .where(deliveries.c.member_id == member_id, deliveries.c.status.in_(OPEN_STATUSES))
        .values(
            status=DeliveryStatus.CANCELLED.value,
            last_error="cancelled: the member was deleted",
            next_attempt_at=None,
        )
    )
    await session.execute(
        update(deliveries)
        .where(deliveries.c.member_id == member_id)
        .values(
            to_address=None,
            to_name=None,
            subject=None,
            text_body=None,
            html_body=None,
            attachments=None,
            unsubscribe_url=None,
            payload=None,
        )
    )


async def preferences_row(session: AsyncSession, contact_id: str) -> RowMapping | None:
    """The contact's stored choices as they are in the table (None: the defaults)."""
    query = select(contact_preferences).where(contact_preferences.c.contact_id == contact_id)
    return (await session.execute(query)).mappings().first()


async def deliveries_of(
    session: AsyncSession, contact_id: str, placeholder: str, address: str | None
) -> Sequence[RowMapping]:
    """Every delivery to the contact, oldest first: sent, queued or parked for them (``placeholder``), and with
    ``address``, those sent to it for someone else (a redirected review)."""
    theirs: ColumnElement[bool] = deliveries.c.contact_id.in_([contact_id, placeholder])
    if address is not None:
        theirs = theirs | (func.lower(deliveries.c.to_address) == address.lower())
    query = select(deliveries).where(theirs).order_by(deliveries.c.created_at, deliveries.c.id)
    return (await session.execute(query)).mappings().all()


async def digest_items_of(session: AsyncSession, contact_id: str) -> Sequence[RowMapping]:
    """The contact's digest items, waiting or sent, oldest first."""
    query = select(digest_items).where(digest_items.c.contact_id == contact_id).order_by(digest_items.c.created_at)
    return (await session.execute(query)).mappings().all()


async def redirecting_to(session: AsyncSession, contact_id: str) -> list[str]:
    """The contacts whose review emails go to this contact."""
    query = select(contact_preferences.c.contact_id).where(
        contact_preferences.c.review_redirect_contact_id == contact_id
    )
    return list((await session.scalars(query)).all())
