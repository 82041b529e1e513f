"""Collaboration partners and their offers, and the member side of a match, in the guide's words (no I/O)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from trellis_common.events import MemberContext, SkillGap


class PartnerType(StrEnum):
    """Collaboration partners the guide names (digital Actions 3-4, green Actions 2, 4 and 5, international
    Actions 3-4). Values are stored and published as text: a type may be added, never renamed."""

    KNOWLEDGE_INSTITUTION = "knowledge_institution"
    UNIVERSITY = "university"
    VOCATIONAL_SCHOOL = "vocational_school"
    TRAINING_PROVIDER = "training_provider"
    DIGITAL_INNOVATION_HUB = "digital_innovation_hub"
    CLUSTER = "cluster"
    TECHNOLOGY_PROVIDER = "technology_provider"
    GREEN_TECH_CONSULTANT = "green_tech_consultant"
    ENTERPRISE_EUROPE_NETWORK = "enterprise_europe_network"
    CHAMBER_OF_COMMERCE = "chamber_of_commerce"
    REGIONAL_DEVELOPMENT_AGENCY = "regional_development_agency"
    TRADE_PROMOTION_AGENCY = "trade_promotion_agency"
    LARGE_COMPANY = "large_company"
    START_UP = "start_up"
    MEMBER_COMPANY = "member_company"  # a member whose experts train others (train-the-trainer)
    INVESTOR = "investor"


class OfferFormat(StrEnum):
    TRAINING = "training"
    MASTERCLASS = "masterclass"
    COACHING = "coaching"
    MENTORING = "mentoring"
    JOB_SHADOWING = "job_shadowing"
    WORKER_EXCHANGE = "worker_exchange"
    ON_THE_JOB_TRAINING = "on_the_job_training"
    ADVISORY = "advisory"
    PEER_LEARNING = "peer_learning"
    STUDY_VISIT = "study_visit"
    WORKSHOP = "workshop"
    WEBINAR = "webinar"
    TRAIN_THE_TRAINER = "train_the_trainer"
    TRADE_MISSION = "trade_mission"
    TEST_BED = "test_bed"  # test beds and demonstration facilities


class Delivery(StrEnum):
    ONLINE = "online"
    ON_SITE = "on_site"
    HYBRID = "hybrid"


# Formats one partner can run for several members at once: the guide's "economies of scale".
GROUP_FORMATS = frozenset(
    {
        OfferFormat.TRAINING,
        OfferFormat.MASTERCLASS,
        OfferFormat.PEER_LEARNING,
        OfferFormat.STUDY_VISIT,
        OfferFormat.WORKSHOP,
        OfferFormat.WEBINAR,
        OfferFormat.TRADE_MISSION,
    }
)
# Organisations that open the door to their own country's market (international Actions 3-4).
MARKET_DOOR_TYPES = frozenset(
    {
        PartnerType.CLUSTER,
        PartnerType.ENTERPRISE_EUROPE_NETWORK,
        PartnerType.CHAMBER_OF_COMMERCE,
        PartnerType.TRADE_PROMOTION_AGENCY,
    }
)


class NeedKind(StrEnum):
    """What a gap asks of a partner (Cedefop typology, DESIGN §6), plus the international ambitions."""

    UPSKILLING = "upskilling"  # skill gap: the people are there, below the level the work needs
    SHORTAGE = "shortage"  # the level is there, too few people have it
    INTERNATIONALISATION = "internationalisation"


def framework_of(skill_code: str) -> str:
    return skill_code.partition(":")[0]


def need_kind(gap: SkillGap) -> NeedKind:
    if framework_of(gap.skill_code) == "intl":
        return NeedKind.INTERNATIONALISATION
    return NeedKind.UPSKILLING if gap.level_gap > 0 else NeedKind.SHORTAGE


_NUTS = re.compile(r"^[A-Z]{2}[0-9A-Z]{0,3}$")


def region_prefixes(region: str | None) -> frozenset[str]:
    """A NUTS code and the larger regions that contain it (AT130 lies in AT13, AT1 and AT); other names as-is."""
    if not region:
        return frozenset()
    code = region.strip().upper()
    if not _NUTS.match(code):
        return frozenset({code})
    return frozenset(code[:k] for k in range(2, len(code) + 1))


def sector_prefixes(sectors: Iterable[str]) -> frozenset[str]:
    """NACE codes and the sections/divisions/groups above them (C25.11 lies in C25.1, C25 and C)."""
    out: set[str] = set()
    for sector in sectors:
        code = sector.strip().upper()
        out.update(code[:k] for k in range(1, len(code) + 1) if not code[:k].endswith("."))
    return frozenset(out)


def codes(values: Iterable[str], *, upper: bool = True) -> frozenset[str]:
    cleaned = (v.strip() for v in values)
    return frozenset((v.upper() if upper else v.lower()) for v in cleaned if v)


@dataclass(frozen=True)
class MemberProfile:
    """What matching knows of a member, normalised once (country codes upper-case, languages lower-case).

    ``cluster_id``: the member's cluster (``None``: none known, so no cluster's own offers are open to it)."""

    country: str | None
    regions: frozenset[str]
    sectors: frozenset[str]
    languages: frozenset[str]
    target_countries: frozenset[str]
    target_sectors: frozenset[str]
    cluster_id: str | None = None

    @classmethod
    def of(cls, context: MemberContext, cluster_id: str | None = None) -> MemberProfile:
        return cls(
            country=context.country.strip().upper() if context.country else None,
            regions=region_prefixes(context.region),
            sectors=sector_prefixes([context.sector] if context.sector else []),
            languages=codes(context.languages, upper=False),
            target_countries=codes(context.target_countries),
            target_sectors=sector_prefixes(context.target_sectors),
            cluster_id=cluster_id,
        )

    def sectors_for(self, kind: NeedKind) -> frozenset[str]:
        """The sectors an offer should know: the member's own, and for international needs its target sectors."""
        return self.sectors | self.target_sectors if kind is NeedKind.INTERNATIONALISATION else self.sectors


@dataclass(frozen=True)
class Offer:
    """A partner's offer as matching sees it; ``seats_left`` is what the period still has for proposals.

    ``owner_cluster_id``: the cluster whose partner it is (``None``: shared platform-wide). A cluster's offer
    serves its own members first; other clusters' members only when it is ``open_to_other_clusters``.
    """

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
    regions: frozenset[str] = field(default_factory=frozenset)
    sectors: frozenset[str] = field(default_factory=frozenset)
    target_markets: frozenset[str] = field(default_factory=frozenset)
    partner_country: str | None = None
    owner_cluster_id: str | None = None
    open_to_other_clusters: bool = False

    def foreign_to(self, cluster_id: str | None) -> bool:
        """Whether a member of ``cluster_id`` would take a seat another cluster keeps for its own members first."""
        return self.owner_cluster_id is not None and self.owner_cluster_id != cluster_id

    def open_to(self, cluster_id: str | None) -> bool:
        """Whether a member of ``cluster_id`` may take a seat of this offer at all."""
        return self.open_to_other_clusters or not self.foreign_to(cluster_id)

    def markets_for(self, member: MemberProfile) -> frozenset[str]:
        """The foreign markets this offer opens to the member (empty: it is not about a particular market).

        Declared target markets count; otherwise a cluster or EEN partner abroad is a door to its own country.
        """
        if self.target_markets:
            return self.target_markets
        if self.partner_type in MARKET_DOOR_TYPES and self.partner_country and self.partner_country != member.country:
            return frozenset({self.partner_country})
        return frozenset()


@dataclass(frozen=True)
class MemberNeed:
    """One gap of one member: the unit of demand that takes (at most) one seat."""

    member_id: str
    cluster_id: str
    gap: SkillGap
    profile: MemberProfile

    @property
    def key(self) -> tuple[str, str]:
        return (self.member_id, self.gap.skill_code)

    @property
    def kind(self) -> NeedKind:
        return need_kind(self.gap)
