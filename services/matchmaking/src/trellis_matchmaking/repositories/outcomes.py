"""Matches and match runs as the API shows them, and the outcomes recorded on matches (accepted, declined,
completed). Every function takes the caller's ``Scope``: another cluster's match is not found."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.repositories.pages import page_of
from trellis_matchmaking.domain.outcomes import MatchStatus
from trellis_matchmaking.models import match_runs, matches


async def match_page(
    session: AsyncSession,
    scope: Scope,
    *,
    cluster_id: str | None = None,
    member_id: str | None = None,
    offer_id: str | None = None,
    status: MatchStatus | None = None,
    period: str | None = None,
    skill_code: str | None = None,
    limit: int,
    offset: int,
) -> tuple[int, list[dict[str, Any]]]:
    """Matches in the scope meeting the filters given, newest first, and how many there are in all."""
    filters = {
        matches.c.cluster_id: cluster_id,
        matches.c.member_id: member_id,
        matches.c.offer_id: offer_id,
        matches.c.status: status.value if status else None,
        matches.c.period: period,
        matches.c.skill_code: skill_code,
    }
    where = [scope.clause(matches.c.cluster_id)]
    where += [column == value for column, value in filters.items() if value is not None]
    # Both descending, so one index walked backwards gives the order (ties of created_at by id).
    query = select(matches).where(*where).order_by(matches.c.created_at.desc(), matches.c.id.desc())
    rows, total = await page_of(session, query, limit=limit, offset=offset)
    return total, [dict(r) for r in rows]


async def match_row(session: AsyncSession, scope: Scope, match_id: str, *, lock: bool = False) -> Row[Any] | None:
    query = select(matches).where(scope.clause(matches.c.cluster_id), matches.c.id == match_id)
    return (await session.execute(query.with_for_update() if lock else query)).first()


async def update_match(session: AsyncSession, scope: Scope, match_id: str, values: Mapping[str, Any]) -> None:
    await session.execute(
        update(matches).where(scope.clause(matches.c.cluster_id), matches.c.id == match_id).values(**values)
    )


async def status_counts(
    session: AsyncSession, scope: Scope, *, cluster_id: str | None, period: str | None
) -> dict[MatchStatus, int]:
    """Matches per status in the scope, of one cluster and period when given (for the conversion figures)."""
    where = [scope.clause(matches.c.cluster_id)]
    if cluster_id:
        where.append(matches.c.cluster_id == cluster_id)
    if period:
        where.append(matches.c.period == period)
    rows = await session.execute(select(matches.c.status, func.count()).where(*where).group_by(matches.c.status))
    return {MatchStatus(s): int(n) for s, n in rows.all()}


async def member_runs(session: AsyncSession, scope: Scope, member_id: str, limit: int) -> list[dict[str, Any]]:
    """The member's match runs in the scope, newest first."""
    query = (
        select(match_runs)
        .where(scope.clause(match_runs.c.cluster_id), match_runs.c.member_id == member_id)
        .order_by(match_runs.c.matched_at.desc(), match_runs.c.id)
        .limit(limit)
    )
    return [dict(r) for r in (await session.execute(query)).mappings()]
