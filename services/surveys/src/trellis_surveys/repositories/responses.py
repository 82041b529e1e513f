"""Completed responses: a member's answers to one template version, in a campaign or sent from elsewhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_surveys.models import responses


async def campaign_response(session: AsyncSession, campaign_id: str, member_id: str) -> dict[str, Any] | None:
    """The member's response in a campaign (there is at most one)."""
    row = (
        (
            await session.execute(
                select(responses).where(responses.c.campaign_id == campaign_id, responses.c.member_id == member_id)
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


async def add_response(session: AsyncSession, row: Mapping[str, Any]) -> None:
    await session.execute(insert(responses).values(**row))


async def replace_response(session: AsyncSession, response_id: str, values: Mapping[str, Any]) -> None:
    """A resubmission: the response keeps its id and takes the new answers (and the event that published them)."""
    await session.execute(update(responses).where(responses.c.id == response_id).values(**values))
