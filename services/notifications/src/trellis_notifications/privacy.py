"""Personal data notifications keeps about a contact, its erasure and its export (GDPR Art. 15 and 17).

What notifications holds about a person: the contact projection (name, address, language, role), their
preferences (and a review redirect, which may hold another person's address), the delivery log (address,
name, subject, bodies, .ics attachment, unsubscribe link of every email to them, and of review emails sent
to someone else on their behalf), matches waiting for their digest, and the outbox rows of the
notifications.email.* audit events about them.

A contact is erased when surveys.member.changed no longer lists it (the contact was erased or left its member)
or when the member's tombstone arrives. In the handler's transaction (with the inbox row), ``erase_contacts``:

- deletes the contact row, the contact's preferences and digest items (waiting or sent);
- takes the contact out of other people's review redirects (by id or by address);
- deletes parked emails addressed to the contact, cancels those not sent yet;
- anonymises the delivery log: rows stay (template, status, times, attempts, cluster and member, for counts
  and audit) but lose the address, name, subject, bodies, attachments, unsubscribe link and any error text
  naming the person; the contact id becomes ``erased:<delivery id>``. Rows sent to others that name the
  person (a review redirected on their behalf) lose their content likewise;
- deletes the published outbox rows of email events about the contact.

The suppression list keeps only SHA-256 hashes of addresses; it outlives the erasure on purpose (an address
that bounced hard is not mailed again), as the GDPR allows for data kept to honour an objection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, delete, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.logging import get_logger
from trellis_common.privacy import ERASED, mentions, name_needles, needles_of, purge_outbox, row_text
from trellis_notifications.domain.deliveries import Audience, AudienceKind, DeliveryStatus
from trellis_notifications.models import contact_preferences, contacts, deliveries, digest_items
from trellis_notifications.repositories.preferences import forget_contacts

log = get_logger(__name__)
SERVICE = Scope.everything("notifications-privacy")
_OPEN = (DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value)
_PERSONAL = ("to_address", "to_name", "subject", "text_body", "html_body")


def _contains_any(column: ColumnElement[Any], needles: Sequence[str]) -> ColumnElement[bool]:
    return or_(*(func.lower(column).contains(needle, autoescape=True) for needle in needles))


async def erase_contacts(session: AsyncSession, contact_ids: Sequence[str]) -> int:
    """Erase everything about these contacts (see the module's description); returns the delivery rows
    anonymised. Runs in the caller's transaction."""
    ids = sorted(set(contact_ids))
    if not ids:
        return 0
    people = (await session.execute(select(contacts).where(contacts.c.contact_id.in_(ids)))).mappings().all()
    addresses = needles_of(*(p["email"] for p in people))
    names = name_needles(*(p["name"] for p in people))
    clusters = sorted({str(p["cluster_id"]) for p in people})

    await forget_contacts(session, SERVICE, ids)
    await session.execute(delete(digest_items).where(digest_items.c.contact_id.in_(ids)))
    await session.execute(
        update(contact_preferences)
        .where(contact_preferences.c.review_redirect_contact_id.in_(ids))
        .values(review_redirect_contact_id=None, review_redirect_name=None)
    )
    if addresses:
        # Only redirects set up in the erased contacts' clusters: another cluster's use of the same address is
        # that cluster's business (and may be another person's record).
        in_their_clusters = select(contacts.c.contact_id).where(contacts.c.cluster_id.in_(clusters))
        await session.execute(
            update(contact_preferences)
            .where(
                func.lower(contact_preferences.c.review_redirect_email).in_(addresses),
                contact_preferences.c.contact_id.in_(in_their_clusters),
            )
            .values(review_redirect_email=None, review_redirect_name=None)
        )
    placeholders = [Audience(AudienceKind.CONTACT, contact_id).placeholder for contact_id in ids]
    await session.execute(
        delete(deliveries).where(
            deliveries.c.contact_id.in_(placeholders), deliveries.c.status == DeliveryStatus.PARKED.value
        )
    )
    await session.execute(
        update(deliveries)
        .where(deliveries.c.contact_id.in_(ids), deliveries.c.status.in_(_OPEN))
        .values(
            status=DeliveryStatus.CANCELLED.value,
            last_error="cancelled: the contact was erased",
            next_attempt_at=None,
        )
    )
    anonymised = await _anonymise_deliveries(session, ids, addresses, names, clusters)
    await session.execute(delete(contacts).where(contacts.c.contact_id.in_(ids)))
    purged = await purge_outbox(session, needles_of(*ids, *addresses, *names), keys=ids)
    log.info("contacts_erased", contacts=len(ids), deliveries_anonymised=anonymised, outbox_rows_purged=purged)
    return anonymised


async def _anonymise_deliveries(
    session: AsyncSession, ids: Sequence[str], addresses: Sequence[str], names: Sequence[str], clusters: Sequence[str]
) -> int:
    conditions: list[ColumnElement[bool]] = [deliveries.c.contact_id.in_(list(ids))]
    if addresses and clusters:
        conditions.append(
            func.lower(deliveries.c.to_address).in_(list(addresses)) & deliveries.c.cluster_id.in_(clusters)
        )
    needles = [*addresses, *names]
    if needles and clusters:
        # Emails to someone else that name the person (a review redirected on their behalf): their clusters only.
        named = or_(*(_contains_any(deliveries.c[column], needles) for column in _PERSONAL))
        conditions.append(deliveries.c.cluster_id.in_(list(clusters)) & named)
    rows = (
        await session.execute(
            select(deliveries.c.id, deliveries.c.contact_id, deliveries.c.last_error).where(or_(*conditions))
        )
    ).all()
    for row in rows:
        values: dict[str, Any] = {column: None for column in _PERSONAL}
        values |= {"attachments": None, "unsubscribe_url": None, "payload": None}
        if row.last_error is not None and mentions(row_text(row.last_error), needles):
            values["last_error"] = "erased"
        if row.contact_id in ids:
            values["contact_id"] = literal(f"{ERASED}:", String) + deliveries.c.id
        await session.execute(update(deliveries).where(deliveries.c.id == row.id).values(**values))
    return len(rows)


async def contact_export(session: AsyncSession, contact_id: str) -> dict[str, Any]:
    """Everything notifications holds about one contact, as JSON-ready data."""
    contact = (await session.execute(select(contacts).where(contacts.c.contact_id == contact_id))).mappings().first()
    preferences = (
        (await session.execute(select(contact_preferences).where(contact_preferences.c.contact_id == contact_id)))
        .mappings()
        .first()
    )
    placeholder = Audience(AudienceKind.CONTACT, contact_id).placeholder
    theirs: ColumnElement[bool] = deliveries.c.contact_id.in_([contact_id, placeholder])
    if contact is not None:  # and emails sent to their address for someone else (a redirected review)
        theirs = theirs | (func.lower(deliveries.c.to_address) == str(contact["email"]).lower())
    sent = (
        (await session.execute(select(deliveries).where(theirs).order_by(deliveries.c.created_at, deliveries.c.id)))
        .mappings()
        .all()
    )
    waiting = (
        (
            await session.execute(
                select(digest_items).where(digest_items.c.contact_id == contact_id).order_by(digest_items.c.created_at)
            )
        )
        .mappings()
        .all()
    )
    redirected_by = (
        await session.scalars(
            select(contact_preferences.c.contact_id).where(
                contact_preferences.c.review_redirect_contact_id == contact_id
            )
        )
    ).all()
    return {
        "contact": _jsonable(contact),
        "preferences": _jsonable(preferences),
        "deliveries": [_jsonable(row) for row in sent],
        "digest_items": [_jsonable(row) for row in waiting],
        "review_redirects_from": list(redirected_by),
    }


def _jsonable(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in dict(row).items()}
