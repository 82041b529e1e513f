"""Failpoints fire by name, or by name only where a given type of event is at hand."""

from __future__ import annotations

import signal

import pytest

from trellis_common.failpoints import Failpoints


@pytest.fixture
def kills(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr("trellis_common.failpoints.os.kill", lambda _pid, sig: sent.append(sig))
    return sent


def test_a_named_failpoint_fires_whatever_is_at_hand(kills: list[int]) -> None:
    Failpoints("consumer.after_db_commit").hit("consumer.after_db_commit", ["a.v1"])
    assert kills == [signal.SIGKILL]


def test_a_failpoint_scoped_to_an_event_type_waits_for_that_type(kills: list[int]) -> None:
    points = Failpoints("consumer.after_db_commit@b.v1, relay.after_publish")
    points.hit("consumer.after_db_commit", ["a.v1"])
    points.hit("consumer.after_db_commit")
    points.hit("consumer.before_db_commit", ["b.v1"])
    assert kills == []
    points.hit("consumer.after_db_commit", ["a.v1", "b.v1"])
    assert kills == [signal.SIGKILL]
