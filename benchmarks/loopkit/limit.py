"""The bus limit: what raw aiokafka moves through four hops in one process, with and without PostgreSQL.

Each hop consumes a topic in batches, produces every record to the next topic (idempotent producer,
acks=all) and commits its offsets once per batch; the "with DB" chain also inserts one PostgreSQL row per
record and commits that transaction once per batch. Nothing in Trellis can go faster than this on the same
machine, so the project's stages are reported as a share of it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from trellis_common.settings import KAFKA_BATCH_BYTES

HOPS = 4
PARTITIONS = 3


@dataclass(frozen=True)
class LimitResult:
    events: int
    seconds: float
    with_db: bool

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def _create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
    finally:
        await admin.close()


async def _delete_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


def _producer(bootstrap: str) -> AIOKafkaProducer:
    # The services' producer settings: the limit is what this bus can do for them.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=KAFKA_BATCH_BYTES,
    )


async def _hop(
    bootstrap: str, source: str, target: str, group: str, pool: asyncpg.Pool | None, stop: asyncio.Event
) -> None:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = _producer(bootstrap)
    await consumer.start()
    await producer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            records = [m for messages in batches.values() for m in messages]
            if not records:
                continue
            if pool is not None:
                async with pool.acquire() as conn, conn.transaction():
                    await conn.executemany(
                        "INSERT INTO hop_rows (hop, key, value) VALUES ($1, $2, $3)",
                        [(source, m.key, m.value) for m in records],
                    )
            sent = [await producer.send(target, m.value, key=m.key, headers=list(m.headers or ())) for m in records]
            await asyncio.gather(*sent)
            await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


async def _output_span(bootstrap: str, topic: str, wanted: int, within_s: float) -> float:
    """Seconds between the first and the last of ``wanted`` records on ``topic`` (their create times)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        stamps: list[int] = []
        deadline = time.monotonic() + within_s
        while len(stamps) < wanted:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(stamps)} of {wanted} records reached {topic}")
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            stamps.extend(m.timestamp for messages in batches.values() for m in messages)
        return (max(stamps) - min(stamps)) / 1000
    finally:
        await consumer.stop()


async def measure_limit(
    bootstrap: str, database_url: str | None, events: int, payload: bytes, within_s: float = 300
) -> LimitResult:
    """Pre-fill the first topic with ``events`` records, then time the four hops draining it."""
    run = uuid.uuid4().hex[:8]
    topics = [f"limit{run}.hop{i}" for i in range(HOPS + 1)]
    await _create_topics(bootstrap, topics)
    pool: asyncpg.Pool | None = None
    try:
        producer = _producer(bootstrap)
        await producer.start()
        try:
            pending = [await producer.send(topics[0], payload, key=f"m-{i}".encode()) for i in range(events)]
            await asyncio.gather(*pending)
        finally:
            await producer.stop()
        if database_url is not None:
            pool = await asyncpg.create_pool(database_url, min_size=HOPS, max_size=HOPS)
            await pool.execute("CREATE TABLE IF NOT EXISTS hop_rows (hop text, key bytea, value bytea)")
        stop = asyncio.Event()
        span = asyncio.create_task(_output_span(bootstrap, topics[-1], events, within_s))
        hops = [
            asyncio.create_task(_hop(bootstrap, topics[i], topics[i + 1], f"limit{run}-{i}", pool, stop))
            for i in range(HOPS)
        ]
        try:
            seconds = await span
        finally:
            stop.set()
            await asyncio.gather(*hops, return_exceptions=True)
        # Rate between the first and the last output, as for the project's stages: start-up is not counted.
        return LimitResult(events - 1, seconds, pool is not None)
    finally:
        if pool is not None:
            await pool.execute("DROP TABLE IF EXISTS hop_rows")
            await pool.close()
        await _delete_topics(bootstrap, topics)
