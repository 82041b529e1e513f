"""Embedded mode: the six services and the console in one process, with SQLite files, the in-process bus and a
mail sink.

The services run exactly the code they run in production (outbox, relay, inbox, consumers, workers); only
the bus and the database differ. Each service's API is mounted under its own path, with its own docs; the
manager console is the landing page at ``/`` and signs people in with the local issuer's demo people.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from trellis.demo import CLUSTER, SIGN_IN_PEOPLE
from trellis.mailsink import MailSink
from trellis.mailview import mail_router
from trellis_common import auth_local
from trellis_common.app import create_app
from trellis_common.bus.memory import InMemoryBroker, InMemoryBus
from trellis_common.runtime import ServiceDefinition, ServiceRuntime
from trellis_common.settings import ServiceSettings
from trellis_console.app import ApiLink, create_console
from trellis_console.settings import SERVICES as CONSOLE_SERVICES
from trellis_console.settings import ConsoleSettings
from trellis_console.signin import LocalPerson, LocalSignIn
from trellis_ingress.service import DEFINITION as INGRESS
from trellis_matchmaking.service import DEFINITION as MATCHMAKING
from trellis_notifications.service import DEFINITION as NOTIFICATIONS
from trellis_skills.service import DEFINITION as SKILLS
from trellis_strategy.service import DEFINITION as STRATEGY
from trellis_surveys.service import DEFINITION as SURVEYS

SERVICES: tuple[ServiceDefinition, ...] = (SURVEYS, SKILLS, MATCHMAKING, STRATEGY, NOTIFICATIONS, INGRESS)
AUTH_DIR = "auth"  # under the data directory: the local token issuer's keys (trellis auth token)
MAIL_FILE = "mail.db"  # under the data directory: what the mail sink received, kept across restarts
DEMO_FILE = "demo.json"  # under the data directory: what the demo seeded, so a restart does not seed it again


@dataclass
class EmbeddedPlatform:
    app: FastAPI
    runtimes: dict[str, ServiceRuntime]
    mail: MailSink
    broker: InMemoryBroker
    auth_keys: auth_local.LocalKeys
    extra: dict[str, Any] = field(default_factory=dict)

    def admin_headers(self) -> dict[str, str]:
        """A platform admin's bearer token from the local issuer, for the demo and the embedded tests."""
        token = self.auth_keys.mint(subject="embedded-admin", roles=["platform-admin"], ttl=timedelta(hours=12))
        return {"Authorization": f"Bearer {token}"}


def embedded_settings(
    definition: ServiceDefinition,
    data_dir: Path,
    *,
    smtp_port: int,
    manual_clock: bool,
    fast: bool,
    public_url: str = "http://127.0.0.1:8000",
) -> ServiceSettings:
    overrides: dict[str, Any] = {
        "service_name": definition.name,
        "database_url": f"sqlite+aiosqlite:///{data_dir / definition.name}.db",
        "bus": "memory",
        "clock": "manual" if manual_clock else "system",
        "relay_poll_interval_s": 0.05,
        "scheduler_interval_s": 0.2 if fast else 30.0,
        "migrate_on_start": True,
        # Tokens of the local issuer: `trellis auth token --keys <data dir>/auth ...` mints them.
        "auth_issuer": auth_local.LOCAL_ISSUER,
        "auth_jwks_file": str(data_dir / AUTH_DIR / auth_local.JWKS_FILE),
    }
    if "public_base_url" in definition.settings_class.model_fields:
        overrides["public_base_url"] = f"{public_url}/{definition.name}"  # links members click (survey, unsubscribe)
    if definition is NOTIFICATIONS:
        overrides.update(smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_starttls=False, sender_poll_interval_s=0.1)
    return definition.settings_class(**overrides)


def build_embedded(
    data_dir: Path,
    *,
    manual_clock: bool = False,
    fast: bool = True,
    smtp_port: int = 0,
    public_url: str = "http://127.0.0.1:8000",
) -> EmbeddedPlatform:
    data_dir.mkdir(parents=True, exist_ok=True)
    auth_keys = auth_local.load_or_generate(data_dir / AUTH_DIR)
    mail = MailSink(port=smtp_port, store=data_dir / MAIL_FILE)
    mail.start()  # started now so its port is known to the notifications settings
    broker = InMemoryBroker()
    runtimes: dict[str, ServiceRuntime] = {}
    apps: dict[str, FastAPI] = {}
    for definition in SERVICES:
        settings = embedded_settings(
            definition, data_dir, smtp_port=mail.port, manual_clock=manual_clock, fast=fast, public_url=public_url
        )
        runtime = ServiceRuntime(definition, settings, bus=InMemoryBus(broker))
        runtimes[definition.name] = runtime
        apps[definition.name] = create_app(definition, runtime=runtime, manage_runtime=False)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        started: list[ServiceRuntime] = []
        try:
            for runtime in runtimes.values():
                await runtime.start()
                started.append(runtime)
            yield
        finally:
            for runtime in reversed(started):
                await runtime.stop()
            mail.stop()

    # No docs of its own: the console is at /, each service serves its own /docs offline.
    host = FastAPI(title="Trellis (embedded)", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    host.include_router(mail_router(mail))
    for name, app in apps.items():
        host.mount(f"/{name}", app)
    host.mount("/", embedded_console(host, data_dir, auth_keys, public_url))  # last: it answers every other path
    return EmbeddedPlatform(host, runtimes, mail, broker, auth_keys)


def embedded_console(host: FastAPI, data_dir: Path, keys: auth_local.LocalKeys, public_url: str) -> FastAPI:
    """The console calls the services through the host app in-process: the same mounts, prefixes and token
    checks as a browser's call, without a socket, so it works before (and without) a listening port."""
    urls = {f"{name}_url": f"{public_url}/{name}" for name in CONSOLE_SERVICES}
    settings = ConsoleSettings.model_validate({"environment": "dev", **urls})
    transport = httpx.ASGITransport(app=host)
    links = [ApiLink(d.name, f"/{d.name}/docs") for d in SERVICES] + [ApiLink("mail", "/mail", kind="mail")]
    return create_console(
        settings,
        transports=dict.fromkeys(CONSOLE_SERVICES, transport),
        local_sign_in=LocalSignIn(keys, lambda: demo_people(data_dir)),
        api_links=links,
    )


def demo_cluster_id(data_dir: Path) -> str | None:
    """The demo cluster, once the demo has seeded it (it records what it made in the data directory)."""
    try:
        found = json.loads((data_dir / DEMO_FILE).read_text("utf-8")).get("cluster_id")
    except (OSError, ValueError):
        return None
    return str(found) if found else None


def demo_people(data_dir: Path) -> list[LocalPerson]:
    """Who can sign in to the embedded console: the platform admin always, the demo cluster's manager and
    viewer once the cluster exists."""
    people = [LocalPerson("admin", SIGN_IN_PEOPLE["admin"], "admin")]
    cluster_id = demo_cluster_id(data_dir)
    if cluster_id:
        name = str(CLUSTER["name"])
        people[:0] = [
            LocalPerson("manager", SIGN_IN_PEOPLE["manager"], "manager", cluster_id, name),
            LocalPerson("viewer", SIGN_IN_PEOPLE["viewer"], "viewer", cluster_id, name),
        ]
    return people
