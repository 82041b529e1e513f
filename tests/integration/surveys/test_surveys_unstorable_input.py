"""Input PostgreSQL cannot store or compare (NUL characters, lone surrogates, integers beyond INTEGER) and files
the csv module cannot read are a 422 naming the field, never a 500; nothing is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.surveys.conftest import Surveys, cluster_with_members, ok
from trellis_surveys.models import clusters, responses, survey_templates

INT4_OVERFLOW = 2**31
ROW = {
    "skill_code": "digcomp:5.2",
    "current_level": 2,
    "required_level": 5,
    "headcount_having": 1,
    "headcount_needed": 4,
    "importance": 5,
}


def raw_json(body: Any) -> dict[str, Any]:
    """``body`` as the bytes a client sends (httpx's own encoder refuses lone surrogates)."""
    return {"content": json.dumps(body).encode(), "headers": {"content-type": "application/json"}}


def fields_of(detail: list[dict[str, Any]]) -> list[str]:
    return [".".join(str(part) for part in error["loc"]) for error in detail]


@pytest.mark.parametrize(
    "source_template_id",
    [
        "digital\x00skills",
        "digital\ud820skills",
        # As found by schemathesis: both at once.
        "\x140M\r\x00\xa4\xed\ud820\udfa7\ud85e\udf63\ud922\udc7a\xc7",
    ],
)
async def test_a_template_copy_from_an_id_with_nul_or_a_lone_surrogate_is_a_422(
    surveys: Surveys, source_template_id: str
) -> None:
    cluster_id, _ = await cluster_with_members(surveys.client, 1)
    response = await surveys.client.post(
        f"/clusters/{cluster_id}/templates",
        **raw_json({"template_id": "our-digital", "source_template_id": source_template_id}),
    )
    assert response.status_code == 422, response.text
    assert fields_of(response.json()["detail"]) == ["body.source_template_id"]
    assert await surveys.count(survey_templates) == 0


async def test_publishing_a_version_beyond_a_postgresql_integer_is_a_422(surveys: Surveys) -> None:
    cluster_id, _ = await cluster_with_members(surveys.client, 1)
    for version in (INT4_OVERFLOW, 114676784465993702972588032):
        response = await surveys.client.post(f"/clusters/{cluster_id}/templates/ours/versions/{version}/publish")
        assert response.status_code == 422, response.text
        assert fields_of(response.json()["detail"]) == ["path.version"]
    largest = await surveys.client.post(f"/clusters/{cluster_id}/templates/ours/versions/{INT4_OVERFLOW - 1}/publish")
    assert largest.status_code == 404, largest.text


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/templates/digital-skills?version={INT4_OVERFLOW}", "query.version"),
        (f"/clusters/{{cluster}}/members?offset={INT4_OVERFLOW}", "query.offset"),
        ("/clusters/{cluster}/members?q=Mem%00ber", "query.q"),
        ("/clusters/c%00l", "path.cluster_id"),
        ("/audit?actor=someone%00", "query.actor"),
    ],
)
async def test_parameters_with_nul_or_beyond_integer_are_a_422(surveys: Surveys, path: str, field: str) -> None:
    cluster_id, _ = await cluster_with_members(surveys.client, 1)
    response = await surveys.client.get(path.format(cluster=cluster_id))
    assert response.status_code == 422, response.text
    assert fields_of(response.json()["detail"]) == [field]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        # As found by schemathesis: a template id with NUL and surrogate pairs.
        ({"template_id": "f_\xb4\udaea\udfd7\xd0Q\udbf2\uddac\x00"}, "body.template_id"),
        ({"template_id": "digital\ud800"}, "body.template_id"),
        ({"answers": {"employees": "forty\x00"}}, "body.answers"),
        ({"answers": {"employees\x00": 40}}, "body.answers"),
        ({"template_version": INT4_OVERFLOW}, "body.template_version"),
        ({"skills": [{**ROW, "headcount_needed": INT4_OVERFLOW}]}, "body.skills"),
    ],
)
async def test_a_response_with_unstorable_input_is_a_422(surveys: Surveys, changes: dict[str, Any], field: str) -> None:
    _, (member_id,) = await cluster_with_members(surveys.client, 1)
    body = {"member_id": member_id, "template_id": "digital-skills", "theme": "digital", **changes}
    response = await surveys.client.post("/responses", **raw_json(body))
    assert response.status_code == 422, response.text
    assert field in fields_of(response.json()["detail"])
    assert await surveys.count(responses) == 0


async def test_text_fields_and_an_adapted_definition_refuse_nul(surveys: Surveys) -> None:
    for name in ("Cluster\x00", "Cluster\udfff"):
        response = await surveys.client.post("/clusters", **raw_json({"name": name}))
        assert response.status_code == 422, response.text
        assert fields_of(response.json()["detail"]) == ["body.name"]
    assert await surveys.count(clusters) == 0
    cluster_id, _ = await cluster_with_members(surveys.client, 1)
    await ok(
        await surveys.client.post(
            f"/clusters/{cluster_id}/templates", json={"template_id": "ours", "source_template_id": "digital-skills"}
        ),
        201,
    )
    adapted = await surveys.client.put(f"/clusters/{cluster_id}/templates/ours", **raw_json({"title": "Ours\x00"}))
    assert adapted.status_code == 422 and "NUL" in adapted.text, adapted.text
    assert (await ok(await surveys.client.get("/templates/ours")))["title"] != "Ours\x00"


@pytest.mark.parametrize(
    "content",
    [
        b"\xf2\xbd\x92\x8d\r\xf2\x84\xaf\x83Mc",  # as found by schemathesis: a lone CR ends the header
        b'name\n"' + b"x" * 200_000 + b'"\n',  # a cell beyond the csv module's field size limit
    ],
)
async def test_a_member_file_the_csv_module_cannot_read_is_a_422(surveys: Surveys, content: bytes) -> None:
    cluster_id, _ = await cluster_with_members(surveys.client, 1)
    response = await surveys.client.post(
        f"/clusters/{cluster_id}/members/import", files={"file": ("members.csv", content, "text/csv")}
    )
    assert response.status_code == 422, response.text
    assert fields_of(response.json()["detail"]) == ["body.file"]


async def test_a_member_file_with_carriage_returns_only_is_read_line_by_line(surveys: Surveys) -> None:
    cluster_id, _ = await cluster_with_members(surveys.client, 1)
    content = b"name,country\rFirst Ltd,AT\rSecond Ltd,DE\r"
    report = await ok(
        await surveys.client.post(
            f"/clusters/{cluster_id}/members/import", files={"file": ("members.csv", content, "text/csv")}
        ),
        201,
    )
    assert report["imported"] == 2, report
