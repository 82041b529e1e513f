"""On PostgreSQL, scheduler replicas split the due schedules (FOR UPDATE SKIP LOCKED) and never both send one
reminder; after an outage each strategy gets one late reminder."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta

import httpx
import pytest

from tests.conftest import NewDatabase
from tests.integration.strategy.conftest import (
    FIRST_DUE,
    SECOND_DUE,
    THIRD_DUE,
    fires_recorded,
    move_clock,
    ok,
    open_actions,
    outbox_sent,
    partners_matched,
    publish,
    reviews_on_bus,
    schedule_of,
    strategy_runtime,
    tick,
)
from tests.support import auth
from tests.support.polling import eventually
from trellis_common.app import create_app
from trellis_common.bus.memory import InMemoryBroker
from trellis_common.events import ContactRole, ReminderKind
from trellis_common.runtime import ServiceRuntime
from trellis_strategy.service import DEFINITION


@pytest.fixture
async def replicas(new_database: NewDatabase) -> AsyncIterator[tuple[InMemoryBroker, ServiceRuntime, ServiceRuntime]]:
    """Two replicas on one PostgreSQL database; ticks are driven by hand, each on its own clock."""
    broker = InMemoryBroker()
    url = await new_database("strategy")
    # Small batches, so the replicas interleave several transactions per tick.
    first = strategy_runtime(url, broker, workers=False, review_batch_size=4)
    second = strategy_runtime(
        url, broker, workers=False, consume=False, relay=False, review_batch_size=4, migrate_on_start=False
    )
    await first.start()
    await second.start()
    try:
        yield broker, first, second
    finally:
        await second.stop()
        await first.stop()


async def both_tick(first: ServiceRuntime, second: ServiceRuntime, moment: datetime) -> list[int]:
    for replica in (first, second):
        move_clock(replica, moment, wake=False)
    return list(await asyncio.gather(tick(first), tick(second)))


async def test_two_replicas_send_each_reminder_exactly_once(
    replicas: tuple[InMemoryBroker, ServiceRuntime, ServiceRuntime],
) -> None:
    broker, first, second = replicas
    clusters = [f"c-{n}" for n in range(20)]
    for cluster in clusters:
        await publish(broker, partners_matched(cluster_id=cluster, member_id=f"m-{cluster}"))
    await eventually(lambda: schedule_of(first, clusters[-1]), timeout=20, what="the last schedule")
    # A second member joins the first cluster's pool: the open pool line is refreshed, not repeated.
    await publish(broker, partners_matched(cluster_id="c-0", member_id="m-late", pool_size=4))

    async def pool_refreshed() -> list[str] | None:
        texts = await open_actions(first, "c-0")
        return texts if texts and texts[0].startswith("4 members") else None

    assert len(await eventually(pool_refreshed, timeout=20, what="the refreshed pool line")) == 3

    app = create_app(DEFINITION, runtime=first, manage_runtime=False)
    steps: list[tuple[datetime, int]] = [
        (FIRST_DUE - timedelta(days=14), 20),
        (FIRST_DUE - timedelta(days=1), 20),
        (FIRST_DUE, 20),
        (FIRST_DUE + timedelta(days=14), 10),  # the board hears of the ten clusters that did not review
        (SECOND_DUE - timedelta(days=14), 20),
        (SECOND_DUE - timedelta(days=1), 20),
        (SECOND_DUE, 20),
        (SECOND_DUE + timedelta(days=14), 10),  # the ten that reviewed in May missed July: their own escalation
        (THIRD_DUE, 20),  # a jump over two lead times: one (due) reminder each
    ]
    sent = 0
    per_replica: Counter[str] = Counter()
    async with httpx.AsyncClient(
        headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url="http://strategy"
    ) as api:
        for moment, expected in steps:
            if moment == FIRST_DUE + timedelta(days=14):
                move_clock(first, FIRST_DUE + timedelta(days=2), wake=False)
                for cluster in clusters[10:]:
                    schedule = await ok(await api.get(f"/clusters/{cluster}/schedule"))
                    await ok(await api.post(f"/strategies/{schedule['strategy_id']}/reviews", json={}), 201)
            fired = await both_tick(first, second, moment + timedelta(seconds=30))
            assert sum(fired) == expected, (moment, fired)
            per_replica.update({"first": fired[0], "second": fired[1]})
            assert await both_tick(first, second, moment + timedelta(seconds=31)) == [0, 0]
            sent += expected
            assert await fires_recorded(first) == sent
            # Every fire wrote its event in the same transaction; the relay publishes each once.
            await eventually(lambda: outbox_sent(first), timeout=20, what="the outbox to drain")
            assert len(reviews_on_bus(broker)) == sent

    print("reminders sent per replica:", dict(per_replica))
    assert per_replica["first"] > 0 and per_replica["second"] > 0, "both replicas took part"
    reviews = reviews_on_bus(broker)
    keys = Counter((r.strategy_id, r.due_at, r.kind, r.lead_days) for r in reviews)
    assert len(keys) == len(reviews) == 160 and set(keys.values()) == {1}
    assert len({r.reminder_id for r in reviews}) == 160
    kinds = Counter((r.kind, r.lead_days) for r in reviews)
    assert kinds == {
        (ReminderKind.UPCOMING, 14): 40,
        (ReminderKind.UPCOMING, 1): 40,
        (ReminderKind.DUE, None): 60,
        (ReminderKind.OVERDUE, None): 20,
    }
    escalations = [r for r in reviews if r.escalation]
    # Once per overdue spell: the ten that never reviewed are not escalated again for July.
    assert {r.cluster_id for r in escalations if r.due_at == FIRST_DUE} == set(clusters[:10])
    assert {r.cluster_id for r in escalations if r.due_at == SECOND_DUE} == set(clusters[10:])
    assert {r.recipients_role for r in escalations} == {ContactRole.BOARD_MEMBER}
    assert not any(r.late for r in reviews)


async def test_a_nine_month_outage_sends_one_late_reminder_per_strategy(
    replicas: tuple[InMemoryBroker, ServiceRuntime, ServiceRuntime],
) -> None:
    broker, first, second = replicas
    await publish(broker, partners_matched(cluster_id="c-1"))
    await publish(broker, partners_matched(cluster_id="c-2"))
    await eventually(lambda: schedule_of(first, "c-2"), timeout=20, what="the second cluster's schedule")
    app = create_app(DEFINITION, runtime=first, manage_runtime=False)
    async with httpx.AsyncClient(
        headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url="http://strategy"
    ) as api:
        for kind in ("green_action_plan", "digital_skills_plan"):
            await ok(await api.post("/clusters/c-1/strategies", json={"type": kind}), 201)

    # Nine months without a scheduler: 3 review dates, 6 lead-time reminders and an escalation per strategy.
    back = THIRD_DUE + timedelta(hours=3)
    assert sum(await both_tick(first, second, back)) == 4
    assert await both_tick(first, second, back + timedelta(minutes=1)) == [0, 0]
    assert await both_tick(first, second, back + timedelta(days=1)) == [0, 0]
    await eventually(lambda: outbox_sent(first), timeout=20, what="the outbox to drain")

    reviews = reviews_on_bus(broker)
    assert len(reviews) == len({r.strategy_id for r in reviews}) == 4  # one per strategy, not three
    assert Counter(r.cluster_id for r in reviews) == {"c-1": 3, "c-2": 1}
    for review in reviews:
        assert (review.kind, review.escalation, review.late, review.fired_at) == (
            ReminderKind.OVERDUE,
            True,
            True,
            back,
        )
        assert (review.due_at, review.overdue_since, review.missed_reviews) == (FIRST_DUE, date(2025, 4, 30), 3)
    assert await fires_recorded(first) == 4
    schedule = await schedule_of(first, "c-1")
    assert schedule is not None and schedule.next_due_at > back
