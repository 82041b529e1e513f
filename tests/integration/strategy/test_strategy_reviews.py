"""The strategy service in-process: matches build the agenda, and the review reminder fires once per due date."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tests.integration.strategy.conftest import (
    FIRST_DUE,
    SECOND_DUE,
    START,
    action_count,
    count_rows,
    fires_recorded,
    move_clock,
    open_actions,
    outbox_sent,
    partners_matched,
    publish,
    reminders_fired,
    review_events_written,
    reviews_on_bus,
    schedule_of,
    sqlite_url,
    strategy_runtime,
)
from tests.support.polling import eventually
from trellis_common.bus.memory import InMemoryBroker
from trellis_common.events import ReminderKind
from trellis_common.runtime import ServiceRuntime
from trellis_common.scheduler import Scheduler
from trellis_strategy import repository
from trellis_strategy.jobs import ReviewDueJob
from trellis_strategy.models import match_runs

POOL_LINE = "3 members share a digcomp:1.3 gap; pooled Data bootcamp from KU Leuven"
MEMBER_LINE = "Member m-1 could work with DIH Flanders on digcomp:5.2"


async def test_a_match_creates_the_schedule_and_proposes_actions(
    strategy: ServiceRuntime, broker: InMemoryBroker
) -> None:
    await publish(broker, partners_matched())
    schedule = await eventually(lambda: schedule_of(strategy, "c-1"), timeout=10, what="a review schedule")
    assert (schedule.cadence, schedule.timezone, schedule.strategy_title) == (
        "quarterly", "Europe/Brussels", "Cluster strategy"
    )
    assert schedule.anchor_at == START
    assert schedule.next_due_at == FIRST_DUE
    assert schedule.strategy_id == repository.default_strategy_id("c-1")
    assert await open_actions(strategy, "c-1") == [POOL_LINE, MEMBER_LINE]


async def test_a_replayed_or_resent_match_adds_nothing(strategy: ServiceRuntime, broker: InMemoryBroker) -> None:
    first = partners_matched(run_id="run-1")
    event_id = await publish(broker, first)
    await eventually(lambda: schedule_of(strategy, "c-1"), timeout=10, what="a review schedule")
    await publish(broker, first, event_id=event_id)  # redelivered
    await publish(broker, first)  # the same run re-sent under a new event id
    # A later event on the same (single-partition) topic: once it is handled, so are the two before it.
    await publish(broker, partners_matched(cluster_id="c-2", member_id="m-7"))
    await eventually(lambda: schedule_of(strategy, "c-2"), timeout=10, what="the second cluster's schedule")
    assert await open_actions(strategy, "c-1") == [POOL_LINE, MEMBER_LINE]
    assert await action_count(strategy) == 4
    assert (await schedule_of(strategy, "c-1")).next_due_at == FIRST_DUE  # type: ignore[union-attr]


async def test_a_growing_pool_refreshes_its_line(strategy: ServiceRuntime, broker: InMemoryBroker) -> None:
    await publish(broker, partners_matched(member_id="m-1", pool_size=3))
    await publish(broker, partners_matched(member_id="m-2", pool_size=4))

    async def refreshed() -> list[str] | None:
        texts = await open_actions(strategy, "c-1")
        return texts if len(texts) == 3 and texts[0].startswith("4 members") else None

    assert await eventually(refreshed, timeout=10, what="the pool line with four members") == [
        "4 members share a digcomp:1.3 gap; pooled Data bootcamp from KU Leuven",
        MEMBER_LINE,
        "Member m-2 could work with DIH Flanders on digcomp:5.2",
    ]


async def test_the_reminder_fires_exactly_once_when_due(strategy: ServiceRuntime, broker: InMemoryBroker) -> None:
    await publish(broker, partners_matched(member_id="m-1"))
    await publish(broker, partners_matched(member_id="m-2", pool_size=4))
    await eventually(lambda: action_count(strategy), timeout=10, what="proposed actions")
    await eventually(lambda: _runs(strategy, 2), timeout=10, what="both match runs")
    schedule = await schedule_of(strategy, "c-1")
    assert schedule is not None
    fired_on_time = reminders_fired(late=False)

    move_clock(strategy, FIRST_DUE - timedelta(seconds=1))
    assert await Scheduler([ReviewDueJob()]).tick(strategy) == 0  # not yet

    now = FIRST_DUE + timedelta(minutes=5)
    move_clock(strategy, now)
    await eventually(lambda: _bus_has(broker, 1), timeout=10, what="a ReviewDue event on the bus")
    [review] = reviews_on_bus(broker)
    assert review.reminder_id == repository.reminder_id(schedule.id, FIRST_DUE, ReminderKind.DUE)
    assert (review.cluster_id, review.strategy_id, review.strategy_title) == (
        "c-1", schedule.strategy_id, "Cluster strategy"
    )
    assert (review.kind, review.late) == (ReminderKind.DUE, False)
    assert (review.due_at, review.due_date, review.fired_at) == (FIRST_DUE, date(2025, 4, 30), now)
    assert review.agenda.new_matches == 2
    assert review.agenda.members_with_gaps == 2
    assert review.agenda.proposed_actions[0].startswith("4 members share a digcomp:1.3 gap")
    assert len(review.agenda.proposed_actions) == 3
    assert reminders_fired(late=False) == fired_on_time + 1

    # Ticking again at the same moment, by hand and by the worker, fires nothing more.
    assert await Scheduler([ReviewDueJob()]).tick(strategy) == 0
    strategy.wake_workers()
    assert await Scheduler([ReviewDueJob()]).tick(strategy) == 0
    await eventually(lambda: outbox_sent(strategy), timeout=10, what="the outbox to drain")
    assert len(reviews_on_bus(broker)) == 1
    assert await review_events_written(strategy) == 1
    assert await fires_recorded(strategy) == 1

    after = await schedule_of(strategy, "c-1")
    assert after is not None
    assert (after.next_due_at, after.last_fired_due_at, after.last_fired_at) == (SECOND_DUE, FIRST_DUE, now)

    # The next reminder reports only what happened since this one.
    await publish(broker, partners_matched(member_id="m-3"))
    await eventually(lambda: _runs(strategy, 3), timeout=10, what="the third match run")
    move_clock(strategy, SECOND_DUE)
    await eventually(lambda: _bus_has(broker, 2), timeout=10, what="the second ReviewDue event")
    second = reviews_on_bus(broker)[1]
    assert (second.due_at, second.due_date, second.late) == (SECOND_DUE, date(2025, 7, 31), False)
    assert (second.agenda.new_matches, second.agenda.members_with_gaps) == (1, 1)
    assert second.reminder_id != review.reminder_id


async def test_two_replicas_fire_each_due_date_once(tmp_path: Path, broker: InMemoryBroker) -> None:
    url = sqlite_url(tmp_path)
    # Ticks are driven by hand; one replica consumes and relays, the other only runs the schedule.
    first = strategy_runtime(url, broker, workers=False)
    second = strategy_runtime(url, broker, workers=False, consume=False, relay=False)
    await first.start()
    await second.start()
    try:
        clusters = [f"c-{n}" for n in range(5)]
        for cluster in clusters:
            await publish(broker, partners_matched(cluster_id=cluster, member_id=f"m-{cluster}"))
        await eventually(lambda: schedule_of(first, clusters[-1]), timeout=10, what="the last schedule")

        for round_, due in enumerate((FIRST_DUE, SECOND_DUE, datetime(2025, 10, 31, 9, 0, tzinfo=UTC)), start=1):
            for replica in (first, second):
                move_clock(replica, due + timedelta(seconds=30), wake=False)
            fired = await asyncio.gather(
                Scheduler([ReviewDueJob()]).tick(first), Scheduler([ReviewDueJob()]).tick(second)
            )
            assert sum(fired) == len(clusters), fired
            again = await asyncio.gather(
                Scheduler([ReviewDueJob()]).tick(first), Scheduler([ReviewDueJob()]).tick(second)
            )
            assert list(again) == [0, 0]
            assert await fires_recorded(first) == len(clusters) * round_
            # Every fire wrote its event in the same transaction; the relay publishes each once.
            await eventually(lambda: outbox_sent(first), timeout=20, what="the outbox to drain")
            assert len(reviews_on_bus(broker)) == len(clusters) * round_

        reviews = reviews_on_bus(broker)
        assert len(reviews) == 15
        assert len({r.reminder_id for r in reviews}) == 15
        assert len({(r.cluster_id, r.due_at) for r in reviews}) == 15
    finally:
        await second.stop()
        await first.stop()


async def test_after_a_nine_month_outage_one_late_reminder_fires(
    strategy: ServiceRuntime, broker: InMemoryBroker
) -> None:
    await publish(broker, partners_matched())
    await eventually(lambda: schedule_of(strategy, "c-1"), timeout=10, what="a review schedule")
    fired_late = reminders_fired(late=True)

    back = datetime(2025, 10, 31, 9, 0, tzinfo=UTC) + timedelta(hours=3)  # nine months (and 3 hours) later
    move_clock(strategy, back)
    await eventually(lambda: _bus_has(broker, 1), timeout=10, what="the late ReviewDue event")
    assert await Scheduler([ReviewDueJob()]).tick(strategy) == 0
    await eventually(lambda: outbox_sent(strategy), timeout=10, what="the outbox to drain")

    [review] = reviews_on_bus(broker)
    assert review.late is True
    assert (review.due_at, review.due_date, review.fired_at) == (FIRST_DUE, date(2025, 4, 30), back)
    assert await fires_recorded(strategy) == 1
    assert reminders_fired(late=True) == fired_late + 1
    schedule = await schedule_of(strategy, "c-1")
    assert schedule is not None
    # The missed July and October dates are not replayed; the next one is in the future.
    assert schedule.next_due_at == datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
    assert schedule.next_due_at > back
    assert schedule.last_fired_due_at == FIRST_DUE


async def test_new_schedules_take_the_configured_default_cadence(tmp_path: Path, broker: InMemoryBroker) -> None:
    runtime = strategy_runtime(
        sqlite_url(tmp_path), broker, default_cadence="six_monthly", default_timezone="America/New_York"
    )
    await runtime.start()
    try:
        await publish(broker, partners_matched(cluster_id="c-ny"))
        schedule = await eventually(lambda: schedule_of(runtime, "c-ny"), timeout=10, what="a review schedule")
    finally:
        await runtime.stop()
    assert (schedule.cadence, schedule.timezone) == ("six_monthly", "America/New_York")
    # 31 January 04:00 EST → 31 July 04:00 EDT
    assert schedule.next_due_at == datetime(2025, 7, 31, 8, 0, tzinfo=UTC)


async def _bus_has(broker: InMemoryBroker, count: int) -> bool:
    return len(reviews_on_bus(broker)) >= count


async def _runs(runtime: ServiceRuntime, count: int) -> bool:
    return await count_rows(runtime, match_runs) >= count
