"""Responses through the API are checked against their template: bad input is a 422 naming the field,
and nothing is stored or published."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.surveys.conftest import Surveys, cluster_with_members, ok
from trellis.demo import RESPONSES
from trellis_common.events import ResponseCompleted
from trellis_surveys.models import responses

ROW = {
    "skill_code": "digcomp:5.2",
    "current_level": 2,
    "required_level": 5,
    "headcount_having": 1,
    "headcount_needed": 4,
    "importance": 5,
}


def body(member_id: str, **changes: Any) -> dict[str, Any]:
    return {"member_id": member_id, "template_id": "digital-skills", "theme": "digital", "skills": [ROW], **changes}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"answers": {"favourite_colour": "blue"}}, "favourite_colour"),
        ({"skills": [{**ROW, "current_level": 12}]}, "current_level"),
        ({"skills": [{**ROW, "skill_code": "digcomp:9.9"}]}, "skill_code"),
        ({"skills": []}, "skills"),
        ({"answers": {"employees": "forty"}}, "employees"),
        ({"answers": {"obstacles": "cost"}}, "obstacles"),
        ({"skills": [{**ROW, "headcount_needed": "four"}]}, "headcount_needed"),
        ({"template_id": "no-such-template"}, "template_id"),
        ({"template_version": 7}, "template_id"),
        ({"theme": "green"}, "theme"),
        ({"answers": {"digitalisation_priority": 0}}, "digitalisation_priority"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_nothing_happens(
    surveys: Surveys, changes: dict[str, Any], field: str
) -> None:
    _, (member_id, _) = await cluster_with_members(surveys.client)
    response = await surveys.client.post("/responses", json=body(member_id, **changes))
    assert response.status_code == 422, response.text
    fields = [str(part) for item in response.json()["detail"] for part in item["loc"]]
    assert field in fields, response.json()
    assert await surveys.count(responses) == 0
    assert await surveys.outbox_rows(ResponseCompleted) == 0


async def test_missing_required_answer_of_the_green_template(surveys: Surveys) -> None:
    _, (member_id, _) = await cluster_with_members(surveys.client)
    green: dict[str, Any] = {
        "member_id": member_id,
        "template_id": "green-transition",
        "theme": "green",
        "answers": {"green_priority": 4, "challenges": ["funding"]},
        "skills": [{**ROW, "skill_code": "greencomp:2.1", "current_level": 1, "required_level": 3}],
    }
    response = await surveys.client.post("/responses", json=green)
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["detail"]] == ["answers.sustainability_strategy"]
    assert await surveys.count(responses) == 0

    green["answers"] |= {
        "sustainability_strategy": "in_progress",
        "strategy_horizon_years": 5,
        "funding_need_eur": 250000,
    }
    created = await ok(await surveys.client.post("/responses", json=green), 201)
    assert created["event_id"]
    assert await surveys.outbox_rows(ResponseCompleted) == 1


async def test_the_green_template_takes_workforce_green_skills_on_its_scale(surveys: Surveys) -> None:
    """Version 2 of the green template (the newest) asks for skills members can name, such as life-cycle
    assessment; the published response carries the code and the matrix's 0-4 scale."""
    _, (member_id, _) = await cluster_with_members(surveys.client)
    shown = await ok(await surveys.client.get("/templates/green-transition"))
    assert shown["version"] == 2
    matrix = next(q for q in shown["questions"] if q["type"] == "skill_matrix")
    assert {"greenwork:energy-management", "greenwork:life-cycle-assessment"} <= set(matrix["skills"])
    lca = {**ROW, "skill_code": "greenwork:life-cycle-assessment", "current_level": 1, "required_level": 4}
    green = {
        "member_id": member_id,
        "template_id": "green-transition",
        "template_version": 2,
        "theme": "green",
        "answers": {"green_priority": 4, "sustainability_strategy": "no", "challenges": ["skills"]},
        "skills": [lca],
    }
    await ok(await surveys.client.post("/responses", json=green), 201)
    [published] = await surveys.responses()
    assert [(a.skill_code, a.required_level, a.level_scale_max) for a in published.skills] == [
        ("greenwork:life-cycle-assessment", 4, 4)
    ]
    assert (published.template_id, published.template_version) == ("green-transition", 2)


async def test_what_the_loop_sends_is_still_accepted(surveys: Surveys) -> None:
    _, (member_id, _) = await cluster_with_members(surveys.client)
    created = await ok(await surveys.client.post("/responses", json=body(member_id)), 201)
    assert created["member_id"] == member_id
    assert await surveys.count(responses) == 1


async def test_the_demo_responses_are_accepted(surveys: Surveys) -> None:
    _, (member_id, _) = await cluster_with_members(surveys.client)
    for skills in RESPONSES.values():
        await ok(await surveys.client.post("/responses", json=body(member_id, skills=skills)), 201)
