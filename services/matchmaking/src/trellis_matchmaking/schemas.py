"""Request and response bodies of the matchmaking API (bad input is a 422 that names the field)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    UrlConstraints,
    ValidationInfo,
    field_validator,
)

from trellis_common.events import MatchOption, PooledOpportunity, ScoreComponent
from trellis_common.text import INT4_MAX, StorableText
from trellis_matchmaking.domain.outcomes import MatchStatus, Outcome
from trellis_matchmaking.domain.partners import Delivery, OfferFormat, PartnerType

SKILL_CODE = r"^(digcomp|greencomp|greenwork|intl):[a-z0-9.\-]+$"
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
Language = Annotated[str, Field(pattern=r"^[a-z]{2}$", description="ISO 639-1")]
Region = Annotated[str, Field(min_length=2, max_length=64, description="NUTS code (AT13) or a region's name")]
Sector = Annotated[
    str, Field(pattern=r"^[A-U](\d{2}(\.\d{1,2})?)?$", description="NACE Rev. 2: section, division, group or class")
]
Scheme = Annotated[str, Field(min_length=1, max_length=80)]
Contact = Annotated[str, Field(min_length=3, max_length=300)]
WEBSITE_MAX = 300  # partners.website


def _website_fits(url: HttpUrl) -> HttpUrl:
    # What is stored is the normalised address (IDNA host, escaped path), which can be longer than the input.
    if len(str(url)) > WEBSITE_MAX:
        raise ValueError(f"the address is longer than {WEBSITE_MAX} characters once normalised")
    return url


Website = Annotated[HttpUrl, UrlConstraints(max_length=WEBSITE_MAX), AfterValidator(_website_fits)]


class Body(StorableText):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _cased(value: Any, upper: bool) -> Any:
    """A list of strings cased, distinct and sorted; anything else as it came, for the type check to refuse."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return sorted({v.strip().upper() if upper else v.strip().lower() for v in value})
    return value


class OfferIn(Body):
    title: str = Field(min_length=1, max_length=200)
    skill_codes: list[Annotated[str, Field(pattern=SKILL_CODE)]] = Field(
        min_length=1, max_length=50, description="Taxonomy codes the offer teaches, e.g. digcomp:5.2"
    )
    max_level: int = Field(8, ge=1, le=8, description="The proficiency level the offer lifts participants to")
    format: OfferFormat
    delivery: Delivery = Delivery.ONLINE
    countries: list[Country] = Field(
        default_factory=list,
        max_length=60,
        validate_default=True,
        description="Countries whose members may take part (and, on site, where it is delivered); empty: any",
    )
    regions: list[Region] = Field(
        default_factory=list, max_length=200, description="Regions served (NUTS codes include their sub-regions)"
    )
    languages: list[Language] = Field(default_factory=list, max_length=30, description="Empty: any language")
    sectors: list[Sector] = Field(
        default_factory=list, max_length=100, description="Sectors it is made for; empty: any"
    )
    target_markets: list[Country] = Field(
        default_factory=list, max_length=60, description="Internationalisation: foreign markets the offer opens"
    )
    seats: int = Field(ge=1, le=100_000, description="Seats per period; one seat is one member's place")
    cost_eur: int | None = Field(None, ge=0, le=INT4_MAX)
    funding: list[Scheme] = Field(
        default_factory=list, max_length=20, description="Funding it is eligible for, e.g. Erasmus+, ESF+, a voucher"
    )
    contact: Contact | None = Field(None, description="The organisation's contact point for this offer")

    @field_validator("countries", "target_markets", "regions", "sectors", mode="before")
    @classmethod
    def upper_case(cls, value: Any) -> Any:
        return _cased(value, upper=True)

    @field_validator("languages", mode="before")
    @classmethod
    def lower_case(cls, value: Any) -> Any:
        return _cased(value, upper=False)

    @field_validator("skill_codes", "funding", mode="before")
    @classmethod
    def distinct(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        seen: set[str] = set()
        kept: list[Any] = []
        for item in value:  # anything but a string is left for the type check to refuse (422)
            item = item.strip() if isinstance(item, str) else item
            if isinstance(item, str) and item in seen:
                continue
            if isinstance(item, str):
                seen.add(item)
            kept.append(item)
        return kept

    @field_validator("countries")
    @classmethod
    def on_site_needs_countries(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("delivery", Delivery.ONLINE) != Delivery.ONLINE and not value:
            raise ValueError("on-site and hybrid offers must name the countries they are delivered in")
        return value


class OfferOut(OfferIn):
    model_config = ConfigDict(extra="ignore")  # rows carry more columns than callers need

    id: str
    partner_id: str
    period: str = Field(description="The seat period the counts are for")
    seats_taken: int = Field(description="Seats held in the period: proposals, acceptances and completions")
    seats_left: int


class PartnerFields(Body):
    name: str = Field(min_length=1, max_length=200)
    partner_type: PartnerType
    country: Country | None = Field(None, description="Where the organisation is based")
    website: Website | None = None
    contact: Contact | None = Field(None, description="The organisation's contact point, not a person's data")

    @field_validator("country", mode="before")
    @classmethod
    def upper_case(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


ClusterId = Annotated[str, Field(min_length=1, max_length=128)]
OWNER = (
    "The cluster whose partner this is: its managers change it and its members get the seats of its offers first. "
    "null: shared platform-wide (platform admins only). Omitted: the caller's cluster when it manages exactly "
    "one; a platform admin's partner is then shared."
)
OPEN = (
    "A cluster's partner: whether members of other clusters may take the seats of its offers that no member "
    "of the cluster waiting for them could use when they are given (default false: the cluster's seats stay "
    "with its members). A shared partner is open to every cluster (always true)."
)


class PartnerIn(PartnerFields):
    owner_cluster_id: ClusterId | None = Field(None, description=OWNER)
    open_to_other_clusters: bool | None = Field(None, description=OPEN)
    offers: list[OfferIn] = Field(default_factory=list, max_length=100)


class PartnerPatch(Body):
    """The fields to change; the others stay as they are."""

    name: str | None = Field(None, min_length=1, max_length=200)
    partner_type: PartnerType | None = None
    country: Country | None = None
    website: Website | None = None
    contact: Contact | None = None
    owner_cluster_id: ClusterId | None = Field(
        None,
        description="Hand the partner to another cluster the caller manages, or (platform admins) share it "
        "(null) or give a shared one to a cluster. Proposals the new owner's rule no longer allows lapse.",
    )
    open_to_other_clusters: bool | None = Field(
        None, description=OPEN + " Closing releases other clusters' proposals (accepted seats stay)."
    )


class PartnerOut(BaseModel):
    id: str
    name: str
    partner_type: PartnerType
    country: str | None
    website: str | None
    contact: str | None = None
    owner_cluster_id: str | None = Field(None, description="The owning cluster; null: shared platform-wide")
    open_to_other_clusters: bool = Field(True, description=OPEN)
    offers: list[OfferOut]


class PartnerPage(BaseModel):
    items: list[PartnerOut]
    total: int


class ImportRowError(BaseModel):
    row: int = Field(description="Line in the file; the header is row 1")
    column: str
    reason: str


class ImportReport(BaseModel):
    imported_partners: int
    imported_offers: int
    partner_ids: list[str] = Field(default_factory=list)
    rows_checked: int
    errors: list[ImportRowError] = Field(default_factory=list)
    bad_rows: list[int] = Field(default_factory=list)


class MatchRunOut(BaseModel):
    id: str
    assessment_id: str
    cluster_id: str
    member_id: str
    options: list[MatchOption]
    pooled: list[PooledOpportunity]
    matched_at: datetime
    period: str | None = None
    reason: str | None = None


class MatchOut(BaseModel):
    id: str
    period: str
    status: MatchStatus
    cluster_id: str
    member_id: str
    member_name: str | None = Field(None, description="The member organisation's name (none until it is known)")
    assessment_id: str
    skill_code: str
    skill_label: str = Field("", description="The skill's name (English)")
    priority: float
    offer_id: str
    partner_id: str
    partner_name: str
    partner_type: str
    offer_title: str
    format: str
    delivery: str
    score: float
    explanation: list[ScoreComponent]
    created_at: datetime
    updated_at: datetime
    outcome_at: datetime | None
    outcome_by: str | None
    outcome_note: str | None


class MatchPage(BaseModel):
    items: list[MatchOut]
    total: int


class RecordedBy(StrEnum):
    MEMBER = "member"
    CLUSTER_MANAGER = "cluster_manager"


class OutcomeIn(Body):
    outcome: Outcome
    recorded_by: RecordedBy = RecordedBy.MEMBER
    note: str | None = Field(None, max_length=2000)


class ConversionOut(BaseModel):
    cluster_id: str | None
    period: str | None
    proposals: int = Field(description="Proposals made and not moved away by a re-match")
    pending: int
    accepted: int
    declined: int
    completed: int
    released: int
    agreements: int = Field(description="accepted + completed")
    answered: int = Field(description="agreements + declined")
    conversion_rate: float | None = Field(description="agreements / answered")
    share_of_proposals: float | None = Field(description="agreements / proposals (pending ones included)")
    completion_rate: float | None = Field(description="completed / agreements: members who took part")


class PoolOut(BaseModel):
    pool_id: str
    period: str
    cluster_id: str
    skill_code: str
    partner_id: str
    partner_name: str
    offer_id: str
    offer_title: str
    member_ids: list[str]
    member_names: list[str | None] = Field(
        default_factory=list, description="The members' names, in the order of member_ids (none until known)"
    )
    skill_label: str = Field("", description="The skill's name (English)")
    member_count: int
    seats: int
    accepted: int = Field(description="Members of the pool who accepted their seat")
    contact: str | None = Field(
        None, description="Where to write about the pooled demand: the offer's contact point, else its partner's"
    )


class RematchOut(BaseModel):
    period: str
    gaps: int
    proposals_made: int
    proposals_kept: int
    proposals_released: int
    unserved_gaps: int
    notified_members: list[str]
