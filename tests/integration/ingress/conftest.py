"""The ingress service in-process (in-memory bus), with a local token issuer."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.support.fixtures import completed_response, introduction_message
from tests.support.polling import eventually
from tests.support.runtime import runtime_for
from trellis_common import auth_local
from trellis_common.app import create_app
from trellis_common.bus.memory import InMemoryBroker, InMemoryBus
from trellis_common.envelope import CloudEvent, from_kafka
from trellis_common.runtime import ServiceRuntime
from trellis_ingress.models import NAMES
from trellis_ingress.service import DEFINITION as INGRESS

KNOWN_CLUSTERS = ("cl-mechatronics", "cl-other")  # published by surveys before the tests post for them
EXAMPLES = Path(__file__).resolve().parents[3] / "contracts" / "examples"


def example(name: str) -> dict[str, Any]:
    """A golden example event (structured mode) to post; a fresh copy each time."""
    return copy.deepcopy(json.loads((EXAMPLES / f"{name}.json").read_text("utf-8")))


@dataclass
class Ingress:
    runtime: ServiceRuntime
    broker: InMemoryBroker
    keys: auth_local.LocalKeys
    client: httpx.AsyncClient

    def token(self, *roles: str, clusters: tuple[str, ...] = ("cl-mechatronics",), **claims: Any) -> str:
        return self.keys.mint(subject="crm-connector", roles=roles or ("integration",), clusters=clusters, **claims)

    def auth(self, *roles: str, clusters: tuple[str, ...] = ("cl-mechatronics",)) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(*roles, clusters=clusters)}"}

    def published(self, topic: str) -> list[tuple[str | None, CloudEvent]]:
        """(key, event) of every record the relay has put on ``topic``."""
        return [
            (r.key.decode() if r.key else None, from_kafka(r.headers, r.value))
            for r in self.broker.topics.get(topic, [])
        ]


async def start_ingress(database_url: str, keys_dir: Path, **overrides: Any) -> tuple[ServiceRuntime, InMemoryBroker]:
    broker = InMemoryBroker()
    runtime = runtime_for(
        INGRESS,
        database_url=database_url,
        bus=InMemoryBus(broker),
        auth_issuer=auth_local.LOCAL_ISSUER,
        auth_jwks_file=str(keys_dir / auth_local.JWKS_FILE),
        **overrides,
    )
    await runtime.start()
    for cluster_id in KNOWN_CLUSTERS:
        await broker.append(
            [introduction_message(completed_response(member_id=f"m-of-{cluster_id}", cluster_id=cluster_id))]
        )

    async def projected() -> bool:
        async with runtime.db.sessions() as session:
            rows = await session.execute(select(NAMES.members.c.cluster_id))
            return set(KNOWN_CLUSTERS) <= set(rows.scalars())

    await eventually(projected, what="the clusters surveys published")
    return runtime, broker


@pytest.fixture
async def ingress(tmp_path: Path) -> AsyncIterator[Ingress]:
    keys = auth_local.load_or_generate(tmp_path / "auth")
    runtime, broker = await start_ingress(
        f"sqlite+aiosqlite:///{tmp_path / 'ingress.db'}", tmp_path / "auth", ingress_max_body_bytes=4096
    )
    app = create_app(INGRESS, runtime=runtime, manage_runtime=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingress") as client:
            yield Ingress(runtime, broker, keys, client)
    finally:
        await runtime.stop()
