"""Every service's app refuses text PostgreSQL cannot store with a readable 422: NUL in a path or query
parameter (app-wide), NUL or a lone surrogate anywhere in a body built on StorableText; and a 422 that echoes
a lone surrogate is still written, not turned into a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel, Field

from tests.support.runtime import runtime_for
from trellis_common.app import create_app
from trellis_common.db import new_metadata
from trellis_common.runtime import ServiceDefinition
from trellis_common.text import StorableText, check_storable, unstorable_at


class Note(StorableText):
    title: str = Field(max_length=20)
    tags: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)


class Plain(BaseModel):
    title: str = Field(max_length=5)


router = APIRouter()


@router.post("/notes/{note_id}")
async def save(note_id: str, body: Note, tag: str | None = None) -> dict[str, str]:
    return {"id": note_id, "title": body.title}


@router.post("/plain")
async def plain(body: Plain) -> dict[str, str]:
    return {"title": body.title}


DEMO = ServiceDefinition(
    name="demo", title="Demo", description="", metadata=new_metadata(), migrations="unused", routers=[router]
)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    runtime = runtime_for(DEMO, database_url=f"sqlite+aiosqlite:///{tmp_path / 'd.db'}", migrate_on_start=False)
    app = create_app(DEMO, runtime=runtime, manage_runtime=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as client:
        yield client


def raw(body: Any) -> dict[str, Any]:
    return {"content": json.dumps(body).encode(), "headers": {"content-type": "application/json"}}


def locs(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


async def test_nul_in_a_path_or_query_parameter_is_a_422(client: httpx.AsyncClient) -> None:
    assert locs(await client.post("/notes/n%001", **raw({"title": "x"}))) == [["path", "note_id"]]
    assert locs(await client.post("/notes/n1?tag=a%00b", **raw({"title": "x"}))) == [["query", "tag"]]
    fine = await client.post("/notes/n%201?tag=a%20b", **raw({"title": "x"}))
    assert fine.json() == {"id": "n 1", "title": "x"}


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"title": "a\x00b"}, ["body", "title"]),
        ({"title": "a\ud800b"}, ["body", "title"]),
        ({"title": "x", "tags": ["ok", "n\x00"]}, ["body", "tags"]),
        ({"title": "x", "extra": {"deep": [{"deeper": "\udfff"}]}}, ["body", "extra"]),
        ({"title": "x", "extra": {"k\x00": 1}}, ["body", "extra"]),
    ],
)
async def test_unstorable_text_anywhere_in_a_body_is_a_422(
    client: httpx.AsyncClient, body: dict[str, Any], loc: list[Any]
) -> None:
    assert locs(await client.post("/notes/n1", **raw(body))) == [loc]
    # A surrogate pair escaped in JSON is one character, which is fine.
    paired = await client.post("/notes/n1", **raw({**body, "title": "\U0001f600", "tags": [], "extra": {}}))
    assert paired.json()["title"] == "\U0001f600", paired.text


async def test_a_422_echoing_a_lone_surrogate_is_written(client: httpx.AsyncClient) -> None:
    # Pydantic refuses the surrogate itself and echoes it; written as UTF-8 it would fail.
    response = await client.post("/plain", **raw({"title": "too long \ud800"}))
    assert locs(response) == [["body", "title"]]
    assert response.json()["detail"][0]["input"] == "too long \\ud800"


def test_the_checks_name_where_and_why() -> None:
    assert unstorable_at({"a": [1, {"b": "fine"}, {"c": "x\x00"}]}) == (
        ("a", 2, "c"),
        "text must not contain the NUL character",
    )
    assert unstorable_at({"a": ["\U0001f600 is fine"]}) is None
    assert unstorable_at(["ok", "\ud83d"]) == ((1,), "text must not contain lone surrogates (invalid Unicode)")
    assert check_storable({"fine": ["text", 1, None]}) == {"fine": ["text", 1, None]}
    with pytest.raises(ValueError, match="NUL"):
        check_storable(("a", "\x00"))
