"""Reading what is on a topic, for the command line: the newest or oldest records, each described as JSON with its
CloudEvent decoded (or why it is not one) and its dead-letter headers."""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from trellis_common.envelope import from_kafka
from trellis_common.errors import ContractError
from trellis_common.kafka_security import KafkaSecurity

KafkaRecord: TypeAlias = "ConsumerRecord[bytes, bytes]"
# Headers the consumer adds when it dead-letters a record; a replay removes them so the record is as it was.
DLQ_HEADER_PREFIXES = ("trellis_error", "trellis_original_", "trellis_consumer", "trellis_value_dropped")
Bootstrap = Annotated[str, typer.Option(envvar="TRELLIS_KAFKA_BOOTSTRAP_SERVERS", help="Kafka bootstrap servers")]


def kafka_security() -> dict[str, Any]:
    """TLS and SASL options from TRELLIS_KAFKA_SECURITY_PROTOCOL, _SASL_* and _SSL_CAFILE, as the services use."""
    return KafkaSecurity().client_options()


async def _require_topic(bootstrap: str, topic: str) -> None:
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, **kafka_security())
    try:
        await probe.start()
        if topic not in await probe.topics():
            raise ValueError(f"topic {topic} does not exist")
    finally:
        await probe.stop()


async def read_topic(
    bootstrap: str, topic: str, *, limit: int | None = None, newest: bool = False
) -> list[KafkaRecord]:
    """The records now in ``topic`` (all partitions), oldest first: all of them, the first ``limit``, or with
    ``newest`` the last ``limit`` (each partition read from ``limit`` records before its end, no further)."""
    await _require_topic(bootstrap, topic)  # subscribed to a topic that does not exist, a consumer waits on
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        # The broker holds an empty fetch this long; the default 500 ms would delay the offset lookups behind it.
        fetch_max_wait_ms=20,
        **kafka_security(),
    )
    try:
        await consumer.start()
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        begins = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            skip = ends[tp] - limit if newest and limit is not None else begins[tp]
            consumer.seek(tp, max(begins[tp], skip))
        records: list[KafkaRecord] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(*partitions, timeout_ms=200)
            for messages in batch.values():
                records.extend(m for m in messages if m.offset < ends[TopicPartition(m.topic, m.partition)])
            if limit is not None and not newest and len(records) >= limit:
                break
        records.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
        if limit is None:
            return records
        return records[-limit:] if newest else records[:limit]
    finally:
        await consumer.stop()


def header_texts(record: KafkaRecord) -> dict[str, str]:
    return {name: (value or b"").decode(errors="replace") for name, value in record.headers}


def describe(record: KafkaRecord) -> dict[str, Any]:
    """A record as a JSON-friendly dict: coordinates, key, the CloudEvent (or why it is not one), DLQ reason."""
    out: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "key": record.key.decode(errors="replace") if record.key is not None else None,
    }
    try:
        event = from_kafka(record.headers, record.value)
        out["event"] = {**event.attributes(), "data": event.data}
    except ContractError as exc:
        out["undecoded"] = {"code": exc.code, "reason": str(exc)}  # the code a consumer would dead-letter it with
        out["value"] = record.value.decode(errors="replace") if record.value is not None else None
    dlq = {name: value for name, value in header_texts(record).items() if name.startswith(DLQ_HEADER_PREFIXES)}
    if dlq:
        out["dead_letter"] = dlq
    return out


def original_topic(record: KafkaRecord) -> str:
    named = header_texts(record).get("trellis_original_topic")
    if named:
        return named
    topic = str(record.topic)
    if not topic.endswith(".dlq"):
        raise ValueError(f"{topic} is not a dead-letter topic")
    return topic.removesuffix(".dlq")
