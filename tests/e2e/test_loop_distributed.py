"""The whole loop with every service as its own process, on real Kafka, PostgreSQL and SMTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import NewDatabase
from tests.e2e.scenario import CORRELATION_ID, Platform, run_loop
from tests.support.processes import ServiceProcess
from trellis.mailsink import MailSink

SERVICES = ("surveys", "skills", "matchmaking", "strategy", "notifications")


def service_env(
    service: str, database_url: str, kafka_bootstrap: str, topic_prefix: str, smtp: MailSink
) -> dict[str, str]:
    env = {
        "TRELLIS_SERVICE_NAME": service,
        "TRELLIS_DATABASE_URL": database_url,
        "TRELLIS_BUS": "kafka",
        "TRELLIS_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TRELLIS_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "TRELLIS_TOPIC_PREFIX": topic_prefix,
        "TRELLIS_RELAY_POLL_INTERVAL_S": "0.05",
        "TRELLIS_SCHEDULER_INTERVAL_S": "0.2",
        "TRELLIS_RETRY_INITIAL_BACKOFF_S": "0.1",
        "TRELLIS_RETRY_MAX_BACKOFF_S": "1",
        "TRELLIS_LOG_LEVEL": "INFO",
    }
    if service == "strategy":
        env["TRELLIS_CLOCK"] = "manual"
    if service == "notifications":
        env.update(
            TRELLIS_SMTP_HOST="127.0.0.1",
            TRELLIS_SMTP_PORT=str(smtp.port),
            TRELLIS_SMTP_STARTTLS="false",
            TRELLIS_SENDER_POLL_INTERVAL_S="0.05",
        )
    return env


class Distributed:
    def __init__(self, tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, smtp: MailSink) -> None:
        self.tmp_path = tmp_path
        self.kafka_bootstrap = kafka_bootstrap
        self.topic_prefix = topic_prefix
        self.smtp = smtp
        self.urls: dict[str, str] = {}
        self.processes: dict[str, ServiceProcess] = {}

    def process(self, service: str, database_url: str) -> ServiceProcess:
        env = service_env(service, database_url, self.kafka_bootstrap, self.topic_prefix, self.smtp)
        proc = ServiceProcess(service, env, self.tmp_path)
        self.processes[service] = proc
        return proc

    def stop_all(self) -> None:
        for proc in self.processes.values():
            proc.stop()


@pytest.fixture
async def distributed(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase, smtp_sink: MailSink
) -> AsyncIterator[Distributed]:
    platform = Distributed(tmp_path, kafka_bootstrap, topic_prefix, smtp_sink)
    try:
        yield platform
    finally:
        platform.stop_all()


async def start_services(platform: Distributed, new_database: NewDatabase, **failpoints: str) -> dict[str, str]:
    """Start every service process; returns their database URLs."""
    urls = {service: await new_database(service) for service in SERVICES}
    for service in SERVICES:
        extra = {"TRELLIS_FAILPOINTS": failpoints[service]} if service in failpoints else {}
        platform.process(service, urls[service]).start(**extra)
    for proc in platform.processes.values():
        await proc.wait_ready()
    return urls


async def test_survey_response_to_match_email_and_review_reminder(
    distributed: Distributed, new_database: NewDatabase, smtp_sink: MailSink
) -> None:
    await start_services(distributed, new_database)
    clients = {s: httpx.AsyncClient(base_url=p.url, timeout=10) for s, p in distributed.processes.items()}
    try:
        counts = await run_loop(Platform(clients, lambda: smtp_sink.messages))
    finally:
        for client in clients.values():
            await client.aclose()
    print(f"\ne2e distributed counts: {counts}")
    # The correlation id given to the REST call is in the JSON logs of every service the chain crossed.
    for service in ("surveys", "skills", "matchmaking", "notifications"):
        lines = [
            json.loads(line)
            for line in distributed.processes[service].log_path.read_text().splitlines()
            if line.startswith("{")
        ]
        assert any(line.get("correlation_id") == CORRELATION_ID for line in lines), f"{service} logs lack it"
