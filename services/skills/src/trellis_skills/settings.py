"""Settings of the skills service (``TRELLIS_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field, model_validator

from trellis_common.settings import ServiceSettings
from trellis_skills.domain.imbalance import ImbalanceRules


class SkillsSettings(ServiceSettings):
    service_name: str = "skills"
    shortage_ratio: float = Field(
        1.2, ge=1, description="Shortage when demand ≥ this × supply (and shortage_min_people short)"
    )
    shortage_min_people: int = Field(2, ge=1, description="Shortage only when at least this many people are missing")
    gap_min_levels: float = Field(
        1.0, gt=0, le=8, description="Gap when members' people with the skill are on average this many levels short"
    )
    surplus_ratio: float = Field(1.5, ge=1, description="Surplus when supply ≥ this × demand (and surplus_min_people)")
    surplus_min_people: int = Field(2, ge=1, description="Surplus only when at least this many people are spare")
    obsolescence_max_demand_ratio: float = Field(
        0.1, ge=0, lt=1, description="Obsolescence when demand ≤ this × the people members hold with the skill"
    )
    obsolescence_min_people: int = Field(
        2, ge=1, description="Obsolescence only when members hold at least this many people with the skill"
    )
    max_headcount: int = Field(
        100_000, ge=1, description="A survey answer or supply figure above this many people is refused as out of range"
    )
    heatmap_max_columns: int = Field(
        60, ge=1, le=500, description="Most members (or areas) a heatmap shows; members with the largest gaps first"
    )

    @model_validator(mode="after")
    def consistent_rules(self) -> SkillsSettings:
        self.imbalance_rules()  # raises ValueError naming the inconsistent thresholds
        return self

    def imbalance_rules(self) -> ImbalanceRules:
        return ImbalanceRules(
            shortage_ratio=self.shortage_ratio,
            shortage_min_people=self.shortage_min_people,
            gap_min_levels=self.gap_min_levels,
            surplus_ratio=self.surplus_ratio,
            surplus_min_people=self.surplus_min_people,
            obsolescence_max_demand_ratio=self.obsolescence_max_demand_ratio,
            obsolescence_min_people=self.obsolescence_min_people,
        )
