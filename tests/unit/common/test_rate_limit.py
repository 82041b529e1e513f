"""Token buckets: a burst up to the capacity, then one request per refill interval; keys are independent."""

from __future__ import annotations

import httpx
from fastapi import Depends, FastAPI

from trellis_common.rate_limit import MAX_TRACKED, TokenBuckets, rate_limited


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_refill_rate() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(3, 60, clock)  # 3 per minute: one every 20 s
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == 20
    assert buckets.take("b") == 0, "another client has its own bucket"
    clock.now = 10
    assert buckets.take("a") == 10
    clock.now = 20
    assert buckets.take("a") == 0
    assert buckets.take("a") > 0


def test_memory_stays_bounded() -> None:
    buckets = TokenBuckets(1, 60, FakeClock())
    for n in range(MAX_TRACKED + 50):
        buckets.take(f"client-{n}")
    assert len(buckets._buckets) == MAX_TRACKED


async def test_the_dependency_answers_429_with_retry_after() -> None:
    app = FastAPI()

    @app.get("/feed", dependencies=[Depends(rate_limited("feed", 2, 60))])
    async def feed() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/open", dependencies=[Depends(rate_limited("open", 0, 60))])
    async def unlimited() -> dict[str, str]:
        return {"ok": "yes"}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        statuses = [(await client.get("/feed")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = await client.get("/feed")
        assert refused.headers["retry-after"] == "30"
        assert "too many requests" in refused.json()["detail"]
        assert {(await client.get("/open")).status_code for _ in range(5)} == {200}
