"""Reads and writes of the matchmaking tables, and their translation to the domain's types.

Matches, members' needs and match runs belong to a cluster: every function reading or changing them takes the
caller's ``Scope`` and filters by it, so a row of another cluster is simply not found. Partners (and their
offers) are shared platform-wide or belong to a cluster; ``visible_partners`` is what a caller may read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_common.errors import ContractError
from trellis_common.events import MemberContext, SkillGap
from trellis_matchmaking.domain.outcomes import CONFIRMED, HOLDS_SEAT, MatchStatus
from trellis_matchmaking.domain.partners import (
    GROUP_FORMATS,
    Delivery,
    MemberNeed,
    MemberProfile,
    Offer,
    OfferFormat,
    codes,
)
from trellis_matchmaking.domain.pooling import SeatHolder
from trellis_matchmaking.models import (
    match_runs,
    matches,
    member_gaps,
    member_needs,
    offer_skills,
    offers,
    partners,
)


def _offer_query() -> Any:
    return select(
        offers,
        partners.c.name.label("partner_name"),
        partners.c.partner_type,
        partners.c.country,
        partners.c.owner_cluster_id,
        partners.c.open_to_other_clusters,
    ).join(partners, partners.c.id == offers.c.partner_id)


def visible_partners(scope: Scope) -> ColumnElement[bool]:
    """The partners a reader of ``scope`` sees: shared ones, its clusters' own, and those other clusters opened
    to their members (whose seats its members may be given). Another cluster's closed partner is not found."""
    if scope.platform_wide:
        return true()
    return or_(
        partners.c.owner_cluster_id.is_(None),
        partners.c.open_to_other_clusters.is_(True),
        scope.clause(partners.c.owner_cluster_id),
    )


async def offer_rows(session: AsyncSession, offer_ids: Iterable[str] | None = None) -> Sequence[Row[Any]]:
    query = _offer_query().order_by(offers.c.id)
    if offer_ids is not None:
        query = query.where(offers.c.id.in_(list(offer_ids)))
    return (await session.execute(query)).all()


async def offers_for_skills(session: AsyncSession, skill_codes: Iterable[str]) -> list[str]:
    """Ids of the offers that cover any of ``skill_codes`` (through the skill index)."""
    query = select(offer_skills.c.offer_id).where(offer_skills.c.skill_code.in_(sorted(set(skill_codes))))
    return sorted(set((await session.scalars(query)).all()))


async def lock_offers(session: AsyncSession, offer_ids: Iterable[str]) -> Sequence[Row[Any]]:
    """The offers (with their partner), locked until the transaction ends so seats are counted once.

    Locks are taken in id order in one statement, so two transactions never wait for each other in a circle
    over the same offers. SQLite has no row locks: a no-op write takes its database write lock instead.
    """
    ids = sorted(set(offer_ids))
    if not ids:
        return []
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(update(offers).where(offers.c.id.in_(ids)).values(seats=offers.c.seats))
        return await offer_rows(session, ids)
    query = _offer_query().where(offers.c.id.in_(ids)).order_by(offers.c.id).with_for_update(of=offers)
    return (await session.execute(query)).all()


async def insert_offers(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """New offers, with their skill index."""
    if not rows:
        return
    await session.execute(insert(offers), [dict(row) for row in rows])
    index = [{"offer_id": row["id"], "skill_code": code} for row in rows for code in sorted(set(row["skill_codes"]))]
    if index:
        await session.execute(insert(offer_skills), index)


async def set_offer_skills(session: AsyncSession, offer_id: str, skill_codes: Iterable[str]) -> None:
    """Keep the skill index of one offer in step with its skill list."""
    await session.execute(delete(offer_skills).where(offer_skills.c.offer_id == offer_id))
    codes = sorted(set(skill_codes))
    if codes:
        await session.execute(insert(offer_skills), [{"offer_id": offer_id, "skill_code": c} for c in codes])


def to_offer(row: Row[Any], seats_left: int) -> Offer:
    return Offer(
        offer_id=row.id,
        partner_id=row.partner_id,
        partner_name=row.partner_name,
        partner_type=row.partner_type,
        title=row.title,
        skill_codes=frozenset(row.skill_codes),
        max_level=row.max_level,
        format=OfferFormat(row.format),
        delivery=Delivery(row.delivery),
        countries=codes(row.countries),
        languages=codes(row.languages, upper=False),
        seats_left=seats_left,
        regions=codes(row.regions or []),
        sectors=codes(row.sectors or []),
        target_markets=codes(row.target_markets or []),
        partner_country=row.country.upper() if row.country else None,
        owner_cluster_id=row.owner_cluster_id,
        open_to_other_clusters=bool(row.open_to_other_clusters),
    )


async def seats_held(session: AsyncSession, period: str, offer_ids: Iterable[str] | None = None) -> Counter[str]:
    """Seats taken per offer in the period: proposals, acceptances and completions.

    Not scoped on purpose: an offer's seats may be held by members of several clusters (a shared or an open
    offer), so its free seats count them all (a number per offer, no cluster's rows).
    """
    query = (
        select(matches.c.offer_id, func.count())
        .where(matches.c.period == period, matches.c.status.in_([s.value for s in HOLDS_SEAT]))
        .group_by(matches.c.offer_id)
    )
    if offer_ids is not None:
        query = query.where(matches.c.offer_id.in_(list(offer_ids)))
    return Counter({offer_id: int(count) for offer_id, count in (await session.execute(query)).all()})


_SEAT_COLUMNS = [
    matches.c[name]
    for name in (
        "member_id", "cluster_id", "skill_code", "offer_id", "format", "status", "partner_id", "partner_name",
        "offer_title",
    )
]  # fmt: skip


async def seat_rows(
    session: AsyncSession, scope: Scope, period: str, *, cluster_id: str | None = None
) -> Sequence[Row[Any]]:
    """Every match of the period that holds a seat, in a stable order: the columns pooling reads (not the
    explanations, whose JSON would be decoded for nothing)."""
    query = select(*_SEAT_COLUMNS).where(
        scope.clause(matches.c.cluster_id),
        matches.c.period == period,
        matches.c.status.in_([s.value for s in HOLDS_SEAT]),
    )
    if cluster_id is not None:
        query = query.where(matches.c.cluster_id == cluster_id)
    return (await session.execute(query.order_by(matches.c.created_at, matches.c.id))).all()


async def largest_pool_rows(
    session: AsyncSession, scope: Scope, period: str, *, cluster_id: str, min_members: int, limit: int
) -> Sequence[Row[Any]]:
    """The seat rows of the cluster's ``limit`` largest pools only: the pools are counted in the database, so a
    period of thousands of seats is not read to show a few of them."""
    holding = [
        scope.clause(matches.c.cluster_id),
        matches.c.cluster_id == cluster_id,
        matches.c.period == period,
        matches.c.status.in_([s.value for s in HOLDS_SEAT]),
        matches.c.format.in_(sorted(f.value for f in GROUP_FORMATS)),
    ]
    members = func.count(matches.c.member_id.distinct())
    largest = (
        select(matches.c.skill_code, matches.c.offer_id)
        .where(*holding)
        .group_by(matches.c.skill_code, matches.c.offer_id)
        .having(members >= max(2, min_members))
        .order_by(members.desc(), matches.c.skill_code, matches.c.offer_id)
        .limit(limit)
    )
    pairs = [(str(skill), str(offer)) for skill, offer in (await session.execute(largest)).all()]
    if not pairs:
        return []
    query = select(*_SEAT_COLUMNS).where(*holding, tuple_(matches.c.skill_code, matches.c.offer_id).in_(pairs))
    return (await session.execute(query.order_by(matches.c.created_at, matches.c.id))).all()


async def offer_contacts(session: AsyncSession, offer_ids: Iterable[str]) -> dict[str, str]:
    """Each offer's contact point, or its partner's when the offer has none (offers with neither are left out)."""
    wanted = sorted(set(offer_ids))
    if not wanted:
        return {}
    contact = func.coalesce(offers.c.contact, partners.c.contact)
    query = (
        select(offers.c.id, contact)
        .join(partners, partners.c.id == offers.c.partner_id)
        .where(offers.c.id.in_(wanted), contact.is_not(None))
    )
    return {str(offer_id): str(found) for offer_id, found in (await session.execute(query)).all()}


async def member_seats(session: AsyncSession, period: str, member_ids: Iterable[str]) -> list[Row[Any]]:
    """The members' matches of the period that hold a seat."""
    query = select(matches).where(
        matches.c.member_id.in_(sorted(set(member_ids))),
        matches.c.period == period,
        matches.c.status.in_([s.value for s in HOLDS_SEAT]),
    )
    return list((await session.execute(query.order_by(matches.c.created_at, matches.c.id))).all())


async def sharers(
    session: AsyncSession, period: str, cluster_id: str, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """Per (offer, skill) pair: the members of one cluster holding a seat there (who share a group offer)."""
    wanted = set(pairs)
    if not wanted:
        return {}
    query = select(matches.c.offer_id, matches.c.skill_code, matches.c.member_id).where(
        matches.c.offer_id.in_(sorted({o for o, _ in wanted})),
        matches.c.period == period,
        matches.c.status.in_([s.value for s in HOLDS_SEAT]),
        matches.c.cluster_id == cluster_id,
        matches.c.skill_code.in_(sorted({s for _, s in wanted})),
    )
    out: dict[tuple[str, str], list[str]] = {}
    for offer_id, skill_code, member_id in (await session.execute(query)).all():
        if (offer_id, skill_code) in wanted:
            out.setdefault((offer_id, skill_code), []).append(member_id)
    return out


async def member_proposals_elsewhere(session: AsyncSession, member_ids: Iterable[str], period: str) -> list[str]:
    """Ids of the members' open proposals in periods other than ``period``."""
    query = select(matches.c.id).where(
        matches.c.member_id.in_(sorted(set(member_ids))),
        matches.c.period != period,
        matches.c.status == MatchStatus.PROPOSED.value,
    )
    return list((await session.scalars(query)).all())


async def proposals_in(session: AsyncSession, scope: Scope, offer_ids: Iterable[str]) -> list[Row[Any]]:
    """Open proposals of the offers, most severe gap first (a seat cut releases from the end)."""
    query = (
        select(matches)
        .where(
            scope.clause(matches.c.cluster_id),
            matches.c.offer_id.in_(sorted(set(offer_ids))),
            matches.c.status == MatchStatus.PROPOSED.value,
        )
        .order_by(matches.c.priority.desc(), matches.c.score.desc(), matches.c.created_at, matches.c.id)
    )
    return list((await session.execute(query)).all())


async def assessments_matched(session: AsyncSession, assessment_ids: Iterable[str]) -> set[str]:
    """Which of the assessments were already matched (a run with reason assessment, or from before reasons)."""
    query = select(match_runs.c.assessment_id).where(
        match_runs.c.assessment_id.in_(sorted(set(assessment_ids))),
        or_(match_runs.c.reason == "assessment", match_runs.c.reason.is_(None)),
    )
    return set((await session.scalars(query)).all())


def seat_holders(rows: Iterable[Row[Any]]) -> list[SeatHolder]:
    return [
        SeatHolder(r.member_id, r.cluster_id, r.skill_code, r.offer_id, OfferFormat(r.format) in GROUP_FORMATS)
        for r in rows
    ]


def confirmed(rows: Iterable[Row[Any]]) -> list[Row[Any]]:
    return [r for r in rows if MatchStatus(r.status) in CONFIRMED]


async def declined(session: AsyncSession, period: str, member_ids: Iterable[str]) -> set[tuple[str, str, str]]:
    """(member, skill, offer) proposals the members turned down in the period."""
    rows = await session.execute(
        select(matches.c.member_id, matches.c.skill_code, matches.c.offer_id).where(
            matches.c.member_id.in_(sorted(set(member_ids))),
            matches.c.period == period,
            matches.c.status == MatchStatus.DECLINED.value,
        )
    )
    return {(r.member_id, r.skill_code, r.offer_id) for r in rows}


async def need_rows(session: AsyncSession, scope: Scope, member_ids: Iterable[str]) -> dict[str, Row[Any]]:
    """The members' latest assessments (member_needs rows) by member id."""
    query = select(member_needs).where(
        scope.clause(member_needs.c.cluster_id), member_needs.c.member_id.in_(sorted(set(member_ids)))
    )
    return {row.member_id: row for row in (await session.execute(query)).all()}


async def gap_rows(session: AsyncSession, member_ids: Iterable[str]) -> list[Row[Any]]:
    """The members' gaps (member_gaps rows), most severe first."""
    query = select(member_gaps).where(member_gaps.c.member_id.in_(sorted(set(member_ids))))
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
    await session.execute(delete(member_gaps).where(member_gaps.c.member_id.in_([m for m, *_ in needs])))
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
            .where(member_gaps.c.match_id.in_(list(match_ids)))
            .values(match_id=None, waiting_since=now)
        )


async def move_gaps(session: AsyncSession, member_id: str, period: str) -> None:
    await session.execute(update(member_gaps).where(member_gaps.c.member_id == member_id).values(period=period))


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
            g.cluster_id == cluster_id, g.period == period, g.skill_code.in_(sorted(set(skills))), g.match_id.is_(None)
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
            .where(g.cluster_id == cluster_id, g.period == period, g.skill_code.in_(sorted(skills)))
            .group_by(g.skill_code)
        )
        out.update(((cluster_id, skill), int(n)) for skill, n in rows.all())
    return out


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
    await move_gaps(session, member_id, period)
    return True


# --- matches and match runs as the API shows them -------------------------------------------------------------


async def match_page(
    session: AsyncSession, scope: Scope, where: Sequence[ColumnElement[bool]], *, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """Matches meeting ``where`` in the scope, newest first, and how many there are in all."""
    where = [scope.clause(matches.c.cluster_id), *where]
    total = await session.scalar(select(func.count()).select_from(matches).where(*where))
    # Both descending, so one index walked backwards gives the order (ties of created_at by id).
    query = select(matches).where(*where).order_by(matches.c.created_at.desc(), matches.c.id.desc())
    rows = (await session.execute(query.limit(limit).offset(offset))).mappings()
    return total or 0, [dict(r) for r in rows]


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
