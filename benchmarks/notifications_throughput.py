"""Emails per second through the notifications service's whole consumer path, into a local aiosmtpd.

    event on the bus → consumer (inbox, handler: preferences, rendering, CSS inlining, delivery rows)
    → sender worker (claim, renew, SMTP, confirm + EmailDelivered in the outbox) → aiosmtpd

The contact directory is loaded first (not timed); then ``--members`` partner-match events are published at
once and the clock runs until the SMTP server has accepted every email (``--members × --contacts``).

    .venv/bin/python benchmarks/notifications_throughput.py                      # SQLite, in-process bus
    .venv/bin/python benchmarks/notifications_throughput.py --database postgres  # TRELLIS_TEST_DATABASE_URL
    .venv/bin/python benchmarks/notifications_throughput.py --database postgres --bus kafka

The SMTP rate limit is off here (``smtp_rate_per_s=0``) so the figure is the service's own ceiling; in
production the limit (10/s per sender process by default) is what a relay allows.

A second line gives the CPU time per email over the same window: the whole process (all its threads, the
SQLite driver's included) and, apart, the in-process SMTP server's thread, which production does not pay.
Wall time on a shared machine varies with its other load; CPU time per email much less so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import func, select

from trellis_common.bus import EventBus, OutgoingMessage
from trellis_common.bus.kafka import KafkaBus
from trellis_common.bus.memory import InMemoryBroker, InMemoryBus
from trellis_common.catalogue import spec_for_model
from trellis_common.envelope import CloudEvent, to_binary
from trellis_common.events import (
    Contact,
    EventData,
    MatchOption,
    MemberChanged,
    MemberContext,
    PartnersMatched,
    ScoreComponent,
)
from trellis_common.logging import configure_logging
from trellis_common.runtime import ServiceRuntime
from trellis_common.topics import create_topics, planned_topics
from trellis_notifications.models import contacts
from trellis_notifications.service import DEFINITION


class CountingHandler:
    """Accepts every message and remembers when the first and the last arrived."""

    def __init__(self) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.cpu = 0.0  # CPU time of the SMTP server's thread so far (it idles until the first email)
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            now = time.perf_counter()
            self.first = self.first or now
            self.last = now
            self.count += 1
            self.cpu = time.thread_time()  # runs on the server's thread: its clock
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite+aiosqlite:///{folder}/notifications.db"
        return
    admin = os.environ.get("TRELLIS_TEST_DATABASE_URL")
    if not admin:
        raise SystemExit('--database postgres needs TRELLIS_TEST_DATABASE_URL (eval "$(scripts/infra env)")')
    dsn = admin.replace("postgresql+asyncpg://", "postgresql://", 1)
    name = f"bench_notifications_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(dsn)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield f"{admin.rpartition('/')[0]}/{name}"
    finally:
        conn = await asyncpg.connect(dsn)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def envelope(data: EventData, key: str) -> OutgoingMessage:
    spec = spec_for_model(type(data))
    event = CloudEvent(source="/benchmarks/producer", type=spec.type, subject=key, data=data.model_dump(mode="json"))
    headers, value = to_binary(event)
    return OutgoingMessage(spec.topic(PREFIX), key, value, headers)


PREFIX = ""


def members(count: int, contacts: int) -> list[MemberChanged]:
    return [
        MemberChanged(
            cluster_id="cluster-bench",
            member_id=f"member-{m}",
            name=f"Member {m}",
            context=MemberContext(country="AT"),
            contacts=[
                Contact(
                    contact_id=f"contact-{m}-{c}",
                    name=f"Person {m}-{c}",
                    email=f"person-{m}-{c}@bench.example",
                    language="de" if c % 2 else "en",
                )
                for c in range(contacts)
            ],
            changed_at=datetime(2026, 3, 1, tzinfo=UTC),
        )
        for m in range(count)
    ]


def matches(member_id: str) -> PartnersMatched:
    return PartnersMatched(
        match_run_id=f"run-{uuid.uuid4()}",
        assessment_id="assessment-bench",
        cluster_id="cluster-bench",
        member_id=member_id,
        options=[
            MatchOption(
                rank=rank,
                skill_code=f"digcomp:{rank}.1",
                partner_id=f"partner-{rank}",
                partner_name="Digital Innovation Hub North",
                partner_type="digital_innovation_hub",
                offer_id=f"offer-{rank}",
                offer_title=f"Offer {rank} for SMEs",
                format="training",
                delivery="online",
                score=0.9 - rank / 10,
                explanation=[ScoreComponent(factor="gap_severity", weight=0.5, value=0.8, contribution=0.4)],
            )
            for rank in (1, 2, 3)
        ],
        matched_at=datetime(2026, 3, 2, tzinfo=UTC),
    )


async def wait_until(predicate: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def run(args: argparse.Namespace) -> None:
    global PREFIX
    configure_logging("WARNING")  # a log line per email would measure the terminal
    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    broker = InMemoryBroker()
    bootstrap = os.environ.get("TRELLIS_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    if args.bus == "kafka":
        PREFIX = f"bench{uuid.uuid4().hex[:6]}."
        await create_topics(bootstrap, PREFIX, partitions=3)
    try:
        async with database(args.database) as url:
            settings = DEFINITION.settings_class(
                service_name="notifications",
                database_url=url,
                bus=args.bus,
                kafka_bootstrap_servers=bootstrap,
                topic_prefix=PREFIX,
                smtp_host="127.0.0.1",
                smtp_port=controller.port,
                smtp_starttls=False,
                smtp_rate_per_s=0,
                send_batch_size=args.batch,
                sender_poll_interval_s=0.05,
                relay_poll_interval_s=0.05,
                log_level="WARNING",
            )
            runtime = ServiceRuntime(DEFINITION, settings, bus=InMemoryBus(broker) if args.bus == "memory" else None)
            producer: EventBus = InMemoryBus(broker) if args.bus == "memory" else KafkaBus(bootstrap, "bench")
            await producer.start()
            await runtime.start()
            try:
                directory = members(args.members, args.contacts)
                expected = args.members * args.contacts
                await producer.publish([envelope(m, m.member_id) for m in directory])

                async def directory_loaded() -> bool:
                    async with runtime.db.sessions() as session:
                        return bool(await session.scalar(select(func.count()).select_from(contacts)) == expected)

                async def all_accepted() -> bool:
                    return bool(handler.count >= expected)

                await wait_until(directory_loaded, "the contact directory")
                started, cpu_started = time.perf_counter(), time.process_time()
                await producer.publish([envelope(matches(m.member_id), m.member_id) for m in directory])
                await wait_until(all_accepted, "every email at the SMTP server")
                elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            finally:
                await runtime.stop()
                await producer.stop()
    finally:
        controller.stop()
        if args.bus == "kafka":  # leave no benchmark topics behind
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                await admin.delete_topics([t.name for t in planned_topics(PREFIX, 3, 1)])
            finally:
                await admin.close()
    print(
        f"notifications throughput ({args.database}, {args.bus} bus): {expected} emails "
        f"({args.members} match events x {args.contacts} contacts) in {elapsed:.2f} s "
        f"= {expected / elapsed:.0f} emails/s end to end "
        f"(first email after {handler.first - started:.2f} s, SMTP acceptance window "
        f"{handler.last - handler.first:.2f} s)"
    )
    print(
        f"CPU per email: {1000 * cpu / expected:.2f} ms in the process, of which "
        f"{1000 * handler.cpu / expected:.2f} ms the in-process SMTP server "
        f"(service alone {1000 * (cpu - handler.cpu) / expected:.2f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--bus", choices=["memory", "kafka"], default="memory")
    parser.add_argument("--members", type=int, default=500, help="match events published at once")
    parser.add_argument("--contacts", type=int, default=2, help="contacts per member (one email each)")
    parser.add_argument("--batch", type=int, default=50, help="send_batch_size")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
