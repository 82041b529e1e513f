"""Personal data notifications keeps about a contact, its erasure and its export (GDPR Art. 15 and 17).

What notifications holds about a person: the contact projection (name, address, language, role), their
preferences (and a review redirect, which may hold another person's address), the delivery log (address,
name, subject, bodies, .ics attachment, unsubscribe link of every email to them, and of review emails sent
to someone else on their behalf), matches waiting for their digest, and the outbox rows of the
notifications.email.* audit events about them.

A contact is erased when surveys.member.changed no longer lists it (the contact was erased or left its member)
or when the member's tombstone arrives (``erase_member``, which erases each of its contacts first). In the
handler's transaction (with the inbox row), ``erase_contacts``:

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
from typing import TYPE_CHECKING, Any

from trellis_common.auth import Scope
from trellis_common.logging import get_logger
from trellis_common.privacy import mentions, name_needles, needles_of, purge_outbox, row_text
from trellis_common.repositories.names import forget_member
from trellis_notifications.domain.deliveries import Audience, AudienceKind
from trellis_notifications.models import NAMES
from trellis_notifications.repositories import privacy as personal_data
from trellis_notifications.repositories.contacts import contact_ids_of, contacts_by_id, find_contact
from trellis_notifications.repositories.preferences import forget_contacts

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = get_logger(__name__)
SERVICE = Scope.everything("notifications-privacy")


async def erase_contacts(session: AsyncSession, contact_ids: Sequence[str]) -> int:
    """Erase everything about these contacts (see the module's description); returns the delivery rows
    anonymised. Runs in the caller's transaction."""
    ids = sorted(set(contact_ids))
    if not ids:
        return 0
    people = (await contacts_by_id(session, SERVICE, ids)).values()
    addresses = needles_of(*(p["email"] for p in people))
    names = name_needles(*(p["name"] for p in people))
    clusters = sorted({str(p["cluster_id"]) for p in people})

    await forget_contacts(session, SERVICE, ids)
    await personal_data.delete_digest_items(session, ids)
    await personal_data.drop_redirects_to(session, ids, addresses, clusters)
    await personal_data.drop_parked(
        session, [Audience(AudienceKind.CONTACT, contact_id).placeholder for contact_id in ids]
    )
    await personal_data.cancel_open(session, ids)
    anonymised = await _anonymise_deliveries(session, ids, addresses, names, clusters)
    await personal_data.delete_contacts(session, ids)
    purged = await purge_outbox(session, needles_of(*ids, *addresses, *names), keys=ids)
    log.info("contacts_erased", contacts=len(ids), deliveries_anonymised=anonymised, outbox_rows_purged=purged)
    return anonymised


async def _anonymise_deliveries(
    session: AsyncSession, ids: Sequence[str], addresses: Sequence[str], names: Sequence[str], clusters: Sequence[str]
) -> int:
    needles = [*addresses, *names]
    rows = await personal_data.deliveries_naming(session, ids, addresses, names, clusters)
    for row in rows:
        error = row["last_error"]
        await personal_data.anonymise_delivery(
            session,
            row["id"],
            error_too=error is not None and mentions(row_text(error), needles),
            contact_too=row["contact_id"] in ids,
        )
    return len(rows)


async def erase_member(session: AsyncSession, member_id: str) -> None:
    """The member was deleted: forget its contacts and their choices, cancel what was not sent, blank
    personal data kept in logs. Runs in the caller's transaction."""
    await erase_contacts(session, await contact_ids_of(session, member_id))
    await personal_data.delete_member_contacts(session, member_id)
    await forget_member(session, NAMES, member_id)
    await personal_data.erase_member_deliveries(session, member_id)
    log.info("member_erased", member_id=member_id)


async def contact_export(session: AsyncSession, contact_id: str) -> dict[str, Any]:
    """Everything notifications holds about one contact, as JSON-ready data."""
    contact = await find_contact(session, SERVICE, contact_id)
    preferences = await personal_data.preferences_row(session, contact_id)
    placeholder = Audience(AudienceKind.CONTACT, contact_id).placeholder
    # With their address: emails sent to it for someone else too (a redirected review).
    address = None if contact is None else str(contact["email"])
    sent = await personal_data.deliveries_of(session, contact_id, placeholder, address)
    waiting = await personal_data.digest_items_of(session, contact_id)
    redirected_by = await personal_data.redirecting_to(session, contact_id)
    return {
        "contact": _jsonable(contact),
        "preferences": _jsonable(preferences),
        "deliveries": [_jsonable(row) for row in sent],
        "digest_items": [_jsonable(row) for row in waiting],
        "review_redirects_from": redirected_by,
    }


def _jsonable(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in dict(row).items()}
