from __future__ import annotations

from trellis_common.bus import OutgoingMessage
from trellis_common.bus.memory import InMemoryBus


async def test_groups_resume_from_committed_offset_and_rewind_replays() -> None:
    bus = InMemoryBus()
    await bus.publish([OutgoingMessage("t", "k", f"{i}".encode()) for i in range(5)])
    consumer = bus.consumer("g", ["t"])
    await consumer.start()
    first = await consumer.fetch(0.1, 3)
    assert [r.value for r in first] == [b"0", b"1", b"2"]
    await consumer.commit(first[0])
    await consumer.rewind(first[1])  # a transient failure on offset 1
    again = await consumer.fetch(0.1, 10)
    assert [r.value for r in again] == [b"1", b"2", b"3", b"4"]
    await consumer.stop()

    restarted = bus.consumer("g", ["t"])
    await restarted.start()
    assert [r.offset for r in await restarted.fetch(0.1, 10)] == [1, 2, 3, 4], "resumes after the commit"
    other_group = bus.consumer("h", ["t"])
    await other_group.start()
    assert len(await other_group.fetch(0.1, 10)) == 5
    assert await other_group.fetch(0.01, 10) == []
