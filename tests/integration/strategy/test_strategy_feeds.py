"""What managers subscribe to and look at: the iCalendar feed of coming reviews and the KPI progress chart."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import httpx
from icalendar import Calendar

from tests.integration.strategy.conftest import FIRST_DUE, ok, partners_matched, publish, schedule_of
from tests.support.polling import eventually
from trellis_common.bus.memory import InMemoryBroker
from trellis_common.runtime import ServiceRuntime

SVG = "{http://www.w3.org/2000/svg}"


async def _feed(api: httpx.AsyncClient, path: str) -> Calendar:
    response = await api.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    # PRODID, VERSION and at least one component (icalendar leaves validate() unannotated)
    calendar.validate()  # type: ignore[no-untyped-call]
    return calendar


async def test_the_feed_lists_the_next_four_reviews_of_each_strategy(
    strategy: ServiceRuntime, api: httpx.AsyncClient, broker: InMemoryBroker
) -> None:
    await publish(broker, partners_matched())  # the overall strategy, quarterly, 10:00 Brussels time
    await eventually(lambda: schedule_of(strategy, "c-1"), timeout=10, what="a review schedule")
    green = await ok(
        await api.post(
            "/clusters/c-1/strategies",
            json={
                "type": "green_action_plan",
                "title": 'Green plan; "net zero", 2030',
                "schedule": {"cadence": "six_monthly", "timezone": "America/New_York", "anchor_mode": "review_date"},
            },
        ),
        201,
    )
    archived = await ok(await api.post("/clusters/c-1/strategies", json={"type": "digital_skills_plan"}), 201)
    await ok(await api.patch(f"/strategies/{archived['id']}", json={"archived": True}))
    issued = await ok(await api.post("/clusters/c-1/calendar-token"), 201)
    assert issued["path"] == f"/clusters/c-1/reviews.ics?token={issued['token']}"

    calendar = await _feed(api, issued["path"])
    assert (str(calendar["version"]), str(calendar["prodid"])) == ("2.0", "-//Trellis//Strategy reviews//EN")
    assert sorted(str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")) == ["America/New_York", "Europe/Brussels"]
    events = calendar.walk("VEVENT")
    assert len(events) == 8  # the next 4 reviews of each active strategy; the archived one is left out
    by_title: dict[str, list[tuple[datetime, str]]] = {}
    for event in events:
        for required in ("uid", "dtstamp", "dtstart", "duration", "summary"):
            assert required in event, required
        assert event.decoded("duration") == timedelta(hours=1)
        by_title.setdefault(str(event["summary"]), []).append((event.decoded("dtstart"), str(event["status"])))
    overall = by_title["Strategy review: Cluster strategy"]
    assert [start.astimezone(UTC) for start, _ in overall] == [
        FIRST_DUE,
        datetime(2025, 7, 31, 8, 0, tzinfo=UTC),
        datetime(2025, 10, 31, 9, 0, tzinfo=UTC),
        datetime(2026, 1, 31, 9, 0, tzinfo=UTC),
    ]
    assert [start.strftime("%H:%M %Z") for start, _ in overall] == [
        "10:00 CEST",
        "10:00 CEST",
        "10:00 CET",
        "10:00 CET",
    ]
    assert {status for _, status in overall} == {"CONFIRMED"}
    plan = by_title['Strategy review: Green plan; "net zero", 2030']  # escaped in the feed, read back intact
    assert [start.strftime("%Y-%m-%d %H:%M") for start, _ in plan] == [
        "2025-07-31 04:00",
        "2026-01-31 04:00",
        "2026-07-31 04:00",
        "2027-01-31 04:00",
    ]
    # Anchored to the last review: later dates move when a review is recorded.
    assert [status for _, status in plan] == ["CONFIRMED", "TENTATIVE", "TENTATIVE", "TENTATIVE"]
    description = str(next(e for e in events if "Green" in str(e["summary"]))["description"])
    assert "Phase: diagnostics." in description and "KPIs: none yet." in description

    # A calendar refreshing the feed sees the same events (same UIDs), updated in place.
    again = (await _feed(api, issued["path"])).walk("VEVENT")
    assert sorted(str(e["uid"]) for e in again) == sorted(str(e["uid"]) for e in events)
    assert len({str(e["uid"]) for e in events}) == 8
    assert green["schedule"]["upcoming"][0] == "2025-07-31T08:00:00Z"


async def test_the_feed_needs_its_current_secret(api: httpx.AsyncClient) -> None:
    first = await ok(await api.post("/clusters/c-2/calendar-token"), 201)
    empty = await _feed(api, first["path"])  # no strategy yet: a valid calendar without events
    assert empty.walk("VEVENT") == [] and len(empty.walk("VTIMEZONE")) == 1
    for wrong in (first["token"][:-1] + ("A" if first["token"][-1] != "A" else "B"), "x"):
        response = await api.get("/clusters/c-2/reviews.ics", params={"token": wrong})
        assert (response.status_code, response.json()["detail"]) == (403, "invalid or revoked calendar token")
    # Another cluster's token, or an unknown cluster, answers the same way.
    assert (await api.get("/clusters/c-3/reviews.ics", params={"token": first["token"]})).status_code == 403
    assert (await api.get("/clusters/c-2/reviews.ics")).status_code == 422  # token: Field required
    second = await ok(await api.post("/clusters/c-2/calendar-token"), 201)
    assert second["token"] != first["token"]
    assert (await api.get(first["path"])).status_code == 403  # replaced
    await _feed(api, second["path"])
    assert (await api.delete("/clusters/c-2/calendar-token")).status_code == 204
    assert (await api.get(second["path"])).status_code == 403  # revoked
    assert (await api.delete("/clusters/c-2/calendar-token")).status_code == 404


async def test_the_kpi_chart_is_accessible_escaped_svg(api: httpx.AsyncClient) -> None:
    hostile = '<script>alert("x")</script> & co'
    kpi = {"unit": "%", "baseline": 30, "target": 42, "baseline_date": "2024-01-31", "target_date": "2026-01-31"}
    created = await ok(
        await api.post(
            "/clusters/c-1/strategies",
            json={
                "type": "internationalisation_strategy",
                "title": f"Compass {hostile}",
                "kpis": [
                    kpi | {"name": "SME members active internationally"},
                    kpi | {"name": hostile},
                    kpi | {"name": "Partners"},
                ],
            },
        ),
        201,
    )
    sid = created["id"]
    first, second, _third = (k["id"] for k in created["kpis"])
    await ok(await api.post(f"/strategies/{sid}/kpis/{first}/measurements", json={"value": 36}), 201)
    await ok(await api.post(f"/strategies/{sid}/kpis/{second}/measurements", json={"value": 45}), 201)

    response = await api.get(f"/strategies/{sid}/kpis.svg")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(response.text)  # well-formed XML, or this raises
    assert (root.tag, root.get("role")) == (f"{SVG}svg", "img")
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert title.text == f"KPI progress: Compass {hostile}"  # escaped in the file, intact when read
    assert desc.text is not None
    assert "SME members active internationally: 36 %, 50% of the way from 30 to 42, on track." in desc.text
    assert f"{hostile}: 45 %, 125% of the way from 30 to 42, achieved." in desc.text
    assert "Partners: no measurement yet (target 42 %)." in desc.text
    assert root.find(f".//{SVG}script") is None and "<script>" not in response.text
    rows = root.findall(f"{SVG}g")
    assert len(rows) == 3
    words = ["".join(row.itertext()) for row in rows]
    assert "50% · on track" in words[0] and "125% · achieved" in words[1] and "– · no data" in words[2]

    empty = await ok(await api.post("/clusters/c-1/strategies", json={"type": "green_action_plan"}), 201)
    chart = ET.fromstring((await api.get(f"/strategies/{empty['id']}/kpis.svg")).text)
    assert chart.find(f"{SVG}desc").text == "The strategy has no KPIs yet."  # type: ignore[union-attr]
    assert (await api.get("/strategies/nope/kpis.svg")).status_code == 404
