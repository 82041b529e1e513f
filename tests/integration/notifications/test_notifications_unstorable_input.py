"""Text PostgreSQL cannot store (NUL characters, lone surrogates) and offsets beyond its integers are a 422
naming the field, never a 500 (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.integration.notifications.harness import Harness


def raw_json(body: Any) -> dict[str, Any]:
    """``body`` as the bytes a client sends (httpx's own encoder refuses lone surrogates)."""
    return {"content": json.dumps(body).encode(), "headers": {"content-type": "application/json"}}


def fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [".".join(str(part) for part in error["loc"]) for error in response.json()["detail"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"review_redirect": {"contact_id": "ct\x00-1"}}, "body.review_redirect"),
        ({"review_redirect": {"contact_id": "ct\udc00-1"}}, "body.review_redirect"),
        ({"review_redirect": {"email": "deputy@cluster.example", "name": "\ud800"}}, "body.review_redirect"),
    ],
)
async def test_preferences_with_unstorable_text_are_a_422(service: Harness, body: dict[str, Any], field: str) -> None:
    async with service.api() as api:
        assert fields(await api.patch("/contacts/ct-1/preferences", **raw_json(body))) == [field]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/deliveries?offset=2147483648", "query.offset"),
        ("/deliveries?member_id=m%00", "query.member_id"),
        ("/suppressions?offset=2147483648", "query.offset"),
        ("/deliveries/d%00-1", "path.delivery_id"),
        ("/contacts/ct%00-1/preferences", "path.contact_id"),
    ],
)
async def test_parameters_beyond_integer_or_with_nul_are_a_422(service: Harness, path: str, field: str) -> None:
    async with service.api() as api:
        assert fields(await api.get(path)) == [field]
