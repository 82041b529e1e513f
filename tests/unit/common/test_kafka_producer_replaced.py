"""A producer whose idempotent sequence broke is replaced, not retried forever: aiokafka's sender stops for good on
OutOfOrderSequenceNumber and fails every later send, so a relay that kept it would never publish again (found by
the chaos run's network stalls, on the harness's own producer)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, OutOfOrderSequenceNumber

from trellis_common.bus import kafka
from trellis_common.bus.base import OutgoingMessage
from trellis_common.errors import TransientError

MESSAGE = OutgoingMessage("topic", "key", b"value", [])


class FakeProducer:
    """Stands in for AIOKafkaProducer: each instance fails its sends with the error the test gives it."""

    instances: list[FakeProducer] = []
    failures: list[BaseException | None] = []

    def __init__(self, **_options: Any) -> None:
        self.failure = FakeProducer.failures.pop(0) if FakeProducer.failures else None
        self.stopped = False
        self.sent = 0
        FakeProducer.instances.append(self)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, **_record: Any) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.failure is not None:
            future.set_exception(self.failure)
        else:
            self.sent += 1
            future.set_result(None)
        return future


@pytest.fixture
def producers(monkeypatch: pytest.MonkeyPatch) -> list[FakeProducer]:
    FakeProducer.instances, FakeProducer.failures = [], []
    monkeypatch.setattr(kafka, "AIOKafkaProducer", FakeProducer)
    return FakeProducer.instances


async def test_a_broken_sequence_replaces_the_producer(producers: list[FakeProducer]) -> None:
    FakeProducer.failures = [OutOfOrderSequenceNumber()]
    bus = kafka.KafkaBus("broker:9092", "test")
    with pytest.raises(TransientError, match="replaced"):
        await bus.publish([MESSAGE])  # retried in order by the relay, like any transient failure
    await bus.publish([MESSAGE])
    assert len(producers) == 2 and producers[0].stopped and producers[1].sent == 1


async def test_a_passing_failure_keeps_the_producer(producers: list[FakeProducer]) -> None:
    FakeProducer.failures = [KafkaTimeoutError()]
    bus = kafka.KafkaBus("broker:9092", "test")
    with pytest.raises(TransientError):
        await bus.publish([MESSAGE])
    assert len(producers) == 1 and not producers[0].stopped
