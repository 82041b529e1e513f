"""Proposed actions: what the loop's matches put on a strategy's review agenda, until a review deals with them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_common.repositories.in_list import in_list
from trellis_common.repositories.pages import page_of
from trellis_strategy.domain.agenda import ActionKind, ProposedAction
from trellis_strategy.models import proposed_actions
from trellis_strategy.repositories.shared import require_scope


async def propose_actions(
    session: AsyncSession,
    scope: Scope,
    proposals: Sequence[tuple[str, ProposedAction, str, str]],
    *,
    now: datetime,
) -> None:
    """Add each (cluster, action, strategy id, source event id), or refresh the open action with the same key
    (the pool grew, a better partner); a refreshed action stays on the strategy it was first proposed to.
    Applied in order, so a later proposal of the same key in one call refreshes an earlier one."""
    if not proposals:
        return
    for cluster_id, *_ in proposals:
        require_scope(scope, cluster_id)
    stmt = insert_for(session, proposed_actions)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["cluster_id", "action_key"],
            index_where=proposed_actions.c.reviewed_at.is_(None),
            set_={
                "text": stmt.excluded.text,
                "facts": stmt.excluded.facts,
                "kind": stmt.excluded.kind,
                "source_event_id": stmt.excluded.source_event_id,
                "updated_at": stmt.excluded.updated_at,
            },
        ),
        [
            {
                "cluster_id": cluster_id,
                "strategy_id": strategy_id,
                "kind": action.kind.value,
                "action_key": action.key,
                "text": action.text,
                "facts": dict(action.facts) or None,
                "source_event_id": source_event_id,
                "created_at": now,
                "updated_at": now,
            }
            for cluster_id, action, strategy_id, source_event_id in proposals
        ],
    )


_OPEN_FIRST = case((proposed_actions.c.kind == ActionKind.POOLED_OFFER.value, 0), else_=1)


async def open_actions(session: AsyncSession, scope: Scope, strategy_id: str, limit: int) -> list[dict[str, Any]]:
    """A strategy's open actions for an agenda (kind, text, facts): pooled offers first, then the oldest first."""
    if limit <= 0:
        return []
    rows = await session.execute(
        select(proposed_actions.c.kind, proposed_actions.c.text, proposed_actions.c.facts)
        .where(
            proposed_actions.c.strategy_id == strategy_id,
            proposed_actions.c.reviewed_at.is_(None),
            scope.clause(proposed_actions.c.cluster_id),
        )
        .order_by(_OPEN_FIRST, proposed_actions.c.created_at, proposed_actions.c.id)
        .limit(limit)
    )
    return [dict(row) for row in rows.mappings()]


async def open_action_counts(session: AsyncSession, scope: Scope, strategy_ids: Sequence[str]) -> dict[str, int]:
    if not strategy_ids:
        return {}
    rows = await session.execute(
        select(proposed_actions.c.strategy_id, func.count())
        .where(
            in_list(proposed_actions.c.strategy_id, strategy_ids),
            proposed_actions.c.reviewed_at.is_(None),
            scope.clause(proposed_actions.c.cluster_id),
        )
        .group_by(proposed_actions.c.strategy_id)
    )
    counts = {strategy_id: 0 for strategy_id in strategy_ids}
    counts.update({strategy_id: int(count) for strategy_id, count in rows})
    return counts


async def mark_actions_reviewed(
    session: AsyncSession, scope: Scope, strategy_id: str, held_at: datetime, now: datetime
) -> int:
    """A review held at ``held_at`` dealt with the strategy's actions open by then; a later match on the same
    question opens a new line."""
    result = await session.execute(
        update(proposed_actions)
        .where(
            proposed_actions.c.strategy_id == strategy_id,
            proposed_actions.c.reviewed_at.is_(None),
            proposed_actions.c.created_at <= held_at,
            scope.clause(proposed_actions.c.cluster_id),
        )
        .values(reviewed_at=now, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def list_actions(
    session: AsyncSession,
    scope: Scope,
    cluster_id: str,
    *,
    strategy_id: str | None,
    include_reviewed: bool,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    where = [proposed_actions.c.cluster_id == cluster_id, scope.clause(proposed_actions.c.cluster_id)]
    if strategy_id is not None:
        where.append(proposed_actions.c.strategy_id == strategy_id)
    if not include_reviewed:
        where.append(proposed_actions.c.reviewed_at.is_(None))
    query = select(proposed_actions).where(*where)
    query = query.order_by(_OPEN_FIRST, proposed_actions.c.created_at, proposed_actions.c.id)
    rows, total = await page_of(session, query, limit=limit, offset=offset)
    return [dict(row) for row in rows], total
