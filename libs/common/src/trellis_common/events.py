"""The v1 event data models: our public contract with other systems (DESIGN §2).

Unknown fields are ignored so producers may add optional fields within a major version; missing required
fields fail validation and the event is dead-lettered as a contract error. Personal data (contact persons'
names, emails, languages) appears only in ``MemberChanged``; organisations' names are not personal data.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

Id = Annotated[str, Field(min_length=1, max_length=128)]
Level = Annotated[int, Field(ge=0, le=8, description="Proficiency level, DigComp 2.2 scale 1-8 (0 = none)")]
Count = Annotated[int, Field(ge=0)]


class EventData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class MemberType(StrEnum):
    SME = "sme"
    LARGE_COMPANY = "large_company"
    RESEARCH = "research"
    EDUCATION = "education"
    PUBLIC_BODY = "public_body"
    CLUSTER_ORGANISATION = "cluster_organisation"
    OTHER = "other"


class SizeClass(StrEnum):
    MICRO = "micro"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class ContactRole(StrEnum):
    MEMBER_CONTACT = "member_contact"
    CLUSTER_MANAGER = "cluster_manager"
    BOARD_MEMBER = "board_member"


class SurveyTheme(StrEnum):
    GREEN = "green"
    DIGITAL = "digital"
    INTERNATIONALISATION = "internationalisation"


class Trend(StrEnum):
    NEW = "new"
    WIDENING = "widening"
    CLOSING = "closing"
    UNCHANGED = "unchanged"


class MemberContext(EventData):
    """What matching and aggregation may know about a member: no personal data."""

    country: str | None = Field(None, description="ISO 3166-1 alpha-2", max_length=2)
    region: str | None = Field(None, description="NUTS code or free region name", max_length=64)
    size_class: SizeClass | None = None
    sector: str | None = Field(None, description="NACE Rev. 2 code", max_length=16)
    member_type: MemberType = MemberType.SME
    languages: list[str] = Field(default_factory=list, description="ISO 639-1 codes the member works in")
    target_countries: list[str] = Field(
        default_factory=list, description="International ambitions: ISO 3166-1 alpha-2 countries to enter"
    )
    target_sectors: list[str] = Field(
        default_factory=list, description="International ambitions: NACE Rev. 2 codes of target sectors"
    )


class Contact(EventData):
    contact_id: Id
    name: str = Field(max_length=200)
    email: EmailStr
    language: str = Field("en", min_length=2, max_length=8, description="ISO 639-1 preferred language")
    role: ContactRole = ContactRole.MEMBER_CONTACT


class MemberChanged(EventData):
    """State of a member and its contacts (compacted topic; a tombstone means the member was deleted)."""

    cluster_id: Id
    member_id: Id
    name: str = Field(max_length=200, description="The member organisation's display name")
    cluster_name: str | None = Field(
        None, max_length=200, description="The display name of the member's cluster (none from older producers)"
    )
    context: MemberContext
    contacts: list[Contact] = Field(default_factory=list)
    changed_at: datetime


class InvitationRequested(EventData):
    invitation_id: Id
    campaign_id: Id
    cluster_id: Id
    member_id: Id
    contact_id: Id
    survey_title: str
    theme: SurveyTheme
    link: str = Field(description="Signed, expiring link to the survey form")
    expires_at: datetime
    reminder: Count = Field(0, description="0 for the invitation, n for the n-th reminder")


class SkillAnswer(EventData):
    """One row of a skill matrix: demand (required level, people needed) against supply."""

    skill_code: str = Field(min_length=1, max_length=64, description="Taxonomy code, e.g. digcomp:5.2")
    current_level: Level = Field(description="The level the member's people with the skill have today (0: nobody)")
    required_level: Level = Field(description="The level the member needs")
    headcount_having: Count = Field(
        description="People the member has today with the skill, at current_level (whatever that level is)"
    )
    headcount_needed: Count = Field(
        description="People the member needs with the skill at required_level, in total: those it has included "
        "(so headcount_needed − headcount_having people are missing)"
    )
    importance: int = Field(ge=1, le=5, description="1 (nice to have) to 5 (critical)")
    level_scale_max: int | None = Field(
        None,
        ge=1,
        le=100,
        description="The top of the scale the two levels were given on (the template's matrix, 0 = none); none: "
        "the framework's own scale (DigComp 8, GreenComp 4, workforce green skills 4, internationalisation 4)",
    )


class ResponseCompleted(EventData):
    response_id: Id
    cluster_id: Id
    member_id: Id
    template_id: Id
    template_version: int = Field(ge=1)
    theme: SurveyTheme
    completed_at: datetime
    member_context: MemberContext
    skills: list[SkillAnswer] = Field(default_factory=list)
    answers: dict[str, Any] = Field(default_factory=dict, description="Other answers by question id")


class SkillGap(EventData):
    skill_code: str
    skill_label: str
    framework: str
    current_level: Level
    required_level: Level
    level_gap: Count = Field(description="max(0, required_level − current_level)")
    headcount_having: Count = Field(description="As in the answer: people with the skill today")
    headcount_needed: Count = Field(description="As in the answer: people needed at the required level, in total")
    headcount_gap: Count = Field(description="max(0, headcount_needed − headcount_having)")
    importance: int = Field(ge=1, le=5)
    priority: float = Field(ge=0)
    priority_formula: str = Field(description="The formula with this gap's numbers filled in")
    trend: Trend


class GapsAssessed(EventData):
    assessment_id: Id
    response_id: Id
    cluster_id: Id
    member_id: Id
    theme: SurveyTheme
    member_context: MemberContext
    gaps: list[SkillGap]
    assessed_at: datetime


class SupplyScope(StrEnum):
    CLUSTER = "cluster"
    REGION = "region"


class SupplyFigure(EventData):
    skill_code: str = Field(min_length=1, max_length=64, description="Taxonomy code, e.g. digcomp:3.4")
    headcount: Count = Field(description="People available with the skill")
    level: Level | None = Field(None, description="The level they hold at least; none when not graded")


class SupplyReported(EventData):
    """Skills supply seen by another system (e.g. a regional employment agency or a training provider).

    A later report (by ``as_of``) from the same source for the same scope and skill replaces an earlier one.
    """

    report_id: Id = Field(description="Chosen by the reporter; the same id is the same report")
    source: str = Field(min_length=1, max_length=200, description="Who reports, e.g. a regional employment agency")
    scope: SupplyScope
    scope_id: Id = Field(description="The cluster id, or the region (NUTS code as in members' context)")
    as_of: date = Field(description="The date the figures describe")
    figures: list[SupplyFigure] = Field(min_length=1, max_length=500)
    reported_at: datetime


class ScoreComponent(EventData):
    factor: str
    weight: float
    value: float = Field(description="The factor's value in [0, 1]")
    contribution: float = Field(description="weight × value; the components add up to the score")
    note: str | None = Field(None, description="Why the factor has this value, in words")


class MatchOption(EventData):
    rank: int = Field(ge=1)
    skill_code: str
    partner_id: Id
    partner_name: str
    partner_type: str
    offer_id: Id
    offer_title: str
    format: str
    delivery: str
    score: float
    explanation: list[ScoreComponent]
    match_id: Id | None = Field(None, description="Set on the proposal that holds a seat; outcomes refer to it")
    reply_link: str | None = Field(
        None,
        max_length=2000,
        description="Signed, expiring link (set with match_id) to the page where the member accepts or declines "
        "the proposal; append ?answer=accepted or ?answer=declined to ask for that answer",
    )


class PooledOpportunity(EventData):
    pool_id: Id
    skill_code: str
    partner_id: Id
    partner_name: str
    offer_id: Id
    offer_title: str
    member_count: int = Field(ge=2)
    seats: int = Field(ge=1)


class PartnersMatched(EventData):
    match_run_id: Id
    assessment_id: Id
    cluster_id: Id
    member_id: Id
    options: list[MatchOption]
    pooled: list[PooledOpportunity] = Field(default_factory=list)
    matched_at: datetime
    period: str | None = Field(None, description="The seat period the proposals reserve seats in, e.g. 2026-Q1")
    reason: str | None = Field(None, description="assessment (new gaps) or rematch (proposals changed since)")


class ReminderKind(StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"


class AgendaGap(EventData):
    skill_code: str
    members: Count = Field(description="Members newly assessed with a gap in this skill since the last review")


class ReviewKpi(EventData):
    kpi_id: Id
    name: str
    unit: str
    baseline: float
    target: float
    target_date: date
    latest: float | None = None
    progress: float | None = Field(None, description="(latest − baseline) / (target − baseline); 1 = target met")
    status: str = Field(description="achieved | on_track | behind | missed | no_data")


class AgendaActionKind(StrEnum):
    POOLED_OFFER = "pooled_offer"  # one group offer for several members sharing a gap
    MEMBER_PARTNER = "member_partner"  # a member and the partner that fits its gap best


class AgendaAction(EventData):
    """A proposed action as data, so that each reader gets it in their own language."""

    kind: AgendaActionKind
    skill_code: str = Field(max_length=64)
    partner_name: str = Field(max_length=200)
    offer_title: str | None = Field(None, max_length=300, description="pooled_offer: the group offer")
    member_count: Count | None = Field(None, description="pooled_offer: members sharing the gap")
    member_name: str | None = Field(None, max_length=200, description="member_partner: the member organisation")


class ReviewAgenda(EventData):
    new_matches: Count = 0
    members_with_gaps: Count = 0
    proposed_actions: list[str] = Field(
        default_factory=list, description="The proposed actions in English words (see actions for the data)"
    )
    actions: list[AgendaAction] = Field(
        default_factory=list,
        description="The same proposed actions as data, in the same order (none from older producers)",
    )
    since: datetime | None = Field(None, description="Start of the agenda: the last review (None before the first)")
    top_gaps: list[AgendaGap] = Field(default_factory=list)
    kpis: list[ReviewKpi] = Field(default_factory=list)


class ReviewDue(EventData):
    reminder_id: Id
    strategy_id: Id
    cluster_id: Id
    strategy_title: str
    due_at: datetime
    due_date: date = Field(description="The due date in the cluster's time zone")
    kind: ReminderKind
    late: bool = Field(description="True when fired after its time, e.g. after downtime")
    fired_at: datetime
    agenda: ReviewAgenda = Field(default_factory=ReviewAgenda)
    strategy_type: str | None = Field(None, description="overall | green_action_plan | digital_skills_plan | …")
    lead_days: int | None = Field(None, description="For kind=upcoming: how many days before the due date")
    escalation: bool = Field(False, description="True for the overdue reminder that escalates to the board")
    recipients_role: ContactRole | None = Field(
        None, description="Whose reminder it is: cluster_manager (upcoming, due), board_member (escalation)"
    )
    owner_contact_ids: list[Id] = Field(default_factory=list, description="The strategy's owners (directory ids)")
    overdue_since: date | None = Field(None, description="First review date missed, in the cluster's time zone")
    missed_reviews: Count = Field(0, description="Review dates passed without a recorded review")


class EmailDelivered(EventData):
    delivery_id: Id
    message_id: str
    template: str
    contact_id: Id
    cause_event_id: Id
    attempts: int = Field(ge=1)
    delivered_at: datetime


class EmailFailed(EventData):
    delivery_id: Id
    message_id: str
    template: str
    contact_id: Id
    cause_event_id: Id
    attempts: int = Field(ge=1)
    error: str
    failed_at: datetime
