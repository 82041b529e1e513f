"""The strategy REST API: schedules, strategies with objectives and KPIs, and recording reviews."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.integration.strategy.conftest import (
    FIRST_DUE,
    SECOND_DUE,
    START,
    move_clock,
    ok,
    partners_matched,
    problem,
    publish,
    reviews_on_bus,
    schedule_of,
    tick,
)
from tests.support.polling import eventually
from trellis_common.bus.memory import InMemoryBroker
from trellis_common.events import MemberChanged, MemberContext, ReminderKind
from trellis_common.runtime import ServiceRuntime

# --- the cluster's schedule ----------------------------------------------------------------------------------


async def test_no_schedule_is_a_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/clusters/unknown/schedule")
    assert response.status_code == 404
    assert "unknown" in response.json()["detail"]


async def test_put_creates_then_changes_the_schedule(api: httpx.AsyncClient) -> None:
    created = await api.put(
        "/clusters/c-9/schedule",
        json={"cadence": "six_monthly", "timezone": "America/New_York", "strategy_title": "Green"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["cadence"], body["strategy_title"], body["strategy_type"]) == ("six_monthly", "Green", "overall")
    assert datetime.fromisoformat(body["anchor_at"]) == START
    # 31 January 04:00 EST → 31 July 04:00 EDT
    assert datetime.fromisoformat(body["next_due_at"]) == datetime(2025, 7, 31, 8, 0, tzinfo=UTC)
    assert body["next_due_local"] == "2025-07-31T04:00:00-04:00"
    assert body["next_due_date"] == "2025-07-31"
    assert (body["anchor_mode"], body["lead_days"], body["escalate_after_days"], body["status"]) == (
        "calendar",
        [14, 1],
        14,
        "on_schedule",
    )
    assert [d[:10] for d in body["upcoming"]] == ["2025-07-31", "2026-01-31", "2026-07-31", "2027-01-31"]
    assert (await api.get("/clusters/c-9/schedule")).json() == body

    changed = await api.put(
        "/clusters/c-9/schedule",
        json={"cadence": {"rrule": "freq=monthly;interval=2;byday=1mo"}, "lead_days": [7], "escalate_after_days": None},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["cadence"] == {"rrule": "FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO"}
    assert (body["timezone"], body["strategy_title"]) == ("America/New_York", "Green")  # kept
    assert body["next_due_local"] == "2025-03-03T04:00:00-05:00"  # first Monday of March, anchor's time
    assert (body["lead_days"], body["escalate_after_days"]) == ([7], None)
    assert body["next_reminder_at"] == "2025-02-24T09:00:00Z"  # a week ahead, 04:00 EST
    strategies = await ok(await api.get("/clusters/c-9/strategies"))
    assert [(s["type"], s["title"]) for s in strategies["items"]] == [("overall", "Green")]


async def test_renaming_keeps_a_due_date_that_has_not_fired_yet(
    strategy_by_hand: ServiceRuntime, api_by_hand: httpx.AsyncClient, broker: InMemoryBroker
) -> None:
    # The scheduler ticks by hand: a worker woken by the new schedule could tick after the clock moved and fire
    # the date before the rename (seen once in CI).
    strategy, api = strategy_by_hand, api_by_hand
    await publish(broker, partners_matched())
    await eventually(lambda: schedule_of(strategy, "c-1"), timeout=10, what="a review schedule")
    move_clock(strategy, FIRST_DUE + timedelta(seconds=1), wake=False)  # due, not fired yet
    renamed = await api.put("/clusters/c-1/schedule", json={"cadence": "quarterly", "strategy_title": "Digital 2030"})
    assert renamed.status_code == 200, renamed.text
    assert datetime.fromisoformat(renamed.json()["next_due_at"]) == FIRST_DUE
    assert renamed.json()["status"] == "overdue"  # the date has passed without a review
    assert await tick(strategy) == 1
    reviews = await eventually(lambda: _reviews(strategy, broker), timeout=10, what="the ReviewDue event")
    assert (reviews[0].strategy_title, reviews[0].kind) == ("Digital 2030", ReminderKind.DUE)


async def test_a_new_anchor_moves_the_series(api: httpx.AsyncClient) -> None:
    response = await api.put(
        "/clusters/c-3/schedule", json={"cadence": "quarterly", "anchor_at": "2025-03-31T09:00:00+02:00"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["next_due_local"] == "2025-03-31T09:00:00+02:00"  # the anchor is still ahead


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"cadence": "monthly"}, "cadence.named: Input should be 'quarterly' or 'six_monthly'"),
        ({"cadence": {"rrule": "FREQ=HOURLY"}}, "FREQ=HOURLY is too frequent for strategy reviews"),
        ({"cadence": {"rrule": "FREQ=MONTHLY;COUNT=3"}}, "COUNT is not allowed"),
        ({"cadence": {"rrule": "not a rule"}}, "one line of NAME=VALUE parts"),
        ({"cadence": {"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31"}}, "never occurs"),
        ({"cadence": {"rrule": "FREQ=MONTHLY", "dtstart": "x"}}, "Extra inputs are not permitted"),
        ({"cadence": "quarterly", "timezone": "Europe/Atlantis"}, "unknown IANA time zone 'Europe/Atlantis'"),
        ({"cadence": "quarterly", "timezone": "../../etc/passwd"}, "unknown IANA time zone"),
        ({"cadence": "quarterly", "anchor_at": "2025-01-01T00:00:00"}, "timezone"),
        ({"cadence": "quarterly", "strategy_title": ""}, "strategy_title"),
        ({"cadence": "quarterly", "anchor_at": "0001-01-01T00:00:00+00:00"}, "anchor_at must lie between 1970"),
        ({"timezone": "Europe/Brussels"}, "cadence: Field required"),
        ({"cadence": "quarterly", "colour": "blue"}, "Extra inputs are not permitted"),
        ({"cadence": "quarterly", "lead_days": [14, 14]}, "lead_days: Value error, lead_days must not repeat"),
        ({"cadence": "quarterly", "lead_days": [0]}, "lead_days.0: Input should be greater than or equal to 1"),
        ({"cadence": "quarterly", "escalate_after_days": 400}, "escalate_after_days: Input should be less than"),
        ({"cadence": "quarterly", "anchor_mode": "whenever"}, "anchor_mode: Input should be 'calendar' or"),
        (
            {"cadence": {"rrule": "FREQ=WEEKLY;BYDAY=MO"}, "lead_days": [7, 1]},
            "body.lead_days: a reminder 7 days ahead would come before the previous review date",
        ),
        # Valid on its own, but with this anchor (January) INTERVAL=12 never reaches June.
        ({"cadence": {"rrule": "FREQ=MONTHLY;INTERVAL=12;BYMONTH=6"}}, "body.cadence: the cadence"),
    ],
)
async def test_bad_schedules_are_a_422_that_says_why(
    refusing_api: httpx.AsyncClient, body: dict[str, Any], message: str
) -> None:
    response = await refusing_api.put("/clusters/c-1/schedule", json=body)
    assert message in problem(response)
    assert (await refusing_api.get("/clusters/c-1/schedule")).status_code == 404


async def test_cluster_ids_are_bounded(refusing_api: httpx.AsyncClient) -> None:
    response = await refusing_api.put(f"/clusters/{'x' * 129}/schedule", json={"cadence": "quarterly"})
    assert response.status_code == 422


async def test_actions_are_listed_pooled_first(
    strategy: ServiceRuntime, api: httpx.AsyncClient, broker: InMemoryBroker
) -> None:
    assert (await api.get("/clusters/c-1/actions")).json() == {
        "cluster_id": "c-1",
        "items": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
    }
    event_id = await publish(broker, partners_matched())

    async def listed() -> dict[str, Any] | None:
        page: dict[str, Any] = (await api.get("/clusters/c-1/actions")).json()
        return page if page["total"] == 2 else None

    page = await eventually(listed, timeout=10, what="two proposed actions")
    assert [(item["kind"], item["text"]) for item in page["items"]] == [
        (
            "pooled_offer",
            "3 members share a gap in Managing data, information and digital content; "
            "pooled Data bootcamp from KU Leuven",
        ),
        (
            "member_partner",
            "A member organisation could work with DIH Flanders on Identifying needs and technological responses",
        ),
    ]
    assert {item["source_event_id"] for item in page["items"]} == {event_id}
    assert all(item["reviewed_at"] is None for item in page["items"])
    # The member's name arrives later (another topic): the agenda names it from then on; a tombstone unnames it.
    await publish(broker, MemberChanged(
        cluster_id="c-1", member_id="m-1", name="Huber Präzision GmbH", cluster_name="Danube Mechatronics",
        context=MemberContext(), changed_at=START,
    ))  # fmt: skip

    async def named() -> list[str] | None:
        texts = [item["text"] for item in (await api.get("/clusters/c-1/actions")).json()["items"]]
        return texts if texts[1].startswith("Huber Präzision GmbH could work with DIH Flanders") else None

    await eventually(named, timeout=10, what="the member's name on its action")
    second = (await api.get("/clusters/c-1/actions", params={"limit": 1, "offset": 1})).json()
    assert [item["kind"] for item in second["items"]] == ["member_partner"]
    assert (await api.get("/clusters/c-1/actions", params={"limit": 0})).status_code == 422


# --- strategies, objectives, KPIs ---------------------------------------------------------------------------

HAMBURG_LIKE: dict[str, Any] = {
    "type": "internationalisation_strategy",
    "title": "International network compass",
    "phase": "choice",
    "owners": [
        {"contact_id": "contact-7", "role": "cluster_manager"},
        {"contact_id": "contact-9", "role": "board_member"},
    ],
    "objectives": [
        {
            "title": "Bring more SME members to international markets",
            "kpis": [
                {
                    "name": "SME members active internationally",
                    "unit": "%",
                    "baseline": 30,
                    "baseline_date": "2024-01-31",
                    "target": 42,
                    "target_date": "2026-01-31",
                }
            ],
        }
    ],
    "kpis": [
        {
            "name": "CO₂ emissions of cluster events",
            "unit": "t CO₂e",
            "baseline": 100,
            "baseline_date": "2024-01-31",
            "target": 60,
            "target_date": "2026-01-31",
        }
    ],
    "schedule": {"cadence": "quarterly", "timezone": "Europe/Berlin", "lead_days": [7]},
}


async def test_a_strategy_with_objectives_kpis_owners_and_schedule(api: httpx.AsyncClient) -> None:
    created = await ok(await api.post("/clusters/c-hh/strategies", json=HAMBURG_LIKE), 201)
    assert (created["type"], created["phase"], created["title"], created["archived"]) == (
        "internationalisation_strategy",
        "choice",
        "International network compass",
        False,
    )
    assert created["owners"] == HAMBURG_LIKE["owners"]
    [objective] = created["objectives"]
    share, co2 = sorted(created["kpis"], key=lambda k: k["name"], reverse=True)
    assert objective["kpi_ids"] == [share["id"]] and share["objective_id"] == objective["id"]
    assert co2["objective_id"] is None
    assert (share["status"], share["progress"], share["measurements"]) == ("no_data", None, [])
    schedule = created["schedule"]
    assert (schedule["cadence"], schedule["timezone"], schedule["lead_days"]) == ("quarterly", "Europe/Berlin", [7])
    assert schedule["next_due_local"] == "2025-04-30T10:00:00+02:00"
    assert created["open_actions"] == 0 and created["last_review"] is None

    # Measurements: progress = (latest − baseline) / (target − baseline); on track against a straight line.
    path = f"/strategies/{created['id']}/kpis/{share['id']}/measurements"
    measured = await ok(await api.post(path, json={"value": 36, "measured_on": "2025-01-31", "note": "survey"}), 201)
    assert (measured["latest"], measured["latest_on"], measured["progress"], measured["expected"]) == (
        36.0,
        "2025-01-31",
        0.5,
        0.5007,  # 366 of the 731 days from baseline to target
    )
    assert measured["status"] == "on_track"
    assert "progress = (36 − 30) / (42 − 30) = 50%" in measured["explanation"]
    corrected = await api.post(path, json={"value": 33, "measured_on": "2025-01-31"})
    assert corrected.status_code == 200, corrected.text  # the day's value corrected, not added
    assert (corrected.json()["status"], len(corrected.json()["measurements"])) == ("behind", 1)
    reduction = await ok(
        await api.post(f"/strategies/{created['id']}/kpis/{co2['id']}/measurements", json={"value": 55}), 201
    )
    assert (reduction["latest_on"], reduction["progress"], reduction["status"]) == ("2025-01-31", 1.125, "achieved")

    fetched = await ok(await api.get(f"/strategies/{created['id']}"))
    assert [k["status"] for k in fetched["kpis"]] == ["achieved", "behind"]  # the order they were added
    assert (await ok(await api.get(f"/strategies/{created['id']}/kpis/{share['id']}")))["latest"] == 33.0

    patched = await ok(
        await api.patch(
            f"/strategies/{created['id']}",
            json={"phase": "action", "owners": [{"contact_id": "contact-7", "role": "cluster_manager"}]},
        )
    )
    assert (patched["phase"], len(patched["owners"])) == ("action", 1)
    back = await ok(await api.patch(f"/strategies/{created['id']}", json={"phase": "diagnostics"}))
    assert back["phase"] == "diagnostics"  # going back to the diagnosis is always allowed

    added = await ok(
        await api.post(
            f"/strategies/{created['id']}/objectives",
            json={"title": "Partners in two new regions", "kpis": [HAMBURG_LIKE["kpis"][0] | {"name": "Partners"}]},
        ),
        201,
    )
    assert len(added["kpi_ids"]) == 1
    assert (await api.delete(f"/strategies/{created['id']}/objectives/{added['id']}")).status_code == 204
    after = await ok(await api.get(f"/strategies/{created['id']}"))
    assert len(after["objectives"]) == 1 and len(after["kpis"]) == 3  # the KPI stays, detached
    assert after["kpis"][2]["objective_id"] is None
    assert (await api.delete(f"/strategies/{created['id']}/kpis/{after['kpis'][2]['id']}")).status_code == 204
    assert (await api.delete(f"{path}/2025-01-31")).status_code == 204
    assert (await ok(await api.get(f"/strategies/{created['id']}/kpis/{share['id']}")))["status"] == "no_data"


async def test_one_overall_strategy_per_cluster(api: httpx.AsyncClient) -> None:
    first = await ok(await api.post("/clusters/c-4/strategies", json={"type": "overall", "title": "Cluster 2030"}), 201)
    second = await api.post("/clusters/c-4/strategies", json={"type": "overall"})
    assert second.status_code == 409 and first["id"] in second.json()["detail"]
    # The cluster's schedule is the overall strategy's; thematic plans may be several.
    assert (await ok(await api.get("/clusters/c-4/schedule")))["strategy_id"] == first["id"]
    for _ in range(2):
        await ok(await api.post("/clusters/c-4/strategies", json={"type": "green_action_plan"}), 201)
    titles = [(s["type"], s["title"]) for s in (await ok(await api.get("/clusters/c-4/strategies")))["items"]]
    assert titles == [("overall", "Cluster 2030"), *[("green_action_plan", "Green action plan")] * 2]
    archive = await api.patch(f"/strategies/{first['id']}", json={"archived": True})
    assert archive.status_code == 409


KPI = {"name": "CO₂", "unit": "t", "baseline": 100, "target": 60, "target_date": "2026-01-31"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "masterplan"}, "type: Input should be 'overall', 'green_action_plan'"),
        ({"type": "overall", "phase": "dreaming"}, "phase: Input should be 'diagnostics', 'choice' or 'action'"),
        ({"type": "overall", "title": ""}, "title: String should have at least 1 character"),
        ({"type": "overall", "owners": [{"contact_id": "c-1", "role": "member_contact"}]}, "owners.0.role"),
        (
            {"type": "overall", "owners": [{"contact_id": "c-1", "role": "board_member"}] * 2},
            "each contact_id may own a strategy once",
        ),
        ({"type": "overall", "owners": [{"contact_id": "a b", "role": "board_member"}]}, "owners.0.contact_id"),
        ({"type": "overall", "kpis": [KPI | {"target": 100}]}, "target must differ from baseline"),
        ({"type": "overall", "kpis": [KPI | {"baseline_date": "2026-02-01"}]}, "target_date must come after"),
        ({"type": "overall", "kpis": [KPI | {"target_date": "2024-12-31"}]}, "body.kpis.0: target_date must come"),
        ({"type": "overall", "kpis": [KPI | {"unit": ""}]}, "kpis.0.unit"),
        ({"type": "overall", "kpis": [KPI | {"target": "lots"}]}, "kpis.0.target"),
        ({"type": "overall", "kpis": [KPI | {"target": 1e300}]}, "kpis.0.target: Input should be less than"),
        ({"type": "overall", "objectives": [{"title": "x", "kpis": [KPI | {"objective_id": "o"}]}]}, "objectives"),
        ({"type": "overall", "schedule": {"cadence": "weekly"}}, "schedule.cadence.named"),
        (
            {"type": "overall", "schedule": {"cadence": {"rrule": "FREQ=MONTHLY;INTERVAL=12;BYMONTH=6"}}},
            "body.schedule.cadence: the cadence",
        ),
    ],
)
async def test_bad_strategies_are_a_422_that_names_the_field(
    refusing_api: httpx.AsyncClient, body: dict[str, Any], message: str
) -> None:
    assert message in problem(await refusing_api.post("/clusters/c-1/strategies", json=body))
    assert (await ok(await refusing_api.get("/clusters/c-1/strategies")))["items"] == []


async def test_bad_changes_are_a_4xx_that_says_why(api: httpx.AsyncClient) -> None:
    created = await ok(
        await api.post("/clusters/c-1/strategies", json={"type": "digital_skills_plan", "kpis": [KPI]}), 201
    )
    sid, kid = created["id"], created["kpis"][0]["id"]
    skip = await api.patch(f"/strategies/{sid}", json={"phase": "action"})
    assert "phase: a strategy moves diagnostics → choice → action one step at a time" in problem(skip)
    assert "title: a strategy needs a title" in problem(await api.patch(f"/strategies/{sid}", json={"title": None}))
    measurements = f"/strategies/{sid}/kpis/{kid}/measurements"
    assert "measured_on 2025-02-01 is in the future" in problem(
        await api.post(measurements, json={"value": 1, "measured_on": "2025-02-01"})
    )
    assert "is before the baseline date 2025-01-31" in problem(
        await api.post(measurements, json={"value": 1, "measured_on": "2025-01-30"})
    )
    nan = await api.post(
        measurements, content=json.dumps({"value": float("nan")}), headers={"content-type": "application/json"}
    )
    assert "value: Input should be a finite number" in problem(nan)
    assert "target must differ from baseline" in problem(
        await api.patch(f"/strategies/{sid}/kpis/{kid}", json={"target": 100})
    )
    assert "objective_id: the strategy has no objective 'nope'" in problem(
        await api.post(f"/strategies/{sid}/kpis", json=KPI | {"objective_id": "nope"})
    )
    assert "name cannot be null" in problem(await api.patch(f"/strategies/{sid}/kpis/{kid}", json={"name": None}))
    assert (await api.get("/strategies/unknown")).status_code == 404
    assert (await api.get(f"/strategies/{sid}/kpis/unknown")).status_code == 404
    assert (await api.delete(f"{measurements}/2025-01-31")).status_code == 404


# --- recording reviews ---------------------------------------------------------------------------------------


async def test_recording_a_review_closes_the_period_and_sets_the_next_date(
    strategy_by_hand: ServiceRuntime, api_by_hand: httpx.AsyncClient, broker: InMemoryBroker
) -> None:
    # Time moves by hand and each tick's count is checked: no scheduler worker may fire beside the test.
    strategy, api = strategy_by_hand, api_by_hand
    await publish(broker, partners_matched(member_id="m-1"))
    schedule = await eventually(lambda: schedule_of(strategy, "c-1"), timeout=10, what="a review schedule")
    sid = schedule.strategy_id
    kpi = (await ok(await api.post(f"/strategies/{sid}/kpis", json=KPI), 201))["id"]
    await ok(await api.post(f"/strategies/{sid}/kpis/{kpi}/measurements", json={"value": 90}), 201)

    # The review date passes unreviewed: overdue, and the calendar has moved on to July.
    move_clock(strategy, FIRST_DUE + timedelta(minutes=1), wake=False)
    assert await tick(strategy) == 1
    overdue = await ok(await api.get("/clusters/c-1/schedule"))
    assert (overdue["status"], overdue["overdue_since"], overdue["missed_reviews"]) == (
        "overdue",
        "2025-04-30T08:00:00Z",
        1,
    )

    held = FIRST_DUE + timedelta(days=3)
    move_clock(strategy, held + timedelta(hours=2), wake=False)
    record = {
        "held_at": held.isoformat(),
        "notes": "Pooled bootcamp agreed.",
        "decisions": ["Book the KU Leuven bootcamp"],
        "phase": "choice",
    }
    review = await ok(await api.post(f"/strategies/{sid}/reviews", json=record), 201)
    assert (review["closed_due_at"], review["next_due_at"], review["phase"]) == (
        "2025-04-30T08:00:00Z",
        "2025-07-31T08:00:00Z",  # calendar anchoring: the series' next date
        "choice",
    )
    assert review["actions_reviewed"] == 2
    [snapshot] = review["kpi_snapshot"]
    assert (snapshot["latest"], snapshot["progress"], snapshot["status"]) == (90.0, 0.25, "on_track")
    after = await ok(await api.get(f"/strategies/{sid}"))
    assert (after["phase"], after["open_actions"], after["last_review"]["id"]) == ("choice", 0, review["id"])
    assert (after["schedule"]["status"], after["schedule"]["overdue_since"]) == ("on_schedule", None)
    assert (await ok(await api.get("/clusters/c-1/actions", params={"include_reviewed": True})))["total"] == 2

    # No escalation for a review that was held; the next reminder's agenda starts at the review.
    move_clock(strategy, FIRST_DUE + timedelta(days=15), wake=False)
    assert await tick(strategy) == 0
    await publish(broker, partners_matched(member_id="m-2", pool_size=4))
    await eventually(lambda: _open_count(api, 2), timeout=10, what="the new match's actions")
    move_clock(strategy, SECOND_DUE, wake=False)
    assert await tick(strategy) == 1
    due = (await eventually(lambda: _on_bus(broker, 2), timeout=10, what="the July reminder"))[-1]
    assert (due.kind, due.due_at, due.overdue_since, due.missed_reviews) == (ReminderKind.DUE, SECOND_DUE, None, 0)
    assert (due.agenda.since, due.agenda.new_matches, len(due.agenda.proposed_actions)) == (held, 1, 2)
    assert [k.status for k in due.agenda.kpis] == ["on_track"]

    page = await ok(await api.get(f"/strategies/{sid}/reviews"))
    assert (page["total"], page["items"][0]["decisions"]) == (1, ["Book the KU Leuven bootcamp"])


async def test_a_review_anchors_the_next_date_to_itself_when_asked(
    strategy: ServiceRuntime, api: httpx.AsyncClient
) -> None:
    created = await ok(
        await api.post(
            "/clusters/c-7/strategies",
            json={"type": "green_action_plan", "schedule": {"cadence": "quarterly", "anchor_mode": "review_date"}},
        ),
        201,
    )
    sid = created["id"]
    early = datetime(2025, 4, 12, 13, 30, tzinfo=UTC)  # a review held before its date (30 April) counts for it
    move_clock(strategy, early, wake=False)
    review = await ok(await api.post(f"/strategies/{sid}/reviews", json={}), 201)
    assert (review["closed_due_at"], review["next_due_at"]) == ("2025-04-30T08:00:00Z", "2025-07-12T13:30:00Z")
    schedule = await ok(await api.get(f"/strategies/{sid}/schedule"))
    assert [d[:10] for d in schedule["upcoming"]] == ["2025-07-12", "2025-10-12", "2026-01-12", "2026-04-12"]

    later = await api.post(f"/strategies/{sid}/reviews", json={"held_at": (early - timedelta(days=1)).isoformat()})
    assert "held_at: held_at is before the last recorded review" in problem(later)
    ahead = await api.post(f"/strategies/{sid}/reviews", json={"held_at": (early + timedelta(hours=1)).isoformat()})
    assert "held_at: a review cannot be recorded before it is held" in problem(ahead)
    assert "decisions.0" in problem(await api.post(f"/strategies/{sid}/reviews", json={"decisions": [""]}))
    skip = await api.post(f"/strategies/{sid}/reviews", json={"phase": "action"})
    assert "phase: a strategy moves" in problem(skip)


async def _reviews(strategy: ServiceRuntime, broker: InMemoryBroker) -> list[Any]:
    return reviews_on_bus(broker)


async def _on_bus(broker: InMemoryBroker, count: int) -> list[Any] | None:
    reviews = reviews_on_bus(broker)
    return reviews if len(reviews) >= count else None


async def _open_count(api: httpx.AsyncClient, count: int) -> bool:
    return bool((await api.get("/clusters/c-1/actions")).json()["total"] >= count)
