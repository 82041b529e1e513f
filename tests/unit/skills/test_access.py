"""Who may report supply figures: the rule the API and the repository share."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi import HTTPException

from trellis_common.auth import Scope
from trellis_common.events import SupplyReported
from trellis_skills.access import check_may_report
from trellis_skills.repository import may_report


def report(scope: str, scope_id: str) -> SupplyReported:
    return SupplyReported.model_validate(
        {
            "report_id": "r-1",
            "source": "agency",
            "scope": scope,
            "scope_id": scope_id,
            "as_of": date(2026, 2, 28),
            "figures": [{"skill_code": "digcomp:3.4", "headcount": 1}],
            "reported_at": datetime(2026, 3, 1, tzinfo=UTC),
        }
    )


MANAGER_OF_A = Scope("manager", frozenset({"a"}))
PLATFORM = Scope("agency", None)


@pytest.mark.parametrize(
    ("scope", "target", "allowed"),
    [
        (MANAGER_OF_A, report("cluster", "a"), True),
        (MANAGER_OF_A, report("cluster", "b"), False),
        (MANAGER_OF_A, report("region", "AT13"), False),
        (Scope("nobody", frozenset()), report("cluster", "a"), False),
        (PLATFORM, report("cluster", "b"), True),
        (PLATFORM, report("region", "AT13"), True),
    ],
)
def test_who_may_report(scope: Scope, target: SupplyReported, allowed: bool) -> None:
    assert may_report(scope, target) is allowed
    if allowed:
        check_may_report(scope, target)
    else:
        with pytest.raises(HTTPException) as refused:
            check_may_report(scope, target)
        assert refused.value.status_code == 403
