"""Reads and writes of people's choices and of the suppression list, shared by handlers, API and workers.

Every function works inside the caller's transaction. Functions touching a cluster's rows take the
``Scope`` of who is asking: a request's (only its clusters) or ``Scope.everything()`` for the service's own
work (event handlers, workers). Preferences carry no cluster column: they belong to their contact's cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, true, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_notifications.composer import Recipient
from trellis_notifications.domain.deliveries import DeliveryStatus
from trellis_notifications.domain.preferences import (
    DEFAULT_PREFERENCES,
    Category,
    MatchDelivery,
    Preferences,
    ReviewRedirect,
    address_key,
    templates_of,
)
from trellis_notifications.models import contact_preferences, contacts, deliveries, digest_items, suppressions

_OPEN = (DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value)


def contacts_in(scope: Scope, column: ColumnElement[Any]) -> ColumnElement[bool]:
    """A WHERE condition keeping rows whose contact id (``column``) is a contact of the scope's clusters.

    Platform-wide scopes need no lookup, so the service's own work behaves exactly as before, including on
    rows of contacts that are just being erased.
    """
    if scope.platform_wide:
        return true()
    return column.in_(select(contacts.c.contact_id).where(scope.clause(contacts.c.cluster_id)))


async def find_contact(session: AsyncSession, scope: Scope, contact_id: str) -> RowMapping | None:
    """A contact of the directory, or None when it is unknown or outside the scope (the same to the caller)."""
    query = select(contacts).where(contacts.c.contact_id == contact_id, scope.clause(contacts.c.cluster_id))
    return (await session.execute(query)).mappings().first()


def preferences_from_row(row: RowMapping | dict[str, Any]) -> Preferences:
    redirect = None
    if row["review_redirect_contact_id"] or row["review_redirect_email"]:
        redirect = ReviewRedirect(
            contact_id=row["review_redirect_contact_id"] or None,
            email=None if row["review_redirect_contact_id"] else row["review_redirect_email"],
            name=row["review_redirect_name"],
        )
    return Preferences(
        unsubscribed=frozenset(c for c in Category if not row[c.value]),
        match_delivery=MatchDelivery(row["match_delivery"]),
        review_redirect=redirect,
    )


async def load_preferences(session: AsyncSession, scope: Scope, contact_ids: Iterable[str]) -> dict[str, Preferences]:
    """Each contact's preferences; contacts without a row (or outside the scope) are left out: the defaults."""
    ids = sorted(set(contact_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(contact_preferences).where(
            contact_preferences.c.contact_id.in_(ids), contacts_in(scope, contact_preferences.c.contact_id)
        )
    )
    return {row["contact_id"]: preferences_from_row(row) for row in rows.mappings()}


async def preferences_of(session: AsyncSession, scope: Scope, contact_id: str) -> Preferences:
    return (await load_preferences(session, scope, [contact_id])).get(contact_id, DEFAULT_PREFERENCES)


async def save_preferences(
    session: AsyncSession, scope: Scope, contact_id: str, preferences: Preferences, now: datetime
) -> bool:
    """Store a contact's choices; False (nothing written) for a contact outside the scope."""
    if not scope.platform_wide and await find_contact(session, scope, contact_id) is None:
        return False
    redirect = preferences.review_redirect
    values: dict[str, Any] = {c.value: preferences.receives(c) for c in Category}
    values |= {
        "match_delivery": preferences.match_delivery.value,
        "review_redirect_contact_id": redirect.contact_id if redirect else None,
        "review_redirect_email": redirect.email if redirect else None,
        "review_redirect_name": redirect.name if redirect else None,
        "updated_at": now,
    }
    stmt = insert_for(session, contact_preferences).values(contact_id=contact_id, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["contact_id"], set_=values))
    return True


async def unsubscribe(session: AsyncSession, scope: Scope, contact_id: str, category: Category, now: datetime) -> bool:
    """Switch ``category`` off for a contact and skip what is still queued of it; False for an unknown contact.

    Idempotent: the one-click POST may come more than once (mail providers retry, people click twice).
    """
    contact = await find_contact(session, scope, contact_id)
    if contact is None:
        return False
    current = await preferences_of(session, scope, contact_id)
    if current.receives(category):
        updated = Preferences(
            unsubscribed=current.unsubscribed | {category},
            match_delivery=current.match_delivery,
            review_redirect=current.review_redirect,
        )
        await save_preferences(session, scope, contact_id, updated, now)
    reason = f"unsubscribed from {category.value}"
    await session.execute(
        update(deliveries)
        .where(
            deliveries.c.contact_id == contact_id,
            deliveries.c.template.in_([t.value for t in templates_of(category)]),
            deliveries.c.status.in_(_OPEN),
            scope.clause(deliveries.c.cluster_id),
        )
        .values(status=DeliveryStatus.SKIPPED.value, last_error=reason, next_attempt_at=None)
    )
    if category in (Category.MATCHES, Category.DIGESTS):
        await session.execute(
            delete(digest_items).where(
                digest_items.c.contact_id == contact_id,
                digest_items.c.digest_id.is_(None),
                scope.clause(digest_items.c.cluster_id),
            )
        )
    return True


async def suppressed_keys(session: AsyncSession, addresses: Iterable[str]) -> set[str]:
    """Which of these addresses are suppressed; for the service's own decisions (the list is platform-wide)."""
    keys = sorted({address_key(a) for a in addresses if a})
    if not keys:
        return set()
    rows = await session.execute(select(suppressions.c.address_hash).where(suppressions.c.address_hash.in_(keys)))
    return set(rows.scalars())


async def suppress(
    session: AsyncSession, scope: Scope, address: str, reason: str, delivery_id: str | None, now: datetime
) -> int:
    """Put an address that bounced hard on the suppression list and skip everything still queued for it.

    The list is platform-wide (an address may be a contact in several clusters): only a platform-wide scope
    may add to it. Returns how many queued deliveries were skipped.
    """
    require_platform_wide(scope)
    await session.execute(
        insert_for(session, suppressions)
        .values(address_hash=address_key(address), reason=reason, delivery_id=delivery_id, created_at=now)
        .on_conflict_do_nothing()
    )
    where = [func.lower(deliveries.c.to_address) == address.strip().lower(), deliveries.c.status.in_(_OPEN)]
    if delivery_id is not None:
        where.append(deliveries.c.id != delivery_id)
    result = await session.execute(
        update(deliveries)
        .where(*where)
        .values(
            status=DeliveryStatus.SKIPPED.value,
            last_error="address suppressed after a hard bounce",
            next_attempt_at=None,
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def unsuppress(session: AsyncSession, scope: Scope, address: str) -> bool:
    """Take an address off the suppression list; False when it was not on it."""
    require_platform_wide(scope)
    result = await session.execute(delete(suppressions).where(suppressions.c.address_hash == address_key(address)))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def apply_redirects(session: AsyncSession, scope: Scope, recipients: Sequence[Recipient]) -> list[Recipient]:
    """Strategy review emails go where each manager asked them to go; one email per address.

    A redirect to a contact who has since left the directory falls back to the manager.
    """
    chosen = await load_preferences(session, scope, [r.contact_id for r in recipients])
    redirects = [p.review_redirect for p in chosen.values() if p.review_redirect is not None]
    target_ids = [r.contact_id for r in redirects if r.contact_id is not None]
    targets: dict[str, RowMapping] = {}
    if target_ids:
        rows = await session.execute(
            select(contacts).where(contacts.c.contact_id.in_(target_ids), scope.clause(contacts.c.cluster_id))
        )
        targets = {row["contact_id"]: row for row in rows.mappings()}
    routed: list[Recipient] = []
    for recipient in recipients:
        redirect = chosen.get(recipient.contact_id, DEFAULT_PREFERENCES).review_redirect
        if redirect is None:
            routed.append(recipient)
        elif redirect.contact_id is not None:
            target = targets.get(redirect.contact_id)
            routed.append(
                recipient
                if target is None
                else Recipient(
                    contact_id=recipient.contact_id,
                    member_id=recipient.member_id,
                    cluster_id=recipient.cluster_id,
                    name=target["name"],
                    email=target["email"],
                    language=target["language"],
                    on_behalf_of=recipient.name,
                )
            )
        elif redirect.email is not None:
            routed.append(
                Recipient(
                    contact_id=recipient.contact_id,
                    member_id=recipient.member_id,
                    cluster_id=recipient.cluster_id,
                    name=redirect.name or "",
                    email=redirect.email,
                    language=recipient.language,
                    on_behalf_of=recipient.name,
                )
            )
    # Direct recipients first, so someone who is a manager and a redirect target gets the email as themselves.
    routed.sort(key=lambda r: (r.on_behalf_of is not None, r.contact_id))
    seen: set[str] = set()
    unique: list[Recipient] = []
    for recipient in routed:
        key = recipient.email.strip().lower()
        if key not in seen:
            seen.add(key)
            unique.append(recipient)
    return unique


async def forget_contacts(session: AsyncSession, scope: Scope, contact_ids: Sequence[str]) -> None:
    """A contact left the directory: its choices and the matches waiting for its digest go too."""
    if not contact_ids:
        return
    await session.execute(
        delete(contact_preferences).where(
            contact_preferences.c.contact_id.in_(contact_ids), contacts_in(scope, contact_preferences.c.contact_id)
        )
    )
    await session.execute(
        delete(digest_items).where(
            digest_items.c.contact_id.in_(contact_ids),
            digest_items.c.digest_id.is_(None),
            scope.clause(digest_items.c.cluster_id),
        )
    )


def require_platform_wide(scope: Scope) -> None:
    """The suppression list belongs to no cluster: reading or changing it is platform-wide work only."""
    if not scope.allows(None):
        raise PermissionError(f"{scope.subject} may not use the platform-wide suppression list")


@dataclass(frozen=True)
class ResendFilter:
    """Which failed deliveries to send again; nothing set: all of the scope's."""

    cluster_id: str | None = None
    template: str | None = None
    delivery_ids: tuple[str, ...] | None = None
    failed_since: datetime | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.cluster_id is not None:
            found.append(deliveries.c.cluster_id == self.cluster_id)
        if self.template is not None:
            found.append(deliveries.c.template == self.template)
        if self.delivery_ids is not None:
            found.append(deliveries.c.id.in_(self.delivery_ids))
        if self.failed_since is not None:
            found.append(deliveries.c.created_at >= self.failed_since)
        return found


async def requeue_failed(
    session: AsyncSession, scope: Scope, where: ResendFilter, now: datetime, *, limit: int, dry_run: bool
) -> tuple[list[str], bool]:
    """The failed deliveries in the scope that ``where`` picks, oldest first, at most ``limit``, made due again
    (fresh attempts, due now); whether more match. Only failed ones change, so asking twice sends once."""
    conditions = [scope.clause(deliveries.c.cluster_id), deliveries.c.status == DeliveryStatus.FAILED.value]
    conditions += where.clauses()
    found = await session.execute(
        select(deliveries.c.id).where(*conditions).order_by(deliveries.c.created_at, deliveries.c.id).limit(limit + 1)
    )
    ids = [str(delivery_id) for delivery_id in found.scalars()]
    chosen, more = ids[:limit], len(ids) > limit
    if chosen and not dry_run:
        await session.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(chosen), deliveries.c.status == DeliveryStatus.FAILED.value)
            .values(status=DeliveryStatus.PENDING.value, attempts=0, next_attempt_at=now, claimed_at=None)
        )
    return chosen, more
