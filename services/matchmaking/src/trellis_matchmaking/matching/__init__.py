"""Matching as gaps arrive: new gaps take free seats, and a proposal once made keeps its seat.

What a placement touches is bounded by the gaps it places, never by the size of the platform: the offers that
cover their skills (found through the skill index, locked in id order so replicas count each seat once), the
seats already taken in those offers, and the placed members' own rows.

The rules (documented in docs/matchmaking.md):

1. **A cluster's own offer serves its members first.** Closed to other clusters (the default), no one else
   may use it; open, it gives another cluster's member a seat only when no waiting member of the owning
   cluster could use it at that moment (the owners' waiting members are read with the first page of the
   waiting list). Shared offers serve every cluster alike.
2. **Gaps placed together compete as equals.** The gaps of the assessments handled in one transaction (a
   consumer batch) are placed in one min-cost flow: a contested seat goes to the more severe gap.
3. **A proposal keeps its seat.** A later gap, however severe, never takes a seat that an earlier gap holds
   as a proposal: the member was told, and proposals do not churn. An accepted or completed seat never moves.
   A proposal lapses only when its own member's gaps change (a new assessment, a re-match asked for), when
   the member declines it, or when the offer can no longer serve it (partner or offer removed, seats cut,
   the offer changed, closed to the member's cluster).
4. **Freed seats go to the waiting list, most severe first.** A gap that found no free seat waits; when a
   seat frees up (a decline, a lapsed proposal, more seats, a new offer) the waiting gaps that can use it are
   placed, most severe first, together with any gaps placed in the same transaction.

Hence the property (tested): *a gap waits only if every offer it can use is full, and each seat there was
given, when it was given, to a member of the offer's cluster while this gap's member is not one, or to a gap
at least as severe, or before this gap began to wait, or was accepted.*

The placement never reads a whole period, so replicas scale out by partition (members are the Kafka key) and
only meet on the rows of the offers they both place gaps in.

Modules: ``rounds`` (settle: one round), ``ledger`` (what a round knows of its members), ``solving`` (offers,
solves, match rows), ``announcements`` (the events members get), ``changes`` (rounds after offers change).
"""

from trellis_matchmaking.matching.changes import (
    after_offers_changed,
    release_unfit,
    serve_waiting_list,
    supersede_other_periods,
)
from trellis_matchmaking.matching.ledger import EVERYTHING
from trellis_matchmaking.matching.rounds import FIGURES, Reason, RoundResult, settle
from trellis_matchmaking.matching.solving import current_period, release_matches

__all__ = [
    "EVERYTHING",
    "FIGURES",
    "Reason",
    "RoundResult",
    "after_offers_changed",
    "current_period",
    "release_matches",
    "release_unfit",
    "serve_waiting_list",
    "settle",
    "supersede_other_periods",
]
