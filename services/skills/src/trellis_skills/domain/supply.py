"""Supply figures other systems report (guide, digital segment, Action 1: regional employment agencies can tell
the cluster about the regional labour market and the skills of people entering it)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta

from trellis_common.events import SupplyReported, SupplyScope
from trellis_skills.domain.taxonomy import Taxonomy


@dataclass(frozen=True)
class Problem:
    """A rule a report breaks; ``loc`` points at the field, as request validation does."""

    loc: tuple[str | int, ...]
    message: str

    def __str__(self) -> str:
        return f"{'.'.join(map(str, self.loc))}: {self.message}"


def scope_key(scope: SupplyScope, scope_id: str) -> str:
    """Regions are matched case-insensitively (NUTS codes are upper case); cluster ids exactly."""
    return scope_id.strip().upper() if scope is SupplyScope.REGION else scope_id


def fingerprint(report: SupplyReported) -> str:
    """What a report says, independent of the order of its figures and of when it was sent."""
    content = {
        "source": report.source,
        "scope": report.scope.value,
        "scope_id": report.scope_id,
        "as_of": report.as_of.isoformat(),
        "figures": sorted(([f.skill_code, f.headcount, f.level] for f in report.figures), key=lambda f: str(f[0])),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def report_problems(report: SupplyReported, taxonomy: Taxonomy, max_headcount: int, today: date) -> list[Problem]:
    problems: list[Problem] = []
    # The latest as_of wins, so a mistyped future date would pin its figures for years.
    if report.as_of > today + timedelta(days=1):
        problems.append(Problem(("as_of",), f"{report.as_of} is in the future"))
    seen: set[str] = set()
    for index, figure in enumerate(report.figures):
        entry = taxonomy.get(figure.skill_code)
        if entry is None:
            problems.append(
                Problem(
                    ("figures", index, "skill_code"),
                    f"unknown skill code {figure.skill_code!r} (taxonomy {taxonomy.version})",
                )
            )
        elif figure.skill_code in seen:
            problems.append(Problem(("figures", index, "skill_code"), f"{figure.skill_code} is reported twice"))
        seen.add(figure.skill_code)
        if entry is not None and entry.levels is not None and figure.level is not None:
            low, high = entry.levels
            if not low <= figure.level <= high:
                problems.append(
                    Problem(
                        ("figures", index, "level"),
                        f"level {figure.level} is outside {entry.framework} levels {low}-{high}",
                    )
                )
        if figure.headcount > max_headcount:
            problems.append(
                Problem(
                    ("figures", index, "headcount"),
                    f"{figure.headcount} is more than the {max_headcount} people allowed",
                )
            )
    return problems
