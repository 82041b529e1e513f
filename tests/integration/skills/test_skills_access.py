"""Who may call what in the skills service (docs/skills.md, "Access"), generated over the route table.

Two clusters hold data: every protected operation is called as a manager of cluster A with cluster B's ids
(BOLA: 404, as for an unknown id, or no B data in the answer), every write as a viewer (BFLA: 403), and every
operation without a token (401). A route the walk cannot fill in (a new path parameter, a write without a
body here) fails the walk, so new routes cannot slip past it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.integration.skills.conftest import publish, response, skill, until_assessed
from tests.support import auth
from tests.support.polling import eventually
from tests.support.routes import Operation, call, operations
from trellis_common.app import create_app
from trellis_common.bus.memory import InMemoryBroker
from trellis_common.runtime import ServiceRuntime
from trellis_skills.service import DEFINITION as SKILLS

CODE = "digcomp:3.4"
# The operations surface the app adds besides /healthz, /readyz, /metrics and /asyncapi.json.
SURFACE = frozenset({"GET /admin/clock", "PUT /admin/clock"})
OBJECT_PARAMS = frozenset({"cluster_id", "member_id", "assessment_id", "report_id"})  # name a cluster's object
REFERENCE_PARAMS = frozenset({"code"})  # the taxonomy: reference data every role may read
FOR_INTEGRATIONS = frozenset({"POST /supply-reports"})  # writes an integration token may make
# Platform-wide data of no cluster: platform admins only (403 to others).
ADMIN_ONLY = frozenset({"GET /audit", "GET /parked-events"})
SHARED_MEMBER = "member-of-a-claimed-by-b"
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass(frozen=True)
class Cluster:
    id: str
    member_id: str
    report_id: str
    assessment_ids: tuple[str, ...]  # its member's (then, in A, the member B's integration claimed)

    def values(self) -> dict[str, str]:
        return {
            "cluster_id": self.id,
            "member_id": self.member_id,
            "assessment_id": self.assessment_ids[0],
            "report_id": self.report_id,
            "code": CODE,
        }

    def ids(self) -> list[str]:
        """What must never show in an answer to a caller of another cluster."""
        return [self.id, self.member_id, self.report_id, *self.assessment_ids]


@dataclass(frozen=True)
class World:
    app: FastAPI
    client: httpx.AsyncClient
    a: Cluster
    b: Cluster


def report(
    scope_id: str, report_id: str, *, scope: str = "cluster", headcount: int = 3, **changes: Any
) -> dict[str, Any]:
    return {
        "report_id": report_id,
        "source": "Training provider",
        "scope": scope,
        "scope_id": scope_id,
        "as_of": "2026-02-28",
        "figures": [{"skill_code": CODE, "headcount": headcount, "level": 5}],
        **changes,
    }


# A plausible valid body per write operation, for the cluster whose ids fill the path; a write missing here
# fails the walk.
BODIES: dict[str, Callable[[Cluster, str], dict[str, Any]]] = {
    "POST /supply-reports": lambda cluster, tag: report(cluster.id, f"{tag}-{cluster.id}"),
}


def body_for(operation: Operation, cluster: Cluster, tag: str) -> dict[str, Any] | None:
    if not operation.writes:
        return None
    make = BODIES.get(str(operation))
    assert make is not None, f"{operation}: no body for this write; add one to BODIES"
    return make(cluster, tag)


def manager(cluster: str) -> dict[str, str]:
    return auth.bearer("cluster-manager", clusters=(cluster,), subject=f"manager-of-{cluster}")


def viewer(cluster: str) -> dict[str, str]:
    return auth.bearer("cluster-viewer", clusters=(cluster,), subject=f"viewer-of-{cluster}")


def integration(*clusters: str) -> dict[str, str]:
    return auth.bearer("integration", clusters=clusters, subject="employment-agency")


def protected(app: FastAPI) -> list[Operation]:
    found = operations(app, public=SURFACE)
    for operation in found:
        unknown = set(operation.params) - OBJECT_PARAMS - REFERENCE_PARAMS
        assert not unknown, f"{operation}: path parameter(s) {sorted(unknown)} unknown to this test; classify them"
    return found


def addresses_object(operation: Operation) -> bool:
    return bool(OBJECT_PARAMS.intersection(operation.params))


def leaked(answer: httpx.Response, cluster: Cluster) -> list[str]:
    return [ident for ident in cluster.ids() if ident.encode() in answer.content]


async def assessment_ids(client: httpx.AsyncClient, member_id: str) -> dict[str, str]:
    answer = await client.get(f"/members/{member_id}/assessments", headers=auth.admin())
    assert answer.status_code == 200, answer.text
    return {a["cluster_id"]: a["id"] for a in answer.json()}


@pytest.fixture
async def world(skills: ServiceRuntime, broker: InMemoryBroker) -> AsyncIterator[World]:
    """Two clusters with members, assessments (from events, the only way they arrive) and supply reports
    (posted as admin); B's integration answering for A's member; a region report, which every reader may see."""
    await publish(
        broker,
        response("member-of-cluster-a", [skill(CODE, 2, 5, 1, 4)], cluster_id="cluster-a", region="AT12"),
        response("member-of-cluster-b", [skill(CODE, 1, 6, 0, 5)], cluster_id="cluster-b", region="AT13"),
        response(SHARED_MEMBER, [skill(CODE, 3, 5, 1, 2)], cluster_id="cluster-a", region="AT12"),
        response(SHARED_MEMBER, [skill(CODE, 3, 5, 1, 2)], cluster_id="cluster-b", region="AT13"),
    )
    # B's answers for A's member are refused (surveys knows it in A only): A's data cannot be written from B.
    await eventually(until_assessed(skills, 3), timeout=10, what="three assessments")
    app = create_app(SKILLS, runtime=skills, manage_runtime=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://skills") as client:
        for body in (
            report("cluster-a", "report-of-cluster-a"),
            report("cluster-b", "report-of-cluster-b"),
            report("AT12", "region-report-at12", scope="region", headcount=2),
        ):
            answer = await client.post("/supply-reports", json=body, headers=auth.admin())
            assert answer.status_code == 201, answer.text
        shared = await assessment_ids(client, SHARED_MEMBER)
        a_own = await assessment_ids(client, "member-of-cluster-a")
        b_own = await assessment_ids(client, "member-of-cluster-b")
        a = Cluster(
            "cluster-a", "member-of-cluster-a", "report-of-cluster-a", (a_own["cluster-a"], shared["cluster-a"])
        )
        assert "cluster-b" not in shared
        b = Cluster("cluster-b", "member-of-cluster-b", "report-of-cluster-b", (b_own["cluster-b"],))
        yield World(app, client, a, b)


async def snapshot(world: World, cluster: Cluster) -> dict[str, tuple[int, bytes]]:
    """Every read of the cluster's objects as admin, plus its reports: to show a walk changed nothing."""
    seen = {}
    for operation in protected(world.app):
        if operation.method == "GET" and addresses_object(operation):
            answer = await call(world.client, operation, cluster.values(), headers=auth.admin())
            assert answer.status_code == 200, f"{operation} as admin: {answer.status_code} {answer.text[:200]}"
            seen[str(operation)] = (answer.status_code, answer.content)
    listed = await world.client.get(f"/supply-reports?scope=cluster&scope_id={cluster.id}", headers=auth.admin())
    seen["reports"] = (listed.status_code, listed.content)
    return seen


def unknown_values(values: dict[str, str]) -> dict[str, str]:
    return {name: f"unknown-{name}" if name in OBJECT_PARAMS else value for name, value in values.items()}


def same_detail(answer: httpx.Response, values: dict[str, str], unknown: httpx.Response, fakes: dict[str, str]) -> bool:
    """The 404 for another cluster's object says what the 404 for an unknown id says (ids aside)."""

    def text(response: httpx.Response, filled: dict[str, str]) -> str:
        detail = str(response.json().get("detail"))
        names = sorted(OBJECT_PARAMS & filled.keys(), key=lambda name: -len(filled[name]))  # longest ids first
        for name in names:
            detail = detail.replace(filled[name], f"<{name}>")
        return detail

    return text(answer, values) == text(unknown, fakes)


async def test_a_manager_of_one_cluster_finds_nothing_of_another(world: World) -> None:
    """BOLA, on PostgreSQL and SQLite: every protected operation, with cluster B's ids, as a manager of A."""
    before = await snapshot(world, world.b)
    headers = manager(world.a.id)
    walked = {"404": 0, "no B data": 0, "403 admin only": 0}
    for operation in protected(world.app):
        target = world.b if addresses_object(operation) else world.a
        answer = await call(
            world.client, operation, world.b.values(), headers=headers, body=body_for(operation, target, "bola")
        )
        if str(operation) in ADMIN_ONLY:
            assert answer.status_code == 403, f"{operation}: {answer.status_code} {answer.text[:200]}"
            walked["403 admin only"] += 1
        elif addresses_object(operation):
            assert answer.status_code == 404, f"{operation}: {answer.status_code} {answer.text[:200]}"
            fakes = unknown_values(world.b.values())
            unknown = await call(world.client, operation, fakes, headers=headers, body=body_for(operation, target, "x"))
            assert unknown.status_code == 404, f"{operation} with unknown ids: {unknown.status_code}"
            assert same_detail(answer, world.b.values(), unknown, fakes), (operation, answer.text, unknown.text)
            walked["404"] += 1
        else:
            assert answer.status_code < 300, f"{operation}: {answer.status_code} {answer.text[:200]}"
            assert not leaked(answer, world.b), f"{operation} shows {leaked(answer, world.b)}"
            walked["no B data"] += 1
    assert walked["404"] >= 6 and walked["no B data"] >= 3, walked
    assert await snapshot(world, world.b) == before, "cluster B's data changed"
    print(f"\nBOLA walk: {walked}")


@SQLITE_ONLY
async def test_a_manager_reads_only_the_own_cluster_with_its_own_ids(world: World) -> None:
    """With A's own ids every read succeeds and still names nothing of B (lists, profile, heatmaps)."""
    for operation in protected(world.app):
        if operation.writes or str(operation) in ADMIN_ONLY:
            continue
        answer = await call(world.client, operation, world.a.values(), headers=manager(world.a.id))
        assert answer.status_code == 200, f"{operation}: {answer.status_code} {answer.text[:200]}"
        assert not leaked(answer, world.b), f"{operation} shows {leaked(answer, world.b)}"
    shared = await world.client.get(f"/members/{SHARED_MEMBER}/assessments", headers=manager(world.a.id))
    assert [a["cluster_id"] for a in shared.json()] == [world.a.id], "A's member: A's assessment only"


@SQLITE_ONLY
async def test_a_list_filtered_by_another_cluster_is_an_empty_page(world: World) -> None:
    """As for a cluster nobody reported on: another cluster's reports do not show, not even as a 404."""
    for cluster_id in (world.b.id, "cluster-nobody-knows"):
        page = await world.client.get(
            f"/supply-reports?scope=cluster&scope_id={cluster_id}", headers=manager("cluster-a")
        )
        assert (page.status_code, page.json()["total"], page.json()["items"]) == (200, 0, []), page.text
    as_admin = await world.client.get(f"/supply-reports?scope=cluster&scope_id={world.b.id}", headers=auth.admin())
    assert as_admin.json()["total"] == 1
    regions = await world.client.get("/supply-reports?scope=region", headers=viewer(world.b.id))
    assert [r["report_id"] for r in regions.json()["items"]] == ["region-report-at12"], "region figures: every reader"


@SQLITE_ONLY
async def test_viewers_cannot_write_and_integrations_only_where_meant_to(world: World) -> None:
    """BFLA: every write, with A's ids, as a viewer of A → 403 and nothing stored; an integration token → 403
    except on the routes meant for integrations."""
    before = await snapshot(world, world.a)
    writes = [op for op in protected(world.app) if op.writes]
    for operation in writes:
        answer = await call(
            world.client,
            operation,
            world.a.values(),
            headers=viewer(world.a.id),
            body=body_for(operation, world.a, "v"),
        )
        assert answer.status_code == 403, f"{operation} as viewer: {answer.status_code} {answer.text[:200]}"
        if str(operation) not in FOR_INTEGRATIONS:
            answer = await call(
                world.client,
                operation,
                world.a.values(),
                headers=integration(world.a.id),
                body=body_for(operation, world.a, "i"),
            )
            assert answer.status_code == 403, f"{operation} as integration: {answer.status_code}"
    assert await snapshot(world, world.a) == before, "a refused write changed cluster A's data"
    assert len(writes) >= 1
    print(f"\nBFLA: {len(writes)} write operation(s) refused to a viewer")


@SQLITE_ONLY
async def test_every_operation_needs_a_valid_token(world: World) -> None:
    walked = protected(world.app)
    for operation in walked:
        answer = await call(
            world.client, operation, world.a.values(), headers={}, body=body_for(operation, world.a, "n")
        )
        assert answer.status_code == 401, f"{operation} without a token: {answer.status_code}"
    keys = auth.keys()
    wrong_audience = keys.mint(subject="x", roles=["platform-admin"], audience="another-api")
    expired = keys.mint(subject="x", roles=["platform-admin"], now=datetime.now(UTC) - timedelta(hours=2))
    for token, why in ((wrong_audience, "audience"), (expired, "expired")):
        answer = await world.client.get("/taxonomy", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, (why, answer.status_code, answer.text)
    no_role = auth.bearer(clusters=(world.a.id,))
    for path in ("/taxonomy", f"/clusters/{world.a.id}/profile", "/supply-reports"):
        answer = await world.client.get(path, headers=no_role)
        assert answer.status_code == 403, (path, "a token without a Trellis role", answer.status_code)
    print(f"\n401 without a token: {len(walked)} operations")


@SQLITE_ONLY
async def test_the_operations_surface_needs_no_token(world: World) -> None:
    """skills has no member-facing pages; its operations surface stays open."""
    for path in ("/healthz", "/readyz", "/metrics", "/asyncapi.json", "/openapi.json", "/docs", "/admin/clock"):
        answer = await world.client.get(path)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])


@SQLITE_ONLY
async def test_the_taxonomy_is_for_every_role(world: World) -> None:
    for headers in (viewer("cluster-z"), integration("cluster-z"), manager("cluster-z"), auth.bearer("cluster-viewer")):
        answer = await world.client.get(f"/taxonomy/{CODE}", headers=headers)
        assert answer.status_code == 200, answer.text


@SQLITE_ONLY
async def test_a_manager_reports_and_reads_figures_of_the_own_cluster(world: World) -> None:
    """The normal flow: create, read, send again, replace by newer figures; the profile counts them."""
    headers = manager(world.a.id)
    first = report(world.a.id, "a-2026-03", headcount=1, as_of="2026-03-01")
    assert (await world.client.post("/supply-reports", json=first, headers=headers)).status_code == 201
    assert (await world.client.post("/supply-reports", json=first, headers=headers)).status_code == 200
    read = await world.client.get("/supply-reports/a-2026-03", headers=headers)
    assert (read.status_code, read.json()["scope_id"]) == (200, world.a.id)
    newer = report(world.a.id, "a-2026-03b", headcount=9, as_of="2026-03-02")
    assert (await world.client.post("/supply-reports", json=newer, headers=headers)).status_code == 201
    profile = (await world.client.get(f"/clusters/{world.a.id}/profile", headers=headers)).json()
    (row,) = [s for s in profile["skills"] if s["skill_code"] == CODE]
    # The newer cluster figure (9) replaces the first (3, then 1); the region report for AT12 adds 2.
    assert row["external_supply"] == 9 + 2, row
    viewed = await world.client.get(f"/clusters/{world.a.id}/heatmap.svg", headers=viewer(world.a.id))
    assert viewed.status_code == 200


@SQLITE_ONLY
async def test_figures_only_for_the_callers_clusters_and_regions_only_platform_wide(world: World) -> None:
    cases = [
        (manager(world.a.id), report(world.b.id, "m-for-b"), 403),
        (manager(world.a.id), report("AT12", "m-region", scope="region"), 403),
        (integration(world.a.id), report(world.b.id, "i-for-b"), 403),
        (integration(world.a.id), report("AT12", "i-region", scope="region"), 403),
        (integration(world.a.id), report(world.a.id, "i-for-a"), 201),
        (integration("*"), report("AT13", "i-all-region", scope="region"), 201),
        (auth.admin(), report("AT13", "admin-region", scope="region", as_of="2026-02-27"), 201),
    ]
    for headers, body, status in cases:
        answer = await world.client.post("/supply-reports", json=body, headers=headers)
        assert answer.status_code == status, (body["report_id"], answer.status_code, answer.text)
    for report_id in ("m-for-b", "m-region", "i-for-b", "i-region"):
        answer = await world.client.get(f"/supply-reports/{report_id}", headers=auth.admin())
        assert answer.status_code == 404, f"refused report {report_id} was stored"
    region = await world.client.get("/supply-reports/i-all-region", headers=viewer(world.b.id))
    assert region.status_code == 200, "region reports are readable by every reader"
