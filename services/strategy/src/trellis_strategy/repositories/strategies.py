"""Strategies: a cluster's overall strategy (made for it from the loop) and its thematic plans."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.db import insert_for
from trellis_strategy.domain.strategy import StrategyPhase, StrategyType
from trellis_strategy.models import strategies
from trellis_strategy.repositories.shared import NAMESPACE, from_row, lock_sqlite_for_writing, require_scope


def default_strategy_id(cluster_id: str) -> str:
    """The id of the overall strategy created for a cluster from the loop: the same on every replica."""
    return str(uuid.uuid5(NAMESPACE, f"strategy-of-cluster:{cluster_id}"))


@dataclass(frozen=True)
class Strategy:
    id: str
    cluster_id: str
    type: str
    phase: str
    title: str
    description: str | None
    owners: list[dict[str, str]]
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def strategy_type(self) -> StrategyType:
        return StrategyType(self.type)

    @property
    def strategy_phase(self) -> StrategyPhase:
        return StrategyPhase(self.phase)

    @property
    def owner_ids(self) -> list[str]:
        return [owner["contact_id"] for owner in self.owners]


def _strategy_query(scope: Scope, strategy_id: str) -> Any:
    return select(strategies).where(strategies.c.id == strategy_id, scope.clause(strategies.c.cluster_id))


async def get_strategy(session: AsyncSession, scope: Scope, strategy_id: str) -> Strategy | None:
    row = (await session.execute(_strategy_query(scope, strategy_id))).mappings().first()
    return from_row(Strategy, row) if row is not None else None


async def lock_strategy(session: AsyncSession, scope: Scope, strategy_id: str) -> Strategy | None:
    """The strategy, locked for this transaction (concurrent reviews of one strategy take turns)."""
    await lock_sqlite_for_writing(session)
    row = (await session.execute(_strategy_query(scope, strategy_id).with_for_update())).mappings().first()
    return from_row(Strategy, row) if row is not None else None


async def list_strategies(
    session: AsyncSession, scope: Scope, cluster_id: str, *, include_archived: bool
) -> list[Strategy]:
    query = select(strategies).where(strategies.c.cluster_id == cluster_id, scope.clause(strategies.c.cluster_id))
    if not include_archived:
        query = query.where(strategies.c.archived_at.is_(None))
    # The overall strategy first, then the thematic plans in the order they were made.
    overall_first = case((strategies.c.type == StrategyType.OVERALL.value, 0), else_=1)
    rows = (await session.execute(query.order_by(overall_first, strategies.c.created_at, strategies.c.id))).mappings()
    return [from_row(Strategy, row) for row in rows]


async def overall_strategy(session: AsyncSession, scope: Scope, cluster_id: str) -> Strategy | None:
    row = (
        (
            await session.execute(
                select(strategies).where(
                    strategies.c.cluster_id == cluster_id,
                    strategies.c.type == StrategyType.OVERALL.value,
                    scope.clause(strategies.c.cluster_id),
                )
            )
        )
        .mappings()
        .first()
    )
    return from_row(Strategy, row) if row is not None else None


async def insert_strategy(
    session: AsyncSession,
    scope: Scope,
    *,
    strategy_id: str,
    cluster_id: str,
    strategy_type: StrategyType,
    phase: StrategyPhase,
    title: str,
    description: str | None,
    owners: list[dict[str, str]],
    now: datetime,
) -> bool:
    """False when the cluster already has an overall strategy (or the id is taken)."""
    require_scope(scope, cluster_id)
    result = await session.execute(
        insert_for(session, strategies)
        .values(
            id=strategy_id,
            cluster_id=cluster_id,
            type=strategy_type.value,
            phase=phase.value,
            title=title,
            description=description,
            owners=owners,
            archived_at=None,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def ensure_overall_strategy(
    session: AsyncSession, scope: Scope, cluster_id: str, title: str, now: datetime
) -> Strategy:
    """The cluster's overall strategy, created if it has none (a concurrent creator wins quietly)."""
    await insert_strategy(
        session,
        scope,
        strategy_id=default_strategy_id(cluster_id),
        cluster_id=cluster_id,
        strategy_type=StrategyType.OVERALL,
        phase=StrategyPhase.DIAGNOSTICS,
        title=title,
        description=None,
        owners=[],
        now=now,
    )
    strategy = await overall_strategy(session, scope, cluster_id)
    assert strategy is not None
    return strategy


async def update_strategy(session: AsyncSession, scope: Scope, strategy_id: str, now: datetime, **values: Any) -> None:
    await session.execute(
        update(strategies)
        .where(strategies.c.id == strategy_id, scope.clause(strategies.c.cluster_id))
        .values(**values, updated_at=now)
    )
