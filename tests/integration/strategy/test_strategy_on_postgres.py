"""On PostgreSQL, replicas split the due schedules between them (FOR UPDATE SKIP LOCKED) and never both fire one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.conftest import NewDatabase
from tests.integration.strategy.conftest import (
    FIRST_DUE,
    SECOND_DUE,
    fires_recorded,
    move_clock,
    open_actions,
    outbox_sent,
    partners_matched,
    publish,
    reviews_on_bus,
    schedule_of,
    strategy_runtime,
)
from tests.support.polling import eventually
from trellis_common.bus.memory import InMemoryBroker
from trellis_common.scheduler import Scheduler
from trellis_strategy.jobs import ReviewDueJob


async def test_three_replicas_on_postgres_fire_each_due_date_once(new_database: NewDatabase) -> None:
    broker = InMemoryBroker()
    url = await new_database("strategy")
    # Small batches, so the replicas interleave several transactions per tick.
    consumer = strategy_runtime(url, broker, workers=False, review_batch_size=4)
    others = [strategy_runtime(url, broker, workers=False, consume=False, relay=False, review_batch_size=4,
                               migrate_on_start=False) for _ in range(2)]
    replicas = [consumer, *others]
    await consumer.start()
    for replica in others:
        await replica.start()
    try:
        clusters = [f"c-{n}" for n in range(30)]
        for cluster in clusters:
            await publish(broker, partners_matched(cluster_id=cluster, member_id=f"m-{cluster}"))
        await eventually(lambda: schedule_of(consumer, clusters[-1]), timeout=20, what="the last schedule")
        # A second member joins the first cluster's pool: the open pool line is refreshed, not repeated.
        await publish(broker, partners_matched(cluster_id="c-0", member_id="m-late", pool_size=4))

        async def pool_refreshed() -> list[str] | None:
            texts = await open_actions(consumer, "c-0")
            return texts if texts[0].startswith("4 members") else None

        assert len(await eventually(pool_refreshed, timeout=20, what="the refreshed pool line")) == 3

        dues = (FIRST_DUE, SECOND_DUE, datetime(2025, 10, 31, 9, 0, tzinfo=UTC))
        for round_, due in enumerate(dues, start=1):
            for replica in replicas:
                move_clock(replica, due + timedelta(seconds=30), wake=False)
            fired = await asyncio.gather(*(Scheduler([ReviewDueJob()]).tick(r) for r in replicas))
            assert sum(fired) == len(clusters), fired
            again = await asyncio.gather(*(Scheduler([ReviewDueJob()]).tick(r) for r in replicas))
            assert list(again) == [0, 0, 0]
            assert await fires_recorded(consumer) == len(clusters) * round_
            # Every fire wrote its event in the same transaction; the relay publishes each once.
            await eventually(lambda: outbox_sent(consumer), timeout=20, what="the outbox to drain")
            assert len(reviews_on_bus(broker)) == len(clusters) * round_

        reviews = reviews_on_bus(broker)
        assert len(reviews) == len({(r.cluster_id, r.due_at) for r in reviews}) == len(clusters) * len(dues)
    finally:
        for replica in reversed(replicas):
            await replica.stop()
