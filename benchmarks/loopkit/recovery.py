"""How long the loop takes to recover from a fault: the consumer groups' lag, sampled once a second all run long,
read against each fault's start and end."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

SLACK = 5  # records: the lag of a loop at work, not behind


class LagWatch:
    """The total lag of ``groups`` (group id -> its topics), one sample a second (none while the broker is away)."""

    def __init__(self, bootstrap: str, groups: Mapping[str, Sequence[str]]) -> None:
        self.bootstrap = bootstrap
        self.groups = dict(groups)
        self.samples: list[tuple[float, int]] = []  # (monotonic time, total lag)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(KafkaError, OSError, asyncio.TimeoutError):
                await self._watch(stop)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 1)  # the broker went away: connect again in a second

    async def _watch(self, stop: asyncio.Event) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)  # assigned nothing: no fetching
        try:
            await admin.start()
            await consumer.start()
            await consumer.topics()  # the cluster's metadata, for the partitions of each topic
            while not stop.is_set():
                self.samples.append((time.monotonic(), await self._total(admin, consumer)))
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1)  # one sample a second
        finally:
            # Closing while the broker is away may raise anything, even a CancelledError from aiokafka's own
            # tasks; the watch is only ever ended by ``stop``, so nothing here is a cancellation of ours.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await consumer.stop()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await admin.close()

    async def _total(self, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> int:
        total = 0
        for group, topics in self.groups.items():
            committed = await asyncio.wait_for(admin.list_consumer_group_offsets(group), 5)
            partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
            ends = await asyncio.wait_for(consumer.end_offsets(partitions), 5)
            total += sum(max(0, ends[tp] - (committed[tp].offset if tp in committed else 0)) for tp in partitions)
        return total

    def recovered_after(self, start: float, healed: float) -> float | None:
        """Seconds from ``start`` until the lag, after ``healed``, was back to its level before ``start`` (or the
        run's typical lag, its median, if that is higher: the loop at work is a little behind); None when it never
        was while watched."""
        before = [lag for at, lag in self.samples if at <= start]
        typical = statistics.median(lag for _, lag in self.samples) if self.samples else 0
        level = max(before[-1] if before else 0, typical) + SLACK
        for at, lag in self.samples:
            if at >= healed and lag <= level:
                return at - start
        return None


def summary(recoveries: Mapping[str, Sequence[float]]) -> dict[str, str]:
    """Per kind of fault: median and worst recovery, in seconds from the fault's start."""
    return {
        kind: f"median {statistics.median(times):.1f} s, worst {max(times):.1f} s ({len(times)} faults)"
        for kind, times in sorted(recoveries.items())
        if times
    }
