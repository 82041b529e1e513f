"""Campaigns: launching one to a cluster's members, following its progress, closing it, reading its results.

A campaign belongs to its cluster; every read on a caller's behalf takes the caller's ``Scope``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_surveys.models import campaigns, contacts, invitations, members, responses


async def find_campaign(session: AsyncSession, scope: Scope, campaign_id: str) -> dict[str, Any] | None:
    row = (
        (
            await session.execute(
                select(campaigns).where(campaigns.c.id == campaign_id, scope.clause(campaigns.c.cluster_id))
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


async def linked_campaign(session: AsyncSession, campaign_id: str) -> dict[str, Any]:
    """The campaign of an invitation whose signed link was verified (the link is the credential)."""
    row = (await session.execute(select(campaigns).where(campaigns.c.id == campaign_id))).mappings().one()
    return dict(row)


async def cluster_campaigns(session: AsyncSession, scope: Scope, cluster_id: str) -> list[dict[str, Any]]:
    """A cluster's campaigns, the latest launched first."""
    rows = (
        (
            await session.execute(
                select(campaigns)
                .where(campaigns.c.cluster_id == cluster_id, scope.clause(campaigns.c.cluster_id))
                .order_by(campaigns.c.launched_at.desc())
            )
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]


async def contacts_to_invite(
    session: AsyncSession,
    scope: Scope,
    cluster_id: str,
    *,
    member_ids: Sequence[str] | None = None,
    member_type: str | None = None,
    country: str | None = None,
) -> list[tuple[str, str, str]]:
    """``(contact id, member id, language)`` of every contact of the cluster's members that match the filters
    given, by member."""
    where = [members.c.cluster_id == cluster_id, scope.clause(members.c.cluster_id)]
    if member_ids is not None:
        where.append(members.c.id.in_(member_ids))
    if member_type is not None:
        where.append(members.c.member_type == member_type)
    if country is not None:
        where.append(members.c.country == country)
    selected = await session.execute(
        select(contacts.c.id, contacts.c.member_id, contacts.c.language)
        .join(members, members.c.id == contacts.c.member_id)
        .where(*where)
        .order_by(contacts.c.member_id)
    )
    return [(contact_id, member_id, language) for contact_id, member_id, language in selected]


async def add_campaign(
    session: AsyncSession, campaign: Mapping[str, Any], invited: Sequence[Mapping[str, Any]]
) -> None:
    """A launched campaign and its invitations (one statement for all of them)."""
    await session.execute(insert(campaigns).values(campaign))
    await session.execute(insert(invitations), list(invited))


async def bring_reminders_forward(
    session: AsyncSession, campaign_id: str, max_reminders: int, now: datetime
) -> tuple[int, int]:
    """Make the next reminder of every invitation not yet answered due ``now``, unless it had ``max_reminders``
    already: how many were brought forward, and how many have no reminder left."""
    waiting = [invitations.c.campaign_id == campaign_id, invitations.c.completed_at.is_(None)]
    brought = await session.execute(
        update(invitations).where(*waiting, invitations.c.reminders_sent < max_reminders).values(next_reminder_at=now)
    )
    exhausted = await session.scalar(
        select(func.count()).select_from(invitations).where(*waiting, invitations.c.reminders_sent >= max_reminders)
    )
    return int(brought.rowcount or 0), int(exhausted or 0)  # type: ignore[attr-defined]


async def mark_closed(session: AsyncSession, campaign_id: str, now: datetime) -> None:
    """The campaign closes ``now``: its links stop taking answers and no reminder is due any more."""
    await session.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(closes_at=now))
    await session.execute(
        update(invitations).where(invitations.c.campaign_id == campaign_id).values(next_reminder_at=None)
    )


async def invitation_tallies(session: AsyncSession, scope: Scope, campaign_id: str) -> dict[str, int]:
    """How far a campaign is: invitations sent, opened, started and completed, members invited and members
    who answered (through any of their contacts), and reminders sent."""
    c = invitations.c
    in_scope = scope.clause(c.cluster_id)
    row = (
        await session.execute(
            select(
                func.count(),
                func.count(c.opened_at),
                func.count(c.started_at),
                func.count(c.completed_at),
                func.count(func.distinct(c.member_id)),
                func.coalesce(func.sum(c.reminders_sent), 0),
            ).where(c.campaign_id == campaign_id, in_scope)
        )
    ).one()
    done = await session.scalar(
        select(func.count(func.distinct(c.member_id))).where(
            c.campaign_id == campaign_id, c.completed_at.is_not(None), in_scope
        )
    )
    invited, opened, started, completed, members_invited, reminders = (int(v or 0) for v in row)
    return {
        "invited": invited,
        "opened": opened,
        "started": started,
        "completed": completed,
        "members_invited": members_invited,
        "members_completed": int(done or 0),
        "reminders_sent": reminders,
    }


async def campaign_responses(session: AsyncSession, scope: Scope, campaign_id: str) -> list[dict[str, Any]]:
    """A campaign's responses, each with its member's name (``member_name``), by that name."""
    rows = (
        (
            await session.execute(
                select(responses, members.c.name.label("member_name"))
                .join(members, members.c.id == responses.c.member_id)
                .where(responses.c.campaign_id == campaign_id, scope.clause(responses.c.cluster_id))
                .order_by(members.c.name)
            )
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]
