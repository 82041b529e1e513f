"""Every service as its own OS process against real Kafka, PostgreSQL and SMTP, as deployed."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import NewDatabase
from tests.support.auth import keys_dir
from tests.support.processes import ServiceProcess
from trellis.distributed import service_environment
from trellis.mailsink import MailSink
from trellis_common import auth_local

SERVICES = ("surveys", "skills", "matchmaking", "strategy", "notifications")


# The HTTP address is each ServiceProcess's own (a free port), not the one `trellis up` would give.
OWN_ADDRESS = ("TRELLIS_HTTP_HOST", "TRELLIS_HTTP_PORT", "TRELLIS_PUBLIC_BASE_URL")


def service_env(
    service: str, database_url: str, kafka_bootstrap: str, topic_prefix: str, smtp: MailSink | None
) -> dict[str, str]:
    """What ``trellis up`` gives a service process, with this suite's issuer and quicker timings."""
    if service == "notifications":
        assert smtp is not None, "notifications needs an SMTP server"
    env = service_environment(
        service,
        database_url=database_url,
        bootstrap=kafka_bootstrap,
        prefix=topic_prefix,
        port=0,
        jwks_file=keys_dir() / auth_local.JWKS_FILE,
        smtp_port=smtp.port if smtp is not None else None,
    )
    for name in OWN_ADDRESS:
        del env[name]
    env.update(
        TRELLIS_KAFKA_SESSION_TIMEOUT_MS="6000",
        TRELLIS_RELAY_POLL_INTERVAL_S="0.05",
        TRELLIS_SCHEDULER_INTERVAL_S="0.2",
        TRELLIS_RETRY_INITIAL_BACKOFF_S="0.1",
        TRELLIS_RETRY_MAX_BACKOFF_S="1",
        TRELLIS_LOG_LEVEL="INFO",
    )
    if service == "strategy":
        env["TRELLIS_CLOCK"] = "manual"
    if service == "notifications":
        env["TRELLIS_SENDER_POLL_INTERVAL_S"] = "0.05"
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
        proc.start(**extra)
    for proc in platform.processes.values():
        await proc.wait_ready()
    return urls
