"""Scores a (member gap, partner offer) pair with an explanation whose contributions add up to the score."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from trellis_common.events import MemberContext, ScoreComponent, SkillGap


class PartnerType(StrEnum):
    """Collaboration partners the guide names (digital Actions 3-4, green Actions 2 and 4)."""

    KNOWLEDGE_INSTITUTION = "knowledge_institution"
    UNIVERSITY = "university"
    VOCATIONAL_SCHOOL = "vocational_school"
    TRAINING_PROVIDER = "training_provider"
    DIGITAL_INNOVATION_HUB = "digital_innovation_hub"
    CLUSTER = "cluster"
    TECHNOLOGY_PROVIDER = "technology_provider"
    GREEN_TECH_CONSULTANT = "green_tech_consultant"
    ENTERPRISE_EUROPE_NETWORK = "enterprise_europe_network"


class OfferFormat(StrEnum):
    TRAINING = "training"
    MASTERCLASS = "masterclass"
    COACHING = "coaching"
    MENTORING = "mentoring"
    JOB_SHADOWING = "job_shadowing"
    WORKER_EXCHANGE = "worker_exchange"
    ON_THE_JOB_TRAINING = "on_the_job_training"
    ADVISORY = "advisory"


class Delivery(StrEnum):
    ONLINE = "online"
    ON_SITE = "on_site"
    HYBRID = "hybrid"


GROUP_FORMATS = frozenset({OfferFormat.TRAINING, OfferFormat.MASTERCLASS})
WEIGHTS = {"gap_severity": 0.5, "level_fit": 0.3, "delivery_fit": 0.2}
# A priority of 40 (e.g. importance 5 × 8 levels missing) counts as the most severe gap.
SEVERITY_CEILING = 40.0


@dataclass(frozen=True)
class Offer:
    offer_id: str
    partner_id: str
    partner_name: str
    partner_type: str
    title: str
    skill_codes: frozenset[str]
    max_level: int
    format: OfferFormat
    delivery: Delivery
    countries: frozenset[str] = field(default_factory=frozenset)
    languages: frozenset[str] = field(default_factory=frozenset)
    seats_left: int = 0


def ineligibility(gap: SkillGap, offer: Offer, member: MemberContext) -> str | None:
    """Why the pair can never match, or None when it can."""
    if gap.skill_code not in offer.skill_codes:
        return "offer does not cover the skill"
    if offer.max_level <= gap.current_level and gap.level_gap > 0:
        return "offer does not lift above the member's current level"
    if offer.delivery != Delivery.ONLINE and offer.countries and member.country not in offer.countries:
        return "offer is not delivered in the member's country"
    if offer.languages and member.languages and not offer.languages & set(member.languages):
        return "no common language"
    if offer.seats_left <= 0:
        return "no seats left"
    return None


def score(gap: SkillGap, offer: Offer, member: MemberContext) -> tuple[float, list[ScoreComponent]]:
    severity = min(1.0, gap.priority / SEVERITY_CEILING)
    if gap.level_gap == 0 or offer.max_level >= gap.required_level:
        level_fit = 1.0
    else:
        level_fit = max(0.0, (offer.max_level - gap.current_level) / gap.level_gap)
    if offer.delivery == Delivery.ONLINE or (member.country and member.country in offer.countries):
        delivery_fit = 1.0
    else:
        delivery_fit = 0.5
    values = {"gap_severity": severity, "level_fit": level_fit, "delivery_fit": delivery_fit}
    components = [
        ScoreComponent(
            factor=name,
            weight=WEIGHTS[name],
            value=round(values[name], 4),
            contribution=round(WEIGHTS[name] * round(values[name], 4), 6),
        )
        for name in WEIGHTS
    ]
    return round(sum(c.contribution for c in components), 6), components
