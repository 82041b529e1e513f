"""Every eligible (member gap, offer) pair with its score, computed for thousands of pairs at once.

The rules are those of ``scoring.py`` (eligibility in the same order, the same factors, weights and
rounding), written over numpy arrays: one matrix of gaps × offers per skill, since an offer can only serve
a gap whose skill it covers. Set questions (is the member's region among the offer's regions?) become
products of 0/1 matrices over a small vocabulary (the regions, languages, sectors and countries offers name).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trellis_matchmaking.domain.partners import (
    GROUP_FORMATS,
    MARKET_DOOR_TYPES,
    Delivery,
    MemberNeed,
    NeedKind,
    Offer,
    OfferFormat,
    framework_of,
)
from trellis_matchmaking.domain.scoring import (
    DELIVERY_ELSEWHERE,
    FACTORS,
    FORMAT_FIT,
    OPEN_TO_ALL,
    SEVERITY_CEILING,
    WEIGHTS,
)

Bool = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float32]

_KINDS = list(NeedKind)
_FORMATS = list(OfferFormat)
_FORMAT_TABLE = np.array([[FORMAT_FIT[k][f] for f in _FORMATS] for k in _KINDS])


@dataclass(frozen=True)
class Candidates:
    """Eligible pairs as parallel arrays: need and offer indices, score, and the factor values (FACTORS order)."""

    need: Ints
    offer: Ints
    score: Floats
    values: Floats

    def __len__(self) -> int:
        return len(self.need)

    def where(self, keep: Bool) -> Candidates:
        """The pairs ``keep`` marks."""
        return Candidates(self.need[keep], self.offer[keep], self.score[keep], self.values[keep])


class _Vocabulary:
    def __init__(self, *groups: Iterable[Iterable[str]]) -> None:
        self.index: dict[str, int] = {}
        for group in groups:
            for values in group:
                for value in values:
                    self.index.setdefault(value, len(self.index))

    def mask(self, rows: Sequence[Iterable[str]]) -> Matrix:
        """Rows × vocabulary, 1 where the row holds the value; one spare all-zero column for 'none'."""
        out = np.zeros((len(rows), len(self.index) + 1), dtype=np.float32)
        for i, values in enumerate(rows):
            for value in values:
                j = self.index.get(value)
                if j is not None:
                    out[i, j] = 1.0
        return out

    def position(self, value: str | None) -> int:
        """The value's column, or the spare zero column (-1) when absent."""
        return self.index.get(value, -1) if value is not None else -1


def _hits(left: Matrix, right: Matrix) -> Bool:
    """rows(left) × rows(right): do the two rows share a value?"""
    result: Bool = (left @ right.T) > 0.5
    return result


def score_candidates(
    needs: Sequence[MemberNeed],
    offers: Sequence[Offer],
    *,
    shared_by: Mapping[tuple[str, str], int],
    pool_min_members: int,
    declined: Collection[tuple[str, str, str]] = (),
) -> Candidates:
    """All eligible pairs. ``shared_by[(cluster, skill)]``: members with the gap; ``declined``: (member, skill,
    offer id) triples a member turned down, never proposed again."""
    profiles = [n.profile for n in needs]
    countries = _Vocabulary(
        (o.countries | o.target_markets | ({o.partner_country} if o.partner_country else set()) for o in offers),
        ({p.country} if p.country else set() for p in profiles),
        (p.target_countries for p in profiles),
    )
    regions = _Vocabulary(o.regions for o in offers)
    languages = _Vocabulary(o.languages for o in offers)
    sectors = _Vocabulary(o.sectors for o in offers)

    # Offers, as columns.
    o_format = np.array([_FORMATS.index(o.format) for o in offers], dtype=np.int64)
    o_online = np.array([o.delivery == Delivery.ONLINE for o in offers], dtype=bool)
    o_elsewhere = np.array([DELIVERY_ELSEWHERE.get(o.delivery, 1.0) for o in offers])
    o_level = np.array([o.max_level for o in offers], dtype=np.int64)
    o_seats = np.array([o.seats_left for o in offers], dtype=np.int64)
    o_group = np.array([o.format in GROUP_FORMATS for o in offers], dtype=bool)
    o_countries = countries.mask([o.countries for o in offers])
    o_markets = countries.mask([o.target_markets for o in offers])
    o_regions = regions.mask([o.regions for o in offers])
    o_languages = languages.mask([o.languages for o in offers])
    o_sectors = sectors.mask([o.sectors for o in offers])
    o_has = {
        "countries": np.array([bool(o.countries) for o in offers], dtype=bool),
        "markets": np.array([bool(o.target_markets) for o in offers], dtype=bool),
        "regions": np.array([bool(o.regions) for o in offers], dtype=bool),
        "languages": np.array([bool(o.languages) for o in offers], dtype=bool),
        "sectors": np.array([bool(o.sectors) for o in offers], dtype=bool),
    }
    # A cluster's offer closed to other clusters: eligible only where the member's cluster is its owner.
    clusters = {c: k for k, c in enumerate(sorted({o.owner_cluster_id for o in offers if o.owner_cluster_id}))}
    o_closed = np.array([not o.open_to(None) for o in offers], dtype=bool)
    o_owner = np.array([clusters.get(o.owner_cluster_id or "", -1) for o in offers], dtype=np.int64)
    o_door = np.array([o.partner_type in MARKET_DOOR_TYPES and bool(o.partner_country) for o in offers], dtype=bool)
    o_home = np.array([countries.position(o.partner_country) for o in offers], dtype=np.int64)

    # Needs, as rows.
    kinds = [n.kind for n in needs]
    n_kind = np.array([_KINDS.index(k) for k in kinds], dtype=np.int64)
    n_current = np.array([n.gap.current_level for n in needs], dtype=np.int64)
    n_required = np.array([n.gap.required_level for n in needs], dtype=np.int64)
    n_level_gap = np.array([n.gap.level_gap for n in needs], dtype=np.int64)
    n_severity = np.minimum(1.0, np.array([n.gap.priority for n in needs], dtype=np.float64) / SEVERITY_CEILING)
    n_country = np.array([countries.position(p.country) for p in profiles], dtype=np.int64)
    n_regions = regions.mask([p.regions for p in profiles])
    n_languages = languages.mask([p.languages for p in profiles])
    n_speaks = np.array([bool(p.languages) for p in profiles], dtype=bool)
    n_sectors = sectors.mask([p.sectors_for(k) for p, k in zip(profiles, kinds, strict=True)])
    n_targets = countries.mask([p.target_countries for p in profiles])
    n_has_targets = np.array([bool(p.target_countries) for p in profiles], dtype=bool)
    n_cluster = np.array([clusters.get(p.cluster_id or "", -2) for p in profiles], dtype=np.int64)
    n_pooled = np.array(
        [shared_by.get((n.cluster_id, n.gap.skill_code), 1) >= pool_min_members for n in needs], dtype=bool
    )

    needs_by_skill: dict[str, list[int]] = defaultdict(list)
    for i, need in enumerate(needs):
        needs_by_skill[need.gap.skill_code].append(i)
    offers_by_skill: dict[str, list[int]] = defaultdict(list)
    for j, offer in enumerate(offers):
        for code in offer.skill_codes:
            offers_by_skill[code].append(j)
    offer_index = {o.offer_id: j for j, o in enumerate(offers)}
    need_index = {n.key: i for i, n in enumerate(needs)}
    turned_down: dict[int, list[int]] = defaultdict(list)
    for member_id, skill_code, offer_id in declined:
        row, column = need_index.get((member_id, skill_code)), offer_index.get(offer_id)
        if row is not None and column is not None:
            turned_down[row].append(column)

    parts: list[tuple[Ints, Ints, Floats, Floats]] = []
    for skill_code, need_rows in needs_by_skill.items():
        offer_cols = offers_by_skill.get(skill_code)
        if not offer_cols:
            continue
        n = np.array(need_rows, dtype=np.int64)
        o = np.array(offer_cols, dtype=np.int64)
        framework = framework_of(skill_code)
        international = framework == "intl"

        level = o_level[o][None, :]
        current = n_current[n][:, None]
        level_gap = n_level_gap[n][:, None]
        region_hit = _hits(n_regions[n], o_regions[o])

        eligible = ~((level <= current) & (level_gap > 0))
        eligible &= ~o_has["countries"][o][None, :] | (o_countries[o][:, n_country[n]].T > 0.5)
        eligible &= ~o_has["regions"][o][None, :] | region_hit
        eligible &= ~o_has["languages"][o][None, :] | ~n_speaks[n][:, None] | _hits(n_languages[n], o_languages[o])
        if international:
            declared = o_has["markets"][o][None, :]
            implicit = o_door[o][None, :] & ~declared & (o_home[o][None, :] != n_country[n][:, None])
            home_targeted = n_targets[n][:, o_home[o]] > 0.5
            hit = np.where(declared, _hits(n_targets[n], o_markets[o]), implicit & home_targeted)
            has_markets = declared | implicit
            eligible &= ~(n_has_targets[n][:, None] & has_markets & ~hit)
        eligible &= ~o_closed[o][None, :] | (o_owner[o][None, :] == n_cluster[n][:, None])
        eligible &= (o_seats[o] > 0)[None, :]
        local_offer = {int(j): c for c, j in enumerate(o)}
        for r, i in enumerate(n):
            for j in turned_down.get(int(i), ()):
                c = local_offer.get(j)
                if c is not None:
                    eligible[r, c] = False
        rows, cols = np.nonzero(eligible)
        if len(rows) == 0:
            continue

        # Factor values of the eligible pairs only.
        lv = level[0, cols]
        cur = n_current[n][rows]
        gap = n_level_gap[n][rows]
        req = n_required[n][rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            partial = np.clip((lv - cur) / np.maximum(gap, 1), 0.0, 1.0)
        level_fit = np.where((gap == 0) | (lv >= req), 1.0, partial)
        in_region = o_has["regions"][o][cols] & region_hit[rows, cols]
        delivery_fit = np.where(o_online[o][cols] | in_region, 1.0, o_elsewhere[o][cols])
        sector_hit = _hits(n_sectors[n], o_sectors[o])[rows, cols]
        sector_fit = np.where(~o_has["sectors"][o][cols], OPEN_TO_ALL, np.where(sector_hit, 1.0, 0.0))
        if international:
            open_market = ~n_has_targets[n][rows] | ~has_markets[rows, cols]
            market_fit = np.where(open_market, OPEN_TO_ALL, np.where(hit[rows, cols], 1.0, 0.0))
        else:
            market_fit = np.ones(len(rows))
        values = np.stack(
            [
                n_severity[n][rows],
                level_fit,
                _FORMAT_TABLE[n_kind[n][rows], o_format[o][cols]],
                delivery_fit,
                sector_fit,
                market_fit,
                np.where(o_group[o][cols] & n_pooled[n][rows], 1.0, 0.0),
            ],
            axis=1,
        )
        values = np.round(values, 4)
        score = np.zeros(len(rows))
        for f, factor in enumerate(FACTORS):  # added in factor order, as scoring.total() does
            score = score + np.round(WEIGHTS[factor] * values[:, f], 6)
        parts.append((n[rows], o[cols], np.round(score, 6), values))

    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Candidates(empty, empty.copy(), np.zeros(0), np.zeros((0, len(FACTORS))))
    return Candidates(
        need=np.concatenate([p[0] for p in parts]),
        offer=np.concatenate([p[1] for p in parts]),
        score=np.concatenate([p[2] for p in parts]),
        values=np.concatenate([p[3] for p in parts]),
    )
