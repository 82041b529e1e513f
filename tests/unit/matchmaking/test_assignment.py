"""Seats to gaps: capacity holds, a cluster's members win its offer's seats, then the most severe gaps; no free
seat is left idle."""

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
    # Clusters 0 and 1 own some offers (-1: shared); needs are members of one of them.
    member_of = draw(st.lists(st.integers(0, 1), min_size=needs, max_size=needs))
    owner = draw(st.lists(st.sampled_from([-1, -1, 0, 1]), min_size=offers, max_size=offers))
    foreign = [owner[o] >= 0 and owner[o] != member_of[n] for n, o in pairs]
    return (
        np.array(priority),
        np.array(seats, dtype=np.int64),
        np.array([p[0] for p in pairs], dtype=np.int64),
        np.array([p[1] for p in pairs], dtype=np.int64),
        np.array(scores),
        np.array(foreign, dtype=bool),
    )


@settings(max_examples=300, deadline=None)
@given(seat_problems())
def test_seats_go_to_the_owning_cluster_then_the_most_severe_gaps_within_capacity(problem) -> None:  # type: ignore[no-untyped-def]
    priority, seats, arc_need, arc_offer, arc_score, arc_foreign = problem
    seated = assign_seats(priority, seats, arc_need, arc_offer, arc_score, arc_foreign)
    eligible = set(zip(arc_need.tolist(), arc_offer.tolist(), strict=True))
    foreign = dict(zip(zip(arc_need.tolist(), arc_offer.tolist(), strict=True), arc_foreign.tolist(), strict=True))

    load = Counter(int(o) for o in seated if o != UNASSIGNED)
    assert all(load[o] <= seats[o] for o in load), "no offer is oversubscribed"
    assert all((i, int(o)) in eligible for i, o in enumerate(seated) if o != UNASSIGNED), "only eligible pairs"
    for need, offer in eligible:
        if seated[need] != UNASSIGNED:
            continue
        # The unserved gap could use this offer: it must be full, and only of gaps at least as severe.
        holders = [i for i, o in enumerate(seated) if o == offer]
        assert len(holders) == seats[offer], "a free seat is never left while an eligible gap waits"
        for i in holders:
            if foreign[(need, offer)] != foreign[(i, offer)]:  # the owning cluster's member comes first
                assert not foreign[(i, offer)], "another cluster's member holds a seat the owner's member needed"
            else:
                assert priority[i] >= priority[need], "a milder gap holds a seat a severer gap needed"


@settings(max_examples=200, deadline=None)
@given(seat_problems())
def test_as_many_gaps_are_served_as_can_be(problem) -> None:  # type: ignore[no-untyped-def]
    """The flow serves the most gaps it can; the owners' priority and severity only choose among such ways."""
    priority, seats, arc_need, arc_offer, arc_score, arc_foreign = problem
    served = int((assign_seats(priority, seats, arc_need, arc_offer, arc_score, arc_foreign) != UNASSIGNED).sum())
    assert served == _most_served(len(priority), seats, list(zip(arc_need.tolist(), arc_offer.tolist(), strict=True)))


def _most_served(needs: int, seats: np.ndarray, pairs: list[tuple[int, int]]) -> int:
    """Maximum bipartite matching with capacities, by augmenting paths (small problems only)."""
    load: dict[int, list[int]] = {o: [] for o in range(len(seats))}
    options: dict[int, list[int]] = {n: [] for n in range(needs)}
    for n, o in pairs:
        options[n].append(o)

    def augment(n: int, seen: set[int]) -> bool:
        for o in options[n]:
            if o in seen:
                continue
            seen.add(o)
            if len(load[o]) < seats[o]:
                load[o].append(n)
                return True
            for other in list(load[o]):
                if augment(other, seen):
                    load[o].remove(other)
                    load[o].append(n)
                    return True
        return False

    return sum(augment(n, set()) for n in range(needs))


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


def test_a_clusters_member_takes_its_offers_seat_before_a_more_severe_member_of_another() -> None:
    priority = np.array([2.0, 40.0])  # need 0: the owning cluster's member; need 1: another cluster's
    seated = assign_seats(
        priority, np.array([1]), np.array([0, 1]), np.array([0, 0]), np.array([0.5, 0.9]), np.array([False, True])
    )
    assert seated.tolist() == [0, UNASSIGNED]


def test_another_clusters_member_takes_a_shared_seat_and_leaves_the_owners_to_its_member() -> None:
    """Need 1 (another cluster's, severe) fits cluster A's offer 0 far better than the shared offer 1; need 0 (A's
    member) can use offer 0 only. Both are served: need 1 in the shared seat."""
    seated = assign_seats(
        np.array([2.0, 40.0]),
        np.array([1, 1]),
        np.array([0, 1, 1]),
        np.array([0, 0, 1]),
        np.array([0.5, 0.9, 0.1]),
        np.array([False, True, False]),
    )
    assert seated.tolist() == [0, 1]


def test_nothing_to_place() -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert assign_seats(np.array([5.0]), np.array([2]), empty, empty, np.zeros(0)).tolist() == [UNASSIGNED]
    assert assign_seats(np.zeros(0), np.zeros(0, dtype=np.int64), empty, empty, np.zeros(0)).tolist() == []
