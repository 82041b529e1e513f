"""What arrived from the loop: match runs and gap assessments, remembered once each for the review agenda's news."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_common.events import GapsAssessed, PartnersMatched
from trellis_strategy.domain.agenda import Activity
from trellis_strategy.models import gap_assessments, match_runs
from trellis_strategy.repositories.shared import require_scope


def _skills_of(matched: PartnersMatched) -> list[str]:
    return sorted({option.skill_code for option in matched.options} | {pool.skill_code for pool in matched.pooled})


async def record_match_runs(
    session: AsyncSession, scope: Scope, runs: Sequence[tuple[PartnersMatched, str]], now: datetime
) -> set[str]:
    """Remember (match run, event id) pairs; returns the run ids not seen before (others were re-sent)."""
    if not runs:
        return set()
    for matched, _ in runs:
        require_scope(scope, matched.cluster_id)
    rows = {
        matched.match_run_id: {
            "match_run_id": matched.match_run_id,
            "event_id": event_id,
            "cluster_id": matched.cluster_id,
            "member_id": matched.member_id,
            "option_count": len(matched.options),
            "pooled_count": len(matched.pooled),
            "skill_codes": _skills_of(matched),
            "matched_at": matched.matched_at,
            "received_at": now,
        }
        for matched, event_id in reversed(runs)  # one row per run id: the first one named
    }
    # Rows as parameters, not in .values(): the statement stays the same whatever the batch size, so it is
    # compiled once (a multi-row VALUES statement is compiled anew for every batch).
    result = await session.scalars(
        insert_for(session, match_runs)
        .on_conflict_do_nothing(index_elements=["match_run_id"])
        .returning(match_runs.c.match_run_id),
        list(rows.values()),
    )
    return set(result.all())


async def record_gap_assessments(
    session: AsyncSession, scope: Scope, assessed: Sequence[tuple[GapsAssessed, list[str]]], now: datetime
) -> set[str]:
    """Remember (assessment, its skills with gaps) pairs; returns the assessment ids not seen before."""
    if not assessed:
        return set()
    for assessment, _ in assessed:
        require_scope(scope, assessment.cluster_id)
    rows = {
        a.assessment_id: {
            "assessment_id": a.assessment_id,
            "cluster_id": a.cluster_id,
            "member_id": a.member_id,
            "theme": a.theme.value,
            "skill_codes": skill_codes,
            "assessed_at": a.assessed_at,
            "received_at": now,
        }
        for a, skill_codes in reversed(assessed)
    }
    result = await session.scalars(
        insert_for(session, gap_assessments)
        .on_conflict_do_nothing(index_elements=["assessment_id"])
        .returning(gap_assessments.c.assessment_id),
        list(rows.values()),
    )
    return set(result.all())


async def activity_since(
    session: AsyncSession, scope: Scope, cluster_id: str, since: datetime | None
) -> tuple[list[Activity], list[Activity]]:
    """The cluster's match runs and gap assessments received after ``since`` (all of them when None)."""
    run_query = select(match_runs.c.member_id, match_runs.c.skill_codes).where(
        match_runs.c.cluster_id == cluster_id, scope.clause(match_runs.c.cluster_id)
    )
    gap_query = select(gap_assessments.c.member_id, gap_assessments.c.skill_codes).where(
        gap_assessments.c.cluster_id == cluster_id, scope.clause(gap_assessments.c.cluster_id)
    )
    if since is not None:
        run_query = run_query.where(match_runs.c.received_at > since)
        gap_query = gap_query.where(gap_assessments.c.received_at > since)
    runs = [Activity(row.member_id, tuple(row.skill_codes)) for row in await session.execute(run_query)]
    gaps = [Activity(row.member_id, tuple(row.skill_codes)) for row in await session.execute(gap_query)]
    return runs, gaps
