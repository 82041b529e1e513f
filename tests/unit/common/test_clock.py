"""The shifted clock runs with real time and jumps when set; clocks that move are refused in production."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from trellis_common.clock import ShiftedClock
from trellis_common.runtime import _clock_of
from trellis_common.settings import ServiceSettings


def test_a_shifted_clock_keeps_running_after_a_jump() -> None:
    clock = ShiftedClock()
    before = datetime.now(UTC)
    assert abs((clock.now() - before).total_seconds()) < 5
    ahead = before + timedelta(days=40)
    clock.set(ahead)
    first = clock.now()
    assert abs((first - ahead).total_seconds()) < 5
    assert clock.now() >= first, "time still runs"


def test_a_shifted_clock_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ShiftedClock().set(datetime(2030, 1, 1))  # a naive time: the mistake under test


def test_a_restarted_process_starts_from_its_shift() -> None:
    settings = ServiceSettings(service_name="strategy", clock="shifted", clock_shift_s=86_400 * 30)
    clock = _clock_of(settings)
    assert isinstance(clock, ShiftedClock)
    assert abs((clock.now() - datetime.now(UTC) - timedelta(days=30)).total_seconds()) < 5


@pytest.mark.parametrize("clock", ["manual", "shifted"])
def test_clocks_that_move_are_refused_in_production(clock: str) -> None:
    with pytest.raises(ValidationError, match=f"clock={clock} is refused"):
        ServiceSettings(
            service_name="strategy",
            clock=clock,
            environment="prod",
            database_url="postgresql+asyncpg://u:p@db/strategy",
        )


def test_a_shift_without_the_shifted_clock_is_refused() -> None:
    with pytest.raises(ValidationError, match="clock_shift_s moves only clock=shifted"):
        ServiceSettings(service_name="strategy", clock_shift_s=60)
