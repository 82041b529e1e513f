"""An in-process bus for embedded mode: one partition per topic, consumer groups with committed offsets.

It carries the same CloudEvents bytes and headers as Kafka, so the outbox, inbox and consumer code that
runs in production runs here unchanged.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Collection, Sequence

from trellis_common.bus.base import OutgoingMessage, Record, next_offsets


class InMemoryBroker:
    def __init__(self) -> None:
        self.topics: dict[str, list[Record]] = defaultdict(list)
        self.committed: dict[tuple[str, str], int] = {}
        self.changed = asyncio.Condition()

    async def append(self, messages: Sequence[OutgoingMessage]) -> None:
        async with self.changed:
            for msg in messages:
                log = self.topics[msg.topic]
                log.append(
                    Record(
                        msg.topic,
                        0,
                        len(log),
                        msg.key.encode() if msg.key is not None else None,
                        msg.value,
                        tuple(msg.headers),
                    )
                )
            self.changed.notify_all()


class InMemoryBus:
    def __init__(self, broker: InMemoryBroker | None = None) -> None:
        self.broker = broker or InMemoryBroker()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        await self.broker.append(messages)

    def consumer(self, group: str, topics: Sequence[str], state_topics: Collection[str] = ()) -> InMemoryConsumer:
        # One process, records in publish order: a directory event is never behind the events it announces.
        return InMemoryConsumer(self.broker, group, list(topics))

    async def ping(self) -> None:
        return None


class InMemoryConsumer:
    def __init__(self, broker: InMemoryBroker, group: str, topics: list[str]) -> None:
        self._broker = broker
        self._group = group
        self._topics = topics
        self._position: dict[str, int] = {}
        self._started = False

    async def start(self) -> None:
        self._position = {t: self._broker.committed.get((self._group, t), 0) for t in self._topics}
        self._started = True

    async def stop(self) -> None:
        self._started = False

    def _available(self, max_records: int) -> list[Record]:
        out: list[Record] = []
        for topic in self._topics:
            log = self._broker.topics[topic]
            out.extend(log[self._position[topic] : self._position[topic] + max_records - len(out)])
            if len(out) >= max_records:
                break
        for record in out:
            self._position[record.topic] = max(self._position[record.topic], record.offset + 1)
        return out

    async def fetch(self, timeout_s: float, max_records: int) -> list[Record]:
        async with self._broker.changed:
            records = self._available(max_records)
            if records:
                return records
            try:
                await asyncio.wait_for(self._broker.changed.wait(), timeout_s)
            except TimeoutError:
                return []
            return self._available(max_records)

    async def commit(self, *records: Record) -> None:
        for (topic, _partition), offset in next_offsets(records).items():
            self._broker.committed[(self._group, topic)] = offset

    async def rewind(self, record: Record) -> None:
        self._position[record.topic] = record.offset

    def assigned(self) -> bool:
        return self._started

    def owns(self, record: Record) -> bool:
        return self._started

    async def lag(self) -> dict[tuple[str, int], int]:
        return {(t, 0): len(self._broker.topics[t]) - self._position.get(t, 0) for t in self._topics}
