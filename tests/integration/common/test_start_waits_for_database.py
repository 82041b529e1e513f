"""A replica started while its database is away (a PostgreSQL restart, a failover) waits for it and starts once it
is back, instead of exiting into a crash loop; it still fails at once for what waiting cannot mend, and gives up
after ``startup_wait_s``. Found by the chaos run: replicas restarted during a database restart exited and stayed
down."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import NewDatabase
from tests.support.polling import eventually
from tests.support.runtime import runtime_for
from trellis_skills.service import DEFINITION as SKILLS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Gate:
    """A port that refuses connections until ``open``, then forwards them to PostgreSQL."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = _free_port()
        self.server: asyncio.Server | None = None
        self.refused = 0

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{port}"))


async def test_a_replica_waits_for_its_database_and_starts_when_it_is_back(new_database: NewDatabase) -> None:
    url = await new_database("skills")
    real = urlsplit(url)
    gate = Gate(real.hostname or "127.0.0.1", real.port or 5432)
    runtime = runtime_for(SKILLS, database_url=_through(url, gate.port), startup_wait_s=60, workers=False)
    starting = asyncio.create_task(runtime.start())
    try:
        # Refused for a while: still trying, not exited.
        await asyncio.wait({starting}, timeout=1.5)
        assert not starting.done(), starting.exception() if starting.done() else None
        await gate.open()
        await asyncio.wait_for(starting, 30)
        assert runtime.started

        async def database_ok() -> bool:
            return (await runtime.readiness())["database"] == "ok"

        await eventually(database_ok, timeout=10, what="the database reachable")
    finally:
        if not starting.done():
            starting.cancel()
        with contextlib.suppress(BaseException):
            await starting
        await runtime.stop()
        await gate.close()


async def test_it_gives_up_after_its_start_up_wait() -> None:
    nowhere = f"postgresql+asyncpg://trellis:trellis@127.0.0.1:{_free_port()}/skills"
    runtime = runtime_for(SKILLS, database_url=nowhere, startup_wait_s=0.5, workers=False)
    with pytest.raises(OSError):
        await asyncio.wait_for(runtime.start(), 30)
    await runtime.stop()


async def test_it_fails_at_once_for_what_waiting_cannot_mend(new_database: NewDatabase) -> None:
    url = await new_database("skills")
    parts = urlsplit(url)
    wrong_password = urlunsplit(parts._replace(netloc=f"trellis:not-the-password@{parts.hostname}:{parts.port}"))
    runtime = runtime_for(SKILLS, database_url=wrong_password, startup_wait_s=60, workers=False)
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(Exception, match="password"):
        await asyncio.wait_for(runtime.start(), 30)
    assert loop.time() - began < 10, "an authentication failure is not waited out"
    await runtime.stop()
