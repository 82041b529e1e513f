"""Request and response bodies of the strategy API."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from trellis_common.events import AgendaAction
from trellis_common.text import StorableText
from trellis_strategy.domain.cadence import (
    MAX_RRULE_LENGTH,
    CadenceKind,
    InvalidCadence,
    InvalidTimeZone,
    ReviewCadence,
    time_zone,
)
from trellis_strategy.domain.kpi import KpiStatus
from trellis_strategy.domain.reminders import MAX_LEAD_DAYS, AnchorMode
from trellis_strategy.domain.strategy import StrategyPhase, StrategyType

ANCHOR_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
ANCHOR_LATEST = datetime(2200, 1, 1, tzinfo=UTC)
DATE_EARLIEST = date(1970, 1, 1)
DATE_LATEST = date(2200, 1, 1)
MAX_OWNERS = 20
MAX_OBJECTIVES = 50
MAX_KPIS = 50

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]


def _one_line(value: str) -> str:
    # Titles and names go into email subjects and calendar summaries: one line, no control characters.
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise ValueError("must be one line of text, without control characters")
    return value


Title = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_one_line)]
LongTitle = Annotated[str, StringConstraints(min_length=1, max_length=300), AfterValidator(_one_line)]
Unit = Annotated[str, StringConstraints(min_length=1, max_length=40), AfterValidator(_one_line)]
Decision = Annotated[str, StringConstraints(min_length=1, max_length=1000), AfterValidator(_one_line)]
Number = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]


class Body(StorableText):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- cadence and schedule ------------------------------------------------------------------------------------


class RRuleCadence(Body):
    rrule: str = Field(
        min_length=1,
        max_length=MAX_RRULE_LENGTH + len("RRULE:"),
        description="RFC 5545 RRULE, e.g. FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO (DAILY or coarser; no COUNT/UNTIL)",
        examples=["FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO"],
    )

    @field_validator("rrule")
    @classmethod
    def valid_rrule(cls, value: str) -> str:
        try:
            cadence = ReviewCadence.from_rrule(value)
        except InvalidCadence as exc:
            raise ValueError(str(exc)) from exc
        assert cadence.rrule is not None
        return cadence.rrule


def _cadence_shape(value: Any) -> str:
    return "named" if isinstance(value, str) else "rrule"


# A tagged union: a wrong value gets the one error of the shape it has, not one error per alternative.
CadenceBody = Annotated[
    Annotated[Literal["quarterly", "six_monthly"], Tag("named")] | Annotated[RRuleCadence, Tag("rrule")],
    Discriminator(_cadence_shape),
]


def cadence_body(cadence: ReviewCadence) -> CadenceBody:
    if cadence.kind is CadenceKind.QUARTERLY:
        return "quarterly"
    if cadence.kind is CadenceKind.SIX_MONTHLY:
        return "six_monthly"
    assert cadence.rrule is not None
    return RRuleCadence(rrule=cadence.rrule)


def to_cadence(body: CadenceBody) -> ReviewCadence:
    if isinstance(body, RRuleCadence):
        return ReviewCadence.from_rrule(body.rrule)
    return ReviewCadence(CadenceKind(body))


LeadDays = Annotated[int, Field(ge=1, le=MAX_LEAD_DAYS)]


class ScheduleIn(Body):
    cadence: CadenceBody = Field(
        description="'quarterly', 'six_monthly' or {\"rrule\": \"<RFC 5545 RRULE>\"}",
        examples=["quarterly", {"rrule": "FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO"}],
    )
    timezone: str | None = Field(
        None,
        max_length=64,
        description="IANA time zone the review dates are computed in; unchanged (or the default) if omitted",
    )
    strategy_title: Title | None = Field(None, description="Renames the strategy (cluster schedule: the overall one)")
    anchor_at: AwareDatetime | None = Field(
        None,
        description="Start of the series (its local time of day is the review time); unchanged (or now) if omitted",
    )
    anchor_mode: AnchorMode | None = Field(
        None,
        description="After a recorded review the next date is on the calendar series (calendar) or one period "
        "after the review (review_date); unchanged (or the default) if omitted",
    )
    lead_days: list[LeadDays] | None = Field(
        None,
        max_length=10,
        description="Days before each review date that an upcoming reminder goes out; [] for none (the due date "
        "always reminds); unchanged (or the default) if omitted",
        examples=[[14, 1]],
    )
    escalate_after_days: LeadDays | None = Field(
        None,
        description="Days after a missed review date that the board is told; null never escalates; unchanged "
        "(or the default) if omitted",
    )

    @field_validator("anchor_at")
    @classmethod
    def plausible_anchor(cls, value: datetime | None) -> datetime | None:
        # Walking a series from the distant past costs time for nothing; no strategy predates 1970.
        if value is not None and not ANCHOR_EARLIEST <= value <= ANCHOR_LATEST:
            raise ValueError(f"anchor_at must lie between {ANCHOR_EARLIEST:%Y} and {ANCHOR_LATEST:%Y}")
        return value

    @field_validator("timezone")
    @classmethod
    def known_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                time_zone(value)
            except InvalidTimeZone as exc:
                raise ValueError(str(exc)) from exc
        return value

    @field_validator("lead_days")
    @classmethod
    def distinct_days(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("lead_days must not repeat a value")
        return sorted(value, reverse=True) if value is not None else None


class ScheduleOut(BaseModel):
    id: str
    cluster_id: str
    strategy_id: str
    strategy_title: str
    strategy_type: StrategyType
    cadence: CadenceBody
    timezone: str
    anchor_at: datetime
    anchor_mode: AnchorMode
    lead_days: list[int]
    escalate_after_days: int | None
    next_due_at: datetime = Field(description="Next review date, UTC")
    next_due_local: datetime = Field(description="Next review on the cluster's wall clock")
    next_due_date: date = Field(description="Next review date in the cluster's time zone")
    status: Literal["on_schedule", "overdue", "archived"] = Field(
        description="overdue while a review date has passed without a recorded review"
    )
    overdue_since: datetime | None = Field(description="The first review date missed (UTC), while overdue")
    missed_reviews: int
    next_reminder_at: datetime | None = Field(description="When the next reminder goes out (null while archived)")
    last_fired_due_at: datetime | None
    last_reviewed_at: datetime | None
    upcoming: list[datetime] = Field(description="The next review dates (UTC), the first being next_due_at")
    created_at: datetime
    updated_at: datetime


# --- strategies, objectives, KPIs ---------------------------------------------------------------------------


class OwnerIn(Body):
    contact_id: Id = Field(description="The contact's id in the cluster directory (surveys)")
    role: Literal["cluster_manager", "board_member"]


def distinct_owners(owners: list[OwnerIn] | None) -> list[OwnerIn] | None:
    if owners is not None and len({o.contact_id for o in owners}) != len(owners):
        raise ValueError("each contact_id may own a strategy once")
    return owners


class KpiIn(Body):
    name: Title = Field(examples=["SME members active internationally"])
    unit: Unit = Field(examples=["%", "t CO₂e"])
    baseline: Number = Field(examples=[30])
    baseline_date: date | None = Field(None, description="When the baseline was measured; today if omitted")
    target: Number = Field(examples=[42], description="May be below the baseline (a reduction target)")
    target_date: date
    objective_id: str | None = Field(None, max_length=36, description="The objective the KPI measures")

    @model_validator(mode="after")
    def a_change_over_time(self) -> KpiIn:
        if self.target == self.baseline:
            raise ValueError("target must differ from baseline: a KPI measures a change")
        if self.baseline_date is not None and self.target_date <= self.baseline_date:
            raise ValueError("target_date must come after baseline_date")
        for name in ("baseline_date", "target_date"):
            value = getattr(self, name)
            if value is not None and not DATE_EARLIEST <= value <= DATE_LATEST:
                raise ValueError(f"{name} must lie between {DATE_EARLIEST:%Y} and {DATE_LATEST:%Y}")
        return self


class KpiPatch(Body):
    name: Title | None = None
    unit: Unit | None = None
    baseline: Number | None = None
    baseline_date: date | None = None
    target: Number | None = None
    target_date: date | None = None
    objective_id: str | None = Field(None, max_length=36, description="null detaches the KPI from its objective")


class ObjectiveIn(Body):
    title: LongTitle
    description: str | None = Field(None, max_length=5000)
    kpis: list[KpiIn] = Field(default_factory=list, max_length=MAX_KPIS, description="KPIs measuring this objective")

    @field_validator("kpis")
    @classmethod
    def no_foreign_objective(cls, value: list[KpiIn]) -> list[KpiIn]:
        if any(kpi.objective_id is not None for kpi in value):
            raise ValueError("KPIs listed under an objective belong to it; leave out objective_id")
        return value


class ObjectivePatch(Body):
    title: LongTitle | None = None
    description: str | None = Field(None, max_length=5000)


class StrategyIn(Body):
    type: StrategyType
    title: Title | None = Field(None, description="Defaults to the type's name")
    phase: StrategyPhase = Field(StrategyPhase.DIAGNOSTICS, description="diagnostics → choice → action (Figure 9)")
    description: str | None = Field(None, max_length=5000)
    owners: list[OwnerIn] = Field(default_factory=list, max_length=MAX_OWNERS)
    objectives: list[ObjectiveIn] = Field(default_factory=list, max_length=MAX_OBJECTIVES)
    kpis: list[KpiIn] = Field(default_factory=list, max_length=MAX_KPIS, description="KPIs not tied to an objective")
    schedule: ScheduleIn | None = Field(None, description="The review schedule; the configured defaults if omitted")

    @field_validator("owners")
    @classmethod
    def one_entry_per_owner(cls, value: list[OwnerIn]) -> list[OwnerIn]:
        distinct_owners(value)
        return value

    @field_validator("kpis")
    @classmethod
    def no_objective_reference(cls, value: list[KpiIn]) -> list[KpiIn]:
        if any(kpi.objective_id is not None for kpi in value):
            raise ValueError("objectives do not have ids yet; list the KPI under its objective instead")
        return value


class StrategyPatch(Body):
    title: Title | None = None
    description: str | None = Field(None, max_length=5000)
    phase: StrategyPhase | None = None
    owners: list[OwnerIn] | None = Field(None, max_length=MAX_OWNERS)
    archived: bool | None = Field(None, description="An archived strategy sends no reminders and leaves the feed")

    @field_validator("owners")
    @classmethod
    def one_entry_per_owner(cls, value: list[OwnerIn] | None) -> list[OwnerIn] | None:
        return distinct_owners(value)


class MeasurementIn(Body):
    value: Number
    measured_on: date | None = Field(None, description="The day the value describes; today if omitted")
    note: str | None = Field(None, max_length=500)


class MeasurementOut(BaseModel):
    measured_on: date
    value: float
    note: str | None
    recorded_at: datetime


class KpiOut(BaseModel):
    id: str
    objective_id: str | None
    name: str
    unit: str
    baseline: float
    baseline_date: date
    target: float
    target_date: date
    latest: float | None
    latest_on: date | None
    progress: float | None = Field(description="(latest − baseline) / (target − baseline); 1 = target met")
    expected: float | None = Field(description="Share of the way a straight line would have covered by latest_on")
    status: KpiStatus
    explanation: str
    measurements: list[MeasurementOut]


class ObjectiveOut(BaseModel):
    id: str
    title: str
    description: str | None
    kpi_ids: list[str]


class OwnerOut(BaseModel):
    contact_id: str
    role: str


class KpiSnapshotOut(BaseModel):
    kpi_id: str
    name: str
    unit: str
    baseline: float
    target: float
    target_date: date
    latest: float | None
    progress: float | None
    status: str


class ReviewIn(Body):
    held_at: AwareDatetime | None = Field(None, description="When the review meeting took place; now if omitted")
    notes: str | None = Field(None, max_length=20_000)
    decisions: list[Decision] = Field(default_factory=list, max_length=100)
    phase: StrategyPhase | None = Field(None, description="The phase the review moves the strategy to, if it does")


class ReviewOut(BaseModel):
    id: str
    strategy_id: str
    cluster_id: str
    held_at: datetime
    recorded_at: datetime
    closed_due_at: datetime = Field(description="The review date this review answered")
    next_due_at: datetime = Field(description="The next review date it set")
    phase: StrategyPhase
    notes: str | None
    decisions: list[str]
    kpi_snapshot: list[KpiSnapshotOut]
    actions_reviewed: int


class ReviewPage(BaseModel):
    strategy_id: str
    items: list[ReviewOut]
    total: int
    limit: int
    offset: int


class StrategyOut(BaseModel):
    id: str
    cluster_id: str
    type: StrategyType
    phase: StrategyPhase
    title: str
    description: str | None
    owners: list[OwnerOut]
    archived: bool
    objectives: list[ObjectiveOut]
    kpis: list[KpiOut]
    schedule: ScheduleOut | None
    last_review: ReviewOut | None
    open_actions: int
    created_at: datetime
    updated_at: datetime


class StrategyList(BaseModel):
    cluster_id: str
    items: list[StrategyOut]


class ActionOut(BaseModel):
    id: int
    strategy_id: str
    kind: str
    text: str = Field(description="In English")
    facts: AgendaAction | None = Field(
        None, description="The action as data, for readers of other languages; none for actions kept before facts were"
    )
    source_event_id: str
    created_at: datetime
    updated_at: datetime
    reviewed_at: datetime | None


class ActionPage(BaseModel):
    cluster_id: str
    items: list[ActionOut]
    total: int
    limit: int
    offset: int


class CalendarTokenOut(BaseModel):
    cluster_id: str
    token: str = Field(description="Shown once; a new token replaces it (the old feed URL stops working)")
    path: str = Field(description="The feed's path with the token, relative to this service's base URL")
