"""Events with text PostgreSQL cannot store (NUL characters, lone surrogates) are refused at the door, naming
what is wrong, never a 500; nothing is accepted for the consumers to choke on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.integration.ingress.conftest import Ingress, example
from trellis_common.envelope import STRUCTURED_JSON
from trellis_ingress.models import accepted_events

RESPONSES = "surveys.response.completed.v1"


async def post_structured(ingress: Ingress, event: dict[str, Any]) -> Any:
    # json.dumps writes lone surrogates as escapes, as a client's serialiser may.
    headers = {**ingress.auth(), "content-type": STRUCTURED_JSON}
    return await ingress.client.post("/events", content=json.dumps(event).encode(), headers=headers)


async def accepted(ingress: Ingress) -> int:
    async with ingress.runtime.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(accepted_events)) or 0)


@pytest.mark.parametrize("attribute", ["id", "source", "subject"])
async def test_an_attribute_with_nul_is_a_400_naming_it(ingress: Ingress, attribute: str) -> None:
    event = example(RESPONSES)
    event[attribute] = "crm\x00connector"
    response = await post_structured(ingress, event)
    assert response.status_code == 400, response.text
    assert f"attribute {attribute}" in response.json()["detail"] and "NUL" in response.json()["detail"]
    assert await accepted(ingress) == 0


async def test_a_binary_mode_id_with_a_percent_encoded_nul_is_a_400(ingress: Ingress) -> None:
    event = example(RESPONSES)
    headers = {f"ce-{k}": str(v) for k, v in event.items() if k not in ("data", "datacontenttype")}
    headers |= {"ce-id": "evt%00-1", "content-type": "application/json", **ingress.auth()}
    response = await ingress.client.post("/events", content=json.dumps(event["data"]).encode(), headers=headers)
    assert response.status_code == 400 and "attribute id" in response.json()["detail"], response.text
    assert await accepted(ingress) == 0


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        (lambda data: data.update({"member_id": "m\x00-1"}), ["data", "member_id"]),
        (
            lambda data: data["skills"][0].update({"skill_code": "digcomp:\ud8005.2"}),
            ["data", "skills", 0, "skill_code"],
        ),
        (lambda data: data["answers"].update({"note": "fine\x00"}), ["data", "answers", "note"]),
        (lambda data: data["answers"].update({"no\x00te": "fine"}), ["data", "answers", "no\x00te"]),
    ],
    ids=["nul", "lone-surrogate", "nul-in-free-answers", "nul-in-a-key"],
)
async def test_data_with_unstorable_text_is_a_422_naming_the_field(
    ingress: Ingress, change: Any, loc: list[Any]
) -> None:
    event = example(RESPONSES)
    event["data"].setdefault("answers", {})
    change(event["data"])
    response = await post_structured(ingress, event)
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [loc]
    assert await accepted(ingress) == 0
