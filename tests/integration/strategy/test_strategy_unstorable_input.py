"""Text PostgreSQL cannot store (NUL characters, lone surrogates) and offsets beyond its integers are a 422
naming the field, never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.integration.strategy.conftest import problem


def raw_json(body: Any) -> dict[str, Any]:
    """``body`` as the bytes a client sends (httpx's own encoder refuses lone surrogates)."""
    return {"content": json.dumps(body).encode(), "headers": {"content-type": "application/json"}}


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        (
            "POST",
            "/clusters/c-1/strategies",
            {"type": "green_action_plan", "description": "a\x00b"},
            "body.description",
        ),
        (
            "POST",
            "/clusters/c-1/strategies",
            {"type": "green_action_plan", "objectives": [{"title": "Cut waste", "description": "\ud800"}]},
            "body.objectives",
        ),
        ("PATCH", "/strategies/s-1", {"description": "notes\x00"}, "body.description"),
        ("POST", "/strategies/s-1/reviews", {"notes": "held\x00"}, "body.notes"),
        ("POST", "/strategies/s-1/kpis/k-1/measurements", {"value": 1, "note": "\udc00"}, "body.note"),
    ],
)
async def test_bodies_with_unstorable_text_are_a_422(
    refusing_api: httpx.AsyncClient, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    assert field in problem(await refusing_api.request(method, path, **raw_json(body)))


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/clusters/c-1/actions?offset=2147483648", "query.offset"),
        ("/clusters/c-1/actions?strategy_id=s%00", "query.strategy_id"),
        ("/strategies/s-1/reviews?offset=2147483648", "query.offset"),
        ("/strategies/s%00-1", "path.strategy_id"),
    ],
)
async def test_parameters_beyond_integer_or_with_nul_are_a_422(
    refusing_api: httpx.AsyncClient, path: str, field: str
) -> None:
    assert field in problem(await refusing_api.get(path))
