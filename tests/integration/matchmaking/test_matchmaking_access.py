"""Who may call what on the matchmaking API, checked over its whole route table.

Matches, members' runs and gaps, pools and figures belong to a cluster: another cluster's objects answer 404
exactly as unknown ids do, and lists show only the caller's clusters. So does a cluster's own partner (closed to
other clusters) and its offers; shared partners are read by every role and changed by platform admins only
(test_partner_owners has the rules in detail). A route this walk cannot classify (an unknown path parameter, a
write without a plausible body) fails the test, so new routes get checked too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import NewDatabase
from tests.integration.matchmaking.conftest import START, created, deliver, gaps_assessed, move_clock, offer, partner
from tests.integration.matchmaking.conftest import skill_gap as gap
from tests.support import auth
from tests.support.routes import Operation, call, operations
from tests.support.runtime import runtime_for
from trellis_common.app import create_app
from trellis_common.bus.memory import InMemoryBus
from trellis_common.runtime import ServiceRuntime
from trellis_matchmaking.service import DEFINITION

A, B = "cluster-a", "cluster-b"
# Path parameters naming a cluster's object (a partner and offer: the cluster's own, closed to other clusters).
CLUSTER_PARAMS = frozenset({"cluster_id", "member_id", "match_id", "partner_id", "offer_id"})
# Writes without a path parameter a manager makes for its own cluster (a partner it creates is its cluster's).
MANAGER_CREATES = frozenset({"POST /partners", "POST /partners/import"})
# A member's runs are a list: a member the caller cannot see has none, exactly like a member not matched yet.
EMPTY_WHEN_UNSEEN = frozenset({"GET /members/{member_id}/matches"})
# Platform-wide reads for platform admins only (every service's audit log).
ADMIN_READS = frozenset({"GET /audit", "GET /parked-events"})
# The operations surface of a manual-clock deployment (the other operations routes are not in the route table), and
# the page behind a match email's accept/decline link, whose signed token is the authorisation (tested in
# test_reply_links: it reaches the one match it names).
PUBLIC = frozenset({"GET /admin/clock", "PUT /admin/clock", "GET /reply/{token}", "POST /reply/{token}"})
OPEN_ROUTES = ("/healthz", "/readyz", "/metrics", "/asyncapi.json", "/openapi.json", "/docs", "/admin/clock")
GAP = gap("digcomp:5.2", current=2, required=5, headcount_gap=2, importance=4)
CSV = (
    "partner_name,partner_type,offer_title,skill_codes,format,seats\n"
    "Imported Academy,training_provider,Basics,digcomp:5.2,training,4\n"
)
BODIES: dict[str, Any] = {
    "POST /partners": partner("Vienna DIH", "digital_innovation_hub", offer("Data clinic", "digcomp:5.2", 3)),
    "PATCH /partners/{partner_id}": {"name": "Renamed by a stranger"},
    "POST /partners/{partner_id}/offers": offer("Second course", "digcomp:5.2", 3),
    "PUT /offers/{offer_id}": offer("Data masterclass", "digcomp:5.2", 40, max_level=6),
    "POST /matches/{match_id}/outcome": {"outcome": "accepted", "recorded_by": "cluster_manager"},
    "POST /rematch": None,
    "POST /members/{member_id}/rematch": None,
}


@dataclass(frozen=True)
class World:
    """Two clusters, each with two members holding seats of one shared directory offer, and each with a partner
    of its own (closed to the other cluster)."""

    shared: dict[str, str]  # partner_id, offer_id of the shared partner
    own: dict[str, dict[str, str]]  # cluster -> partner_id, offer_id of its own partner
    members: dict[str, list[str]]  # cluster -> member ids
    matches: dict[str, list[str]]  # cluster -> match ids
    assessments: dict[str, list[str]]  # cluster -> assessment ids

    def ids(self, cluster_id: str) -> dict[str, str]:
        """A value for every path parameter, naming the cluster's objects."""
        return {
            **self.own[cluster_id],
            "cluster_id": cluster_id,
            "member_id": self.members[cluster_id][0],
            "match_id": self.matches[cluster_id][0],
        }

    def traces(self, cluster_id: str) -> list[str]:
        """Strings that only a response showing the cluster's data contains."""
        return [
            cluster_id,
            *self.members[cluster_id],
            *self.matches[cluster_id],
            *self.assessments[cluster_id],
            *self.own[cluster_id].values(),
            f"Academy of {cluster_id}",
        ]


def manager(cluster_id: str) -> dict[str, str]:
    return auth.bearer("cluster-manager", clusters=(cluster_id,), subject=f"manager-of-{cluster_id}")


def viewer(cluster_id: str) -> dict[str, str]:
    return auth.bearer("cluster-viewer", clusters=(cluster_id,), subject=f"viewer-of-{cluster_id}")


def integration(cluster_id: str) -> dict[str, str]:
    return auth.bearer("integration", clusters=(cluster_id,), subject=f"system-of-{cluster_id}")


def minted(**claims: Any) -> dict[str, str]:
    values: dict[str, Any] = {"subject": "someone", "roles": ["platform-admin"], **claims}
    return {"Authorization": f"Bearer {auth.keys().mint(**values)}"}


async def send(
    client: httpx.AsyncClient, op: Operation, ids: dict[str, str], headers: dict[str, str]
) -> httpx.Response:
    """Call ``op`` with a plausible valid body, so that only authorisation can refuse it."""
    if str(op) == "POST /partners/import":
        files = {"file": ("partners.csv", CSV.encode(), "text/csv")}
        return await client.post(op.url(ids), files=files, headers=headers)
    if op.writes and op.method != "DELETE" and str(op) not in BODIES:
        raise AssertionError(f"{op}: no plausible body for this write; extend BODIES")
    return await call(client, op, ids, headers=headers, body=BODIES.get(str(op)))


def route_table(app: FastAPI) -> list[Operation]:
    found = operations(app, public=PUBLIC)
    for op in found:
        unknown = set(op.params) - CLUSTER_PARAMS
        assert not unknown, f"{op}: path parameter(s) {sorted(unknown)} of unknown kind; classify them in this test"
    return found


async def make_runtime(database_url: str) -> ServiceRuntime:
    runtime = runtime_for(DEFINITION, database_url=database_url, bus=InMemoryBus(), clock="manual", consume=False)
    move_clock(runtime, START)
    await runtime.start()
    return runtime


@pytest.fixture
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Awaitable[str]]:
    """SQLite unless a test asks for PostgreSQL (indirect parameter "postgres" of ``runtime``)."""
    if getattr(request, "param", "sqlite") == "postgres":
        new_database: NewDatabase = request.getfixturevalue("new_database")
        return lambda: new_database("matchmaking")

    async def sqlite() -> str:
        return f"sqlite+aiosqlite:///{tmp_path / 'matchmaking.db'}"

    return sqlite


@pytest.fixture
async def runtime(new_url: Callable[[], Awaitable[str]]) -> AsyncIterator[ServiceRuntime]:
    service = await make_runtime(await new_url())
    try:
        yield service
    finally:
        await service.stop()


@pytest.fixture
def app(runtime: ServiceRuntime) -> FastAPI:
    return create_app(DEFINITION, runtime=runtime, manage_runtime=False)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """No default token: every call names its caller."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://matchmaking") as http:
        yield http


@pytest.fixture
async def world(runtime: ServiceRuntime, client: httpx.AsyncClient) -> World:
    """The shared directory through the API as a platform admin, each cluster's own partner by its manager;
    members' gaps as the skills service announces them (matches are only ever made by matching rounds, no route
    creates them)."""
    body = partner("TU Danube", "university", offer("Data masterclass", "digcomp:5.2", 20, max_level=6))
    made = await created(await client.post("/partners", json=body, headers=auth.admin()))
    own: dict[str, dict[str, str]] = {}
    for cluster_id in (A, B):  # a course no gap here can use: the shared offer's seats stay as they are
        body = partner(f"Academy of {cluster_id}", "training_provider", offer("Security basics", "digcomp:4.1", 5))
        mine = await created(await client.post("/partners", json=body, headers=manager(cluster_id)))
        assert mine["owner_cluster_id"] == cluster_id and not mine["open_to_other_clusters"], mine
        own[cluster_id] = {"partner_id": mine["id"], "offer_id": mine["offers"][0]["id"]}
    members: dict[str, list[str]] = {}
    assessments: dict[str, list[str]] = {}
    matches: dict[str, list[str]] = {}
    for cluster_id in (A, B):
        members[cluster_id] = [f"member-{n}-of-{cluster_id[-1]}" for n in (1, 2)]
        assessments[cluster_id] = []
        for member_id in members[cluster_id]:
            event = gaps_assessed(member_id, [GAP], cluster_id=cluster_id, assessment_id=f"{member_id}-assessment")
            await deliver(runtime, event)
            assessments[cluster_id].append(event.assessment_id)
        page = await created(await client.get("/matches", params={"cluster_id": cluster_id}, headers=auth.admin()), 200)
        matches[cluster_id] = sorted(m["id"] for m in page["items"])
        assert len(matches[cluster_id]) == 2, page
    shared = {"partner_id": made["id"], "offer_id": made["offers"][0]["id"]}
    return World(shared, own, members, matches, assessments)


async def snapshot(client: httpx.AsyncClient, world: World, cluster_id: str) -> list[Any]:
    """The cluster's data, its partners and the shared one as a platform admin reads them."""
    reads = [
        ("/matches", {"cluster_id": cluster_id}),
        (f"/clusters/{cluster_id}/pools", {}),
        ("/outcomes/conversion", {"cluster_id": cluster_id}),
        ("/partners", {"owner_cluster_id": cluster_id}),
        (f"/partners/{world.shared['partner_id']}", {}),
        *((f"/members/{m}/matches", {}) for m in world.members[cluster_id]),
    ]
    found = []
    for path, params in reads:
        response = await client.get(path, params=params, headers=auth.admin())
        assert response.status_code == 200, response.text
        found.append(response.json())
    return found


# --- BOLA: a manager of A reaches nothing of B ---------------------------------------------------------------


@pytest.mark.parametrize("new_url", ["sqlite", "postgres"], indirect=True)
async def test_a_manager_of_one_cluster_finds_nothing_of_another(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    before = await snapshot(client, world, B)
    assert before[1] and before[1][0]["member_ids"] == world.members[B], "B has a pool, so the walk can miss one"
    unknown = {name: f"no-such-{name}" for name in CLUSTER_PARAMS}
    addressed = platform = 0
    for op in route_table(app):
        ids = world.ids(B)
        response = await send(client, op, ids, manager(A))
        if set(op.params) & CLUSTER_PARAMS:
            addressed += 1
            never = await send(client, op, unknown, manager(A))
            if str(op) in EMPTY_WHEN_UNSEEN:
                assert (response.status_code, response.json()) == (200, []), f"{op}: {response.text}"
            else:
                assert response.status_code == 404, f"{op}: {response.status_code} {response.text}"
            # The same answer as for an id that does not exist, so other clusters' ids cannot be probed.
            expected = never.text
            for name in CLUSTER_PARAMS:
                expected = expected.replace(unknown[name], ids[name])
            assert (response.status_code, response.text) == (never.status_code, expected), str(op)
        else:
            platform += 1
            # Platform-wide routes: the all-cluster re-match and the audit log are for platform admins; the directory
            # and the caller's own lists and figures are read; a partner the manager creates is its cluster's.
            wanted = 403 if op.writes or str(op) in ADMIN_READS else 200
            wanted = 201 if str(op) in MANAGER_CREATES else wanted
            assert response.status_code == wanted, f"{op}: {response.status_code} {response.text}"
        echoed = {ids[name] for name in op.params}  # a 404 names the id the caller sent
        leaked = [trace for trace in world.traces(B) if trace in response.text and trace not in echoed]
        assert not leaked, f"{op} shows cluster B's data to a manager of A: {leaked}"
    assert addressed >= 10 and platform >= 8, (addressed, platform)
    assert await snapshot(client, world, B) == before, "B's data changed"


async def test_lists_and_figures_hold_only_the_callers_clusters(client: httpx.AsyncClient, world: World) -> None:
    mine = (await client.get("/matches", headers=manager(A))).json()
    assert sorted(m["id"] for m in mine["items"]) == world.matches[A] and mine["total"] == 2
    # Filtering by another cluster is an empty page, as for a cluster that does not exist.
    for cluster_id in (B, "no-such-cluster"):
        page = (await client.get("/matches", params={"cluster_id": cluster_id}, headers=manager(A))).json()
        assert page == {"items": [], "total": 0}
    everyone = (await client.get("/outcomes/conversion", headers=auth.admin())).json()
    own = (await client.get("/outcomes/conversion", headers=viewer(A))).json()
    assert (everyone["proposals"], everyone["pending"], own["proposals"], own["pending"]) == (4, 4, 2, 2)
    other = (await client.get("/outcomes/conversion", params={"cluster_id": B}, headers=viewer(A))).json()
    assert (other["proposals"], other["conversion_rate"]) == (0, None)
    both = auth.bearer("cluster-viewer", clusters=(A, B))
    assert (await client.get("/matches", headers=both)).json()["total"] == 4
    anywhere = auth.bearer("cluster-viewer", clusters=("*",))
    assert (await client.get("/clusters/cluster-b/pools", headers=anywhere)).status_code == 200


# --- BFLA: who may change what ---------------------------------------------------------------------------------


async def test_viewers_and_integrations_cannot_write_and_tokens_are_required(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    before = await snapshot(client, world, A)
    ops = route_table(app)
    writes = [op for op in ops if op.writes]
    for op in writes:
        for headers in (viewer(A), integration(A)):
            response = await send(client, op, world.ids(A), headers)
            assert response.status_code == 403, f"{op}: {response.status_code} {response.text}"
    for op in ops:
        response = await send(client, op, world.ids(A), {})
        assert response.status_code == 401, f"{op}: {response.status_code} {response.text}"
        assert response.headers["www-authenticate"].startswith("Bearer")
        roleless = await send(client, op, world.ids(A), auth.bearer(clusters=(A,)))
        assert roleless.status_code == 403, f"{op}: {roleless.status_code} {roleless.text}"
    assert len(writes) >= 10, [str(op) for op in writes]
    assert await snapshot(client, world, A) == before, "a refused call changed A's data"


async def test_tokens_for_another_audience_or_expired_are_refused(client: httpx.AsyncClient, world: World) -> None:
    assert (await client.get("/matches", headers=minted())).status_code == 200
    elsewhere = await client.get("/matches", headers=minted(audience="another-service"))
    assert elsewhere.status_code == 401 and "audience" in elsewhere.json()["detail"]
    expired = await client.get("/matches", headers=minted(ttl=timedelta(minutes=-5)))
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


async def test_the_operations_surface_needs_no_token(client: httpx.AsyncClient) -> None:
    for path in OPEN_ROUTES:
        response = await client.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"


async def test_the_shared_directory_is_read_by_every_role_and_changed_by_platform_admins(
    client: httpx.AsyncClient, world: World
) -> None:
    shared = world.shared
    for headers in (viewer(A), integration(B), manager(A), auth.bearer("cluster-viewer")):
        listed = await client.get("/partners", headers=headers)
        assert listed.status_code == 200 and shared["partner_id"] in [p["id"] for p in listed.json()["items"]]
        assert (await client.get(f"/offers/{shared['offer_id']}", headers=headers)).status_code == 200
    assert (
        await client.patch(f"/partners/{shared['partner_id']}", json={"name": "Mine"}, headers=manager(A))
    ).status_code == 403
    renamed = await client.patch(
        f"/partners/{shared['partner_id']}", json={"name": "TU Danube Academy"}, headers=auth.admin()
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "TU Danube Academy"


# --- a manager's ordinary work on its own cluster ----------------------------------------------------------------


async def test_a_manager_works_on_its_own_cluster(
    runtime: ServiceRuntime, client: httpx.AsyncClient, world: World
) -> None:
    others = await snapshot(client, world, B)
    member_id = world.members[A][0]
    (mine,) = (await client.get("/matches", params={"member_id": member_id}, headers=manager(A))).json()["items"]
    match_id = mine["id"]
    shown = await client.get(f"/matches/{match_id}", headers=manager(A))
    assert shown.status_code == 200 and shown.json()["cluster_id"] == A
    outcome = await client.post(
        f"/matches/{match_id}/outcome",
        json={"outcome": "accepted", "recorded_by": "cluster_manager"},
        headers=manager(A),
    )
    assert outcome.status_code == 200 and outcome.json()["status"] == "accepted", outcome.text
    assert (await client.get(f"/matches/{match_id}", headers=viewer(A))).json()["status"] == "accepted"

    move_clock(runtime, START + timedelta(hours=1))  # the re-match's run comes after the assessment's
    rematched = await client.post(f"/members/{world.members[A][1]}/rematch", headers=manager(A))
    assert rematched.status_code == 200, rematched.text
    figures = rematched.json()
    assert figures["notified_members"] == [world.members[A][1]] and figures["gaps"] == 1, figures
    runs = (await client.get(f"/members/{world.members[A][1]}/matches", headers=manager(A))).json()
    assert [r["reason"] for r in runs] == ["rematch", "assessment"]
    (pool,) = (await client.get(f"/clusters/{A}/pools", headers=manager(A))).json()
    assert (pool["member_ids"], pool["accepted"]) == (world.members[A], 1)
    assert (await client.post(f"/members/{member_id}/rematch", headers=manager(B))).status_code == 404
    # The whole-period re-match (free seats to the waiting list) spans every cluster: a platform admin's. Every gap
    # holds a seat here, so it has nothing to place and no proposal moves.
    assert (await client.post("/rematch", headers=manager(A))).status_code == 403
    everyone = (await client.post("/rematch", headers=auth.admin())).json()
    assert (everyone["proposals_made"], everyone["proposals_released"], everyone["notified_members"]) == (0, 0, [])
    assert await snapshot(client, world, B) == others, "A's manager changed B's data"
