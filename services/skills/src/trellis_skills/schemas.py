"""Request and response bodies of the skills API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from trellis_common.events import Count, Id, Level, MemberContext, SkillGap, SupplyFigure, SupplyScope
from trellis_common.text import INT4_MAX, StorableText
from trellis_skills.domain.gaps import PRIORITY_FORMULA
from trellis_skills.domain.imbalance import ImbalanceType, SkillsAction


class SkillOut(BaseModel):
    code: str
    framework: str
    area: str
    label: str
    esco_uri: str | None
    levels: list[int] | None = Field(
        None, min_length=2, max_length=2, description="Lowest and highest level, e.g. [1, 8] for DigComp 2.2"
    )
    source: str | None = Field(
        None, description="Where the skill comes from: the framework, or the standard or EU act the skill is cited to"
    )


class TaxonomyOut(BaseModel):
    version: str
    count: int
    items: list[SkillOut]


class AssessmentOut(BaseModel):
    id: str
    response_id: str
    cluster_id: str
    member_id: str
    theme: str
    member_context: MemberContext
    gaps: list[SkillGap]
    priority_formula: str = PRIORITY_FORMULA
    assessed_at: datetime


class SkillBalanceOut(BaseModel):
    skill_code: str
    skill_label: str
    framework: str | None
    area: str | None
    members: int = Field(description="Members who answered for the skill")
    demanding_members: int = Field(description="Members who need people with the skill")
    holding_members: int = Field(description="Members who have people with the skill")
    declining_members: int = Field(
        0, description="Members who need fewer people with the skill than at their previous answer"
    )
    demand: int = Field(description="People needed (Σ headcount_needed)")
    member_supply: int = Field(description="People members have (Σ headcount_having)")
    external_supply: int = Field(description="People reported by other systems at the required level")
    external_below_level: int = Field(description="People reported by other systems below the required level")
    supply: int = Field(description="member_supply + external_supply")
    required_level: float | None = Field(description="Mean required level, weighted by the people needed")
    current_level: float | None = Field(
        description="Mean current level where members have people with the skill (level above 0), same weights"
    )
    level_gap: float | None = Field(description="Mean of max(0, required − current) over the same answers")
    demand_supply_ratio: float | None = Field(description="demand / supply; none when nobody is available")
    imbalance: ImbalanceType
    rule: str = Field(description="The rule that fired, with the configured thresholds")
    explanation: str = Field(description="Why, with this skill's numbers")
    actions: list[SkillsAction]
    recommendation: str
    sources: list[str] = Field(description="Other systems whose figures count for this skill")


class ImbalanceThresholds(BaseModel):
    shortage_ratio: float
    shortage_min_people: int
    gap_min_levels: float
    surplus_ratio: float
    surplus_min_people: int
    obsolescence_max_demand_ratio: float
    obsolescence_min_people: int


class ClusterProfileOut(BaseModel):
    cluster_id: str
    computed_at: datetime
    members: int = Field(description="Members with at least one completed response")
    taxonomy_version: str
    thresholds: ImbalanceThresholds
    rules: dict[str, str] = Field(description="Each type's rule, tried in this order; the first that holds wins")
    counts: dict[ImbalanceType, int] = Field(description="Skills per type, over all skills whatever the filters")
    skills: list[SkillBalanceOut]


class SupplyFigureIn(StorableText):
    model_config = ConfigDict(extra="forbid")

    skill_code: str = Field(min_length=1, max_length=64, description="Taxonomy code, e.g. digcomp:3.4")
    headcount: Count = Field(le=INT4_MAX, description="People available with the skill")
    level: Level | None = Field(None, description="The level they hold at least; none when not graded")


class SupplyReportIn(StorableText):
    model_config = ConfigDict(extra="forbid")

    report_id: Id = Field(description="Chosen by the reporter; sending the same report again is harmless")
    source: str = Field(
        min_length=1, max_length=200, description="Who reports, e.g. 'AMS Wien (regional employment agency)'"
    )
    scope: SupplyScope
    scope_id: Id = Field(description="The cluster id, or the region (NUTS code as in members' context)")
    as_of: date = Field(description="The date the figures describe; a later date replaces earlier figures")
    figures: list[SupplyFigureIn] = Field(min_length=1, max_length=500)


class SupplyReportOut(BaseModel):
    report_id: str
    source: str
    scope: SupplyScope
    scope_id: str
    as_of: date
    figures: list[SupplyFigure]
    received_via: str
    reported_at: datetime
    received_at: datetime


class SupplyReportPage(BaseModel):
    items: list[SupplyReportOut]
    total: int
    limit: int
    offset: int
