"""Rate limits for the routes anyone can reach (survey form, unsubscribe, calendar feed) and for anything that
makes Trellis send email: a token bucket per client (or caller) and route, in the process.

Each replica keeps its own buckets, so N replicas allow up to N times the rate; a limit is there to stop
floods and brute-forcing of link tokens, not to meter fairly. The buckets are bounded (least recently used
clients are forgotten) so a flood of addresses cannot exhaust memory.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

MAX_TRACKED = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    def __init__(self, capacity: int, per_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self.rate = capacity / per_seconds  # tokens per second
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        """0 when allowed; otherwise the seconds until a request would be allowed."""
        now = self.clock()
        bucket = self._buckets.pop(key, None) or _Bucket(float(self.capacity), now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self._buckets[key] = bucket
        if len(self._buckets) > MAX_TRACKED:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


def client_key(request: Request) -> str:
    # The peer address; behind a proxy uvicorn's --proxy-headers/--forwarded-allow-ips make it the real client.
    return request.client.host if request.client else "unknown"


def rate_limited(
    name: str, capacity: int | str, per_seconds: float, key: Callable[[Request], str] = client_key
) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency allowing ``capacity`` requests per ``per_seconds`` per key, 429 with Retry-After
    beyond. ``capacity`` is a number or the name of a service setting read at request time (so each app, and
    each test, gets its own configured limit); 0 switches the limit off."""

    async def dependency(request: Request) -> None:
        limit = capacity if isinstance(capacity, int) else int(getattr(request.app.state.runtime.settings, capacity))
        if limit <= 0:
            return
        registry: dict[str, TokenBuckets] | None = getattr(request.app.state, "rate_buckets", None)
        if registry is None:
            registry = request.app.state.rate_buckets = {}
        buckets = registry.get(name)
        if buckets is None or buckets.capacity != limit:
            buckets = registry[name] = TokenBuckets(limit, per_seconds)
        wait = buckets.take(key(request))
        if wait > 0:
            raise HTTPException(
                status_code=429,
                detail=f"too many requests; try again in {math.ceil(wait)} s",
                headers={"Retry-After": str(math.ceil(wait))},
            )

    return dependency


def caller_key(request: Request) -> str:
    """The authenticated caller (declare the limit after the route's scope so authentication ran first)."""
    principal = getattr(request.state, "principal", None)
    return f"sub:{principal.subject}" if principal is not None else f"ip:{client_key(request)}"


# One budget per client across a service's public pages, and per caller for routes that send email.
public_pages = rate_limited("public", "public_rate_per_minute", 60)
email_triggers = rate_limited("email", "email_trigger_rate_per_hour", 3600, key=caller_key)
PublicLimit = Annotated[None, Depends(public_pages)]
EmailLimit = Annotated[None, Depends(email_triggers)]
