"""Request and response bodies of the surveys API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import available_timezones

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, field_validator

from trellis_common.events import ContactRole, MemberType, SizeClass, SkillAnswer, SurveyTheme
from trellis_common.text import INT4_MAX, StorableText

Country = Field(None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")


class Body(StorableText):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClusterIn(Body):
    name: str = Field(min_length=1, max_length=200)
    country: str | None = Country
    timezone: str = Field("Europe/Brussels", description="IANA time zone of the cluster")

    @field_validator("timezone")
    @classmethod
    def known_timezone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"unknown IANA time zone {value!r}")
        return value


class AnnouncedOut(BaseModel):
    announced: int = Field(description="Members whose state was published again")
    clusters: int = Field(description="Clusters they belong to")


class ClusterOut(ClusterIn):
    id: str
    created_at: datetime


class ClusterPage(BaseModel):
    items: list[ClusterOut]
    total: int
    limit: int
    offset: int


class ContactIn(Body):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    language: str = Field("en", pattern=r"^[a-z]{2}$", description="ISO 639-1")
    role: ContactRole = ContactRole.MEMBER_CONTACT


class ContactOut(BaseModel):
    id: str
    name: str
    email: str
    language: str
    role: ContactRole


class MemberRole(StrEnum):
    """The member's role towards the cluster (guide, Figure 7, the member card)."""

    DECISION_MAKER = "decision_maker"
    INFLUENCER = "influencer"
    PEER = "peer"
    RECOMMENDER = "recommender"
    MISSION = "mission"
    SABOTEUR = "saboteur"
    OTHER = "other"


class MemberIn(Body):
    name: str = Field(min_length=1, max_length=200)
    member_type: MemberType = MemberType.SME
    country: str | None = Country
    region: str | None = Field(None, max_length=64)
    size_class: SizeClass | None = None
    sector: str | None = Field(None, max_length=16, description="NACE Rev. 2 code")
    languages: list[str] = Field(default_factory=list, max_length=10)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=50)
    member_role: MemberRole | None = None
    jobs_to_be_done: list[str] = Field(default_factory=list, max_length=20)
    pain_points: list[str] = Field(default_factory=list, max_length=20)
    ambitions: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("languages")
    @classmethod
    def language_codes(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if len(v) != 2 or not v.isalpha() or not v.islower()]
        if bad:
            raise ValueError(f"languages are ISO 639-1 codes such as 'en'; not {', '.join(bad)}")
        return value

    @field_validator("jobs_to_be_done", "pain_points", "ambitions")
    @classmethod
    def short_entries(cls, value: list[str]) -> list[str]:
        if any(len(v) > 300 for v in value):
            raise ValueError("each entry is at most 300 characters")
        return [v.strip() for v in value if v.strip()]


class MemberOut(BaseModel):
    id: str
    cluster_id: str
    cluster_name: str | None = None
    name: str
    member_type: MemberType
    country: str | None
    region: str | None
    size_class: SizeClass | None
    sector: str | None
    languages: list[str]
    contacts: list[ContactOut]
    member_role: MemberRole | None = None
    jobs_to_be_done: list[str] = Field(default_factory=list)
    pain_points: list[str] = Field(default_factory=list)
    ambitions: list[str] = Field(default_factory=list)
    updated_at: datetime


class MemberPage(BaseModel):
    items: list[MemberOut]
    total: int
    limit: int
    offset: int


class ResponseIn(Body):
    """A completed response from an API client, checked against the template version it names."""

    member_id: str = Field(min_length=1)
    template_id: str = Field(min_length=1, max_length=64)
    template_version: int = Field(1, ge=1, le=INT4_MAX)
    theme: SurveyTheme
    skills: list[SkillAnswer] = Field(default_factory=list, max_length=200)
    answers: dict[str, Any] = Field(default_factory=dict)

    @field_validator("skills")
    @classmethod
    def distinct_skills(cls, value: list[SkillAnswer]) -> list[SkillAnswer]:
        codes = [s.skill_code for s in value]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"each skill may appear once; repeated: {', '.join(duplicates)}")
        if any(max(s.headcount_having, s.headcount_needed) > INT4_MAX for s in value):
            raise ValueError(f"headcounts are at most {INT4_MAX}")
        return value


class ResponseOut(BaseModel):
    id: str
    member_id: str
    cluster_id: str
    event_id: str
    completed_at: datetime


class ImportRowError(BaseModel):
    row: int = Field(description="Line in the file; the header is row 1")
    field: str
    message: str
    kind: str = Field(
        "invalid",
        description="What is wrong, for clients that word it in their own language: the validation error type "
        "(missing, enum, string_too_long, value_error, …), duplicate_in_cluster, duplicate_in_file or extra_cells",
    )
    context: dict[str, str | int | float] = Field(
        default_factory=dict, description="The error's particulars, e.g. expected values, max_length, the other row"
    )


class ImportReport(BaseModel):
    imported: int
    member_ids: list[str] = Field(default_factory=list)
    rows_checked: int
    errors: list[ImportRowError] = Field(default_factory=list)
    bad_rows: list[int] = Field(default_factory=list)


class TemplateCopyIn(Body):
    """Copy a template into the cluster to adapt it; the copy is a draft until published."""

    source_template_id: str = Field(min_length=1, max_length=64)
    source_version: int | None = Field(None, ge=1, le=INT4_MAX, description="Defaults to the newest version")
    template_id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,63}$", description="Id of the cluster's template")
    title: str | None = Field(None, min_length=1, max_length=200)


class CampaignIn(Body):
    title: str | None = Field(None, min_length=1, max_length=200, description="Defaults to the template's title")
    template_id: str = Field(min_length=1, max_length=64)
    template_version: int | None = Field(
        None, ge=1, le=INT4_MAX, description="Defaults to the newest published version"
    )
    member_ids: list[str] | None = Field(
        None, max_length=5000, description="Members to invite; all members of the cluster (filtered) when omitted"
    )
    member_type: MemberType | None = None
    country: str | None = Country
    closes_at: AwareDatetime | None = Field(None, description="Defaults to campaign_days from launch")
    reminder_after_hours: float | None = Field(None, gt=0, le=24 * 90)
    max_reminders: int | None = Field(None, ge=0, le=10)


class CampaignProgress(BaseModel):
    invited: int
    opened: int
    started: int
    completed: int
    members_invited: int
    members_completed: int
    reminders_sent: int
    response_rate: float = Field(description="members_completed / members_invited")


class RemindersOut(BaseModel):
    scheduled: int = Field(description="Contacts who have not answered and get a reminder now")
    reminders_used_up: int = Field(description="Contacts who have not answered but had every reminder already")


class CampaignOut(BaseModel):
    id: str
    cluster_id: str
    title: str
    template_id: str
    template_version: int
    theme: SurveyTheme
    launched_at: datetime
    closes_at: datetime
    reminder_after_hours: float
    max_reminders: int
    progress: CampaignProgress
