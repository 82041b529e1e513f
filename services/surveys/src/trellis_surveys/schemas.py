"""Request and response bodies of the surveys API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from trellis_common.events import ContactRole, MemberType, SizeClass, SkillAnswer, SurveyTheme

Country = Field(None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")


class Body(BaseModel):
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


class ClusterOut(ClusterIn):
    id: str
    created_at: datetime


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


class MemberIn(Body):
    name: str = Field(min_length=1, max_length=200)
    member_type: MemberType = MemberType.SME
    country: str | None = Country
    region: str | None = Field(None, max_length=64)
    size_class: SizeClass | None = None
    sector: str | None = Field(None, max_length=16, description="NACE Rev. 2 code")
    languages: list[str] = Field(default_factory=list, max_length=10)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=50)


class MemberOut(BaseModel):
    id: str
    cluster_id: str
    name: str
    member_type: MemberType
    country: str | None
    region: str | None
    size_class: SizeClass | None
    sector: str | None
    languages: list[str]
    contacts: list[ContactOut]
    updated_at: datetime


class MemberPage(BaseModel):
    items: list[MemberOut]
    total: int
    limit: int
    offset: int


class ResponseIn(Body):
    """A completed needs-assessment response (the full survey flow arrives with the surveys issue)."""

    member_id: str = Field(min_length=1)
    template_id: str = Field(min_length=1, max_length=64)
    template_version: int = Field(1, ge=1)
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
        return value


class ResponseOut(BaseModel):
    id: str
    member_id: str
    cluster_id: str
    event_id: str
    completed_at: datetime
