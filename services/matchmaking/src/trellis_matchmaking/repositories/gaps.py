"""Members' demand: their latest assessment (``member_needs``) and its gaps (``member_gaps``), each gap waiting
for a seat or pointing at the match that holds one.

A member's needs belong to its cluster: reads and writes for a caller take its ``Scope``. The matching round's
own reads of gaps span every cluster, bounded by the members, skills and page they are asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, delete, func, insert, literal, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_common.errors import ContractError
from trellis_common.events import MemberContext, SkillGap
from trellis_common.repositories.in_list import in_list
from trellis_matchmaking.domain.partners import MemberNeed, MemberProfile
from trellis_matchmaking.models import member_gaps, member_needs

# --- latest assessments -----------------------------------------------------------------------------------------


async def need_rows(session: AsyncSession, scope: Scope, member_ids: Iterable[str]) -> dict[str, Row[Any]]:
    """The members' latest assessments (member_needs rows) by member id."""
    query = select(member_needs).where(
        scope.clause(member_needs.c.cluster_id), in_list(member_needs.c.member_id, sorted(set(member_ids)))
    )
    return {row.member_id: row for row in (await session.execute(query)).all()}


async def save_needs(
    session: AsyncSession, scope: Scope, rows: Sequence[Mapping[str, Any]], known: Mapping[str, Row[Any]]
) -> None:
    """Replace each member's latest assessment (``known``: the members' rows as they are, from ``need_rows``)."""
    for values in rows:
        if not scope.allows(values["cluster_id"]):
            raise PermissionError(f"cluster {values['cluster_id']!r} is outside the scope of {scope.subject!r}")
        owner = known.get(values["member_id"])
        if owner is not None and owner.cluster_id != values["cluster_id"]:
            # Members belong to one cluster: an event of another cluster naming this member is refused (to the
            # DLQ), never allowed to overwrite or move its needs.
            raise ContractError(f"member {values['member_id']!r} belongs to another cluster")
    if not rows:
        return
    statement = insert_for(session, member_needs)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["member_id"],
            set_={k: statement.excluded[k] for k in rows[0] if k != "member_id"},
        ),
        [dict(row) for row in rows],
    )


async def move_needs(session: AsyncSession, scope: Scope, member_id: str, period: str, now: datetime) -> bool:
    """The member's latest gaps become demand of ``period``; False when the scope knows no gaps of the member."""
    moved = await session.execute(
        update(member_needs)
        .where(scope.clause(member_needs.c.cluster_id), member_needs.c.member_id == member_id)
        .values(period=period, updated_at=now)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        return False
    await session.execute(update(member_gaps).where(member_gaps.c.member_id == member_id).values(period=period))
    return True


# --- gaps -----------------------------------------------------------------------------------------------------


async def gap_rows(session: AsyncSession, member_ids: Iterable[str]) -> list[Row[Any]]:
    """The members' gaps (member_gaps rows), most severe first."""
    query = select(member_gaps).where(in_list(member_gaps.c.member_id, sorted(set(member_ids))))
    return list(
        (
            await session.execute(
                query.order_by(member_gaps.c.member_id, member_gaps.c.priority.desc(), member_gaps.c.skill_code)
            )
        ).all()
    )


def to_needs(need: Row[Any], gaps: Iterable[Row[Any]]) -> list[MemberNeed]:
    """The member's gaps as the domain sees them, with the member's profile from its latest assessment."""
    profile = MemberProfile.of(MemberContext.model_validate(need.member_context), need.cluster_id)
    return [MemberNeed(need.member_id, need.cluster_id, SkillGap.model_validate(g.gap), profile) for g in gaps]


async def replace_gaps(
    session: AsyncSession, needs: Sequence[tuple[str, str, str, Sequence[SkillGap]]], now: datetime
) -> None:
    """Each (member, cluster, period, gaps): the member's gaps become those of its latest assessment, all waiting
    for a seat until placed."""
    if not needs:
        return
    await session.execute(delete(member_gaps).where(in_list(member_gaps.c.member_id, [m for m, *_ in needs])))
    rows = [
        {
            "member_id": member_id,
            "skill_code": gap.skill_code,
            "cluster_id": cluster_id,
            "period": period,
            "priority": gap.priority,
            "gap": gap.model_dump(mode="json"),
            "match_id": None,
            "waiting_since": now,
        }
        for member_id, cluster_id, period, gaps in needs
        for gap in gaps
    ]
    if rows:
        await session.execute(insert(member_gaps), rows)


async def clear_gap_seats(session: AsyncSession, match_ids: Sequence[str], now: datetime) -> None:
    """The matches no longer hold their gaps' seats (lapsed, declined): the gaps wait again from ``now``."""
    if match_ids:
        await session.execute(
            update(member_gaps)
            .where(in_list(member_gaps.c.match_id, list(match_ids)))
            .values(match_id=None, waiting_since=now)
        )


_SEAT_GAP = (
    update(member_gaps)
    .where(member_gaps.c.member_id == bindparam("m"), member_gaps.c.skill_code == bindparam("s"))
    .values(match_id=bindparam("seat"))
)


async def seat_gaps(session: AsyncSession, seats: Mapping[tuple[str, str], str | None]) -> None:
    """Record which match holds each (member, skill) gap's seat; None: the gap waits for one."""
    if seats:
        rows = [
            {"m": member_id, "s": skill_code, "seat": match_id} for (member_id, skill_code), match_id in seats.items()
        ]
        await session.execute(_SEAT_GAP, rows)


async def waiting_gaps(
    session: AsyncSession, period: str, skill_codes: Iterable[str], *, limit: int, after: tuple[float, str, str] | None
) -> list[tuple[float, str, str]]:
    """(priority, member, skill) of the period's gaps without a seat whose skill is among ``skill_codes``, most
    severe first, ``limit`` of them after ``after`` (the last row of the previous page).

    One index range scan per skill (the partial index on waiting gaps, read backwards), merged here: the cost
    is the page, however long the waiting list.
    """
    g = member_gaps.c
    found: list[tuple[float, str, str]] = []
    for skill_code in sorted(set(skill_codes)):
        query = select(g.priority, g.member_id).where(
            g.period == period, g.skill_code == skill_code, g.match_id.is_(None)
        )
        if after is not None:
            priority, member_id, last_skill = after
            query = query.where(
                or_(
                    tuple_(g.priority, g.member_id) < tuple_(priority, member_id),
                    and_(g.priority == priority, g.member_id == member_id, literal(skill_code) < last_skill),
                )
            )
        query = query.order_by(g.priority.desc(), g.member_id.desc()).limit(limit)
        found.extend((float(p), str(m), skill_code) for p, m in (await session.execute(query)).all())
    return sorted(found, reverse=True)[:limit]


async def waiting_members_of(
    session: AsyncSession, period: str, skills_by_cluster: Mapping[str, Iterable[str]]
) -> dict[tuple[str, str], str]:
    """(member, skill) → cluster of the period's waiting gaps of each cluster's members in the given skills: the
    members a cluster's own offers serve first (bounded by one cluster's members, never the platform)."""
    g = member_gaps.c
    found: dict[tuple[str, str], str] = {}
    for cluster_id, skills in sorted(skills_by_cluster.items()):
        query = select(g.member_id, g.skill_code).where(
            g.cluster_id == cluster_id,
            g.period == period,
            in_list(g.skill_code, sorted(set(skills))),
            g.match_id.is_(None),
        )
        found.update(((str(m), str(s)), cluster_id) for m, s in (await session.execute(query)).all())
    return found


async def sharing(session: AsyncSession, period: str, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Members per (cluster, skill) with that gap in the period (for pooling)."""
    by_cluster: dict[str, set[str]] = {}
    for cluster_id, skill_code in keys:
        by_cluster.setdefault(cluster_id, set()).add(skill_code)
    out: dict[tuple[str, str], int] = {}
    g = member_gaps.c
    for cluster_id, skills in sorted(by_cluster.items()):
        rows = await session.execute(
            select(g.skill_code, func.count())
            .where(g.cluster_id == cluster_id, g.period == period, in_list(g.skill_code, sorted(skills)))
            .group_by(g.skill_code)
        )
        out.update(((cluster_id, skill), int(n)) for skill, n in rows.all())
    return out
