"""The strategy service in-process: matches and gaps build the agenda; each reminder fires once, when planned."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from tests.integration.strategy.conftest import (
    FIRST_DUE,
    SECOND_DUE,
    START,
    THIRD_DUE,
    action_count,
    count_rows,
    fires_recorded,
    gaps_assessed,
    move_clock,
    ok,
    open_actions,
    outbox_sent,
    overall_of,
    partners_matched,
    publish,
    reminders_fired,
    review_events_written,
    reviews_on_bus,
    schedule_of,
    sqlite_url,
    strategy_runtime,
    tick,
)
from tests.support.polling import eventually
from trellis_common.bus.memory import InMemoryBroker
from trellis_common.events import AgendaActionKind, ContactRole, ReminderKind, ReviewDue
from trellis_common.runtime import ServiceRuntime
from trellis_strategy.models import gap_assessments, match_runs
from trellis_strategy.repositories import schedules, strategies

POOL_LINE = (
    "3 members share a gap in Managing data, information and digital content; pooled Data bootcamp from KU Leuven"
)
MEMBER_LINE = "A member organisation could work with DIH Flanders on Identifying needs and technological responses"


async def _bus_has(broker: InMemoryBroker, count: int) -> list[ReviewDue] | None:
    reviews = reviews_on_bus(broker)
    return reviews if len(reviews) >= count else None


async def _runs(runtime: ServiceRuntime, count: int) -> bool:
    return await count_rows(runtime, match_runs) >= count


async def test_a_match_gives_the_cluster_an_overall_strategy_with_a_schedule_and_actions(
    strategy: ServiceRuntime, broker: InMemoryBroker
) -> None:
    await publish(broker, partners_matched())
    schedule = await eventually(lambda: schedule_of(strategy, "c-1"), timeout=10, what="a review schedule")
    overall = await overall_of(strategy, "c-1")
    assert overall is not None
    assert (overall.id, overall.type, overall.phase, overall.title, overall.owners) == (
        strategies.default_strategy_id("c-1"),
        "overall",
        "diagnostics",
        "Cluster strategy",
        [],
    )
    assert (schedule.strategy_id, schedule.cadence, schedule.timezone, schedule.anchor_mode) == (
        overall.id,
        "quarterly",
        "Europe/Brussels",
        "calendar",
    )
    assert (schedule.lead_days, schedule.escalate_after_days) == ([14, 1], 14)
    assert schedule.anchor_at == START
    assert schedule.next_due_at == FIRST_DUE
    # The first thing to send is the reminder 14 days ahead, at the review's local time of day.
    assert schedule.next_reminder_at == datetime(2025, 4, 16, 8, 0, tzinfo=UTC)
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
    assert await count_rows(strategy, match_runs) == 2
    assert (await schedule_of(strategy, "c-1")).next_due_at == FIRST_DUE  # type: ignore[union-attr]


async def test_a_growing_pool_refreshes_its_line(strategy: ServiceRuntime, broker: InMemoryBroker) -> None:
    await publish(broker, partners_matched(member_id="m-1", pool_size=3))
    await publish(broker, partners_matched(member_id="m-2", pool_size=4))

    async def refreshed() -> list[str] | None:
        texts = await open_actions(strategy, "c-1")
        return texts if len(texts) == 3 and texts[0].startswith("4 members") else None

    assert await eventually(refreshed, timeout=10, what="the pool line with four members") == [
        "4 members share a gap in Managing data, information and digital content; pooled Data bootcamp from KU Leuven",
        MEMBER_LINE,
        "A member organisation could work with DIH Flanders on Identifying needs and technological responses",
    ]


async def test_actions_go_to_the_strategy_of_their_theme(
    strategy: ServiceRuntime, api: httpx.AsyncClient, broker: InMemoryBroker
) -> None:
    digital = await ok(await api.post("/clusters/c-1/strategies", json={"type": "digital_skills_plan"}), 201)
    await publish(broker, partners_matched(member_id="m-1"))  # DigComp option and pool
    await publish(broker, partners_matched(member_id="m-2", option_skill="intl:ip-protection", pool_skill="intl:x"))
    await eventually(lambda: _runs(strategy, 2), timeout=10, what="both match runs")
    overall = await overall_of(strategy, "c-1")
    assert overall is not None

    async def texts(strategy_id: str) -> list[str]:
        page = await ok(await api.get("/clusters/c-1/actions", params={"strategy_id": strategy_id}))
        return [item["text"] for item in page["items"]]

    assert await texts(digital["id"]) == [POOL_LINE, MEMBER_LINE]
    assert await texts(overall.id) == [
        "3 members share a gap in a skill outside the taxonomy; pooled Data bootcamp from KU Leuven",
        "A member organisation could work with DIH Flanders on Intellectual property protection abroad",
    ]
    listed = await ok(await api.get("/clusters/c-1/strategies"))
    assert [(s["type"], s["open_actions"]) for s in listed["items"]] == [("overall", 2), ("digital_skills_plan", 2)]


async def test_each_reminder_fires_once_at_its_time_and_the_board_hears_of_an_overdue_review(
    strategy: ServiceRuntime, broker: InMemoryBroker
) -> None:
    await publish(broker, partners_matched(member_id="m-1"))
    await publish(broker, partners_matched(member_id="m-2", pool_size=4))
    await publish(broker, gaps_assessed(member_id="m-3", skills=("digcomp:5.2", "greencomp:1.1")))
    await eventually(lambda: _runs(strategy, 2), timeout=10, what="both match runs")
    await eventually(lambda: count_rows(strategy, gap_assessments), timeout=10, what="the gap assessment")
    schedule = await schedule_of(strategy, "c-1")
    assert schedule is not None
    fired_on_time = reminders_fired(late=False)
    planned = [
        (datetime(2025, 4, 16, 8, 0, tzinfo=UTC), ReminderKind.UPCOMING, 14),  # 14 days ahead, 10:00 local
        (datetime(2025, 4, 29, 8, 0, tzinfo=UTC), ReminderKind.UPCOMING, 1),
        (FIRST_DUE, ReminderKind.DUE, None),
        (FIRST_DUE + timedelta(days=14), ReminderKind.OVERDUE, None),  # no review recorded: escalate
    ]
    for count, (moment, kind, lead) in enumerate(planned, start=1):
        move_clock(strategy, moment - timedelta(seconds=1))
        assert await tick(strategy) == 0, f"nothing before {moment}"
        move_clock(strategy, moment + timedelta(seconds=5))
        reviews = await eventually(partial(_bus_has, broker, count), timeout=10, what=f"reminder {count}")
        assert len(reviews) == count
        review = reviews[-1]
        assert (review.kind, review.lead_days, review.late) == (kind, lead, False)
        assert review.due_at == FIRST_DUE
        assert review.due_date == date(2025, 4, 30)
        assert review.fired_at == moment + timedelta(seconds=5)
        assert await tick(strategy) == 0  # at the same moment, nothing more
    assert reminders_fired(late=False) == fired_on_time + 4

    upcoming, _day_before, due, overdue = reviews_on_bus(broker)
    assert len({r.reminder_id for r in reviews_on_bus(broker)}) == 4
    assert due.reminder_id == schedules.reminder_id(schedule.id, FIRST_DUE, ReminderKind.DUE)
    for review in (upcoming, due):
        assert (review.escalation, review.recipients_role) == (False, ContactRole.CLUSTER_MANAGER)
        assert (review.cluster_id, review.strategy_id, review.strategy_title, review.strategy_type) == (
            "c-1",
            schedule.strategy_id,
            "Cluster strategy",
            "overall",
        )
    assert (overdue.escalation, overdue.recipients_role) == (True, ContactRole.BOARD_MEMBER)
    assert (overdue.overdue_since, overdue.missed_reviews) == (date(2025, 4, 30), 1)
    assert (due.overdue_since, due.missed_reviews) == (None, 0)  # due today, not yet missed
    assert (upcoming.overdue_since, upcoming.missed_reviews) == (None, 0)
    # The agenda: everything since the strategy began (no review yet), pooled offers first.
    agenda = due.agenda
    assert (agenda.new_matches, agenda.members_with_gaps, agenda.since) == (2, 3, None)
    assert [(g.skill_code, g.members) for g in agenda.top_gaps] == [("digcomp:5.2", 1), ("greencomp:1.1", 1)]
    assert agenda.proposed_actions[0].startswith("4 members share a gap in Managing data")
    assert len(agenda.proposed_actions) == 3
    # The same actions as data, in the same order, for readers of other languages.
    assert [a.kind for a in agenda.actions] == [AgendaActionKind.POOLED_OFFER] + [AgendaActionKind.MEMBER_PARTNER] * 2
    pooled = agenda.actions[0]
    assert (pooled.member_count, pooled.skill_code, pooled.member_name) == (4, "digcomp:1.3", None)
    assert pooled.offer_title and pooled.partner_name and str(pooled.member_count) in agenda.proposed_actions[0]
    assert all(a.partner_name in text for a, text in zip(agenda.actions, agenda.proposed_actions, strict=True))
    assert agenda.kpis == []

    await eventually(lambda: outbox_sent(strategy), timeout=10, what="the outbox to drain")
    assert await review_events_written(strategy) == 4
    assert await fires_recorded(strategy) == 4
    after = await schedule_of(strategy, "c-1")
    assert after is not None
    assert (after.next_due_at, after.overdue_since, after.missed_reviews, after.escalated) == (
        SECOND_DUE,
        FIRST_DUE,
        1,
        True,
    )
    # The board hears once per overdue spell: the next period brings manager reminders only.
    move_clock(strategy, SECOND_DUE + timedelta(seconds=5))
    reviews = await eventually(lambda: _bus_has(broker, 5), timeout=10, what="the second due reminder")
    second_due = reviews[-1]
    assert (second_due.kind, second_due.due_at, second_due.escalation) == (ReminderKind.DUE, SECOND_DUE, False)
    assert (second_due.overdue_since, second_due.missed_reviews) == (date(2025, 4, 30), 1)
    # Jumping over 17 July: the 14-day reminder folded into the due one, which is on time.
    assert reviews[-1].late is False and len(reviews) == 5


async def test_two_replicas_fire_each_due_date_once(tmp_path: Path, broker: InMemoryBroker) -> None:
    url = sqlite_url(tmp_path)
    # One reminder per review date.
    plain: dict[str, Any] = {"default_lead_days": [], "default_escalate_after_days": None}
    # Ticks are driven by hand; one replica consumes and relays, the other only runs the schedule.
    first = strategy_runtime(url, broker, workers=False, **plain)
    second = strategy_runtime(url, broker, workers=False, consume=False, relay=False, **plain)
    await first.start()
    await second.start()
    try:
        clusters = [f"c-{n}" for n in range(5)]
        for cluster in clusters:
            await publish(broker, partners_matched(cluster_id=cluster, member_id=f"m-{cluster}"))
        await eventually(lambda: schedule_of(first, clusters[-1]), timeout=10, what="the last schedule")

        for round_, due in enumerate((FIRST_DUE, SECOND_DUE, THIRD_DUE), start=1):
            for replica in (first, second):
                move_clock(replica, due + timedelta(seconds=30), wake=False)
            fired = await asyncio.gather(tick(first), tick(second))
            assert sum(fired) == len(clusters), fired
            assert list(await asyncio.gather(tick(first), tick(second))) == [0, 0]
            assert await fires_recorded(first) == len(clusters) * round_
            # Every fire wrote its event in the same transaction; the relay publishes each once.
            await eventually(lambda: outbox_sent(first), timeout=20, what="the outbox to drain")
            assert len(reviews_on_bus(broker)) == len(clusters) * round_

        reviews = reviews_on_bus(broker)
        assert len({r.reminder_id for r in reviews}) == len({(r.cluster_id, r.due_at) for r in reviews}) == 15
        assert {r.kind for r in reviews} == {ReminderKind.DUE}
    finally:
        await second.stop()
        await first.stop()


async def test_after_a_nine_month_outage_one_late_reminder_fires(
    strategy: ServiceRuntime, broker: InMemoryBroker
) -> None:
    await publish(broker, partners_matched())
    await eventually(lambda: schedule_of(strategy, "c-1"), timeout=10, what="a review schedule")
    fired_late = reminders_fired(late=True)

    back = THIRD_DUE + timedelta(hours=3)  # nine months (and 3 hours) later
    move_clock(strategy, back)
    await eventually(lambda: _bus_has(broker, 1), timeout=10, what="the late ReviewDue event")
    assert await tick(strategy) == 0
    await eventually(lambda: outbox_sent(strategy), timeout=10, what="the outbox to drain")

    # Six upcoming, three due and one escalation were planned meanwhile: one reminder stands for them all.
    [review] = reviews_on_bus(broker)
    assert (review.kind, review.escalation, review.late) == (ReminderKind.OVERDUE, True, True)
    assert (review.due_at, review.due_date, review.fired_at) == (FIRST_DUE, date(2025, 4, 30), back)
    assert (review.overdue_since, review.missed_reviews) == (date(2025, 4, 30), 3)
    assert await fires_recorded(strategy) == 1
    assert reminders_fired(late=True) == fired_late + 1
    schedule = await schedule_of(strategy, "c-1")
    assert schedule is not None
    # The missed dates are not replayed; the next one is in the future.
    assert schedule.next_due_at == datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
    assert schedule.next_reminder_at == datetime(2026, 1, 17, 9, 0, tzinfo=UTC)


async def test_an_archived_strategy_sends_nothing_until_restored(
    strategy: ServiceRuntime, api: httpx.AsyncClient, broker: InMemoryBroker
) -> None:
    green = await ok(await api.post("/clusters/c-5/strategies", json={"type": "green_action_plan"}), 201)
    archived = await ok(await api.patch(f"/strategies/{green['id']}", json={"archived": True}))
    assert archived["archived"] is True and archived["schedule"]["status"] == "archived"
    assert archived["schedule"]["next_reminder_at"] is None
    move_clock(strategy, FIRST_DUE + timedelta(days=20))
    assert await tick(strategy) == 0
    restored = await ok(await api.patch(f"/strategies/{green['id']}", json={"archived": False}))
    # Restored from now on: the missed date is not an overdue spell, the next date is ahead.
    assert restored["schedule"]["status"] == "on_schedule"
    assert datetime.fromisoformat(restored["schedule"]["next_due_at"]) == SECOND_DUE
    assert await tick(strategy) == 0
    assert reviews_on_bus(broker) == []


async def test_new_schedules_take_the_configured_defaults(tmp_path: Path, broker: InMemoryBroker) -> None:
    runtime = strategy_runtime(
        sqlite_url(tmp_path),
        broker,
        default_cadence="six_monthly",
        default_timezone="America/New_York",
        default_lead_days="30,7",
        default_escalate_after_days="",
        default_anchor_mode="review_date",
    )
    await runtime.start()
    try:
        await publish(broker, partners_matched(cluster_id="c-ny"))
        schedule = await eventually(lambda: schedule_of(runtime, "c-ny"), timeout=10, what="a review schedule")
    finally:
        await runtime.stop()
    assert (schedule.cadence, schedule.timezone) == ("six_monthly", "America/New_York")
    assert (schedule.lead_days, schedule.escalate_after_days, schedule.anchor_mode) == ([30, 7], None, "review_date")
    # 31 January 04:00 EST → 31 July 04:00 EDT
    assert schedule.next_due_at == datetime(2025, 7, 31, 8, 0, tzinfo=UTC)
