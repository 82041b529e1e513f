"""Seats to gaps: a min-cost flow (OR-Tools) in which the most severe gaps win contested seats.

Network: each gap is a source of one unit; it flows either to an offer it may use (one seat) or, at a
price, to "unserved"; each offer passes at most its free seats on to the sink. Solving for the cheapest flow
maximises the total value of the seats given, where a seat's value is

    severity rank × M + round(10⁶ × priority / highest priority × score)

- *severity rank*: the gap's priority ranked densely among the gaps in the problem (1 = least severe);
- the middle term is the pair's score weighted by the gap's priority, so among the gaps that get a seat a
  more severe gap's fit counts for more (it is not moved to a worse offer to give a milder gap a better one);
  it lies in 0 … 10⁶, and ``M`` = 10⁶ + 2 exceeds any difference of it, so no gain in fit can buy a seat
  away from a more severe gap.

Only gaps without a seat take part: a proposal already made keeps its seat (``plan.py``).

Why the severest gaps win: if an optimal flow left gap A unserved while a less severe gap B held a seat A
could use, giving B's seat to A would raise the value by at least M − 10⁶ − 1 > 0, so the flow was not
optimal. Unlike a greedy loop in order of severity, the flow may place a severe gap in its second-best offer
when that is what lets another member be served at all.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from ortools.graph.python.min_cost_flow import SimpleMinCostFlow

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

FIT_SCALE = 1_000_000
RANK_STEP = FIT_SCALE + 2
UNASSIGNED = -1


class AssignmentFailed(RuntimeError):
    """The solver did not find an optimal flow (it always should: every gap may stay unserved)."""


def assign_seats(
    priority: Floats,
    seats: Ints,
    arc_need: Ints,
    arc_offer: Ints,
    arc_score: Floats,
) -> Ints:
    """The offer each need gets (``UNASSIGNED`` when none): one seat per need, at most ``seats[o]`` per offer.

    ``priority[i]`` is need i's gap priority; the arcs are the eligible (need, offer) pairs with their score
    in [0, 1].
    """
    needs, offers = len(priority), len(seats)
    assigned = np.full(needs, UNASSIGNED, dtype=np.int64)
    if needs == 0 or len(arc_need) == 0:
        return assigned
    rank = np.unique(priority, return_inverse=True)[1].astype(np.int64).reshape(-1) + 1
    weight = priority / priority.max() if priority.max() > 0 else np.ones(needs)
    fit = np.clip(np.rint(FIT_SCALE * weight[arc_need] * arc_score), 0, FIT_SCALE).astype(np.int64)
    value = rank[arc_need] * RANK_STEP + fit
    unserved = int(value.max()) + 1  # dearer than any seat, so a seat is always taken when one is free

    sink = needs + offers
    tails = np.concatenate([arc_need, np.arange(needs), needs + np.arange(offers)]).astype(np.int32)
    heads = np.concatenate([needs + arc_offer, np.full(needs, sink), np.full(offers, sink)]).astype(np.int32)
    capacities = np.concatenate(
        [np.ones(len(arc_need), dtype=np.int64), np.ones(needs, dtype=np.int64), np.maximum(seats, 0)]
    )
    costs = np.concatenate(
        [unserved - value, np.full(needs, unserved, dtype=np.int64), np.zeros(offers, dtype=np.int64)]
    )
    flow = SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:needs] = 1
    supplies[sink] = -needs
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supplies)
    status = flow.solve()
    if status != SimpleMinCostFlow.OPTIMAL:
        raise AssignmentFailed(f"min-cost flow ended with status {status}")
    taken = flow.flows(np.arange(len(arc_need), dtype=np.int32)) > 0
    assigned[arc_need[taken]] = arc_offer[taken]
    return assigned
