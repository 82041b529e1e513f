"""KPI progress and status: the guide's examples, and properties of the formulas."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from trellis_strategy.chart import kpi_chart
from trellis_strategy.domain.kpi import (
    KpiStatus,
    KpiTarget,
    Measurement,
    assess,
    expected_progress,
    latest,
    progress,
)

# Hamburg Aviation reports 42% of its SME members active internationally; say it started from 30%.
SHARE = KpiTarget(baseline=30, baseline_date=date(2024, 1, 1), target=42, target_date=date(2026, 1, 1))
# A green action plan cutting CO₂: the target lies below the baseline.
CO2 = KpiTarget(baseline=1000, baseline_date=date(2024, 1, 1), target=600, target_date=date(2026, 1, 1))
TOLERANCE = 0.1


def test_progress_runs_from_baseline_to_target_in_either_direction() -> None:
    assert progress(SHARE, 36) == 0.5
    assert progress(CO2, 800) == 0.5
    assert progress(CO2, 1100) == -0.25  # moved away from the target
    assert progress(SHARE, 45) == 1.25  # beyond it


@pytest.mark.parametrize(
    ("measurements", "today", "status"),
    [
        ([], date(2025, 1, 1), KpiStatus.NO_DATA),
        ([Measurement(date(2025, 1, 1), 36)], date(2025, 1, 1), KpiStatus.ON_TRACK),  # 50% at half time
        ([Measurement(date(2025, 1, 1), 35.5)], date(2025, 1, 1), KpiStatus.ON_TRACK),  # 46%: within 10 points
        ([Measurement(date(2025, 1, 1), 33)], date(2025, 1, 1), KpiStatus.BEHIND),  # 25% < 50% − 10%
        ([Measurement(date(2025, 6, 1), 42)], date(2025, 6, 1), KpiStatus.ACHIEVED),
        ([Measurement(date(2025, 12, 1), 40)], date(2026, 1, 2), KpiStatus.MISSED),
        ([Measurement(date(2026, 2, 1), 43)], date(2026, 2, 1), KpiStatus.ACHIEVED),  # late but there
    ],
)
def test_status(measurements: list[Measurement], today: date, status: KpiStatus) -> None:
    assert assess(SHARE, measurements, today, TOLERANCE).status is status


def test_the_latest_measurement_counts_and_the_explanation_shows_the_formula() -> None:
    result = assess(
        CO2,
        [Measurement(date(2025, 1, 1), 700), Measurement(date(2024, 7, 1), 950)],
        date(2025, 2, 1),
        TOLERANCE,
    )
    assert result.latest == Measurement(date(2025, 1, 1), 700)
    assert result.progress == 0.75
    assert result.status is KpiStatus.ON_TRACK
    assert result.explanation.startswith("progress = (700 − 1000) / (600 − 1000) = 75% ≥ expected 50%")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": 30}, "target must differ from baseline"),
        ({"target_date": date(2024, 1, 1)}, "target_date must come after baseline_date"),
        ({"baseline": float("nan")}, "finite"),
        ({"target": float("inf")}, "finite"),
    ],
)
def test_targets_are_checked(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "baseline": 30.0,
        "baseline_date": date(2024, 1, 1),
        "target": 42.0,
        "target_date": date(2026, 1, 1),
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        KpiTarget(**values)  # type: ignore[arg-type]


# --- properties ------------------------------------------------------------------------------------------------

values = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def targets(draw: st.DrawFn) -> KpiTarget:
    baseline, target = draw(values), draw(values)
    assume(abs(target - baseline) > 1e-3)
    start = date(2020, 1, 1) + timedelta(days=draw(st.integers(0, 3000)))
    return KpiTarget(baseline, start, target, start + timedelta(days=draw(st.integers(1, 3000))))


@settings(max_examples=300, deadline=None)
@given(kpi=targets(), share=st.floats(-2, 3))
def test_progress_is_the_share_of_the_way_to_the_target(kpi: KpiTarget, share: float) -> None:
    value = kpi.baseline + share * (kpi.target - kpi.baseline)
    assert progress(kpi, value) == pytest.approx(share, abs=1e-6)
    assert progress(kpi, kpi.baseline) == 0
    assert progress(kpi, kpi.target) == 1


@settings(max_examples=300, deadline=None)
@given(kpi=targets(), a=st.integers(-100, 4000), b=st.integers(-100, 4000))
def test_expected_progress_grows_from_zero_to_one(kpi: KpiTarget, a: int, b: int) -> None:
    first, second = sorted((kpi.baseline_date + timedelta(days=a), kpi.baseline_date + timedelta(days=b)))
    assert 0 <= expected_progress(kpi, first) <= expected_progress(kpi, second) <= 1
    assert expected_progress(kpi, kpi.baseline_date) == 0
    assert expected_progress(kpi, kpi.target_date) == 1


@settings(max_examples=300, deadline=None)
@given(
    kpi=targets(),
    days=st.integers(0, 3000),
    shares=st.tuples(st.floats(-1, 2), st.floats(-1, 2)),
    tolerance=st.floats(0, 0.5),
)
def test_moving_towards_the_target_never_makes_a_kpi_look_worse(
    kpi: KpiTarget, days: int, shares: tuple[float, float], tolerance: float
) -> None:
    on = min(kpi.baseline_date + timedelta(days=days), kpi.target_date)
    worse, better = sorted(shares)
    rank = {KpiStatus.MISSED: 0, KpiStatus.BEHIND: 1, KpiStatus.ON_TRACK: 2, KpiStatus.ACHIEVED: 3}

    def status(share: float) -> KpiStatus:
        value = kpi.baseline + share * (kpi.target - kpi.baseline)
        return assess(kpi, [Measurement(on, value)], on, tolerance).status

    assert rank[status(worse)] <= rank[status(better)]
    result = assess(kpi, [Measurement(on, kpi.baseline + better * (kpi.target - kpi.baseline))], on, tolerance)
    assert (result.status is KpiStatus.ACHIEVED) == (result.progress is not None and result.progress >= 1)


@given(st.lists(st.tuples(st.integers(0, 1000), values), max_size=10))
def test_latest_is_the_most_recent_day(entries: list[tuple[int, float]]) -> None:
    measurements = [Measurement(date(2024, 1, 1) + timedelta(days=d), v) for d, v in entries]
    found = latest(measurements)
    if not measurements:
        assert found is None
    else:
        assert found is not None and found.measured_on == max(m.measured_on for m in measurements)


def test_the_kpi_chart_says_whose_strategy_it_is() -> None:
    svg = kpi_chart("Digital skills plan 2026", [], cluster_name="Danube Mechatronics")
    assert "Digital skills plan 2026 · Danube Mechatronics" in svg
    assert "KPI progress: Digital skills plan 2026 · Danube Mechatronics" in svg
    assert "·" not in kpi_chart("Digital skills plan 2026", []).split("<text")[1], "no cluster name known: title only"
