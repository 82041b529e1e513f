"""The bus interface both implementations honour."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    topic: str
    key: str | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


class BusConsumer(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def fetch(self, timeout_s: float, max_records: int) -> list[Record]:
        """Records in order per partition, starting at the committed offset or the latest seek."""
        ...

    async def commit(self, *records: Record) -> None:
        """Commit, per partition, the offset after the last of ``records``: everything up to it is done.

        Partitions revoked meanwhile are skipped (their new owner re-reads from the last committed offset).
        """
        ...

    async def rewind(self, record: Record) -> None:
        """The next fetch for this partition starts again at ``record`` (retry after a transient error)."""
        ...

    def assigned(self) -> bool: ...
    def owns(self, record: Record) -> bool:
        """False once the record's partition was revoked by a rebalance: another member takes it over."""
        ...

    async def lag(self) -> dict[tuple[str, int], int]: ...


class EventBus(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Publish in order; returns once every message is acknowledged, raises if any is not."""
        ...

    def consumer(self, group: str, topics: Sequence[str], state_topics: Collection[str] = ()) -> BusConsumer:
        """A consumer of ``topics`` in ``group``. ``state_topics`` (some of ``topics``: compacted directories such
        as the members') are read up to where they stood at each assignment before any other topic."""
        ...

    async def ping(self) -> None:
        """Raise if the bus cannot be reached."""
        ...


def next_offsets(records: Sequence[Record]) -> dict[tuple[str, int], int]:
    """Per (topic, partition): the offset after the highest of ``records``, what a commit stores."""
    out: dict[tuple[str, int], int] = {}
    for record in records:
        key = (record.topic, record.partition)
        out[key] = max(out.get(key, 0), record.offset + 1)
    return out
