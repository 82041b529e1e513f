"""What a matching round writes: the proposals it makes, refreshes and releases, and the match runs that tell
members about them (one per member and round).

The round's writes span every cluster (its own work, bounded by the members and offers it places); they are
never a caller's, so they take no ``Scope``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.repositories.in_list import in_list
from trellis_matchmaking.domain.outcomes import MatchStatus
from trellis_matchmaking.models import match_runs, matches


async def insert_proposals(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """New proposals (match rows), in one statement."""
    await session.execute(insert(matches), rows)


async def refresh_proposal(session: AsyncSession, match_id: str, values: Mapping[str, Any]) -> None:
    """A proposal keeps its seat; what is said about it (score, explanation, names) changes."""
    await session.execute(update(matches).where(matches.c.id == match_id).values(**values))


async def release_proposals(session: AsyncSession, match_ids: Sequence[str], now: datetime) -> None:
    """The matches still proposed lapse (accepted seats are never released)."""
    await session.execute(
        update(matches)
        .where(in_list(matches.c.id, list(match_ids)), matches.c.status == MatchStatus.PROPOSED.value)
        .values(status=MatchStatus.RELEASED.value, updated_at=now)
    )


async def record_runs(session: AsyncSession, runs: Sequence[Mapping[str, Any]]) -> None:
    """The match runs of a round, in one statement."""
    await session.execute(insert(match_runs), runs)


async def assessments_matched(session: AsyncSession, assessment_ids: Iterable[str]) -> set[str]:
    """Which of the assessments were already matched (a run with reason assessment, or from before reasons)."""
    query = select(match_runs.c.assessment_id).where(
        in_list(match_runs.c.assessment_id, sorted(set(assessment_ids))),
        or_(match_runs.c.reason == "assessment", match_runs.c.reason.is_(None)),
    )
    return set((await session.scalars(query)).all())
