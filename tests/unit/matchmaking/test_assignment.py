"""Seats to gaps: capacity holds, the most severe gaps win contested seats, no free seat is left idle."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trellis_matchmaking.domain.assignment import UNASSIGNED, assign_seats


@st.composite
def seat_problems(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    needs = draw(st.integers(1, 12))
    offers = draw(st.integers(1, 6))
    priority = draw(st.lists(st.sampled_from([1.0, 2.5, 6.0, 10.0, 22.5, 40.0]), min_size=needs, max_size=needs))
    seats = draw(st.lists(st.integers(0, 3), min_size=offers, max_size=offers))
    pairs = sorted(draw(st.sets(st.tuples(st.integers(0, needs - 1), st.integers(0, offers - 1)))))
    scores = draw(st.lists(st.floats(0, 1), min_size=len(pairs), max_size=len(pairs)))
    return (
        np.array(priority),
        np.array(seats, dtype=np.int64),
        np.array([p[0] for p in pairs], dtype=np.int64),
        np.array([p[1] for p in pairs], dtype=np.int64),
        np.array(scores),
    )


@settings(max_examples=300, deadline=None)
@given(seat_problems())
def test_seats_go_to_the_most_severe_gaps_within_capacity(problem) -> None:  # type: ignore[no-untyped-def]
    priority, seats, arc_need, arc_offer, arc_score = problem
    seated = assign_seats(priority, seats, arc_need, arc_offer, arc_score)
    eligible = set(zip(arc_need.tolist(), arc_offer.tolist(), strict=True))

    load = Counter(int(o) for o in seated if o != UNASSIGNED)
    assert all(load[o] <= seats[o] for o in load), "no offer is oversubscribed"
    assert all((i, int(o)) in eligible for i, o in enumerate(seated) if o != UNASSIGNED), "only eligible pairs"
    for need, offer in eligible:
        if seated[need] != UNASSIGNED:
            continue
        # The unserved gap could use this offer: it must be full, and only of gaps at least as severe.
        holders = [i for i, o in enumerate(seated) if o == offer]
        assert len(holders) == seats[offer], "a free seat is never left while an eligible gap waits"
        assert all(priority[i] >= priority[need] for i in holders), "a milder gap holds a seat a severer gap needed"


def test_the_more_severe_of_two_gaps_wins_the_last_seat() -> None:
    priority = np.array([6.0, 22.5])
    # The milder gap fits the offer far better; severity still decides who is served.
    seated = assign_seats(priority, np.array([1]), np.array([0, 1]), np.array([0, 0]), np.array([0.95, 0.2]))
    assert seated.tolist() == [UNASSIGNED, 0]


def test_the_flow_serves_both_gaps_where_a_greedy_pass_would_not() -> None:
    """Gap 0 (severest) could take offer 0 or 1; gap 1 only offer 0. Greedy by severity gives gap 0 its best
    offer (0) and leaves gap 1 unserved; the flow places gap 0 in offer 1 so both get a seat."""
    seated = assign_seats(
        np.array([40.0, 10.0]),
        np.array([1, 1]),
        np.array([0, 0, 1]),
        np.array([0, 1, 0]),
        np.array([0.9, 0.8, 0.7]),
    )
    assert seated.tolist() == [1, 0]


def test_a_severer_gap_keeps_its_better_offer_when_both_can_be_served() -> None:
    """Both gaps are served either way; the fit of the severer gap weighs more, so it keeps the better seat."""
    seated = assign_seats(
        np.array([22.5, 10.0]),
        np.array([1, 1]),
        np.array([0, 0, 1, 1]),
        np.array([0, 1, 0, 1]),
        np.array([0.80, 0.64, 0.69, 0.50]),
    )
    assert seated.tolist() == [0, 1]


def test_nothing_to_place() -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert assign_seats(np.array([5.0]), np.array([2]), empty, empty, np.zeros(0)).tolist() == [UNASSIGNED]
    assert assign_seats(np.zeros(0), np.zeros(0, dtype=np.int64), empty, empty, np.zeros(0)).tolist() == []
