"""Schemathesis against every service's OpenAPI document, each service its own process on real Kafka and
PostgreSQL, called with a platform admin's token: no server error, no response outside the schema."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import NewDatabase
from tests.e2e.scenario import ok
from tests.support import auth
from tests.support.distributed import SERVICES, Distributed, start_services
from trellis.mailsink import MailSink

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
ALL = (*SERVICES, "ingress")
SUMMARY = re.compile(r"(\d+) generated")


async def _seed(clients: dict[str, httpx.AsyncClient]) -> None:
    """Some real objects, so generated requests reach more than the 404 branches."""
    cluster = await ok(await clients["surveys"].post("/clusters", json={"name": "Fuzzed", "country": "AT"}), 201)
    await ok(
        await clients["surveys"].post(
            f"/clusters/{cluster['id']}/members",
            json={"name": "Fuzz SME", "member_type": "sme", "country": "AT", "contacts": []},
        ),
        201,
    )
    await ok(
        await clients["strategy"].post(f"/clusters/{cluster['id']}/strategies", json={"type": "green_action_plan"}), 201
    )


def _schemathesis(url: str, token: str, report: Path) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "6",
        "--seed",
        "20261127",
        "--generation-database",
        "none",
        "--request-timeout",
        "20",
        "--workers",
        "1",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


async def test_every_service_answers_generated_requests_within_its_schema(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase, smtp_sink: MailSink
) -> None:
    platform = Distributed(tmp_path, kafka_bootstrap, topic_prefix, smtp_sink)
    # Rate limits would answer 429 to the flood of generated requests; they have their own tests.
    extra = {"TRELLIS_PUBLIC_RATE_PER_MINUTE": "0", "TRELLIS_EMAIL_TRIGGER_RATE_PER_HOUR": "0"}
    try:
        await start_services(platform, new_database, ALL, environment=extra)
        clients = {
            s: httpx.AsyncClient(base_url=p.url, headers=auth.admin(), timeout=10)
            for s, p in platform.processes.items()
        }
        try:
            await _seed(clients)
        finally:
            for client in clients.values():
                await client.aclose()
        token = auth.token("platform-admin", subject="schemathesis")
        figures: dict[str, int] = {}
        failures: list[str] = []
        # Each service is its own process and its own schemathesis run: a few at once, the rest waiting (the
        # runs are seeded, so what each generates does not depend on the others).
        at_once = asyncio.Semaphore(3)

        async def fuzz(service: str) -> None:
            async with at_once:
                done = await asyncio.to_thread(
                    _schemathesis, platform.processes[service].url, token, tmp_path / f"{service}.xml"
                )
            generated = SUMMARY.search(done.stdout)
            figures[service] = int(generated.group(1)) if generated else 0
            if done.returncode != 0:
                failures.append(f"--- {service} (exit {done.returncode})\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}")

        await asyncio.gather(*(fuzz(service) for service in ALL))
    finally:
        platform.stop_all()
    print(f"\nschemathesis cases generated per service: {figures}, total {sum(figures.values())}")
    assert not failures, "\n".join(failures)
    assert all(count > 0 for count in figures.values()), figures
