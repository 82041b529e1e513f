"""Input of the wrong type, text PostgreSQL cannot store, values beyond its columns and files the csv module
cannot read are a 422 naming the field, never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.integration.matchmaking.conftest import created, offer, partner, problem

OFFER = offer("Data masterclass", "digcomp:5.2", 10)


def raw_json(body: Any) -> dict[str, Any]:
    """``body`` as the bytes a client sends (httpx's own encoder refuses lone surrogates)."""
    return {"content": json.dumps(body).encode(), "headers": {"content-type": "application/json"}}


@pytest.mark.parametrize(
    ("field", "values"),
    [
        # As found by schemathesis: lists the case-folding validator sorted before the type check ran.
        ("target_markets", ["AA", 0]),
        ("countries", ["AT", None]),
        ("regions", [{"nuts": "AT13"}, "AT13"]),
        ("sectors", [["C"], "C25"]),
        ("languages", ["en", 1]),
    ],
)
async def test_list_entries_of_the_wrong_type_are_a_422_on_every_offer_route(
    api: httpx.AsyncClient, field: str, values: list[Any]
) -> None:
    made = await created(await api.post("/partners", json=partner("TU Danube", "university", OFFER)))
    bad = {**OFFER, field: values}
    assert f"offers.0.{field}" in problem(await api.post("/partners", json=partner("A", "cluster", bad)))
    assert f"body.{field}" in problem(await api.post(f"/partners/{made['id']}/offers", json=bad))
    assert f"body.{field}" in problem(await api.put(f"/offers/{made['offers'][0]['id']}", json=bad))


async def test_case_folding_still_applies_to_lists_of_text(api: httpx.AsyncClient) -> None:
    made = await created(
        await api.post(
            "/partners",
            json=partner("A", "cluster", {**OFFER, "target_markets": ["de", " AT", "DE"], "languages": ["EN"]}),
        )
    )
    assert made["offers"][0]["target_markets"] == ["AT", "DE"]
    assert made["offers"][0]["languages"] == ["en"]


async def test_a_website_longer_than_its_column_is_a_422(api: httpx.AsyncClient) -> None:
    # As found by schemathesis: a valid URL of 2000 characters for a 300-character column.
    long_host = "https://" + ".".join(["a" * 63] * 30)
    assert "body.website" in problem(
        await api.post("/partners", json={**partner("A", "cluster"), "website": long_host})
    )
    # Short as typed but longer once normalised: each space is stored as %20.
    spaced = "https://tu-danube.example/" + "a " * 130 + "a"
    assert "body.website" in problem(await api.post("/partners", json={**partner("A", "cluster"), "website": spaced}))
    made = await created(await api.post("/partners", json=partner("A", "cluster")))
    assert "body.website" in problem(await api.patch(f"/partners/{made['id']}", json={"website": long_host}))
    assert (await api.get("/partners")).json()["total"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (partner("TU\x00Danube", "university"), "body.name"),
        (partner("TU Danube", "university", {**OFFER, "title": "Data\udc00"}), "body.offers"),
        (partner("TU Danube", "university", {**OFFER, "cost_eur": 2**31}), "body.offers.0.cost_eur"),
    ],
)
async def test_unstorable_partner_input_is_a_422(api: httpx.AsyncClient, body: dict[str, Any], field: str) -> None:
    assert field in problem(await api.post("/partners", **raw_json(body)))
    assert (await api.get("/partners")).json()["total"] == 0


@pytest.mark.parametrize(
    ("path", "field"),
    [("/partners?offset=2147483648", "query.offset"), ("/partners/p%00", "path.partner_id")],
)
async def test_unstorable_parameters_are_a_422(api: httpx.AsyncClient, path: str, field: str) -> None:
    assert field in problem(await api.get(path))


@pytest.mark.parametrize(
    "content",
    [
        b"partner_name\rTU Danube,university",  # as found by schemathesis: a lone CR ends the header
        b'partner_name,partner_type\n"' + b"x" * 200_000 + b'",university\n',  # beyond the csv field size limit
    ],
)
async def test_a_partner_file_the_csv_module_cannot_read_is_a_422(api: httpx.AsyncClient, content: bytes) -> None:
    response = await api.post("/partners/import", files={"file": ("partners.csv", content, "text/csv")})
    assert "body.file" in problem(response)
    assert (await api.get("/partners")).json()["total"] == 0


async def test_a_partner_file_with_nul_in_a_cell_is_a_422_row_report(api: httpx.AsyncClient) -> None:
    content = (
        "partner_name,partner_type,offer_title,skill_codes,format,seats\n"
        "TU Danube,university,Data\x00masterclass,digcomp:5.2,masterclass,10\n"
    )
    response = await api.post("/partners/import", files={"file": ("partners.csv", content, "text/csv")})
    assert response.status_code == 422, response.text
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [(2, "offer_title")]
    assert (await api.get("/partners")).json()["total"] == 0
