"""Read and write raw Kafka records in tests (to check what really went over the wire)."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from trellis_common.catalogue import spec_for_model
from trellis_common.envelope import CloudEvent, to_binary
from trellis_common.events import EventData


async def read_all(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record currently in ``topic``, all partitions, from the beginning."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            raise AssertionError(f"topic {topic} does not exist")
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(*partitions, timeout_ms=1000)
            for messages in batch.values():
                records.extend(messages)
        return records
    finally:
        await consumer.stop()


async def produce(
    bootstrap: str,
    topic: str,
    value: bytes | None,
    *,
    key: bytes | None = None,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers or [])
    finally:
        await producer.stop()


async def produce_event(
    bootstrap: str, topic_prefix: str, data: EventData, *, correlation_id: str | None = None
) -> str:
    """``data`` on its topic as its producer's relay would put it (binary mode, keyed); returns the event id."""
    spec = spec_for_model(type(data))
    key = str(getattr(data, spec.key_field))
    event = CloudEvent(
        source="/tests", type=spec.type, subject=key, correlationid=correlation_id, data=data.model_dump(mode="json")
    )
    headers, value = to_binary(event)
    await produce(bootstrap, spec.topic(topic_prefix), value, key=key.encode(), headers=headers)
    return event.id


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    headers: Sequence[tuple[str, bytes]] = record.headers  # aiokafka is untyped
    for key, value in headers:
        if key == name:
            return value.decode()
    return None
