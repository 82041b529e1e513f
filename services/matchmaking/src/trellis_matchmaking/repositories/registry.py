"""The partner registry: partners and their offers, the offers' skill index, and what a caller may see of them.

Partners (and their offers) are shared platform-wide or belong to a cluster. A reader sees the shared ones, its
clusters' own and those other clusters opened to their members; another cluster's closed partner is not found.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, func, insert, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.repositories.in_list import in_list
from trellis_matchmaking.domain.partners import Delivery, Offer, OfferFormat, codes
from trellis_matchmaking.models import offer_skills, offers, partners

# --- partners -------------------------------------------------------------------------------------------------


def _visible_partners(scope: Scope) -> ColumnElement[bool]:
    """The partners a reader of ``scope`` sees: shared ones, its clusters' own, and those other clusters opened
    to their members (whose seats its members may be given). Another cluster's closed partner is not found."""
    if scope.platform_wide:
        return true()
    return or_(
        partners.c.owner_cluster_id.is_(None),
        partners.c.open_to_other_clusters.is_(True),
        scope.clause(partners.c.owner_cluster_id),
    )


async def partner(session: AsyncSession, partner_id: str) -> Row[Any] | None:
    """The partner, whoever may see it (for a caller the route already let reach it)."""
    return (await session.execute(select(partners).where(partners.c.id == partner_id))).first()


async def visible_partner(session: AsyncSession, scope: Scope, partner_id: str) -> Row[Any] | None:
    """The partner, when a reader of ``scope`` sees it."""
    query = select(partners).where(partners.c.id == partner_id, _visible_partners(scope))
    return (await session.execute(query)).first()


async def partner_page(
    session: AsyncSession,
    scope: Scope,
    *,
    partner_type: str | None,
    country: str | None,
    owner_cluster_id: str | None,
    limit: int,
    offset: int,
) -> tuple[int, Sequence[Row[Any]]]:
    """The partners ``scope`` sees meeting the filters given, by name, and how many there are in all."""
    where = [_visible_partners(scope)]
    if partner_type:
        where.append(partners.c.partner_type == partner_type)
    if country:
        where.append(partners.c.country == country)
    if owner_cluster_id:
        where.append(partners.c.owner_cluster_id == owner_cluster_id)
    total = await session.scalar(select(func.count()).select_from(partners).where(*where))
    query = select(partners).where(*where).order_by(partners.c.name, partners.c.id).limit(limit).offset(offset)
    return total or 0, (await session.execute(query)).all()


async def partner_names(session: AsyncSession, owner_cluster_id: str | None) -> list[tuple[str, str]]:
    """(id, name) of the partners of one owner: a cluster, or None for the shared ones."""
    same_owner = (
        partners.c.owner_cluster_id.is_(None)
        if owner_cluster_id is None
        else partners.c.owner_cluster_id == owner_cluster_id
    )
    rows = await session.execute(select(partners.c.id, partners.c.name).where(same_owner))
    return [(str(partner_id), str(name)) for partner_id, name in rows]


async def insert_partner(session: AsyncSession, values: Mapping[str, Any]) -> None:
    await session.execute(insert(partners).values(**values))


async def update_partner(session: AsyncSession, partner_id: str, changes: Mapping[str, Any], now: datetime) -> None:
    await session.execute(update(partners).where(partners.c.id == partner_id).values(**changes, updated_at=now))


async def delete_partner(session: AsyncSession, partner_id: str) -> None:
    """The partner and its offers."""
    await session.execute(delete(offers).where(offers.c.partner_id == partner_id))
    await session.execute(delete(partners).where(partners.c.id == partner_id))


# --- offers ---------------------------------------------------------------------------------------------------


def _offer_query() -> Any:
    return select(
        offers,
        partners.c.name.label("partner_name"),
        partners.c.partner_type,
        partners.c.country,
        partners.c.owner_cluster_id,
        partners.c.open_to_other_clusters,
    ).join(partners, partners.c.id == offers.c.partner_id)


async def offer_rows(session: AsyncSession, offer_ids: Iterable[str] | None = None) -> Sequence[Row[Any]]:
    query = _offer_query().order_by(offers.c.id)
    if offer_ids is not None:
        query = query.where(in_list(offers.c.id, list(offer_ids)))
    return (await session.execute(query)).all()


async def all_offer_ids(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(offers.c.id)))


async def partner_offer_ids(session: AsyncSession, partner_id: str) -> list[str]:
    return list(await session.scalars(select(offers.c.id).where(offers.c.partner_id == partner_id)))


async def partners_offers(session: AsyncSession, partner_ids: Sequence[str]) -> Sequence[Row[Any]]:
    """The partners' offers (the offer rows alone), by title."""
    query = select(offers).where(offers.c.partner_id.in_(partner_ids)).order_by(offers.c.title, offers.c.id)
    return (await session.execute(query)).all()


async def visible_offer(session: AsyncSession, scope: Scope, offer_id: str) -> Row[Any] | None:
    """The offer (its row alone), when a reader of ``scope`` sees its partner."""
    query = (
        select(offers)
        .join(partners, partners.c.id == offers.c.partner_id)
        .where(offers.c.id == offer_id, _visible_partners(scope))
    )
    return (await session.execute(query)).first()


async def lock_offer_partner(session: AsyncSession, offer_id: str) -> str | None:
    """The id of the offer's partner (None: no such offer), the offer locked until the transaction ends."""
    return await session.scalar(select(offers.c.partner_id).where(offers.c.id == offer_id).with_for_update())


async def offers_for_skills(session: AsyncSession, skill_codes: Iterable[str]) -> list[str]:
    """Ids of the offers that cover any of ``skill_codes`` (through the skill index)."""
    query = select(offer_skills.c.offer_id).where(in_list(offer_skills.c.skill_code, sorted(set(skill_codes))))
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
        await session.execute(update(offers).where(in_list(offers.c.id, ids)).values(seats=offers.c.seats))
        return await offer_rows(session, ids)
    query = _offer_query().where(in_list(offers.c.id, ids)).order_by(offers.c.id).with_for_update(of=offers)
    return (await session.execute(query)).all()


async def insert_offers(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """New offers, with their skill index."""
    if not rows:
        return
    await session.execute(insert(offers), [dict(row) for row in rows])
    index = [{"offer_id": row["id"], "skill_code": code} for row in rows for code in sorted(set(row["skill_codes"]))]
    if index:
        await session.execute(insert(offer_skills), index)


async def replace_offer(session: AsyncSession, row: Mapping[str, Any]) -> None:
    """The offer ``row["id"]`` becomes ``row``, its skill index kept in step with its skill list."""
    offer_id = row["id"]
    await session.execute(update(offers).where(offers.c.id == offer_id).values(dict(row)))
    await session.execute(delete(offer_skills).where(offer_skills.c.offer_id == offer_id))
    skill_codes = sorted(set(row["skill_codes"]))
    if skill_codes:
        await session.execute(insert(offer_skills), [{"offer_id": offer_id, "skill_code": c} for c in skill_codes])


async def delete_offer(session: AsyncSession, offer_id: str) -> None:
    await session.execute(delete(offers).where(offers.c.id == offer_id))


async def offer_contacts(session: AsyncSession, offer_ids: Iterable[str]) -> dict[str, str]:
    """Each offer's contact point, or its partner's when the offer has none (offers with neither are left out)."""
    wanted = sorted(set(offer_ids))
    if not wanted:
        return {}
    contact = func.coalesce(offers.c.contact, partners.c.contact)
    query = (
        select(offers.c.id, contact)
        .join(partners, partners.c.id == offers.c.partner_id)
        .where(in_list(offers.c.id, wanted), contact.is_not(None))
    )
    return {str(offer_id): str(found) for offer_id, found in (await session.execute(query)).all()}


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
