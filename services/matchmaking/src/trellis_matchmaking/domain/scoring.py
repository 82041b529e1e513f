"""Eligibility and the explained score of one (member gap, partner offer) pair: the readable rules.

``candidates.py`` applies the same rules to whole arrays at once; a property test keeps the two equal.
Every factor is a value in [0, 1]; the score is the weighted sum and the explanation lists each factor's
weight, value and contribution, which add up to the score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from trellis_common.events import MemberContext, ScoreComponent, SkillGap
from trellis_matchmaking.domain.partners import (
    GROUP_FORMATS,
    Delivery,
    MemberProfile,
    NeedKind,
    Offer,
    OfferFormat,
    PartnerType,
    need_kind,
)

# Re-exported: the names callers used before the partner vocabulary got its own module.
__all__ = [
    "FACTORS",
    "FORMAT_FIT",
    "SEVERITY_CEILING",
    "WEIGHTS",
    "Delivery",
    "Offer",
    "OfferFormat",
    "PartnerType",
    "explanation",
    "factor_values",
    "ineligibility",
    "score",
]

# A priority of 40 (e.g. importance 5 × 8 levels missing) counts as the most severe gap.
SEVERITY_CEILING = 40.0
WEIGHTS: Mapping[str, float] = {
    "gap_severity": 0.35,
    "level_fit": 0.15,
    "format_fit": 0.10,
    "delivery_fit": 0.10,
    "sector_fit": 0.10,
    "market_fit": 0.10,
    "pooling": 0.10,
}
FACTORS = tuple(WEIGHTS)

_F = OfferFormat
# How well a format answers a kind of need: upskilling is taught, a shortage is met by bringing more people
# up to the level on the job, international ambitions by advice and coaching (international Action 3).
FORMAT_FIT: Mapping[NeedKind, Mapping[OfferFormat, float]] = {
    NeedKind.UPSKILLING: {
        _F.TRAINING: 1.0,
        _F.MASTERCLASS: 1.0,
        _F.COACHING: 0.9,
        _F.ON_THE_JOB_TRAINING: 0.9,
        _F.MENTORING: 0.8,
        _F.JOB_SHADOWING: 0.7,
        _F.WORKER_EXCHANGE: 0.7,
        _F.ADVISORY: 0.5,
        _F.WORKSHOP: 0.9,
        _F.TRAIN_THE_TRAINER: 0.8,
        _F.PEER_LEARNING: 0.8,
        _F.WEBINAR: 0.7,
        _F.TEST_BED: 0.7,
        _F.STUDY_VISIT: 0.6,
        _F.TRADE_MISSION: 0.3,
    },
    NeedKind.SHORTAGE: {
        _F.ON_THE_JOB_TRAINING: 1.0,
        _F.TRAINING: 1.0,
        _F.WORKER_EXCHANGE: 0.9,
        _F.JOB_SHADOWING: 0.8,
        _F.MASTERCLASS: 0.7,
        _F.COACHING: 0.6,
        _F.MENTORING: 0.6,
        _F.ADVISORY: 0.4,
        _F.TRAIN_THE_TRAINER: 0.9,  # more people able to teach: more people reach the level
        _F.WORKSHOP: 0.7,
        _F.PEER_LEARNING: 0.6,
        _F.TEST_BED: 0.6,
        _F.WEBINAR: 0.5,
        _F.STUDY_VISIT: 0.5,
        _F.TRADE_MISSION: 0.2,
    },
    NeedKind.INTERNATIONALISATION: {
        _F.ADVISORY: 1.0,
        _F.COACHING: 1.0,
        _F.MENTORING: 0.9,
        _F.TRAINING: 0.8,
        _F.MASTERCLASS: 0.8,
        _F.WORKER_EXCHANGE: 0.7,
        _F.JOB_SHADOWING: 0.6,
        _F.ON_THE_JOB_TRAINING: 0.5,
        _F.TRADE_MISSION: 1.0,  # international Action 4: missions and joint stands open markets
        _F.STUDY_VISIT: 0.9,
        _F.PEER_LEARNING: 0.8,
        _F.WORKSHOP: 0.8,
        _F.WEBINAR: 0.7,
        _F.TRAIN_THE_TRAINER: 0.5,
        _F.TEST_BED: 0.5,
    },
}
DELIVERY_ELSEWHERE = {Delivery.HYBRID: 0.85, Delivery.ON_SITE: 0.7}  # in the member's country, not its region
OPEN_TO_ALL = 0.5  # an offer that names no sector or no market: neither a match nor a mismatch


def _profile(member: MemberContext | MemberProfile) -> MemberProfile:
    return member if isinstance(member, MemberProfile) else MemberProfile.of(member)


def _list(values: frozenset[str]) -> str:
    return ", ".join(sorted(values))


def ineligibility(gap: SkillGap, offer: Offer, member: MemberContext | MemberProfile) -> str | None:
    """Why the pair can never match, or None when it can (checked in this order)."""
    profile = _profile(member)
    if gap.skill_code not in offer.skill_codes:
        return "offer does not cover the skill"
    if offer.max_level <= gap.current_level and gap.level_gap > 0:
        return "offer does not lift above the member's current level"
    if offer.countries and profile.country not in offer.countries:
        return f"offer serves {_list(offer.countries)} only"
    if offer.regions and not offer.regions & profile.regions:
        return f"offer serves the regions {_list(offer.regions)} only"
    if offer.languages and profile.languages and not offer.languages & profile.languages:
        return "no common language"
    if need_kind(gap) is NeedKind.INTERNATIONALISATION and profile.target_countries:
        markets = offer.markets_for(profile)
        if markets and not markets & profile.target_countries:
            return f"partner reaches {_list(markets)}, not the member's target countries"
    if not offer.open_to(profile.cluster_id):
        return "the offer's seats are kept for the members of its cluster"
    if offer.seats_left <= 0:
        return "no seats left"
    return None


def factor_values(
    gap: SkillGap, offer: Offer, member: MemberContext | MemberProfile, *, pooled: bool
) -> dict[str, float]:
    """Each factor's value in [0, 1], unrounded. ``pooled``: enough members of the cluster share the gap."""
    profile = _profile(member)
    kind = need_kind(gap)
    if gap.level_gap == 0 or offer.max_level >= gap.required_level:
        level_fit = 1.0
    else:
        level_fit = min(1.0, max(0.0, (offer.max_level - gap.current_level) / gap.level_gap))
    if offer.delivery == Delivery.ONLINE or (offer.regions and offer.regions & profile.regions):
        delivery_fit = 1.0
    else:
        delivery_fit = DELIVERY_ELSEWHERE[offer.delivery]
    sector_hit = bool(offer.sectors & profile.sectors_for(kind))
    sector_fit = (1.0 if sector_hit else 0.0) if offer.sectors else OPEN_TO_ALL
    if kind is not NeedKind.INTERNATIONALISATION:
        market_fit = 1.0
    else:
        markets = offer.markets_for(profile)
        if not markets or not profile.target_countries:
            market_fit = OPEN_TO_ALL
        else:
            market_fit = 1.0 if markets & profile.target_countries else 0.0
    return {
        "gap_severity": min(1.0, gap.priority / SEVERITY_CEILING),
        "level_fit": level_fit,
        "format_fit": FORMAT_FIT[kind][offer.format],
        "delivery_fit": delivery_fit,
        "sector_fit": sector_fit,
        "market_fit": market_fit,
        "pooling": 1.0 if pooled and offer.format in GROUP_FORMATS else 0.0,
    }


_WEIGHTS = np.array([WEIGHTS[f] for f in FACTORS])


def rounded(values: Sequence[float]) -> list[float]:
    """Factor values (in FACTORS order) are shown and summed with four decimals; numpy rounds them here as it
    does on the array path, so both give the same numbers."""
    result: list[float] = np.round(np.asarray(values, dtype=np.float64), 4).tolist()
    return result


def contributions(values: Sequence[float]) -> list[float]:
    """weight × value per factor (FACTORS order), to six decimals."""
    result: list[float] = np.round(_WEIGHTS * np.asarray(values, dtype=np.float64), 6).tolist()
    return result


def total(contributions: list[float]) -> float:
    """The score: contributions added in factor order (the array path adds them in the same order)."""
    running = 0.0
    for part in contributions:
        running += part
    return float(np.round(running, 6))


def explanation(
    gap: SkillGap,
    offer: Offer,
    member: MemberContext | MemberProfile,
    values: Mapping[str, float],
    *,
    shared_by: int = 1,
    pool_min_members: int = 2,
) -> list[ScoreComponent]:
    """The components of a score, each with a short note in words. ``values`` are already rounded."""
    profile = _profile(member)
    notes = _notes(gap, offer, profile, shared_by, pool_min_members)
    parts = contributions([values[name] for name in FACTORS])
    # Validated construction, not model_construct: pydantic's compiled validator builds these five plain fields
    # in less than half the time model_construct's Python loop takes (a round explains thousands of pairs).
    return [
        ScoreComponent(factor=name, weight=WEIGHTS[name], value=values[name], contribution=part, note=notes[name])
        for name, part in zip(FACTORS, parts, strict=True)
    ]


def score(
    gap: SkillGap,
    offer: Offer,
    member: MemberContext | MemberProfile,
    *,
    shared_by: int = 1,
    pool_min_members: int = 2,
) -> tuple[float, list[ScoreComponent]]:
    """The pair's score and its explanation. ``shared_by``: members of the cluster with this gap (self included)."""
    raw = factor_values(gap, offer, member, pooled=shared_by >= pool_min_members)
    values = dict(zip(FACTORS, rounded([raw[name] for name in FACTORS]), strict=True))
    components = explanation(gap, offer, member, values, shared_by=shared_by, pool_min_members=pool_min_members)
    return total([c.contribution for c in components]), components


_A_NEED = {  # the article each kind takes: "an upskilling need", not "a upskilling need"
    NeedKind.UPSKILLING: "an upskilling need",
    NeedKind.SHORTAGE: "a shortage need",
    NeedKind.INTERNATIONALISATION: "an internationalisation need",
}


def _notes(gap: SkillGap, offer: Offer, profile: MemberProfile, shared_by: int, pool_min: int) -> dict[str, str]:
    kind = need_kind(gap)
    if gap.level_gap == 0:
        level = "no level missing; more people are needed"
    elif offer.max_level >= gap.required_level:
        level = f"lifts to level {offer.max_level}; {gap.required_level} needed"
    else:
        level = f"lifts to level {offer.max_level} of the {gap.required_level} needed (from {gap.current_level})"
    if offer.delivery == Delivery.ONLINE:
        delivery = "online"
    elif offer.regions and offer.regions & profile.regions:
        delivery = f"{offer.delivery.value.replace('_', '-')} in the member's region"
    else:
        delivery = f"{offer.delivery.value.replace('_', '-')} in {profile.country or 'the country served'}"
    if not offer.sectors:
        sector = "open to every sector"
    elif offer.sectors & profile.sectors_for(kind):
        sector = f"made for sector {_list(offer.sectors & profile.sectors_for(kind))}"
    else:
        sector = f"made for other sectors ({_list(offer.sectors)})"
    if kind is not NeedKind.INTERNATIONALISATION:
        market = "not an internationalisation need"
    else:
        markets = offer.markets_for(profile)
        if not profile.target_countries:
            market = "the member named no target countries"
        elif not markets:
            market = "not tied to a market"
        else:
            market = f"reaches {_list(markets & profile.target_countries) or _list(markets)}"
    if offer.format not in GROUP_FORMATS:
        pooling = f"{offer.format.value.replace('_', ' ')} is one member at a time"
    elif shared_by >= pool_min:
        pooling = f"{shared_by} members of the cluster share this gap; one group {offer.format.value} can serve them"
    else:
        pooling = f"{shared_by} member(s) of the cluster with this gap; a pool needs {pool_min}"
    return {
        "gap_severity": f"priority {gap.priority:g} out of {SEVERITY_CEILING:g}"
        + (f": {gap.priority_formula}" if gap.priority_formula else ""),
        "level_fit": level,
        "format_fit": f"{offer.format.value.replace('_', ' ')} for {_A_NEED[kind]}",
        "delivery_fit": delivery,
        "sector_fit": sector,
        "market_fit": market,
        "pooling": pooling,
    }
