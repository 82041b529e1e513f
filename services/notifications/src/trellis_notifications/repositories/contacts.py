"""The contact directory, projected from surveys.member.changed: who may be emailed, in which cluster and
language, and so who an email's audience is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_notifications.models import contacts


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


async def contacts_by_id(session: AsyncSession, scope: Scope, contact_ids: Sequence[str]) -> dict[str, RowMapping]:
    """The contacts of the directory among ``contact_ids`` (those outside the scope left out), by id."""
    rows = await session.execute(
        select(contacts).where(contacts.c.contact_id.in_(contact_ids), scope.clause(contacts.c.cluster_id))
    )
    return {row["contact_id"]: row for row in rows.mappings()}
