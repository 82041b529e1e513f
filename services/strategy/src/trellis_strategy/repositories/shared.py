"""What every strategy repository module uses: ids, rows as dataclasses, the scope check of writes and the
SQLite write lock that gives ``FOR UPDATE`` its meaning there."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import false, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_strategy.models import review_schedules

# Names derived ids (strategy of a cluster, reminder of a due time) so every replica derives the same ones.
NAMESPACE = uuid.UUID("8f0d3c52-5a8e-4f37-9a55-2f1b0f0c6d41")


def new_id() -> str:
    """A random id, for a row no other replica has to derive."""
    return str(uuid.uuid4())


def from_row(cls: type[Any], row: RowMapping) -> Any:
    """The row as the module's dataclass ``cls`` (its fields name the columns it takes)."""
    return cls(**{name: row[name] for name in cls.__dataclass_fields__})


class OutOfScope(LookupError):
    """A write naming a cluster outside the scope; routes answer 404 before one gets here."""


def require_scope(scope: Scope, cluster_id: str) -> None:
    """A write naming ``cluster_id`` goes ahead only within the scope."""
    if not scope.allows(cluster_id):
        raise OutOfScope(f"cluster {cluster_id!r} is outside the scope of {scope.subject!r}")


async def lock_sqlite_for_writing(session: AsyncSession) -> None:
    """Give the ``FOR UPDATE`` read that follows its meaning on SQLite too.

    SQLite has no row locks (SQLAlchemy drops ``FOR UPDATE`` there) and its driver begins the transaction at the
    first write, so rows read before it could be changed by another connection and then written back stale: a
    review committed between the scheduler's read and its write was lost. A write that touches no row takes the
    database's write lock now, until commit; what this transaction reads next is the latest state and stays so.
    PostgreSQL locks the rows themselves: nothing to do there.
    """
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(update(review_schedules).where(false()).values(id=review_schedules.c.id))
