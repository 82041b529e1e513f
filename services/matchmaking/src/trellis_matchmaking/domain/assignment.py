"""Seats to gaps: a min-cost flow (OR-Tools) that serves as many gaps as it can, the most severe first.

Network: each gap is a source of one unit that may flow to an offer it may use (one seat); each offer passes
at most its free seats on to the sink. Among the flows that serve the most gaps, the cheapest is the one that
maximises the total value of the seats given, where a seat's value is

    severity rank × M + round(10⁶ × priority / highest priority × score) − F × (another cluster's offer)

- *severity rank*: the gap's priority ranked densely among the gaps in the problem (1 = least severe);
- the middle term is the pair's score weighted by the gap's priority, so among the gaps that get a seat a
  more severe gap's fit counts for more (it is not moved to a worse offer to give a milder gap a better one);
  it lies in 0 … 10⁶, and ``M`` = 10⁶ + 2 exceeds any difference of it, so no gain in fit can buy a seat
  away from a more severe gap;
- *another cluster's offer*: 1 when the seat belongs to an offer another cluster owns (and opened to other
  clusters); ``F`` = (highest rank + 1) × M exceeds any difference of the other terms, so such a seat goes
  to a member of the owning cluster before any other member, whatever the severities. A member of another
  cluster also takes a shared or its own cluster's seat before one of another cluster's offers.

Only gaps without a seat take part: a proposal already made keeps its seat (``plan.py``).

Why the severest gaps win: if an optimal flow left gap A unserved while a less severe gap B held a seat A
could use (both members of the offer's cluster, or neither), giving B's seat to A serves as many gaps and
raises the value by at least M − 10⁶ − 1 > 0, so the flow was not optimal; the same exchange shows that a
member of the owning cluster never waits for a seat of its cluster's offer that another cluster's member got.
Unlike a greedy loop in order of severity, the flow may place a severe gap in its second-best offer when
that is what lets another member be served at all.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from ortools.graph.python.min_cost_flow import SimpleMinCostFlow

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

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
    arc_foreign: Bools | None = None,
) -> Ints:
    """The offer each need gets (``UNASSIGNED`` when none): one seat per need, at most ``seats[o]`` per offer.

    ``priority[i]`` is need i's gap priority; the arcs are the eligible (need, offer) pairs with their score
    in [0, 1]; ``arc_foreign`` marks the arcs into an offer another cluster than the need's owns.
    """
    needs, offers = len(priority), len(seats)
    assigned = np.full(needs, UNASSIGNED, dtype=np.int64)
    if needs == 0 or len(arc_need) == 0:
        return assigned
    rank = np.unique(priority, return_inverse=True)[1].astype(np.int64).reshape(-1) + 1
    weight = priority / priority.max() if priority.max() > 0 else np.ones(needs)
    fit = np.clip(np.rint(FIT_SCALE * weight[arc_need] * arc_score), 0, FIT_SCALE).astype(np.int64)
    value = rank[arc_need] * RANK_STEP + fit
    if arc_foreign is not None:
        value = value - arc_foreign.astype(np.int64) * (int(rank.max()) + 1) * RANK_STEP
    costs = int(value.max()) - value  # the dearest seat costs nothing: costs stay non-negative

    sink = needs + offers
    tails = np.concatenate([arc_need, needs + np.arange(offers)]).astype(np.int32)
    heads = np.concatenate([needs + arc_offer, np.full(offers, sink)]).astype(np.int32)
    capacities = np.concatenate([np.ones(len(arc_need), dtype=np.int64), np.maximum(seats, 0)])
    flow = SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        tails, heads, capacities, np.concatenate([costs, np.zeros(offers, dtype=np.int64)])
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:needs] = 1
    supplies[sink] = -needs
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supplies)
    status = flow.solve_max_flow_with_min_cost()  # the most gaps served; among those flows, the cheapest
    if status != SimpleMinCostFlow.OPTIMAL:
        raise AssignmentFailed(f"min-cost flow ended with status {status}")
    taken = flow.flows(np.arange(len(arc_need), dtype=np.int32)) > 0
    assigned[arc_need[taken]] = arc_offer[taken]
    return assigned
