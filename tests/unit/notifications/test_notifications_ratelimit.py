"""The SMTP token bucket: a burst, then the rate, never more."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trellis_notifications.domain.ratelimit import TokenBucket


def test_a_burst_goes_at_once_then_the_rate_applies() -> None:
    bucket = TokenBucket(rate_per_s=10, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.1)
    assert bucket.take(0.0) == pytest.approx(0.2)
    assert bucket.take(1.0) == 0.0  # a second later the bucket has refilled


def test_zero_means_no_limit() -> None:
    bucket = TokenBucket(rate_per_s=0, burst=1, now=0.0)
    assert all(bucket.take(0.0) == 0.0 for _ in range(1000))


def test_a_clock_that_steps_back_mints_no_tokens() -> None:
    bucket = TokenBucket(rate_per_s=1, burst=1, now=100.0)
    assert bucket.take(100.0) == 0.0
    assert bucket.take(50.0) > 0


@pytest.mark.parametrize(("rate", "burst"), [(-1, 1), (1, 0)])
def test_nonsense_settings_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate_per_s=rate, burst=burst, now=0.0)


@given(
    rate=st.floats(min_value=0.5, max_value=200),
    burst=st.integers(min_value=1, max_value=20),
    gaps=st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=80),
)
def test_no_window_ever_sees_more_than_burst_plus_rate_times_its_length(
    rate: float, burst: int, gaps: list[float]
) -> None:
    bucket = TokenBucket(rate_per_s=rate, burst=burst, now=0.0)
    now, sends = 0.0, []
    for gap in gaps:
        now += gap
        wait = bucket.take(now)
        assert wait >= 0
        sends.append(now + wait)  # the caller sends after waiting exactly that long
        now += wait
    sends.sort()
    for i, start in enumerate(sends):
        for j in range(i, len(sends)):
            window = sends[j] - start
            assert j - i + 1 <= burst + rate * window + 1e-6
