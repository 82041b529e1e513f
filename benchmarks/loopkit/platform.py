"""The platform as deployed: each service its own OS process on Kafka, PostgreSQL and an SMTP sink.

Settings are the production defaults except what a benchmark must set: where the infrastructure is, a
fresh database per service and a fresh topic prefix, a local token issuer, and no SMTP rate limit (a relay's
limit is the relay's business; the figure here is the platform's own ceiling).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from loopkit.machine import cpu_seconds
from trellis_common import auth_local
from trellis_common.topics import create_topics, planned_topics

SERVICES = ("surveys", "skills", "matchmaking", "strategy", "notifications")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


class Sink:
    """An SMTP server that keeps, per recipient, when each message arrived (wall-clock seconds)."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.count = 0
        self._lock = threading.Lock()
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        now = time.time()
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                self.arrivals[rcpt.lower()].append(now)
            self.count += 1
        return "250 OK"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def snapshot(self) -> dict[str, list[float]]:
        with self._lock:
            return {k: list(v) for k, v in self.arrivals.items()}


@dataclass
class Service:
    name: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    cpu_before: float = 0.0  # CPU seconds of earlier processes of this service (restarts)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no user input
                [sys.executable, "-m", f"trellis_{self.name}", "serve"],
                env={**os.environ, **self.env, "TRELLIS_HTTP_PORT": str(self.port), "TRELLIS_HTTP_HOST": "127.0.0.1"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU of the running process (its whole life so far) plus earlier runs."""
        if not self.running():
            return self.cpu_before
        assert self.process is not None
        return self.cpu_before + cpu_seconds(self.process.pid)

    async def wait_ready(self, within_s: float = 90) -> None:
        deadline = time.monotonic() + within_s
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {within_s} s; see {self.log_path}")

    def stop(self) -> None:
        """Graceful stop (SIGTERM), as Kubernetes does."""
        if not self.running():
            return
        assert self.process is not None
        cpu = self.cpu_seconds()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.cpu_before = cpu


class Platform:
    """Fresh databases and topics, a token issuer, an SMTP sink and the five domain services."""

    def __init__(self, pg_admin_url: str, bootstrap: str, *, log_dir: Path | None = None) -> None:
        self.pg_admin_url = pg_admin_url
        self.bootstrap = bootstrap
        self.run = uuid.uuid4().hex[:8]
        self.prefix = f"bench{self.run}."
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="trellis-loop-"))
        self.keys_dir = self.log_dir / "auth"
        self.sink = Sink()
        self.databases: dict[str, str] = {}
        self.services: dict[str, Service] = {}
        self.keys: auth_local.LocalKeys | None = None

    async def prepare(self) -> None:
        self.keys = auth_local.generate()
        auth_local.write(self.keys, self.keys_dir)
        self.sink.start()
        await create_topics(self.bootstrap, self.prefix)
        base = self.pg_admin_url.rpartition("/")[0]
        conn = await asyncpg.connect(asyncpg_dsn(self.pg_admin_url))
        try:
            for service in SERVICES:
                name = f"bench_{service}_{self.run}"
                await conn.execute(f'CREATE DATABASE "{name}"')
                self.databases[service] = f"{base}/{name}"
        finally:
            await conn.close()
        for service in SERVICES:
            self.services[service] = Service(service, self._env(service), self.log_dir / f"{service}.log")

    def _env(self, service: str) -> dict[str, str]:
        env = {
            "TRELLIS_SERVICE_NAME": service,
            "TRELLIS_DATABASE_URL": self.databases[service],
            "TRELLIS_BUS": "kafka",
            "TRELLIS_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "TRELLIS_TOPIC_PREFIX": self.prefix,
            "TRELLIS_AUTH_ISSUER": auth_local.LOCAL_ISSUER,
            "TRELLIS_AUTH_JWKS_FILE": str(self.keys_dir / auth_local.JWKS_FILE),
        }
        if service == "notifications":
            env |= {
                "TRELLIS_SMTP_HOST": "127.0.0.1",
                "TRELLIS_SMTP_PORT": str(self.sink.port),
                "TRELLIS_SMTP_STARTTLS": "false",
                "TRELLIS_SMTP_RATE_PER_S": "0",
            }
        return env

    def admin_headers(self) -> dict[str, str]:
        assert self.keys is not None
        token = self.keys.mint(subject="loop-benchmark", roles=["platform-admin"], ttl=timedelta(hours=6))
        return {"Authorization": f"Bearer {token}"}

    def client(self, service: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.services[service].url, headers=self.admin_headers(), timeout=300)

    async def start(self, *names: str) -> None:
        for name in names:
            self.services[name].start()
        for name in names:
            await self.services[name].wait_ready()

    def stop(self, *names: str) -> None:
        for name in names:
            self.services[name].stop()

    def cpu(self) -> dict[str, float]:
        return {name: service.cpu_seconds() for name, service in self.services.items()}

    async def scalar(self, service: str, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(asyncpg_dsn(self.databases[service]))
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def close(self) -> None:
        for service in self.services.values():
            service.stop()
        self.sink.stop()
        conn = await asyncpg.connect(asyncpg_dsn(self.pg_admin_url))
        try:
            for url in self.databases.values():
                await conn.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')
        finally:
            await conn.close()
        # Its topics too: run after run on one broker, they would pile up (eighteen topics a run).
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([topic.name for topic in planned_topics(self.prefix, None, 1)])
        finally:
            await admin.close()
