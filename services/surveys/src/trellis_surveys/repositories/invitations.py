"""Invitations: one contact's way into a campaign, from the signed link through a saved draft to the answer,
and the reminders due to those who have not answered.

The link is the credential of the answering form and names one invitation, so the form's reads and writes are
by invitation id; the reminder job works for every cluster.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_surveys.models import campaigns, invitations


async def find_invitation(session: AsyncSession, invitation_id: str) -> dict[str, Any] | None:
    row = (await session.execute(select(invitations).where(invitations.c.id == invitation_id))).mappings().first()
    return dict(row) if row is not None else None


async def mark_opened(session: AsyncSession, invitation_id: str, now: datetime) -> None:
    """The link was opened (the first time counts)."""
    await session.execute(
        update(invitations)
        .where(invitations.c.id == invitation_id, invitations.c.opened_at.is_(None))
        .values(opened_at=now)
    )


async def save_answers_draft(
    session: AsyncSession,
    invitation_id: str,
    draft: dict[str, list[str]],
    *,
    now: datetime,
    started_at: datetime,
    opened_at: datetime,
) -> None:
    """Keep the form's values as they are, checked or not, to continue later."""
    await session.execute(
        update(invitations)
        .where(invitations.c.id == invitation_id)
        .values(draft=draft, draft_saved_at=now, started_at=started_at, opened_at=opened_at)
    )


async def mark_completed(
    session: AsyncSession,
    invitation_id: str,
    draft: dict[str, list[str]],
    *,
    now: datetime,
    started_at: datetime,
    opened_at: datetime,
) -> None:
    """The contact submitted valid answers: the form's values stay (to change them later), no reminder follows."""
    await session.execute(
        update(invitations)
        .where(invitations.c.id == invitation_id)
        .values(
            draft=draft,
            draft_saved_at=now,
            completed_at=now,
            started_at=started_at,
            opened_at=opened_at,
            next_reminder_at=None,
        )
    )


async def stop_member_reminders(session: AsyncSession, campaign_id: str, member_id: str) -> None:
    """The member has answered the campaign: none of its contacts is reminded any more."""
    await session.execute(
        update(invitations)
        .where(invitations.c.campaign_id == campaign_id, invitations.c.member_id == member_id)
        .values(next_reminder_at=None)
    )


async def claim_due_reminders(session: AsyncSession, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` unanswered invitations whose reminder is due, soonest first, each with what its campaign
    says of reminders and the survey; locked, skipping those another replica holds."""
    due = (
        (
            await session.execute(
                select(
                    invitations,
                    campaigns.c.closes_at,
                    campaigns.c.max_reminders,
                    campaigns.c.reminder_after_s,
                    campaigns.c.title,
                    campaigns.c.theme,
                    campaigns.c.template_id,
                    campaigns.c.template_version,
                )
                .join(campaigns, campaigns.c.id == invitations.c.campaign_id)
                .where(invitations.c.next_reminder_at <= now, invitations.c.completed_at.is_(None))
                .order_by(invitations.c.next_reminder_at)
                .limit(limit)
                .with_for_update(of=invitations, skip_locked=True)
            )
        )
        .mappings()
        .all()
    )
    return [dict(row) for row in due]


async def set_next_reminder(session: AsyncSession, invitation_id: str, sent: int, following: datetime | None) -> None:
    """``sent`` reminders so far; the next is due at ``following`` (``None``: no more)."""
    await session.execute(
        update(invitations)
        .where(invitations.c.id == invitation_id)
        .values(reminders_sent=sent, next_reminder_at=following)
    )
