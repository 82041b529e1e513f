"""What a matching round writes: the proposals it makes, refreshes and releases, and the match runs that tell
members about them (one per member and round).

The round's writes span every cluster (its own work, bounded by the members and offers it places); they are
never a caller's, so they take no ``Scope``.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_matchmaking.models import match_runs


async def assessments_matched(session: AsyncSession, assessment_ids: Iterable[str]) -> set[str]:
    """Which of the assessments were already matched (a run with reason assessment, or from before reasons)."""
    query = select(match_runs.c.assessment_id).where(
        match_runs.c.assessment_id.in_(sorted(set(assessment_ids))),
        or_(match_runs.c.reason == "assessment", match_runs.c.reason.is_(None)),
    )
    return set((await session.scalars(query)).all())
