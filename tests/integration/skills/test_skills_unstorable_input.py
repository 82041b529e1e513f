"""Supply reports with text PostgreSQL cannot store or headcounts beyond its INTEGER column, and parameters with
NUL or offsets beyond its integers, are a 422 naming the field, never a 500; nothing is recorded."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

REPORT = {
    "report_id": "ams-2026-02",
    "source": "Regional employment agency",
    "scope": "region",
    "scope_id": "AT13",
    "as_of": "2026-02-28",
    "figures": [{"skill_code": "digcomp:5.2", "headcount": 38, "level": 4}],
}


def raw_json(body: Any) -> dict[str, Any]:
    """``body`` as the bytes a client sends (httpx's own encoder refuses lone surrogates)."""
    return {"content": json.dumps(body).encode(), "headers": {"content-type": "application/json"}}


def fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [".".join(str(part) for part in error["loc"]) for error in response.json()["detail"]]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"source": "Agency\x00"}, "body.source"),
        ({"report_id": "ams\ud800"}, "body.report_id"),
        ({"figures": [{"skill_code": "digcomp:5.2", "headcount": 2**31}]}, "body.figures.0.headcount"),
        ({"figures": [{"skill_code": "digcomp:5.2\x00", "headcount": 1}]}, "body.figures"),
    ],
)
async def test_a_supply_report_with_unstorable_input_is_a_422(
    api: httpx.AsyncClient, changes: dict[str, Any], field: str
) -> None:
    assert fields(await api.post("/supply-reports", **raw_json({**REPORT, **changes}))) == [field]
    assert (await api.get("/supply-reports")).json()["total"] == 0
    assert (await api.post("/supply-reports", json=REPORT)).status_code == 201


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/supply-reports?offset=2147483648", "query.offset"),
        ("/supply-reports?scope_id=c%00", "query.scope_id"),
        ("/supply-reports/r%00", "path.report_id"),
        ("/taxonomy?q=data%00", "query.q"),
    ],
)
async def test_parameters_beyond_integer_or_with_nul_are_a_422(api: httpx.AsyncClient, path: str, field: str) -> None:
    assert fields(await api.get(path)) == [field]
