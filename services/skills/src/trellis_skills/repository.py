"""Reading and writing the skills tables (SQLAlchemy Core; PostgreSQL and SQLite alike).

Every function that touches a cluster's rows takes the caller's ``Scope`` and filters by it, so a route cannot
forget to: rows of other clusters are simply not found. Event handlers pass ``Scope.everything()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, case, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_common.events import ResponseCompleted, SupplyReported, SupplyScope
from trellis_common.repositories.in_list import in_list
from trellis_common.repositories.pages import page_of
from trellis_skills.domain.imbalance import (
    ExternalFigure,
    ImbalanceRules,
    SkillBalance,
    SkillTotals,
    classify_totals,
)
from trellis_skills.domain.supply import fingerprint, scope_key
from trellis_skills.models import assessments, cluster_members, member_skill_profiles, supply_figures, supply_reports

P = member_skill_profiles.c
M = cluster_members.c
A = assessments.c


class OutOfScope(Exception):
    """A change to a cluster the scope does not cover (routes check first; this is the last line)."""


def _require(scope: Scope, cluster_id: str) -> None:
    if not scope.allows(cluster_id):
        raise OutOfScope(f"cluster {cluster_id!r} is outside the scope of {scope.subject}")


async def clusters_of_responses(session: AsyncSession, scope: Scope, response_ids: Sequence[str]) -> dict[str, str]:
    """The cluster each of the response ids was assessed for, for those that were."""
    if not response_ids:
        return {}
    rows = await session.execute(
        select(A.response_id, A.cluster_id).where(
            in_list(A.response_id, sorted(set(response_ids))), scope.clause(A.cluster_id)
        )
    )
    return {str(r.response_id): str(r.cluster_id) for r in rows}


async def insert_assessments(session: AsyncSession, scope: Scope, rows: Sequence[Mapping[str, Any]]) -> None:
    for row in rows:
        _require(scope, str(row["cluster_id"]))
    if rows:
        await session.execute(assessments.insert(), [dict(row) for row in rows])


async def member_assessments(session: AsyncSession, scope: Scope, member_id: str, limit: int) -> list[dict[str, Any]]:
    """The member's assessments in the scope's clusters, newest first (a member may be in several clusters)."""
    rows = await session.execute(
        select(assessments)
        .where(A.member_id == member_id, scope.clause(A.cluster_id))
        .order_by(A.assessed_at.desc())
        .limit(limit)
    )
    return [dict(r) for r in rows.mappings()]


async def get_assessment(session: AsyncSession, scope: Scope, assessment_id: str) -> dict[str, Any] | None:
    row = (
        (await session.execute(select(assessments).where(A.id == assessment_id, scope.clause(A.cluster_id))))
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


@dataclass(frozen=True)
class StoredAnswer:
    skill_code: str
    severity: float
    answered_at: datetime


async def stored_answers_of(
    session: AsyncSession, scope: Scope, members: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, StoredAnswer]]:
    """Every stored answer of the (cluster, member) pairs, per pair and skill."""
    out: dict[tuple[str, str], dict[str, StoredAnswer]] = {pair: {} for pair in members}
    if not members:
        return out
    rows = await session.execute(
        select(P.cluster_id, P.member_id, P.skill_code, P.severity, P.answered_at).where(
            tuple_(P.cluster_id, P.member_id).in_(sorted(set(members))), scope.clause(P.cluster_id)
        )
    )
    for r in rows:
        found = out.get((r.cluster_id, r.member_id))
        if found is not None:
            found[r.skill_code] = StoredAnswer(r.skill_code, r.severity, r.answered_at)
    return out


async def save_answers(
    session: AsyncSession,
    scope: Scope,
    answered: Sequence[tuple[ResponseCompleted, Mapping[str, float]]],
    now: datetime,
) -> None:
    """Keep each response as its member's latest answer per skill, and its context, unless a newer one is
    stored (one member at most once in ``answered``).

    Responses can arrive out of order (a replayed DLQ, a late producer): ``answered_at`` decides, not arrival.
    """
    if not answered:
        return
    member_rows: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for response, severities in answered:
        _require(scope, response.cluster_id)
        context = response.member_context
        member_rows.append(
            {
                "cluster_id": response.cluster_id,
                "member_id": response.member_id,
                "country": context.country,
                "region": context.region,
                "size_class": context.size_class.value if context.size_class else None,
                "sector": context.sector,
                "member_type": context.member_type.value,
                "answered_at": response.completed_at,
                "updated_at": now,
            }
        )
        rows.extend(
            {
                "cluster_id": response.cluster_id,
                "member_id": response.member_id,
                "skill_code": a.skill_code,
                "current_level": a.current_level,
                "required_level": a.required_level,
                "headcount_having": a.headcount_having,
                "headcount_needed": a.headcount_needed,
                "importance": a.importance,
                "severity": severities[a.skill_code],
                "response_id": response.response_id,
                "answered_at": response.completed_at,
                "updated_at": now,
            }
            for a in response.skills
        )
    insert = insert_for(session, cluster_members)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[M.cluster_id, M.member_id],
            set_={k: insert.excluded[k] for k in member_rows[0] if k not in ("cluster_id", "member_id")},
            where=M.answered_at <= insert.excluded.answered_at,
        ),
        member_rows,
    )
    if not rows:
        return
    insert = insert_for(session, member_skill_profiles)
    keys = ("cluster_id", "member_id", "skill_code")
    # A newer answer keeps what the member needed before it (a resent response never gets here: assessments are
    # deduplicated by response id, so the figure is always the previous answer's).
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[P.cluster_id, P.member_id, P.skill_code],
            set_={k: insert.excluded[k] for k in rows[0] if k not in keys}
            | {"previous_headcount_needed": P.headcount_needed},
            where=P.answered_at <= insert.excluded.answered_at,
        ),
        rows,
    )


async def cluster_totals(session: AsyncSession, scope: Scope, cluster_id: str) -> dict[str, SkillTotals]:
    """``domain.imbalance.aggregate`` of the cluster's latest answers, computed by the database."""
    held = case((P.current_level > 0, P.headcount_needed), else_=0)
    shortfall = case((P.required_level > P.current_level, P.required_level - P.current_level), else_=0)
    stmt = (
        select(
            P.skill_code,
            func.count(),
            func.sum(case((P.headcount_needed > 0, 1), else_=0)),
            func.sum(case((or_(P.headcount_having > 0, P.current_level > 0), 1), else_=0)),
            func.sum(P.headcount_needed),
            func.sum(P.headcount_having),
            func.sum(P.required_level * P.headcount_needed),
            func.sum(held),
            func.sum(P.required_level * held),
            func.sum(P.current_level * held),
            func.sum(shortfall * held),
            func.sum(case((P.previous_headcount_needed > P.headcount_needed, 1), else_=0)),
        )
        .where(P.cluster_id == cluster_id, scope.clause(P.cluster_id))
        .group_by(P.skill_code)
    )
    return {row[0]: SkillTotals(*(int(v or 0) for v in row[1:])) for row in await session.execute(stmt)}


async def member_count(session: AsyncSession, scope: Scope, cluster_id: str) -> int:
    members = select(func.count()).select_from(cluster_members)
    return int(await session.scalar(members.where(M.cluster_id == cluster_id, scope.clause(M.cluster_id))) or 0)


async def member_regions(session: AsyncSession, scope: Scope, cluster_id: str) -> list[str]:
    rows = await session.execute(
        select(M.region).where(M.cluster_id == cluster_id, scope.clause(M.cluster_id), M.region.is_not(None)).distinct()
    )
    return sorted({scope_key(SupplyScope.REGION, r.region) for r in rows})


async def external_figures(
    session: AsyncSession, scope: Scope, cluster_id: str, regions: Sequence[str]
) -> list[ExternalFigure]:
    """The figures in force for the cluster itself and for the regions its members are in (platform-wide data)."""
    F = supply_figures.c
    where = and_(F.scope == SupplyScope.CLUSTER.value, F.scope_key == cluster_id, scope.clause(F.scope_key))
    if regions:
        where = or_(where, and_(F.scope == SupplyScope.REGION.value, in_list(F.scope_key, regions)))
    rows = await session.execute(select(supply_figures).where(where))
    return [ExternalFigure(r.source, r.scope, r.scope_key, r.skill_code, r.headcount, r.level) for r in rows]


@dataclass(frozen=True)
class ClusterProfile:
    cluster_id: str
    members: int
    skills: list[SkillBalance]


async def cluster_profile(
    session: AsyncSession, scope: Scope, cluster_id: str, rules: ImbalanceRules
) -> ClusterProfile | None:
    """Demand and supply per skill, classified; None when nothing is known about the cluster (or it is out of scope)."""
    if not scope.allows(cluster_id):
        return None  # region figures alone must not make another cluster's profile appear
    totals = await cluster_totals(session, scope, cluster_id)
    figures = await external_figures(session, scope, cluster_id, await member_regions(session, scope, cluster_id))
    if not totals and not figures:
        return None
    members = await member_count(session, scope, cluster_id)
    return ClusterProfile(cluster_id, members, classify_totals(totals, figures, rules))


SupplyOutcome = Literal["created", "duplicate", "conflict"]
R = supply_reports.c


def may_report(scope: Scope, report: SupplyReported) -> bool:
    """Cluster figures for a cluster of the scope; region figures (they count for every cluster with a member in
    the region) only for a platform-wide scope."""
    if report.scope is SupplyScope.REGION:
        return scope.platform_wide
    return scope.allows(report.scope_id)


def visible_reports(scope: Scope) -> ColumnElement[bool]:
    """Reports of the scope's clusters, and region reports, which every reader may see: they are platform-wide
    figures that already show in the profile of every cluster with a member in the region."""
    return or_(
        R.scope == SupplyScope.REGION.value, and_(R.scope == SupplyScope.CLUSTER.value, scope.clause(R.scope_id))
    )


async def record_supply_report(
    session: AsyncSession, scope: Scope, report: SupplyReported, *, via: Literal["api", "event"], now: datetime
) -> SupplyOutcome:
    """Store a report once; put its figures in force where they are newer than what is stored.

    Newer means a later ``as_of``, then a later ``reported_at``, then a greater ``report_id``, so the figures in
    force do not depend on the order reports arrive in.
    """
    if not may_report(scope, report):
        raise OutOfScope(f"{report.scope} {report.scope_id!r} is outside the scope of {scope.subject}")
    digest = fingerprint(report)
    insert = insert_for(session, supply_reports)
    result = await session.execute(
        insert.values(
            report_id=report.report_id,
            source=report.source,
            scope=report.scope.value,
            scope_id=report.scope_id,
            as_of=report.as_of,
            figures=[f.model_dump(mode="json") for f in report.figures],
            fingerprint=digest,
            received_via=via,
            reported_at=report.reported_at,
            received_at=now,
        ).on_conflict_do_nothing(index_elements=[supply_reports.c.report_id])
    )
    if getattr(result, "rowcount", 0) == 0:
        stored = await session.scalar(
            select(supply_reports.c.fingerprint).where(supply_reports.c.report_id == report.report_id)
        )
        return "duplicate" if stored == digest else "conflict"
    F = supply_figures.c
    key = scope_key(report.scope, report.scope_id)
    rows = [
        {
            "scope": report.scope.value,
            "scope_key": key,
            "source": report.source,
            "skill_code": f.skill_code,
            "headcount": f.headcount,
            "level": f.level,
            "as_of": report.as_of,
            "reported_at": report.reported_at,
            "report_id": report.report_id,
        }
        for f in report.figures
    ]
    figures_insert = insert_for(session, supply_figures)
    new = figures_insert.excluded
    newer = or_(
        new.as_of > F.as_of,
        and_(
            new.as_of == F.as_of,
            or_(new.reported_at > F.reported_at, and_(new.reported_at == F.reported_at, new.report_id > F.report_id)),
        ),
    )
    await session.execute(
        figures_insert.on_conflict_do_update(
            index_elements=[F.scope, F.scope_key, F.source, F.skill_code],
            set_={k: new[k] for k in ("headcount", "level", "as_of", "reported_at", "report_id")},
            where=newer,
        ),
        rows,
    )
    return "created"


async def get_supply_report(session: AsyncSession, scope: Scope, report_id: str) -> dict[str, Any] | None:
    row = (
        (await session.execute(select(supply_reports).where(R.report_id == report_id, visible_reports(scope))))
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


async def list_supply_reports(
    session: AsyncSession,
    scope: Scope,
    *,
    kind: SupplyScope | None,
    scope_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """A page of the reports the scope may see; filtering by a cluster outside it gives an empty page, as an
    unknown cluster does."""
    where = [visible_reports(scope)]
    if kind is not None:
        where.append(R.scope == kind.value)
    if scope_id is not None:
        where.append(R.scope_id == scope_id)
    query = select(supply_reports).where(*where).order_by(R.as_of.desc(), R.reported_at.desc(), R.report_id)
    rows, total = await page_of(session, query, limit=limit, offset=offset)
    return [dict(r) for r in rows], total


class HeatmapAxis(StrEnum):
    MEMBER = "member"
    REGION = "region"
    SIZE_CLASS = "size_class"
    SECTOR = "sector"
    COUNTRY = "country"


@dataclass(frozen=True)
class HeatmapCell:
    value: float  # mean severity (level_gap + 0.5 × headcount_gap) of the answers in the cell
    answers: int


@dataclass(frozen=True)
class HeatmapData:
    columns: list[str]  # member ids or area names, largest total gap first
    total_columns: int
    cells: dict[tuple[str, str], HeatmapCell]  # (skill_code, column) → cell


UNKNOWN_AREA = "(unknown)"


async def heatmap_data(
    session: AsyncSession, scope: Scope, cluster_id: str, axis: HeatmapAxis, limit: int
) -> HeatmapData:
    if axis is HeatmapAxis.MEMBER:
        column: Any = P.member_id
        source: Any = member_skill_profiles
    else:
        column = func.coalesce(getattr(M, axis.value), UNKNOWN_AREA)
        source = member_skill_profiles.join(
            cluster_members, and_(M.cluster_id == P.cluster_id, M.member_id == P.member_id)
        )
    label = column.label("col")
    total = func.sum(P.severity).label("total")
    ranked = (
        select(label, total)
        .select_from(source)
        .where(P.cluster_id == cluster_id, scope.clause(P.cluster_id))
        .group_by(label)
    ).subquery()
    total_columns = int(await session.scalar(select(func.count()).select_from(ranked)) or 0)
    top = [
        r.col
        for r in await session.execute(select(ranked.c.col).order_by(ranked.c.total.desc(), ranked.c.col).limit(limit))
    ]
    cells: dict[tuple[str, str], HeatmapCell] = {}
    if top:
        rows = await session.execute(
            select(P.skill_code, label, func.sum(P.severity), func.count())
            .select_from(source)
            .where(P.cluster_id == cluster_id, scope.clause(P.cluster_id), column.in_(top))
            .group_by(P.skill_code, label)
        )
        for code, col, severity_sum, count in rows:
            cells[(code, col)] = HeatmapCell(round(float(severity_sum) / int(count), 2), int(count))
    return HeatmapData(top, total_columns, cells)
