"""The array path and the readable rules agree on every pair: the same eligible pairs, the same scores."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.matchmaking.strategies import problems
from trellis_matchmaking.domain.candidates import score_candidates
from trellis_matchmaking.domain.plan import sharing
from trellis_matchmaking.domain.scoring import FACTORS, ineligibility, score


@settings(max_examples=150, deadline=None)
@given(problems(), st.integers(2, 3))
def test_arrays_agree_with_the_rules(problem, pool_min: int) -> None:  # type: ignore[no-untyped-def]
    needs, catalogue = problem
    shared = sharing(needs)
    found = score_candidates(needs, catalogue, shared_by=shared, pool_min_members=pool_min)
    pairs = {
        (int(i), int(j)): (float(s), values.tolist())
        for i, j, s, values in zip(found.need, found.offer, found.score, found.values, strict=True)
    }
    expected = {}
    for i, need in enumerate(needs):
        for j, candidate in enumerate(catalogue):
            if ineligibility(need.gap, candidate, need.profile) is None:
                total, parts = score(
                    need.gap,
                    candidate,
                    need.profile,
                    shared_by=shared[(need.cluster_id, need.gap.skill_code)],
                    pool_min_members=pool_min,
                )
                expected[(i, j)] = (total, [p.value for p in parts])
    assert pairs.keys() == expected.keys()
    for key, (total, values) in expected.items():
        assert pairs[key] == (total, values), (key, list(FACTORS))


@given(problems())
def test_declined_offers_are_never_candidates_for_that_gap(problem) -> None:  # type: ignore[no-untyped-def]
    needs, catalogue = problem
    declined = {(n.member_id, n.gap.skill_code, o.offer_id) for n in needs[:2] for o in catalogue}
    found = score_candidates(needs, catalogue, shared_by=sharing(needs), pool_min_members=2, declined=declined)
    for i, j in zip(found.need.tolist(), found.offer.tolist(), strict=True):
        assert (needs[i].member_id, needs[i].gap.skill_code, catalogue[j].offer_id) not in declined
