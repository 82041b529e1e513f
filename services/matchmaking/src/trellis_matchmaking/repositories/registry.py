"""The partner registry: partners and their offers, the offers' skill index, and what a caller may see of them.

Partners (and their offers) are shared platform-wide or belong to a cluster. A reader sees the shared ones, its
clusters' own and those other clusters opened to their members; another cluster's closed partner is not found.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, func, insert, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_matchmaking.domain.partners import Delivery, Offer, OfferFormat, codes
from trellis_matchmaking.models import offer_skills, offers, partners

# --- partners -------------------------------------------------------------------------------------------------


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
