"""Who may call what on the notifications API, generated over the route table so that a new route cannot slip
through unchecked.

Two clusters get a contact directory, deliveries, preferences, a waiting digest item and (cluster B) a
suppressed address; a platform delivery without a cluster exists too. A manager of cluster A then calls every
protected operation with cluster B's ids: what addresses a B object is "not found" exactly like an unknown id,
the platform-wide suppression list is refused, everything else answers without a trace of B. Every write is
refused to viewers and integrations, every operation to callers without a valid token; the signed unsubscribe
links work without one.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.integration.notifications.harness import (
    Harness,
    SmtpServer,
    eventually,
    matched,
    member,
    running_service,
)
from tests.support import auth
from tests.support.routes import Operation, operations
from trellis_common.app import create_app
from trellis_common.events import ContactRole
from trellis_notifications.domain.preferences import address_key
from trellis_notifications.models import deliveries
from trellis_notifications.service import DEFINITION

A, B = "cluster-a", "cluster-b"
PUBLIC = frozenset({"GET /unsubscribe/{token}", "POST /unsubscribe/{token}"})
# The manual clock's routes belong to the operations surface (test and demo deployments only).
OPERATIONS_SURFACE = frozenset({"GET /admin/clock", "PUT /admin/clock"})
# Path parameters naming a row of a cluster, and those naming reference data (the template catalogue).
CLUSTER_PARAMS = frozenset({"contact_id", "delivery_id"})
REFERENCE_PARAMS = frozenset({"name"})
# Platform-wide data that only platform admins may read or change: the suppression list, the audit log, and the
# export of what the service holds about a contact (right of access).
ADMIN_ONLY = frozenset(
    {"GET /suppressions", "DELETE /suppressions", "GET /audit", "GET /privacy/contacts/{contact_id}"}
)
# A plausible valid body per write, so that only authorisation can refuse it.
BODIES: dict[str, Any] = {
    "PATCH /contacts/{contact_id}/preferences": {"matches": False, "match_delivery": "each", "review_redirect": None},
    "POST /deliveries/resend": {"dry_run": True},
}
MANAGER_A = auth.bearer("cluster-manager", clusters=(A,), subject="manager-a")
VIEWER_A = auth.bearer("cluster-viewer", clusters=(A,), subject="viewer-a")
INTEGRATION_A = auth.bearer("integration", clusters=(A,), subject="crm-a")


@dataclass
class World:
    app: FastAPI
    a: dict[str, str]  # values for path and required query parameters: cluster A's objects
    b: dict[str, str]  # the same for cluster B
    platform_delivery: str  # a delivery that belongs to no cluster
    foreign: tuple[str, ...]  # strings found only in data a manager of A must not see

    def client(self) -> httpx.AsyncClient:
        """A client without credentials: each call says who it is."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://notifications")


def people(cluster: str) -> list[tuple[str, str, str, ContactRole]]:
    letter = cluster[-1]
    return [
        (f"contact-{letter}", f"Manager {letter.upper()}", "en", ContactRole.CLUSTER_MANAGER),
        (f"contact-{letter}2", f"Member {letter.upper()}", "de", ContactRole.MEMBER_CONTACT),
    ]


async def build_world(service: Harness) -> World:
    """Both clusters' data, through the bus (the only way contacts and deliveries come in) and the API as admin."""
    await service.publish(member("member-a", A, people(A)))
    await service.publish(member("member-b", B, people(B)))
    await service.all_consumed()
    async with service.api() as api:
        for contact_id, changes in {
            "contact-a": {"invitations": False},
            "contact-b": {"invitations": False, "review_redirect": {"email": "deputy-b@b.example", "name": "Bo B"}},
            "contact-b2": {"match_delivery": "weekly_digest"},  # B's matches wait for the digest
        }.items():
            response = await api.patch(f"/contacts/{contact_id}/preferences", json=changes)
            assert response.status_code == 200, response.text
        await service.publish(matched("member-a", A))
        await service.emails(2)
        service.smtp.handler.rcpt_reply = "550 5.1.1 no such mailbox"  # B's manager bounces: a suppression
        await service.publish(matched("member-b", B))
        await eventually(lambda: service.deliveries(cluster_id=B, status="failed"), "B's bounce")
        service.smtp.handler.rcpt_reply = None

        # No event makes a delivery without a cluster yet; the column allows it for platform mail.
        platform_delivery = str(uuid.uuid4())
        async with service.runtime.db.sessions() as session, session.begin():
            await session.execute(
                deliveries.insert().values(
                    id=platform_delivery,
                    cause_event_id="platform-announcement",
                    contact_id="platform-contact",
                    template="matches",
                    to_address="someone@platform.example",
                    status="skipped",
                    created_at=service.clock.now(),
                )
            )
        a_delivery = (await api.get("/deliveries", params={"cluster_id": A, "contact_id": "contact-a"})).json()
        b_delivery = (await api.get("/deliveries", params={"cluster_id": B, "contact_id": "contact-b"})).json()
        waiting = (await api.get("/contacts/contact-b2/preferences")).json()["matches_waiting_for_digest"]
        suppressed = (await api.get("/suppressions")).json()
    assert waiting == 1 and suppressed["total"] == 1  # the world is what the walk relies on
    a = {"contact_id": "contact-a", "delivery_id": a_delivery["items"][0]["id"], "name": "matches"}
    b = {"contact_id": "contact-b", "delivery_id": b_delivery["items"][0]["id"], "name": "matches"}
    a["address"], b["address"] = "contact-a@member.example", "contact-b@member.example"
    foreign: tuple[str, ...] = (B, "member-b", "contact-b", b["delivery_id"], "deputy-b@b.example", platform_delivery)
    foreign += ("platform.example", address_key(b["address"]))
    app = create_app(DEFINITION, runtime=service.runtime, manage_runtime=False)
    return World(app, a, b, platform_delivery, foreign)


def protected(app: FastAPI) -> list[Operation]:
    found = operations(app, public=PUBLIC | OPERATIONS_SURFACE)
    assert found, "the route table is empty"
    for operation in found:
        unknown = set(operation.params) - CLUSTER_PARAMS - REFERENCE_PARAMS
        assert not unknown, f"{operation}: path parameters {unknown} are not classified; extend this test"
        if operation.writes and operation.method != "DELETE":
            assert str(operation) in BODIES, f"{operation}: no plausible body; extend BODIES"
    return found


def required_query(app: FastAPI, operation: Operation, values: dict[str, str]) -> dict[str, str]:
    """Values of the operation's required query parameters, or a failure naming the one the test lacks."""
    spec = app.openapi()["paths"][operation.path][operation.method.lower()]
    names = [p["name"] for p in spec.get("parameters", []) if p["in"] == "query" and p.get("required")]
    missing = [name for name in names if name not in values]
    assert not missing, f"{operation}: no value for the required query parameters {missing}; extend the id maps"
    return {name: values[name] for name in names}


async def send(world: World, operation: Operation, values: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    kwargs: dict[str, Any] = {"headers": headers, "params": required_query(world.app, operation, values)}
    if operation.writes and operation.method != "DELETE":
        kwargs["json"] = BODIES[str(operation)]
    async with world.client() as client:
        return await client.request(operation.method, operation.url(values), **kwargs)


async def snapshot(world: World, values: dict[str, str]) -> dict[str, Any]:
    """A cluster's data as a platform admin reads it."""
    cluster = A if values is world.a else B
    paths = [
        f"/contacts/{values['contact_id']}",
        f"/contacts/{values['contact_id']}/preferences",
        f"/contacts/{values['contact_id']}2/preferences",
        f"/deliveries/{values['delivery_id']}",
        f"/deliveries?cluster_id={cluster}",
        "/suppressions",
    ]
    async with world.client() as client:
        responses = {path: await client.get(path, headers=auth.admin()) for path in paths}
    assert all(r.status_code == 200 for r in responses.values()), {p: r.status_code for p, r in responses.items()}
    return {path: response.json() for path, response in responses.items()}


@pytest.fixture
async def sqlite_service(tmp_path: Path, smtp: SmtpServer) -> AsyncIterator[Harness]:
    async with running_service(f"sqlite+aiosqlite:///{tmp_path}/notifications.db", smtp) as harness:
        yield harness


@pytest.fixture
async def world(sqlite_service: Harness) -> World:
    return await build_world(sqlite_service)


# ------------------------------------------------------------------------------------------------- BOLA


async def test_a_manager_of_one_cluster_reaches_nothing_of_another(service: Harness) -> None:
    """Every protected operation with cluster B's ids, as a manager of A (SQLite and PostgreSQL)."""
    world = await build_world(service)
    before = await snapshot(world, world.b)
    walked = protected(world.app)
    missing = {name: f"missing-{name}" for name in CLUSTER_PARAMS}
    outcomes: dict[str, int] = {}
    for operation in walked:
        response = await send(world, operation, world.b, MANAGER_A)
        outcomes[str(operation)] = response.status_code
        if str(operation) in ADMIN_ONLY:
            assert response.status_code == 403, f"{operation}: {response.status_code} {response.text}"
        elif set(operation.params) & CLUSTER_PARAMS:
            assert response.status_code == 404, f"{operation}: {response.status_code} {response.text}"
            # Exactly the answer for an id that does not exist: B's ids cannot be probed.
            unknown = await send(world, operation, world.b | missing, MANAGER_A)
            assert unknown.status_code == 404, f"{operation}: {unknown.status_code}"
            expected = unknown.json()["detail"]
            for name in CLUSTER_PARAMS & set(operation.params):
                expected = expected.replace(missing[name], world.b[name])
            assert response.json()["detail"] == expected, operation
        else:
            assert response.status_code == 200, f"{operation}: {response.status_code} {response.text}"
            leaked = [marker for marker in world.foreign if marker in response.text]
            assert not leaked, f"{operation} shows {leaked} to a manager of {A}"
    assert await snapshot(world, world.b) == before
    # The walk covered the whole API (a route added later is walked without changing this test).
    assert len(walked) >= 9 and sum(code == 404 for code in outcomes.values()) >= 4, outcomes


async def test_lists_hold_only_the_callers_clusters(world: World) -> None:
    async with world.client() as client:
        own = (await client.get("/deliveries", headers=MANAGER_A)).json()
        assert own["total"] == 2 and {item["cluster_id"] for item in own["items"]} == {A}
        # A filter on another cluster gives an empty page, as for a cluster without deliveries.
        other = await client.get("/deliveries", params={"cluster_id": B}, headers=MANAGER_A)
        assert other.status_code == 200 and other.json()["total"] == 0 and other.json()["items"] == []
        by_contact = await client.get("/deliveries", params={"contact_id": "contact-b"}, headers=VIEWER_A)
        assert by_contact.json()["total"] == 0
        everything = (await client.get("/deliveries", headers=auth.admin())).json()
        assert everything["total"] == 4  # A's two, B's bounce, the platform delivery


async def test_platform_deliveries_are_for_platform_admins_only(world: World) -> None:
    everywhere = auth.bearer("cluster-manager", clusters=("*",), subject="manager-everywhere")
    async with world.client() as client:
        path = f"/deliveries/{world.platform_delivery}"
        assert (await client.get(path, headers=MANAGER_A)).status_code == 404
        assert (await client.get(path, headers=auth.admin())).json()["cluster_id"] is None
        # A grant on every cluster ("*") is a platform-wide scope, which is what platform data asks for.
        assert (await client.get(path, headers=everywhere)).status_code == 200
        listed = (await client.get("/deliveries", headers=MANAGER_A)).text
    assert world.platform_delivery not in listed


async def test_a_manager_cannot_redirect_reviews_to_another_clusters_contact(world: World) -> None:
    async with world.client() as client:
        path = "/contacts/contact-a/preferences"
        foreign = await client.patch(path, json={"review_redirect": {"contact_id": "contact-b"}}, headers=MANAGER_A)
        unknown = await client.patch(path, json={"review_redirect": {"contact_id": "nobody"}}, headers=MANAGER_A)
        assert foreign.status_code == unknown.status_code == 422
        assert foreign.json()["detail"][0]["msg"] == unknown.json()["detail"][0]["msg"].replace("nobody", "contact-b")
        prefs = (await client.get(path, headers=auth.admin())).json()
    assert prefs["review_redirect"] is None


# ------------------------------------------------------------------------------------------------- BFLA


async def test_viewers_and_integrations_cannot_write(world: World) -> None:
    before = await snapshot(world, world.a)
    writes = [operation for operation in protected(world.app) if operation.writes]
    assert writes, "the API has no write operation to check"
    for operation in writes:
        for caller in (VIEWER_A, INTEGRATION_A):
            response = await send(world, operation, world.a, caller)
            assert response.status_code == 403, f"{operation}: {response.status_code} {response.text}"
    # A manager may change the cluster's preferences, but not the platform-wide suppression list.
    response = await send(world, Operation("DELETE", "/suppressions"), world.b, MANAGER_A)
    assert response.status_code == 403
    assert await snapshot(world, world.a) == before


async def test_every_protected_operation_needs_a_valid_token(world: World) -> None:
    for operation in protected(world.app):
        response = await send(world, operation, world.a, {})
        assert response.status_code == 401, f"{operation}: {response.status_code}"
        assert response.headers["www-authenticate"].startswith("Bearer")
    keys = auth.keys()
    wrong_audience = keys.mint(subject="admin", roles=["platform-admin"], audience="another-service")
    expired = keys.mint(subject="admin", roles=["platform-admin"], now=datetime.now().astimezone() - timedelta(hours=2))
    async with world.client() as client:
        for token, reason in ((wrong_audience, "audience"), (expired, "expired")):
            response = await client.get("/contacts/contact-a", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401 and reason in response.json()["detail"], response.text


async def test_the_template_catalogue_is_for_any_role(world: World) -> None:
    """Reference data: any role will do, even one given for no cluster; a token without a role will not."""
    no_cluster = auth.bearer("cluster-viewer", subject="viewer-of-nothing")
    no_role = auth.bearer(subject="nobody-in-particular")
    async with world.client() as client:
        for headers in (no_cluster, INTEGRATION_A, VIEWER_A):
            assert (await client.get("/templates", headers=headers)).status_code == 200
            preview = await client.get("/templates/matches/preview", headers=headers)
            assert preview.status_code == 200 and "<html" in preview.text
        assert (await client.get("/templates", headers=no_role)).status_code == 403
        assert (await client.get("/deliveries", headers=no_cluster)).status_code == 403  # no cluster to read


# ----------------------------------------------------------------------------------- public and normal use


async def test_unsubscribe_links_work_without_a_token(world: World, sqlite_service: Harness) -> None:
    [row] = await sqlite_service.deliveries(id=world.a["delivery_id"])
    path = str(row["unsubscribe_url"]).removeprefix(sqlite_service.settings.public_base_url)
    async with world.client() as client:
        page = await client.get(path)
        assert page.status_code == 200 and '<form method="post">' in page.text
        done = await client.post(path, content=b"List-Unsubscribe=One-Click")
        assert done.status_code == 200
        prefs = (await client.get("/contacts/contact-a/preferences", headers=auth.admin())).json()
    assert prefs["matches"] is False


async def test_a_manager_runs_the_normal_flow_on_the_own_cluster(world: World) -> None:
    async with world.client() as client:
        contact = await client.get("/contacts/contact-a", headers=MANAGER_A)
        assert contact.status_code == 200 and contact.json()["cluster_id"] == A
        changed = await client.patch(
            "/contacts/contact-a/preferences",
            json={"matches": False, "review_redirect": {"contact_id": "contact-a2"}},
            headers=MANAGER_A,
        )
        assert changed.status_code == 200, changed.text
        for reader in (MANAGER_A, VIEWER_A, INTEGRATION_A):
            prefs = (await client.get("/contacts/contact-a/preferences", headers=reader)).json()
            assert prefs["matches"] is False and prefs["review_redirect"]["contact_id"] == "contact-a2"
        delivery = await client.get(f"/deliveries/{world.a['delivery_id']}", headers=VIEWER_A)
        assert delivery.status_code == 200 and delivery.json()["contact_id"] == "contact-a"
