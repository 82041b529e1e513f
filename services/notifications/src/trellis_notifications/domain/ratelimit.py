"""A token bucket for the SMTP send rate (no I/O: the caller passes the time and does the waiting)."""

from __future__ import annotations


class TokenBucket:
    """At most ``burst`` messages at once, then ``rate_per_s`` on average; ``rate_per_s == 0`` means unlimited.

    ``take`` reserves the next slot and returns how long to wait for it, so callers that wait exactly that
    long never exceed ``burst + rate_per_s · T`` messages in any window of ``T`` seconds.
    """

    def __init__(self, rate_per_s: float, burst: int, now: float) -> None:
        if rate_per_s < 0:
            raise ValueError("rate_per_s must not be negative")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._tokens = float(burst)
        self._last = now

    def take(self, now: float) -> float:
        """Reserve one message; returns the seconds to wait before sending it (0 when a token is there)."""
        if self.rate_per_s == 0:
            return 0.0
        elapsed = max(0.0, now - self._last)  # a clock that steps back must not mint tokens
        self._last = max(self._last, now)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate_per_s)
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate_per_s
