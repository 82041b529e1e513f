"""Every service as its own OS process against real Kafka, PostgreSQL and SMTP, as deployed."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import NewDatabase
from tests.support.auth import auth_env
from tests.support.processes import ServiceProcess
from trellis.mailsink import MailSink

SERVICES = ("surveys", "skills", "matchmaking", "strategy", "notifications")


def service_env(
    service: str, database_url: str, kafka_bootstrap: str, topic_prefix: str, smtp: MailSink | None
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
        **auth_env(),
    }
    if service == "strategy":
        env["TRELLIS_CLOCK"] = "manual"
    if service == "notifications":
        assert smtp is not None, "notifications needs an SMTP server"
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


async def start_services(
    platform: Distributed,
    new_database: NewDatabase,
    services: tuple[str, ...] = SERVICES,
    *,
    environment: dict[str, str] | None = None,
    **failpoints: str,
) -> dict[str, str]:
    """Start the service processes (the five domain services by default), with ``environment`` added to each;
    returns their database URLs."""
    urls = {service: await new_database(service) for service in services}
    for service in services:
        extra = dict(environment or {})
        if service in failpoints:
            extra["TRELLIS_FAILPOINTS"] = failpoints[service]
        proc = platform.process(service, urls[service])
        proc.start(**{"TRELLIS_PUBLIC_BASE_URL": proc.url, **extra})  # links in emails reach this process
    for proc in platform.processes.values():
        await proc.wait_ready()
    return urls
