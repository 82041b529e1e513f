"""Two clusters of data made through the API, and the route table of the surveys app, for the access tests.

Every object kind a path parameter names (cluster, member, cluster template and its version, campaign) exists
in both clusters, so each operation can be aimed at the other cluster's objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import func, select

from tests.integration.surveys.conftest import Surveys, ok
from tests.support import auth
from tests.support.routes import Operation, call, operations
from trellis_common.app import create_app
from trellis_common.db import outbox
from trellis_surveys.models import contacts, members, metadata
from trellis_surveys.service import DEFINITION

# In the schema but part of the operations surface (the manual clock of test deployments).
PUBLIC = frozenset({"GET /admin/clock", "PUT /admin/clock"})
# Left out of the schema on purpose: the answering form, whose signed link is the credential.
MEMBER_FACING = frozenset({"GET /answer/{token}", "POST /answer/{token}"})
DOCUMENTATION = frozenset({"/openapi.json", "/docs", "/docs/assets", "/redoc"})  # /docs/assets: their files
# Platform-wide operations for platform admins only: creating a cluster, the service's audit log, and the export
# of what the service holds about a contact (right of access).
ADMIN_ONLY = frozenset(
    {"POST /clusters", "GET /audit", "GET /privacy/contacts/{contact_id}", "POST /admin/members/announce"}
)
# The one change an integration token may make: external survey tools record completed responses.
FOR_INTEGRATIONS = frozenset({"POST /responses"})
# Operations whose path names no cluster object, with what a manager of A gets when aiming at B's objects
# (POST /responses names B's member in its body).
NO_PATH_OBJECT = {
    "GET /templates": 200,
    "GET /clusters": 200,
    "POST /clusters": 403,
    "GET /audit": 403,
    "POST /responses": 404,
    "POST /admin/members/announce": 403,
}
# Operations that name a cluster object in their path but are refused to every manager, whatever it names.
REFUSED_TO_MANAGERS = {"GET /privacy/contacts/{contact_id}": 403}
# Ids that exist nowhere: a B object must be answered exactly like these.
MISSING = {
    "cluster_id": "no-such-cluster",
    "member_id": "no-such-member",
    "template_id": "no-such-template",
    "version": "1",
    "campaign_id": "no-such-campaign",
    "contact_id": "no-such-contact",
}

SKILL_ROW = {
    "skill_code": "digcomp:5.2",
    "current_level": 2,
    "required_level": 5,
    "headcount_having": 1,
    "headcount_needed": 4,
    "importance": 5,
}
CSV = b"name,country,contact_name,contact_email\nImported Member GmbH,AT,Ina Import,ina@imported.example\n"


def member_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "country": "AT",
        "contacts": [{"name": f"{name} contact", "email": "contact@member.example", "language": "en"}],
    }


def response_body(member_id: str) -> dict[str, Any]:
    return {"member_id": member_id, "template_id": "digital-skills", "theme": "digital", "skills": [SKILL_ROW]}


# A plausible, valid request for each write, given the ids it is aimed at: only authorisation may refuse it.
WRITE_BODIES: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
    "POST /clusters": lambda ids: {"json": {"name": "Another cluster"}},
    "POST /admin/members/announce": lambda ids: {},
    "POST /clusters/{cluster_id}/members": lambda ids: {"json": member_body("Written Member GmbH")},
    "POST /clusters/{cluster_id}/members/import": lambda ids: {"files": {"file": ("members.csv", CSV, "text/csv")}},
    "PUT /members/{member_id}": lambda ids: {"json": member_body("Replaced Member GmbH")},
    "DELETE /members/{member_id}": lambda ids: {},
    "DELETE /members/{member_id}/contacts/{contact_id}": lambda ids: {},
    "POST /responses": lambda ids: {"json": response_body(ids["member_id"])},
    "POST /clusters/{cluster_id}/templates": lambda ids: {
        "json": {"source_template_id": "digital-skills", "template_id": "copied-digital"}
    },
    "PUT /clusters/{cluster_id}/templates/{template_id}": lambda ids: {"json": {"title": "Retitled"}},
    "POST /clusters/{cluster_id}/templates/{template_id}/versions/{version}/publish": lambda ids: {},
    "POST /clusters/{cluster_id}/campaigns": lambda ids: {"json": {"template_id": "digital-skills"}},
    "POST /campaigns/{campaign_id}/reminders": lambda ids: {},
    "POST /campaigns/{campaign_id}/close": lambda ids: {},
}


@dataclass(frozen=True)
class Cluster:
    name: str
    cluster_id: str
    member_id: str
    member_name: str
    template_id: str
    campaign_id: str
    response_id: str
    contact_id: str

    def ids(self) -> dict[str, str]:
        return {
            "cluster_id": self.cluster_id,
            "member_id": self.member_id,
            "template_id": self.template_id,
            "version": "1",
            "campaign_id": self.campaign_id,
            "contact_id": self.contact_id,
        }

    def markers(self) -> list[str]:
        """Strings only this cluster's data contains: found in a response, they mean a leak."""
        return [
            self.cluster_id,
            self.member_id,
            self.member_name,
            self.template_id,
            self.campaign_id,
            self.response_id,
        ]

    def token(self, role: str) -> dict[str, str]:
        return auth.bearer(role, clusters=(self.cluster_id,), subject=f"{role} of {self.name}")


@dataclass
class World:
    surveys: Surveys
    app: FastAPI
    client: httpx.AsyncClient  # sends no token unless a call passes one
    a: Cluster
    b: Cluster

    @property
    def ops(self) -> list[Operation]:
        return operations(self.app, public=PUBLIC)

    async def send(self, operation: Operation, ids: dict[str, str], headers: dict[str, str]) -> httpx.Response:
        request = body_for(operation, ids)
        if "files" in request:
            return await self.client.request(
                operation.method, operation.url(ids), headers=headers, files=request["files"]
            )
        return await call(self.client, operation, ids, headers=headers, body=request.get("json"))

    async def snapshot(self, cluster: Cluster) -> dict[str, Any]:
        """What an admin reads of the cluster through every parametrised GET, and its rows in every table."""
        seen: dict[str, Any] = {}
        for operation in self.ops:
            if operation.method == "GET" and operation.params:
                response = await self.client.get(operation.url(cluster.ids()), headers=auth.admin())
                seen[str(operation)] = (response.status_code, response.text)
        listed = await self.client.get("/templates", params={"cluster_id": cluster.cluster_id}, headers=auth.admin())
        seen["GET /templates?cluster_id"] = (listed.status_code, listed.text)
        async with self.surveys.runtime.db.sessions() as session:
            for table in metadata.sorted_tables:
                if "cluster_id" in table.c:
                    where = table.c.cluster_id == cluster.cluster_id
                    seen[table.name] = await session.scalar(select(func.count()).select_from(table).where(where))
            seen["contacts"] = await session.scalar(
                select(func.count())
                .select_from(contacts.join(members, members.c.id == contacts.c.member_id))
                .where(members.c.cluster_id == cluster.cluster_id)
            )
            seen["outbox"] = await session.scalar(select(func.count()).select_from(outbox))
        return seen


def body_for(operation: Operation, ids: dict[str, str]) -> dict[str, Any]:
    if not operation.writes:
        return {}
    make = WRITE_BODIES.get(str(operation))
    if make is None:
        raise AssertionError(f"{operation}: no plausible body; add one to WRITE_BODIES")
    return make(ids)


def hidden_routes(app: FastAPI) -> set[str]:
    """Routes the app serves outside its schema (but the schema and its viewers): each must be member-facing."""
    return {
        f"{method} {route.path}"
        for route in iter_route_contexts(app.routes)
        if route.path not in DOCUMENTATION and not route.include_in_schema
        for method in route.methods or ()
        if method != "HEAD"
    }


async def seed(client: httpx.AsyncClient, name: str) -> Cluster:
    """A cluster with a member (and contact), a draft cluster template, a campaign and a response, as admin."""
    cluster = await ok(await client.post("/clusters", json={"name": f"{name} cluster", "country": "AT"}), 201)
    cluster_id = cluster["id"]
    member_name = f"{name} Member GmbH"
    member = await ok(await client.post(f"/clusters/{cluster_id}/members", json=member_body(member_name)), 201)
    template_id = f"{name.lower()}-digital"
    await ok(
        await client.post(
            f"/clusters/{cluster_id}/templates",
            json={"source_template_id": "digital-skills", "template_id": template_id},
        ),
        201,
    )
    campaign = await ok(
        await client.post(f"/clusters/{cluster_id}/campaigns", json={"template_id": "digital-skills"}), 201
    )
    response = await ok(await client.post("/responses", json=response_body(member["id"])), 201)
    contact_id = member["contacts"][0]["id"]
    return Cluster(name, cluster_id, member["id"], member_name, template_id, campaign["id"], response["id"], contact_id)


async def build_world(surveys: Surveys) -> World:
    a = await seed(surveys.client, "Alpha")
    b = await seed(surveys.client, "Bravo")
    app = create_app(DEFINITION, runtime=surveys.runtime, manage_runtime=False)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://surveys.test")
    return World(surveys, app, client, a, b)


def normalised(detail: Any, ids: dict[str, str]) -> str:
    """An error detail with the ids it names replaced by their parameter names, to compare two 404s."""
    text = str(detail)
    for name, value in ids.items():
        if name != "version":
            text = text.replace(value, f"<{name}>")
    return text
