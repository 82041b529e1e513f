"""People's choices: which categories of email each contact receives, how matches reach them (one by one or as
a weekly digest) and where their strategy review emails go; and unsubscribing, which also skips what is queued."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_common.repositories.in_list import in_list
from trellis_notifications.composer import Recipient
from trellis_notifications.domain.deliveries import OPEN_STATUSES, DeliveryStatus
from trellis_notifications.domain.preferences import (
    DEFAULT_PREFERENCES,
    Category,
    MatchDelivery,
    Preferences,
    ReviewRedirect,
    templates_of,
)
from trellis_notifications.models import contact_preferences, deliveries, digest_items
from trellis_notifications.repositories.contacts import contacts_by_id, contacts_in, find_contact


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
            in_list(contact_preferences.c.contact_id, ids), contacts_in(scope, contact_preferences.c.contact_id)
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
            deliveries.c.status.in_(OPEN_STATUSES),
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


async def apply_redirects(session: AsyncSession, scope: Scope, recipients: Sequence[Recipient]) -> list[Recipient]:
    """Strategy review emails go where each manager asked them to go; one email per address.

    A redirect to a contact who has since left the directory falls back to the manager.
    """
    chosen = await load_preferences(session, scope, [r.contact_id for r in recipients])
    redirects = [p.review_redirect for p in chosen.values() if p.review_redirect is not None]
    target_ids = [r.contact_id for r in redirects if r.contact_id is not None]
    targets = await contacts_by_id(session, scope, target_ids) if target_ids else {}
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
            in_list(contact_preferences.c.contact_id, contact_ids), contacts_in(scope, contact_preferences.c.contact_id)
        )
    )
    await session.execute(
        delete(digest_items).where(
            in_list(digest_items.c.contact_id, contact_ids),
            digest_items.c.digest_id.is_(None),
            scope.clause(digest_items.c.cluster_id),
        )
    )
