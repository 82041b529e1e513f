"""POST /events: the CloudEvents HTTP binding, authenticated, validated, published once per event id."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.ingress.conftest import EXAMPLES, Ingress, example
from tests.support.polling import eventually
from trellis_common.envelope import STRUCTURED_JSON

RESPONSES = "surveys.response.completed.v1"
SUPPLY = "skills.supply.reported.v1"


def binary(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """The same event in binary mode: attributes as ce- headers, the data as the body."""
    headers = {f"ce-{name}": str(value) for name, value in event.items() if name not in ("data", "datacontenttype")}
    headers["content-type"] = "application/json"
    return headers, json.dumps(event["data"]).encode()


def structured(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    return {"content-type": STRUCTURED_JSON}, json.dumps(event).encode()


async def post(ingress: Ingress, mode: Any, event: dict[str, Any], **headers: str) -> Any:
    extra, body = mode(event)
    return await ingress.client.post("/events", content=body, headers={**ingress.auth(), **extra, **headers})


@pytest.mark.parametrize("mode", [binary, structured], ids=["binary", "structured"])
async def test_an_event_is_published_to_its_topic_with_its_own_id_and_key(ingress: Ingress, mode: Any) -> None:
    event = example(RESPONSES)
    response = await post(ingress, mode, event)
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "id": event["id"], "type": event["type"], "topic": RESPONSES}

    published = await eventually(lambda: _published(ingress, RESPONSES, 1), what="the event on its topic")
    key, sent = published[0]
    assert key == event["data"]["member_id"]
    assert (sent.id, sent.source, sent.type) == (event["id"], event["source"], event["type"])
    assert sent.correlationid == event["correlationid"]
    assert sent.data is not None and sent.data["response_id"] == event["data"]["response_id"]
    assert sent.data["skills"] == event["data"]["skills"]


async def test_a_retry_is_answered_as_before_and_published_once(ingress: Ingress) -> None:
    event = example(RESPONSES)
    first = await post(ingress, binary, event)
    again = await post(ingress, structured, event)  # the same event, even in the other mode
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["status"] == "duplicate"
    await eventually(lambda: _published(ingress, RESPONSES, 1), what="the first post published")
    other = example(RESPONSES)
    other["id"] = str(uuid.uuid4())
    await post(ingress, binary, other)
    published = await eventually(lambda: _published(ingress, RESPONSES, 2), what="a new id published")
    assert [e.id for _, e in published] == [event["id"], other["id"]], "the retry was not published again"


async def test_a_reused_id_with_other_content_is_a_conflict(ingress: Ingress) -> None:
    event = example(RESPONSES)
    assert (await post(ingress, binary, event)).status_code == 202
    event["data"]["skills"][0]["headcount_needed"] += 1
    conflict = await post(ingress, binary, event)
    assert conflict.status_code == 409
    assert event["id"] in conflict.json()["detail"]


async def test_a_region_report_needs_a_platform_wide_integration_token(ingress: Ingress) -> None:
    event = example(SUPPLY)
    assert event["data"]["scope"] == "region"
    refused = await post(ingress, structured, event)
    assert refused.status_code == 403 and "whole platform" in refused.json()["detail"]
    headers, body = structured(event)
    accepted = await ingress.client.post("/events", content=body, headers={**headers, **ingress.auth(clusters=("*",))})
    assert accepted.status_code == 202, accepted.text


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        (lambda e, h: h.pop("ce-id"), 400, "ce-id"),
        (lambda e, h: h.update({"ce-specversion": "0.3"}), 400, "specversion"),
        (lambda e, h: h.update({"ce-type": "eu.trellis.crm.thing.done.v1"}), 400, "unknown event type"),
        (
            lambda e, h: h.update({"ce-type": "eu.trellis.matchmaking.partners.matched.v1"}),
            403,
            "published by the matchmaking service only",
        ),
        (lambda e, h: h.update({"ce-id": "x" * 65}), 400, "longer than 64"),
        (lambda e, h: h.update({"content-type": "text/plain"}), 415, "content-type"),
        (lambda e, h: h.update({"content-type": "application/cloudevents-batch+json"}), 415, "batched"),
    ],
    ids=["no-id", "old-specversion", "unknown-type", "not-an-ingress-type", "long-id", "text", "batch"],
)
async def test_a_malformed_event_is_refused_naming_what_is_wrong(
    ingress: Ingress, change: Any, status: int, says: str
) -> None:
    event = example(RESPONSES)
    headers, body = binary(event)
    change(event, headers)
    response = await ingress.client.post("/events", content=body, headers={**ingress.auth(), **headers})
    assert response.status_code == status, response.text
    assert says in json.dumps(response.json()["detail"])
    assert ingress.broker.topics.get(RESPONSES, []) == []


async def test_data_that_breaks_the_schema_gets_422_with_the_field_path(ingress: Ingress) -> None:
    event = example(RESPONSES)
    event["data"]["skills"][1]["required_level"] = 42
    del event["data"]["member_id"]
    response = await post(ingress, structured, event)
    assert response.status_code == 422
    locations = {tuple(error["loc"]) for error in response.json()["detail"]}
    assert ("data", "member_id") in locations
    assert ("data", "skills", 1, "required_level") in locations


async def test_bodies_that_are_not_events_are_400_not_500(ingress: Ingress) -> None:
    for body, content_type in [
        (b"{not json", STRUCTURED_JSON),
        (b"[1, 2]", STRUCTURED_JSON),
        (b"", "application/json"),
    ]:
        response = await ingress.client.post(
            "/events", content=body, headers={**ingress.auth(), "content-type": content_type}
        )
        assert response.status_code == 400, (body, response.text)


async def test_an_oversized_event_is_413(ingress: Ingress) -> None:
    event = example(RESPONSES)
    event["data"]["member_context"]["languages"] = ["de"] * 2000
    response = await post(ingress, structured, event)
    assert response.status_code == 413


async def test_callers_without_a_valid_token_or_role_are_refused(ingress: Ingress) -> None:
    _, body = structured(example(RESPONSES))
    content = {"content-type": STRUCTURED_JSON}
    expired = ingress.keys.mint(subject="crm", roles=["integration"], clusters=["*"], ttl=timedelta(minutes=-5))
    other_audience = ingress.keys.mint(subject="crm", roles=["integration"], clusters=["*"], audience="billing")
    cases = {
        "none": ({}, 401),
        "not bearer": ({"Authorization": "Basic Y3JtOnNlY3JldA=="}, 401),
        "garbage": ({"Authorization": "Bearer not.a.token"}, 401),
        "expired": ({"Authorization": f"Bearer {expired}"}, 401),
        "other audience": ({"Authorization": f"Bearer {other_audience}"}, 401),
        "viewer": (ingress.auth("cluster-viewer"), 403),
        "manager": (ingress.auth("cluster-manager"), 403),
        "other cluster": (ingress.auth(clusters=("cl-textiles",)), 403),
    }
    for name, (auth, status) in cases.items():
        response = await ingress.client.post("/events", content=body, headers={**content, **auth})
        assert response.status_code == status, (name, response.text)
        if status == 401:
            assert response.headers["www-authenticate"].startswith("Bearer")
    assert ingress.broker.topics.get(RESPONSES, []) == []


async def test_the_service_serves_the_asyncapi_document(ingress: Ingress) -> None:
    document = (await ingress.client.get("/asyncapi.json")).json()
    assert document == json.loads((EXAMPLES.parent / "asyncapi.json").read_text("utf-8")), "served = committed"
    assert RESPONSES in {channel["address"] for channel in document["channels"].values()}


async def _published(ingress: Ingress, topic: str, count: int) -> Any:
    published = ingress.published(topic)
    return published if len(published) >= count else None


async def test_a_token_header_with_odd_characters_is_a_401_not_a_500(ingress: Ingress) -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "€S256", "kid": 'caf\u00e9" x'}).encode()).rstrip(b"=")
    forged = f"{header.decode()}.e30.c2ln"
    response = await ingress.client.post("/events", content=b"{}", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert "€S256" in response.json()["detail"], "the reason stays in the body"
