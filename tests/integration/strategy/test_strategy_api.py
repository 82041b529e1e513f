"""The strategy REST API: read and set a cluster's review schedule, list its proposed actions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.integration.strategy.conftest import (
    FIRST_DUE,
    START,
    move_clock,
    partners_matched,
    publish,
    reviews_on_bus,
    schedule_of,
)
from tests.support.polling import eventually
from trellis_common.app import create_app
from trellis_common.bus.memory import InMemoryBroker
from trellis_common.runtime import ServiceRuntime
from trellis_strategy.service import DEFINITION


@pytest.fixture
async def api(strategy: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(DEFINITION, runtime=strategy, manage_runtime=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://strategy") as client:
        yield client


def problem(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    return " ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in response.json()["detail"])


async def test_no_schedule_is_a_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/clusters/unknown/schedule")
    assert response.status_code == 404
    assert "unknown" in response.json()["detail"]


async def test_put_creates_then_changes_the_schedule(api: httpx.AsyncClient) -> None:
    created = await api.put("/clusters/c-9/schedule",
                            json={"cadence": "six_monthly", "timezone": "America/New_York", "strategy_title": "Green"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["cadence"] == "six_monthly"
    assert body["strategy_title"] == "Green"
    assert datetime.fromisoformat(body["anchor_at"]) == START
    # 31 January 04:00 EST → 31 July 04:00 EDT
    assert datetime.fromisoformat(body["next_due_at"]) == datetime(2025, 7, 31, 8, 0, tzinfo=UTC)
    assert body["next_due_local"] == "2025-07-31T04:00:00-04:00"
    assert body["next_due_date"] == "2025-07-31"
    assert (await api.get("/clusters/c-9/schedule")).json() == body

    changed = await api.put("/clusters/c-9/schedule", json={"cadence": {"rrule": "freq=monthly;interval=2;byday=1mo"}})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["cadence"] == {"rrule": "FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO"}
    assert (body["timezone"], body["strategy_title"]) == ("America/New_York", "Green")  # kept
    assert body["next_due_local"] == "2025-03-03T04:00:00-05:00"  # first Monday of March, anchor's time


async def test_renaming_keeps_a_due_date_that_has_not_fired_yet(
    strategy: ServiceRuntime, api: httpx.AsyncClient, broker: InMemoryBroker
) -> None:
    await publish(broker, partners_matched())
    await eventually(lambda: schedule_of(strategy, "c-1"), timeout=10, what="a review schedule")
    move_clock(strategy, FIRST_DUE + timedelta(seconds=1), wake=False)  # due, the worker not yet woken
    renamed = await api.put("/clusters/c-1/schedule", json={"cadence": "quarterly", "strategy_title": "Digital 2030"})
    assert renamed.status_code == 200, renamed.text
    assert datetime.fromisoformat(renamed.json()["next_due_at"]) == FIRST_DUE
    strategy.wake_workers()
    await eventually(lambda: _reviews(broker), timeout=10, what="the ReviewDue event")
    assert reviews_on_bus(broker)[0].strategy_title == "Digital 2030"


async def test_a_new_anchor_moves_the_series(api: httpx.AsyncClient) -> None:
    response = await api.put("/clusters/c-3/schedule",
                             json={"cadence": "quarterly", "anchor_at": "2025-03-31T09:00:00+02:00"})
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
        # Valid on its own, but with this anchor (January) INTERVAL=12 never reaches June.
        ({"cadence": {"rrule": "FREQ=MONTHLY;INTERVAL=12;BYMONTH=6"}}, "has no review date"),
    ],
)
async def test_bad_input_is_a_422_that_says_why(api: httpx.AsyncClient, body: dict[str, Any], message: str) -> None:
    response = await api.put("/clusters/c-1/schedule", json=body)
    assert message in problem(response)
    assert (await api.get("/clusters/c-1/schedule")).status_code == 404


async def test_cluster_ids_are_bounded(api: httpx.AsyncClient) -> None:
    response = await api.put(f"/clusters/{'x' * 129}/schedule", json={"cadence": "quarterly"})
    assert response.status_code == 422


async def test_actions_are_listed_pooled_first(
    strategy: ServiceRuntime, api: httpx.AsyncClient, broker: InMemoryBroker
) -> None:
    assert (await api.get("/clusters/c-1/actions")).json() == {
        "cluster_id": "c-1", "items": [], "total": 0, "limit": 50, "offset": 0
    }
    event_id = await publish(broker, partners_matched())

    async def listed() -> dict[str, Any] | None:
        page: dict[str, Any] = (await api.get("/clusters/c-1/actions")).json()
        return page if page["total"] == 2 else None

    page = await eventually(listed, timeout=10, what="two proposed actions")
    assert [(item["kind"], item["text"]) for item in page["items"]] == [
        ("pooled_offer", "3 members share a digcomp:1.3 gap; pooled Data bootcamp from KU Leuven"),
        ("member_partner", "Member m-1 could work with DIH Flanders on digcomp:5.2"),
    ]
    assert {item["source_event_id"] for item in page["items"]} == {event_id}
    assert all(item["reviewed_at"] is None for item in page["items"])
    second = (await api.get("/clusters/c-1/actions", params={"limit": 1, "offset": 1})).json()
    assert [item["kind"] for item in second["items"]] == ["member_partner"]
    assert (await api.get("/clusters/c-1/actions", params={"limit": 0})).status_code == 422


async def _reviews(broker: InMemoryBroker) -> bool:
    return bool(reviews_on_bus(broker))
