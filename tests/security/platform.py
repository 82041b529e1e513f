"""All six services in one process for the cross-service security tests: each on its own SQLite file, all on
one in-memory bus (so a survey response flows to skills, matchmaking and strategy as in production), each
trusting the session's token issuer, with low body and rate limits so the limits can be reached cheaply.

Routes are classified from the apps themselves: an operation is protected when its dependency tree holds
``authenticate``, platform-admin-only when it holds ``admin_scope``, a public page when it holds the public
rate limit, and an email trigger when it holds the per-caller email limit.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import func, select

from tests.support import auth
from tests.support.polling import eventually
from tests.support.routes import Operation
from tests.support.runtime import runtime_for
from trellis.embedded import SERVICES
from trellis_common.app import create_app
from trellis_common.auth import admin_scope, authenticate
from trellis_common.bus.memory import InMemoryBroker, InMemoryBus
from trellis_common.db import outbox
from trellis_common.rate_limit import email_triggers, public_pages
from trellis_common.runtime import ServiceDefinition, ServiceRuntime

BODY_LIMIT = 4096  # TRELLIS_HTTP_MAX_BODY_BYTES for every service here (the setting's minimum is 1024)
PUBLIC_RATE = 3  # requests per minute one client may make to a service's public pages
EMAIL_RATE = 3  # requests per hour one caller may make to a route that sends email
LINK_SECRET = "security-tests-survey-link-secret-0123456789"
UNSUBSCRIBE_SECRET = "security-tests-unsubscribe-secret-0123456789"
A, B = "Alpha", "Bravo"  # the two seeded clusters (names; their ids are assigned by the surveys service)
# The operations surface every app adds; open by design, never in a walk of the API.
SURFACE_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/asyncapi.json", "/admin/clock"})
DOC_PATHS = frozenset({"/openapi.json", "/docs", "/docs/assets", "/redoc"})
SKILL_ROW = {
    "skill_code": "digcomp:5.2",
    "current_level": 2,
    "required_level": 5,
    "headcount_having": 1,
    "headcount_needed": 4,
    "importance": 5,
}

Route = tuple[Operation, APIRoute]


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    stack = [dependant]
    while stack:
        current = stack.pop()
        if current.call is not None:
            yield current.call
        stack.extend(current.dependencies)


@dataclass
class Service:
    definition: ServiceDefinition
    runtime: ServiceRuntime
    app: FastAPI
    client: httpx.AsyncClient  # sends no token unless a call passes one

    @property
    def name(self) -> str:
        return self.definition.name

    def routes(self) -> list[Route]:
        """Every operation the app serves (documented or not), but the operations surface and the docs."""
        found = []
        for context in iter_route_contexts(self.app.routes):
            route = context.original_route
            if not isinstance(route, APIRoute) or route.path in SURFACE_PATHS | DOC_PATHS:
                continue
            for method in sorted((route.methods or set()) - {"HEAD"}):
                found.append((Operation(method, route.path), route))
        return found

    def classified(self, dependency: Callable[..., Any]) -> list[Operation]:
        return [op for op, route in self.routes() if dependency in set(_calls(route.dependant))]

    def protected(self) -> list[Operation]:
        return self.classified(authenticate)

    def unauthenticated(self) -> list[Operation]:
        protected = set(self.protected())
        return [op for op, _route in self.routes() if op not in protected]

    def admin_only(self) -> list[Operation]:
        return self.classified(admin_scope)

    def public_pages(self) -> list[Operation]:
        return self.classified(public_pages)

    def email_triggers(self) -> list[Operation]:
        return self.classified(email_triggers)

    def openapi(self) -> dict[str, Any]:
        return self.app.openapi()

    def body_kinds(self, operation: Operation) -> list[str]:
        item = self.openapi()["paths"].get(operation.path, {}).get(operation.method.lower(), {})
        return list(item.get("requestBody", {}).get("content", {}))

    @asynccontextmanager
    async def client_from(self, address: str) -> AsyncIterator[httpx.AsyncClient]:
        """A client whose requests come from ``address`` (rate limits count per client address)."""
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{self.name}.test") as client:
            yield client

    async def outbox_size(self) -> int:
        async with self.runtime.db.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(outbox)) or 0)


@dataclass
class Cluster:
    name: str
    id: str
    member_id: str
    template_id: str  # a cluster template (a copy of the catalogue's digital-skills survey)
    strategy_id: str = ""  # its overall strategy, made by the strategy service from the assessed gaps
    feed_token: str = ""  # the secret of its calendar feed

    def values(self) -> dict[str, str]:
        """A value for path parameters naming this cluster's objects."""
        return {
            "cluster_id": self.id,
            "member_id": self.member_id,
            "template_id": self.template_id,
            "version": "1",
            "strategy_id": self.strategy_id,
        }


@dataclass
class Platform:
    services: dict[str, Service]
    broker: InMemoryBroker
    clusters: dict[str, Cluster] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Service]:
        return iter(self.services.values())

    def __getitem__(self, name: str) -> Service:
        return self.services[name]

    @property
    def a(self) -> Cluster:
        return self.clusters[A]

    @property
    def b(self) -> Cluster:
        return self.clusters[B]

    def published(self) -> dict[str, int]:
        """How many records each topic of the bus holds."""
        return {topic: len(records) for topic, records in self.broker.topics.items() if records}

    async def settled(self) -> bool:
        """Nothing in flight: every consumer has caught up and every outbox row is published."""
        for service in self:
            runtime = service.runtime
            consumer = runtime.consumer.bus_consumer if runtime.consumer is not None else None
            if consumer is not None and any((await consumer.lag()).values()):
                return False
            async with runtime.db.sessions() as session:
                unsent = await session.scalar(
                    select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
                )
            if unsent:
                return False
        return True


def settings_for(definition: ServiceDefinition) -> dict[str, Any]:
    values: dict[str, Any] = {
        "workers": False,  # no schedulers or SMTP sender: the tests drive everything through the API and bus
        "http_max_body_bytes": BODY_LIMIT,
        "public_rate_per_minute": PUBLIC_RATE,
        "email_trigger_rate_per_hour": EMAIL_RATE,
    }
    fields = definition.settings_class.model_fields
    if "survey_link_secret" in fields:
        values["survey_link_secret"] = LINK_SECRET
    if "unsubscribe_secret" in fields:
        values["unsubscribe_secret"] = UNSUBSCRIBE_SECRET
    if "public_base_url" in fields:
        values["public_base_url"] = f"https://{definition.name}.trellis.example"
    return values


def member_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "country": "AT",
        "contacts": [{"name": f"{name} contact", "email": "contact@member.example", "language": "en"}],
    }


async def ok(response: httpx.Response, expected: int = 200) -> Any:
    assert response.status_code == expected, f"{response.request.url}: {response.status_code} {response.text[:300]}"
    return response.json()


async def seed(platform: Platform, name: str) -> Cluster:
    """A cluster made as a platform admin, with a member, a cluster template and a completed response; the
    response flows over the bus so the cluster exists in skills, matchmaking and strategy too."""
    surveys, admin = platform["surveys"].client, auth.admin()
    cluster = await ok(await surveys.post("/clusters", json={"name": name, "country": "AT"}, headers=admin), 201)
    cluster_id = cluster["id"]
    member = await ok(
        await surveys.post(f"/clusters/{cluster_id}/members", json=member_body(f"{name} GmbH"), headers=admin), 201
    )
    template_id = f"{name.lower()}-digital"
    body = {"source_template_id": "digital-skills", "template_id": template_id}
    await ok(await surveys.post(f"/clusters/{cluster_id}/templates", json=body, headers=admin), 201)
    answer = {"member_id": member["id"], "template_id": "digital-skills", "theme": "digital", "skills": [SKILL_ROW]}
    await ok(await surveys.post("/responses", json=answer, headers=admin), 201)
    return Cluster(name, cluster_id, member["id"], template_id)


async def known_everywhere(platform: Platform, cluster: Cluster) -> None:
    """Wait until the cluster's response has reached skills (profile) and strategy (its overall strategy),
    then give the cluster a calendar feed."""

    async def arrived() -> str | None:
        profile = await platform["skills"].client.get(f"/clusters/{cluster.id}/profile", headers=auth.admin())
        listed = await platform["strategy"].client.get(f"/clusters/{cluster.id}/strategies", headers=auth.admin())
        if profile.status_code != 200 or listed.status_code != 200 or not listed.json()["items"]:
            return None
        return str(listed.json()["items"][0]["id"])

    cluster.strategy_id = await eventually(arrived, timeout=15, what=f"cluster {cluster.name} in skills and strategy")
    feed = await platform["strategy"].client.post(f"/clusters/{cluster.id}/calendar-token", headers=auth.admin())
    cluster.feed_token = (await ok(feed, 201))["token"]


@asynccontextmanager
async def running_platform(directory: Path) -> AsyncIterator[Platform]:
    broker = InMemoryBroker()
    services: dict[str, Service] = {}
    started: list[ServiceRuntime] = []
    try:
        for definition in SERVICES:
            runtime = runtime_for(
                definition,
                database_url=f"sqlite+aiosqlite:///{directory / definition.name}.db",
                bus=InMemoryBus(broker),
                **settings_for(definition),
            )
            await runtime.start()
            started.append(runtime)
            app = create_app(definition, runtime=runtime, manage_runtime=False)
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=f"http://{definition.name}.test"
            )
            services[definition.name] = Service(definition, runtime, app, client)
        platform = Platform(services, broker)
        for name in (A, B):
            platform.clusters[name] = await seed(platform, name)
        for cluster in platform.clusters.values():
            await known_everywhere(platform, cluster)
        yield platform
    finally:
        for service in services.values():
            await service.client.aclose()
        for runtime in reversed(started):
            await runtime.stop()


def committed_asyncapi() -> dict[str, Any]:
    path = Path(__file__).resolve().parents[2] / "contracts" / "asyncapi.json"
    loaded: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return loaded
