"""Who may call the strategy API, checked over the whole route table (a new route the walk cannot fill fails it):
a manager of one cluster never reaches another cluster's strategies, objectives, KPIs or feed (BOLA), and viewers,
integrations and strangers cannot change anything they are not meant to (BFLA)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import NewDatabase
from tests.integration.strategy.conftest import (
    ok,
    partners_matched,
    publish,
    sqlite_url,
    strategy_runtime,
)
from tests.support import auth
from tests.support.polling import eventually
from tests.support.routes import Operation, call, operations
from trellis_common.app import create_app
from trellis_common.bus.memory import InMemoryBroker
from trellis_strategy.service import DEFINITION

A, B = "cluster-a", "cluster-b"
# Member-facing: the calendar feed is opened by its secret token, not by a bearer token.
PUBLIC = frozenset({"GET /clusters/{cluster_id}/reviews.ics"})
# Platform-wide reads no cluster's reader may make (the audit log of every change made through the API).
ADMIN_READS = frozenset({"GET /audit"})
# Writes an integrating system may make too (KPI figures); every other write is for managers only.
FIGURE_WRITES = frozenset(
    {
        "POST /strategies/{strategy_id}/kpis/{kpi_id}/measurements",
        "DELETE /strategies/{strategy_id}/kpis/{kpi_id}/measurements/{measured_on}",
    }
)
MEASURED_ON = "2025-01-20"  # before the clock's today (31 January 2025), after the KPIs' baseline
KPI = {
    "name": "SME members active internationally",
    "unit": "%",
    "baseline": 30,
    "baseline_date": "2025-01-01",
    "target": 42,
    "target_date": "2026-01-31",
}
# A plausible valid body for every write that takes one (None: the route reads no body). A write route missing
# here fails the walk, so a new one cannot slip through with an empty body that validation alone would refuse.
BODIES: dict[str, Any] = {
    "PUT /clusters/{cluster_id}/schedule": {"cadence": "six_monthly"},
    "POST /clusters/{cluster_id}/strategies": {"type": "green_action_plan", "kpis": [KPI]},
    "POST /clusters/{cluster_id}/calendar-token": None,
    "PATCH /strategies/{strategy_id}": {"title": "Renamed from elsewhere", "phase": "choice"},
    "PUT /strategies/{strategy_id}/schedule": {"cadence": "six_monthly"},
    "POST /strategies/{strategy_id}/reviews": {"notes": "Reviewed from elsewhere", "decisions": ["Stop"]},
    "POST /strategies/{strategy_id}/objectives": {"title": "Grow", "kpis": [KPI]},
    "PATCH /strategies/{strategy_id}/objectives/{objective_id}": {"title": "Shrink"},
    "POST /strategies/{strategy_id}/kpis": KPI,
    "PATCH /strategies/{strategy_id}/kpis/{kpi_id}": {"target": 99},
    "POST /strategies/{strategy_id}/kpis/{kpi_id}/measurements": {"value": 1, "measured_on": MEASURED_ON},
}
# Path parameters naming an object below a strategy: a strategy of A with B's objects must not reach them.
NESTED = ("objective_id", "kpi_id")


def body_for(operation: Operation) -> Any:
    if not operation.writes or operation.method == "DELETE":
        return None
    if str(operation) not in BODIES:
        raise AssertionError(f"{operation}: no plausible body; add one to BODIES")
    return BODIES[str(operation)]


@dataclass
class Cluster:
    """One cluster's objects, made through the API as admin: the values of every path parameter."""

    values: dict[str, str]
    feed_token: str

    @property
    def ids(self) -> list[str]:
        return [value for name, value in self.values.items() if name != "measured_on"]


@dataclass
class World:
    app: FastAPI
    client: httpx.AsyncClient  # no default headers: each call says who it is
    a: Cluster
    b: Cluster

    @property
    def protected(self) -> list[Operation]:
        return operations(self.app, public=PUBLIC)


async def make_cluster(client: httpx.AsyncClient, broker: InMemoryBroker, cluster_id: str) -> Cluster:
    admin = auth.admin()
    created = await ok(
        await client.post(
            f"/clusters/{cluster_id}/strategies",
            headers=admin,
            json={"type": "overall", "objectives": [{"title": "Go abroad", "kpis": [KPI]}], "kpis": [KPI]},
        ),
        201,
    )
    strategy_id, objective_id = created["id"], created["objectives"][0]["id"]
    kpi_id = created["objectives"][0]["kpi_ids"][0]
    base = f"/strategies/{strategy_id}"
    measurement = {"value": 33, "measured_on": MEASURED_ON}
    await ok(await client.post(f"{base}/kpis/{kpi_id}/measurements", headers=admin, json=measurement), 201)
    await ok(await client.post(f"{base}/reviews", headers=admin, json={"notes": f"First review of {cluster_id}"}), 201)
    token = (await ok(await client.post(f"/clusters/{cluster_id}/calendar-token", headers=admin), 201))["token"]
    # Actions proposed after the review stay open, so the cluster's action list is not empty.
    await publish(broker, partners_matched(cluster_id=cluster_id, member_id=f"m-{cluster_id}"))

    async def actions() -> int:
        page = await ok(await client.get(f"/clusters/{cluster_id}/actions", headers=admin))
        return int(page["total"])

    await eventually(actions, timeout=10, what=f"actions proposed to {cluster_id}")
    values = {
        "cluster_id": cluster_id,
        "strategy_id": strategy_id,
        "objective_id": objective_id,
        "kpi_id": kpi_id,
        "measured_on": MEASURED_ON,
    }
    return Cluster(values, token)


@asynccontextmanager
async def open_world(database_url: str) -> AsyncIterator[World]:
    """Clusters A and B with one of every object kind, made through the API as admin."""
    broker = InMemoryBroker()
    runtime = strategy_runtime(database_url, broker, workers=False)
    await runtime.start()
    app = create_app(DEFINITION, runtime=runtime, manage_runtime=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://strategy") as client:
            a = await make_cluster(client, broker, A)
            b = await make_cluster(client, broker, B)
            yield World(app, client, a, b)
    finally:
        await runtime.stop()


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """One world for the module: the walks change nothing, and the tests that do change only A's own data."""
    async with open_world(sqlite_url(tmp_path_factory.mktemp("strategy"))) as opened:
        yield opened


@pytest.fixture
async def pg_world(new_database: NewDatabase) -> AsyncIterator[World]:
    """The same on PostgreSQL: the scope filters are SQL, and the dialects differ."""
    async with open_world(await new_database("strategy")) as opened:
        yield opened


def manager(cluster: str) -> dict[str, str]:
    return auth.bearer("cluster-manager", clusters=(cluster,), subject=f"manager-of-{cluster}")


def viewer(cluster: str) -> dict[str, str]:
    return auth.bearer("cluster-viewer", clusters=(cluster,), subject=f"viewer-of-{cluster}")


def integration(cluster: str) -> dict[str, str]:
    return auth.bearer("integration", clusters=(cluster,), subject=f"crm-of-{cluster}")


def normalised(detail: Any, values: dict[str, str]) -> str:
    """A 404's message with the ids it names blanked, to compare the message for B's ids with a ghost's."""
    text = str(detail)
    for name, value in values.items():
        text = text.replace(value, f"<{name}>")
    return text


async def snapshot(world: World, cluster: Cluster) -> dict[str, str]:
    """Everything the API shows of a cluster, read as admin: every read route, plus its feed."""
    out = {}
    for operation in world.protected:
        if operation.method == "GET":
            response = await call(world.client, operation, cluster.values, headers=auth.admin())
            out[str(operation)] = f"{response.status_code} {response.text}"
    for path in ("/clusters/{cluster_id}/actions?include_reviewed=true", "/clusters/{cluster_id}/reviews.ics"):
        url = Operation("GET", path).url(cluster.values)
        params = {"token": cluster.feed_token} if "ics" in url else None
        response = await world.client.get(url, params=params, headers=auth.admin())
        assert response.status_code == 200, f"{url}: {response.text}"
        out[path] = response.text
    return out


# --- BOLA ----------------------------------------------------------------------------------------------------


async def test_a_manager_of_a_never_reaches_b(world: World) -> None:
    await walk_bola(world)


async def test_a_manager_of_a_never_reaches_b_on_postgres(pg_world: World) -> None:
    await walk_bola(pg_world)


async def walk_bola(world: World) -> None:
    """Every protected operation with B's ids, as a manager of A: 404 like an unknown id; B unchanged after."""
    before = await snapshot(world, world.b)
    ghost = {
        "cluster_id": "cluster-ghost",
        "strategy_id": str(uuid.uuid4()),
        "objective_id": str(uuid.uuid4()),
        "kpi_id": str(uuid.uuid4()),
        "measured_on": MEASURED_ON,
    }
    as_a = manager(A)
    walked = nested = 0
    for operation in world.protected:
        body = body_for(operation)
        response = await call(world.client, operation, world.b.values, headers=as_a, body=body)
        if operation.params:  # the path names a B object: it is not found, and not told apart from a missing one
            assert response.status_code == 404, f"{operation} with B's ids: {response.status_code} {response.text}"
            missing = await call(world.client, operation, ghost, headers=as_a, body=body)
            assert missing.status_code == 404, f"{operation} with unknown ids: {missing.text}"
            assert normalised(response.json()["detail"], world.b.values) == normalised(
                missing.json()["detail"], ghost
            ), operation
        else:  # nothing of a cluster in the path: whatever it answers holds nothing of B
            assert not [i for i in world.b.ids if i in response.text], f"{operation} shows B's data"
        walked += 1
        if any(name in operation.params for name in NESTED):
            # A's own strategy with B's objective or KPI below it.
            mixed = {**world.a.values, **{name: world.b.values[name] for name in NESTED}}
            response = await call(world.client, operation, mixed, headers=as_a, body=body)
            assert response.status_code == 404, f"{operation} with B's items under A: {response.text}"
            nested += 1
    assert (walked, nested) == (len(world.protected), 7)
    # B is exactly as it was, feed token included.
    assert await snapshot(world, world.b) == before


async def test_reads_of_a_hold_nothing_of_b(world: World) -> None:
    for headers in (manager(A), viewer(A), integration(A)):
        for operation in world.protected:
            if operation.method != "GET":
                continue
            response = await call(world.client, operation, world.a.values, headers=headers)
            expected = 403 if str(operation) in ADMIN_READS else 200
            assert response.status_code == expected, f"{operation} as a reader of A: {response.text}"
            assert not [i for i in world.b.ids if i in response.text], f"{operation} shows B's data"
    for read in ADMIN_READS:
        assert (await world.client.get(read.split()[1], headers=auth.admin())).status_code == 200, read
    # Naming B's strategy as a filter of A's actions finds none of them (the list stays A's).
    filtered = await ok(
        await world.client.get(
            f"/clusters/{A}/actions",
            params={"strategy_id": world.b.values["strategy_id"], "include_reviewed": True},
            headers=manager(A),
        )
    )
    assert (filtered["items"], filtered["total"]) == ([], 0)


async def test_a_manager_of_both_clusters_sees_both(world: World) -> None:
    """The 404s above come from the scope, not from a broken lookup: a manager of A and B reaches B."""
    both = auth.bearer("cluster-manager", clusters=(A, B))
    strategy = await ok(await world.client.get(f"/strategies/{world.b.values['strategy_id']}", headers=both))
    assert strategy["cluster_id"] == B
    everywhere = auth.bearer("cluster-viewer", clusters=("*",))
    assert (await world.client.get(f"/clusters/{B}/strategies", headers=everywhere)).status_code == 200


# --- BFLA ----------------------------------------------------------------------------------------------------


async def test_viewers_and_integrations_cannot_change_anything(world: World) -> None:
    before = await snapshot(world, world.a)
    writes = [operation for operation in world.protected if operation.writes]
    for operation in writes:
        body = body_for(operation)
        response = await call(world.client, operation, world.a.values, headers=viewer(A), body=body)
        assert response.status_code == 403, f"{operation} as a viewer of A: {response.status_code} {response.text}"
        if str(operation) not in FIGURE_WRITES:
            response = await call(world.client, operation, world.a.values, headers=integration(A), body=body)
            assert response.status_code == 403, f"{operation} as an integration: {response.status_code}"
        roleless = auth.bearer(clusters=(A,))
        response = await call(world.client, operation, world.a.values, headers=roleless, body=body)
        assert response.status_code == 403, f"{operation} without a role: {response.status_code}"
    assert len(writes) == len(BODIES) + 4  # the DELETE routes take no body
    assert await snapshot(world, world.a) == before


async def test_every_route_needs_a_valid_token(world: World) -> None:
    for operation in world.protected:
        response = await call(world.client, operation, world.a.values, headers={}, body=body_for(operation))
        assert response.status_code == 401, f"{operation} without a token: {response.status_code}"
        assert response.headers["www-authenticate"].startswith("Bearer")
    keys = auth.keys()
    foreign = keys.mint(subject="x", roles=["platform-admin"], audience="another-service")
    expired = keys.mint(subject="x", roles=["platform-admin"], ttl=timedelta(hours=-1))
    for bad, reason in ((foreign, "audience"), (expired, "expired")):
        response = await world.client.get(
            f"/strategies/{world.a.values['strategy_id']}", headers={"Authorization": f"Bearer {bad}"}
        )
        assert response.status_code == 401, response.text
        assert reason in response.json()["detail"]


async def test_an_integration_may_post_kpi_figures_of_its_cluster_only(world: World) -> None:
    crm = integration(A)
    a, b = world.a.values, world.b.values
    recorded = await ok(
        await world.client.post(
            f"/strategies/{a['strategy_id']}/kpis/{a['kpi_id']}/measurements",
            headers=crm,
            json={"value": 36, "measured_on": "2025-01-30"},
        ),
        201,
    )
    assert recorded["latest"] == 36
    deleted = await world.client.delete(
        f"/strategies/{a['strategy_id']}/kpis/{a['kpi_id']}/measurements/2025-01-30", headers=crm
    )
    assert deleted.status_code == 204
    other = await world.client.post(
        f"/strategies/{b['strategy_id']}/kpis/{b['kpi_id']}/measurements", headers=crm, json={"value": 1}
    )
    assert other.status_code == 404


# --- member-facing and normal use ----------------------------------------------------------------------------


async def test_the_calendar_feed_needs_its_secret_not_a_bearer_token(world: World) -> None:
    assert {str(op) for op in operations(world.app)} - {str(op) for op in world.protected} == PUBLIC
    feed = await world.client.get(f"/clusters/{A}/reviews.ics", params={"token": world.a.feed_token})
    assert feed.status_code == 200, feed.text
    assert feed.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VCALENDAR" in feed.text
    # One cluster's secret does not open another cluster's feed.
    crossed = await world.client.get(f"/clusters/{B}/reviews.ics", params={"token": world.a.feed_token})
    assert crossed.status_code == 403


async def test_a_manager_runs_their_own_cluster(world: World) -> None:
    me, client = manager(A), world.client
    created = await ok(
        await client.post(f"/clusters/{A}/strategies", headers=me, json={"type": "digital_skills_plan"}), 201
    )
    base = f"/strategies/{created['id']}"
    assert (await ok(await client.get(base, headers=me)))["cluster_id"] == A
    patched = await ok(await client.patch(base, headers=me, json={"title": "Digital 2030", "phase": "choice"}))
    assert (patched["title"], patched["phase"]) == ("Digital 2030", "choice")
    kpi = await ok(await client.post(f"{base}/kpis", headers=me, json=KPI), 201)
    measured = await ok(await client.post(f"{base}/kpis/{kpi['id']}/measurements", headers=me, json={"value": 34}), 201)
    assert measured["latest"] == 34
    await ok(await client.put(f"{base}/schedule", headers=me, json={"cadence": "six_monthly"}))
    review = await ok(await client.post(f"{base}/reviews", headers=me, json={"decisions": ["Go"]}), 201)
    assert review["cluster_id"] == A
    listed = await ok(await client.get(f"/clusters/{A}/strategies", headers=me))
    assert created["id"] in [item["id"] for item in listed["items"]]
    token = await ok(await client.post(f"/clusters/{A}/calendar-token", headers=me), 201)
    assert re.fullmatch(rf"/clusters/{A}/reviews\.ics\?token=\S+", token["path"])
    assert (await client.delete(f"/clusters/{A}/calendar-token", headers=me)).status_code == 204
