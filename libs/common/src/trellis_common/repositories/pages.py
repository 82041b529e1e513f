"""A page of a list and how many rows the whole list has: what every paginated route answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def page_of(
    session: AsyncSession, query: Select[Any], *, limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    """The rows of ``query`` (ordered) from ``offset``, at most ``limit``, and how many it has in all (counted on
    the same query, so a filter can never count other rows than it lists)."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = (await session.execute(query.limit(limit).offset(offset))).mappings().all()
    return list(rows), int(total or 0)
