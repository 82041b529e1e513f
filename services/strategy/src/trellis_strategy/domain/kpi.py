"""KPI progress and whether a KPI is on track (pure, no I/O).

A KPI runs from its baseline (value and date) to its target (value and date); the guide's examples are a
green action plan's CO₂ reduction and an internationalisation strategy's share of SME members active
internationally (Hamburg Aviation: 42%). Rules, with v = the latest measurement:

- progress = (v − baseline) / (target − baseline): 0 at the baseline, 1 at the target, whichever direction
  the target lies in (a reduction target has target < baseline); below 0 means the KPI moved away.
- expected = (measured_on − baseline_date) / (target_date − baseline_date), between 0 and 1: where a straight
  line from baseline to target would be on the day of the measurement.
- status: ``achieved`` if progress ≥ 1; else ``missed`` if the target date has passed; else ``on_track`` if
  progress ≥ expected − tolerance; else ``behind``. Without a measurement: ``no_data``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class KpiStatus(StrEnum):
    ACHIEVED = "achieved"
    ON_TRACK = "on_track"
    BEHIND = "behind"
    MISSED = "missed"
    NO_DATA = "no_data"


@dataclass(frozen=True)
class KpiTarget:
    baseline: float
    baseline_date: date
    target: float
    target_date: date

    def __post_init__(self) -> None:
        if not (math.isfinite(self.baseline) and math.isfinite(self.target)):
            raise ValueError("baseline and target must be finite numbers")
        if self.target == self.baseline:
            raise ValueError("target must differ from baseline: a KPI measures a change")
        if self.target_date <= self.baseline_date:
            raise ValueError("target_date must come after baseline_date")


@dataclass(frozen=True)
class Measurement:
    measured_on: date
    value: float


@dataclass(frozen=True)
class KpiAssessment:
    status: KpiStatus
    latest: Measurement | None
    progress: float | None
    expected: float | None
    explanation: str


def progress(kpi: KpiTarget, value: float) -> float:
    return (value - kpi.baseline) / (kpi.target - kpi.baseline)


def expected_progress(kpi: KpiTarget, on: date) -> float:
    span = (kpi.target_date - kpi.baseline_date).days
    return min(1.0, max(0.0, (on - kpi.baseline_date).days / span))


def latest(measurements: Iterable[Measurement]) -> Measurement | None:
    return max(measurements, key=lambda m: m.measured_on, default=None)


def assess(kpi: KpiTarget, measurements: Iterable[Measurement], today: date, tolerance: float) -> KpiAssessment:
    """The KPI's status today; ``tolerance`` is how far (as a share of the way) it may trail the straight line."""
    last = latest(measurements)
    if last is None:
        return KpiAssessment(KpiStatus.NO_DATA, None, None, None, "no measurement recorded yet")
    done = progress(kpi, last.value)
    expected = expected_progress(kpi, last.measured_on)
    formula = (
        f"progress = ({_n(last.value)} − {_n(kpi.baseline)}) / ({_n(kpi.target)} − {_n(kpi.baseline)}) = {done:.0%}"
    )
    if done >= 1:
        status = KpiStatus.ACHIEVED
        why = f"{formula} ≥ 100%"
    elif today > kpi.target_date:
        status = KpiStatus.MISSED
        why = f"{formula} < 100% after the target date {kpi.target_date.isoformat()}"
    elif done >= expected - tolerance:
        status = KpiStatus.ON_TRACK
        why = f"{formula} ≥ expected {expected:.0%} − tolerance {tolerance:.0%} on {last.measured_on.isoformat()}"
    else:
        status = KpiStatus.BEHIND
        why = f"{formula} < expected {expected:.0%} − tolerance {tolerance:.0%} on {last.measured_on.isoformat()}"
    return KpiAssessment(status, last, done, expected, why)


def _n(value: float) -> str:
    return f"{value:g}"
