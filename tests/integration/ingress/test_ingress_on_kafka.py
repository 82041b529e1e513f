"""The ingress as deployed: its own process on PostgreSQL and Kafka; events posted with httpx and the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import NewDatabase
from tests.integration.ingress.conftest import EXAMPLES, example
from tests.support.fixtures import completed_response, introduction
from tests.support.kafka import produce_event, read_all
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from trellis_common import auth_local
from trellis_common.db import outbox
from trellis_common.envelope import STRUCTURED_JSON, from_kafka
from trellis_ingress.models import NAMES

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@dataclass
class RunningIngress:
    process: ServiceProcess
    keys: auth_local.LocalKeys
    database_url: str

    def token(self, *clusters: str) -> str:
        return self.keys.mint(subject="regional-agency", roles=["integration"], clusters=clusters)


def ingress_env(database_url: str, kafka_bootstrap: str, topic_prefix: str, keys_dir: Path) -> dict[str, str]:
    return {
        "TRELLIS_DATABASE_URL": database_url,
        "TRELLIS_BUS": "kafka",
        "TRELLIS_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TRELLIS_TOPIC_PREFIX": topic_prefix,
        "TRELLIS_RELAY_POLL_INTERVAL_S": "0.05",
        "TRELLIS_AUTH_ISSUER": auth_local.LOCAL_ISSUER,
        "TRELLIS_AUTH_JWKS_FILE": str(keys_dir / auth_local.JWKS_FILE),
    }


@pytest.fixture
async def running(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase
) -> AsyncIterator[RunningIngress]:
    keys = auth_local.load_or_generate(tmp_path / "auth")
    url = await new_database("ingress")
    process = ServiceProcess("ingress", ingress_env(url, kafka_bootstrap, topic_prefix, tmp_path / "auth"), tmp_path)
    process.start()
    try:
        await process.wait_ready()
        # Surveys published the cluster's members before anyone posts for it (an unknown cluster is refused).
        await produce_event(
            kafka_bootstrap, topic_prefix, introduction(completed_response(cluster_id="cl-mechatronics"))
        )
        engine = create_async_engine(url)

        async def projected() -> bool:
            async with engine.connect() as conn:
                return bool(await conn.scalar(select(func.count()).select_from(NAMES.members)))

        try:
            await eventually(projected, timeout=60, what="the cluster surveys published")
        finally:
            await engine.dispose()
        yield RunningIngress(process, keys, url)
    finally:
        process.stop()


async def test_posted_events_reach_kafka_once(running: RunningIngress, kafka_bootstrap: str, topic_prefix: str) -> None:
    event = example("surveys.response.completed.v1")
    headers = {"content-type": STRUCTURED_JSON, "Authorization": f"Bearer {running.token('cl-mechatronics')}"}
    async with httpx.AsyncClient(base_url=running.process.url, timeout=10) as client:
        first = await client.post("/events", content=json.dumps(event), headers=headers)
        retry = await client.post("/events", content=json.dumps(event), headers=headers)
    assert (first.status_code, retry.status_code) == (202, 200), (first.text, retry.text)
    unknown = {**event, "id": "evt-unknown-cluster", "data": {**event["data"], "cluster_id": "cl-nowhere"}}
    other_headers = {**headers, "Authorization": f"Bearer {running.token('cl-nowhere')}"}
    async with httpx.AsyncClient(base_url=running.process.url, timeout=10) as client:
        refused = await client.post("/events", content=json.dumps(unknown), headers=other_headers)
    assert refused.status_code == 422 and "unknown cluster 'cl-nowhere'" in refused.text, refused.text

    topic = f"{topic_prefix}surveys.response.completed.v1"

    async def on_topic() -> list[object]:
        return [from_kafka(r.headers, r.value) for r in await read_all(kafka_bootstrap, topic)]

    published = await eventually(on_topic, what="the posted event on Kafka")
    assert [e.id for e in published] == [event["id"]]  # type: ignore[attr-defined]
    assert await _outbox_rows(running.database_url) == 1, "the retry queued nothing"


async def test_the_cli_posts_a_file_of_events(running: RunningIngress, kafka_bootstrap: str, topic_prefix: str) -> None:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "TRELLIS_TOKEN": running.token("*"),
    }
    file = EXAMPLES / "skills.supply.reported.v1.json"
    command = ["trellis", "emit", str(file), "--ingress", running.process.url]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    event_id = json.loads(file.read_text())["id"]
    assert done.returncode == 0, done.stderr
    assert f"accepted {event_id} for {topic_prefix}skills.supply.reported.v1" in done.stdout.splitlines()

    refused = subprocess.run(
        command, env={**env, "TRELLIS_TOKEN": running.token("cl-textiles")}, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 1
    assert "HTTP 403" in refused.stderr and "Traceback" not in refused.stderr


async def _outbox_rows(database_url: str) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(outbox))).scalar_one())
    finally:
        await engine.dispose()


async def test_concurrent_posts_of_one_event_publish_it_once(running: RunningIngress) -> None:
    """A sender retrying in parallel (or two of its replicas): PostgreSQL's unique id decides, one 202."""
    event = example("surveys.response.completed.v1")
    headers = {"content-type": STRUCTURED_JSON, "Authorization": f"Bearer {running.token('cl-mechatronics')}"}
    async with httpx.AsyncClient(base_url=running.process.url, timeout=20) as client:
        answers = await asyncio.gather(
            *(client.post("/events", content=json.dumps(event), headers=headers) for _ in range(8))
        )
    assert sorted(a.status_code for a in answers) == [200] * 7 + [202], [a.text for a in answers]
    assert await _outbox_rows(running.database_url) == 1
