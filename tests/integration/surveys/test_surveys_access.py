"""Who may call what on the surveys API, generated over the app's route table: a new route that these tests
cannot place (no id for a path parameter, no plausible body, no expectation) fails them.

Cluster A and cluster B hold the same kinds of objects; a manager of A aimed at B's objects finds nothing
(404, worded exactly as for ids that exist nowhere) and changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import NewDatabase
from tests.integration.surveys.access import (
    ADMIN_ONLY,
    FOR_INTEGRATIONS,
    MEMBER_FACING,
    MISSING,
    NO_PATH_OBJECT,
    REFUSED_TO_MANAGERS,
    World,
    build_world,
    hidden_routes,
    normalised,
    response_body,
)
from tests.integration.surveys.conftest import BASE_URL, START, ok, start_surveys
from tests.support import auth
from trellis_common.auth_local import LOCAL_ISSUER
from trellis_common.events import InvitationRequested


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for surveys in start_surveys(f"sqlite+aiosqlite:///{tmp_path / 'surveys.db'}", workers=False):
        built = await build_world(surveys)
        async with built.client:
            yield built


async def walk_bola(world: World) -> int:
    """Every operation aimed at B's objects as a manager of A; returns how many operations were walked."""
    a, b = world.a, world.b
    manager_a = a.token("cluster-manager")
    before = await world.snapshot(b)
    walked = 0
    for operation in world.ops:
        response = await world.send(operation, b.ids(), manager_a)
        leaked = [marker for marker in b.markers() if marker in response.text]
        expected = REFUSED_TO_MANAGERS.get(
            str(operation), 404 if operation.params else NO_PATH_OBJECT.get(str(operation))
        )
        assert expected is not None, f"{operation}: add what a manager of A gets to NO_PATH_OBJECT"
        assert response.status_code == expected, f"{operation}: {response.status_code} {response.text}"
        if expected == 404:
            missing = await world.send(operation, MISSING, manager_a)
            assert missing.status_code == 404, f"{operation} with unknown ids: {missing.status_code}"
            assert normalised(response.json()["detail"], b.ids()) == normalised(missing.json()["detail"], MISSING), (
                f"{operation}: another cluster's object is answered differently from an unknown id"
            )
        else:  # a 404 may name the id the caller sent; anything else must not mention B at all
            assert not leaked, f"{operation} shows cluster B's data to a manager of A: {leaked}"
        walked += 1
    assert walked >= 14, f"only {walked} operations found: is the route table read?"
    assert await world.snapshot(b) == before, "cluster B changed"
    return walked


async def test_a_manager_of_a_finds_nothing_of_cluster_b(world: World) -> None:
    await walk_bola(world)
    manager_a = world.a.token("cluster-manager")
    # A list filtered by a cluster out of reach is a 404, as for a cluster that does not exist.
    for cluster_id in (world.b.cluster_id, MISSING["cluster_id"]):
        listed = await world.client.get("/templates", params={"cluster_id": cluster_id}, headers=manager_a)
        assert listed.status_code == 404, listed.text
    own = await ok(await world.client.get("/templates", params={"cluster_id": world.a.cluster_id}, headers=manager_a))
    assert world.a.template_id in {t["id"] for t in own} and world.b.template_id not in str(own)


async def test_bola_walk_on_postgres(new_database: NewDatabase) -> None:
    url = await new_database("surveys")
    async for surveys in start_surveys(url, workers=False):
        world = await build_world(surveys)
        async with world.client:
            await walk_bola(world)


async def test_viewers_and_integrations_cannot_change_anything(world: World) -> None:
    a = world.a
    before = await world.snapshot(a)
    writes = [op for op in world.ops if op.writes]
    assert len(writes) >= 10
    for operation in writes:
        refused = await world.send(operation, a.ids(), a.token("cluster-viewer"))
        assert refused.status_code == 403, f"viewer: {operation}: {refused.status_code} {refused.text}"
        if str(operation) not in FOR_INTEGRATIONS:
            refused = await world.send(operation, a.ids(), a.token("integration"))
            assert refused.status_code == 403, f"integration: {operation}: {refused.status_code} {refused.text}"
    assert await world.snapshot(a) == before, "a refused call changed cluster A"


async def test_viewers_and_integrations_read_their_cluster(world: World) -> None:
    reads = [op for op in world.ops if op.method == "GET" and str(op) not in ADMIN_ONLY]
    for role in ("cluster-viewer", "integration"):
        for operation in reads:
            response = await world.send(operation, world.a.ids(), world.a.token(role))
            assert response.status_code == 200, f"{role}: {operation}: {response.status_code} {response.text}"
    no_role = auth.bearer(clusters=(world.a.cluster_id,))
    refused = await world.client.get(f"/clusters/{world.a.cluster_id}", headers=no_role)
    assert refused.status_code == 403, refused.text


async def test_every_operation_needs_a_valid_token(world: World) -> None:
    for operation in world.ops:
        response = await world.send(operation, world.a.ids(), {})
        assert response.status_code == 401, f"{operation}: {response.status_code} {response.text}"
        assert response.headers["www-authenticate"].startswith("Bearer")
    path = f"/clusters/{world.a.cluster_id}"
    roles, clusters = ["cluster-manager"], [world.a.cluster_id]
    keys = auth.keys()
    assert (await world.client.get(path, headers=world.a.token("cluster-manager"))).status_code == 200
    wrong_audience = keys.mint(subject="m", roles=roles, clusters=clusters, audience="another-service")
    expired = keys.mint(subject="m", roles=roles, clusters=clusters, ttl=-timedelta(minutes=10))
    other_issuer = keys.mint(subject="m", roles=roles, clusters=clusters, issuer=f"{LOCAL_ISSUER}/other")
    for token, reason in ((wrong_audience, "audience"), (expired, "expired"), (other_issuer, "issuer")):
        response = await world.client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401 and reason in response.text, response.text


async def test_platform_wide_operations_are_for_platform_admins(world: World) -> None:
    admin_only = [op for op in world.ops if str(op) in ADMIN_ONLY]
    assert {str(op) for op in admin_only} == ADMIN_ONLY
    for operation in admin_only:
        for role in ("cluster-manager", "cluster-viewer", "integration"):
            refused = await world.send(operation, world.a.ids(), world.a.token(role))
            assert refused.status_code == 403, f"{role}: {operation}: {refused.status_code}"
        done = await world.send(operation, world.a.ids(), auth.admin())
        assert done.is_success, f"{operation}: {done.status_code} {done.text}"


async def test_a_manager_runs_every_change_on_its_own_cluster(world: World) -> None:
    a, manager_a = world.a, world.a.token("cluster-manager")
    # Deleting last, the member itself at the very end, so it still exists for the other changes.
    writes = sorted(
        (op for op in world.ops if op.writes and str(op) not in ADMIN_ONLY),
        key=lambda op: (op.method == "DELETE", op.path == "/members/{member_id}"),
    )
    for operation in writes:
        response = await world.send(operation, a.ids(), manager_a)
        assert response.is_success, f"{operation}: {response.status_code} {response.text}"
    # An external survey tool records a response for a member of its cluster.
    member = await ok(
        await world.client.post(
            f"/clusters/{a.cluster_id}/members",
            json={"name": "Flow Member GmbH", "country": "AT"},
            headers=manager_a,
        ),
        201,
    )
    recorded = await ok(
        await world.client.post("/responses", json=response_body(member["id"]), headers=a.token("integration")), 201
    )
    assert recorded["cluster_id"] == a.cluster_id
    changed = await ok(
        await world.client.put(
            f"/members/{member['id']}", json={"name": "Flow Member AG", "country": "DE"}, headers=manager_a
        )
    )
    assert changed["name"] == "Flow Member AG"
    read = await ok(await world.client.get(f"/members/{member['id']}", headers=manager_a))
    assert read["country"] == "DE" and read["cluster_id"] == a.cluster_id
    page = await ok(await world.client.get(f"/clusters/{a.cluster_id}/members", headers=manager_a))
    assert "Flow Member AG" in {m["name"] for m in page["items"]}


async def test_public_and_member_facing_routes_need_no_token(world: World) -> None:
    assert hidden_routes(world.app) == MEMBER_FACING
    for path in ("/healthz", "/readyz", "/metrics", "/asyncapi.json", "/docs", "/openapi.json", "/admin/clock"):
        response = await world.client.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:200]}"
    moved = await world.client.put("/admin/clock", json={"now": START.isoformat()})
    assert moved.status_code == 200, moved.text
    invitation = next(i for i in await world.surveys.invitations() if i.cluster_id == world.a.cluster_id)
    assert isinstance(invitation, InvitationRequested)
    path = invitation.link.removeprefix(BASE_URL)
    form = await world.client.get(path)
    assert form.status_code == 200 and 'name="csrf"' in form.text, form.text[:300]
    csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    saved = await world.client.post(path, data={"csrf": csrf, "action": "save", "q.employees": "12"})
    assert saved.status_code == 200 and "saved" in saved.text, saved.text[:300]
