"""The cluster's skills profile, supply reports and heatmap through the REST API (PostgreSQL and SQLite)."""

from __future__ import annotations

import io
import random
import re
import struct
import zlib
from datetime import timedelta
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from tests.integration.skills.conftest import (
    T0,
    forget,
    known_member,
    member_changed,
    publish,
    response,
    skill,
    until_assessed,
)
from tests.support.polling import eventually
from trellis_common.auth import Scope
from trellis_common.bus.memory import InMemoryBroker
from trellis_common.catalogue import spec_for_model
from trellis_common.db import inbox
from trellis_common.envelope import from_kafka
from trellis_common.events import SupplyReported, SurveyTheme
from trellis_common.runtime import ServiceRuntime
from trellis_common.skill_labels import skill_label
from trellis_skills import repository
from trellis_skills.domain.imbalance import aggregate
from trellis_skills.heatmap_words import WORDS
from trellis_skills.models import NAMES as NAME_TABLES
from trellis_skills.models import member_skill_profiles

SVG = "{http://www.w3.org/2000/svg}"

# The guide's scenarios (see tests/unit/skills/test_imbalance.py), answered by three members of cluster c-1.
WORKED = {
    "m-1": [
        skill("digcomp:3.4", 5, 5, 1, 4),
        skill("digcomp:4.2", 2, 4, 4, 4),
        skill("digcomp:1.3", 6, 6, 20, 10),
        skill("intl:trade-fairs", 5, 5, 6, 1),
        skill("digcomp:2.4", 4, 4, 3, 3),
    ],
    "m-2": [
        skill("digcomp:3.4", 0, 5, 0, 3),
        skill("digcomp:4.2", 2, 4, 3, 4),
        skill("digcomp:1.3", 6, 5, 12, 8),
        skill("intl:trade-fairs", 4, 0, 5, 0),
        skill("digcomp:2.4", 5, 4, 3, 3),
    ],
    "m-3": [
        skill("digcomp:3.4", 5, 5, 1, 3),
        skill("digcomp:4.2", 3, 4, 2, 2),
        skill("digcomp:1.3", 5, 5, 8, 6),
        skill("intl:trade-fairs", 4, 0, 4, 0),
    ],
}
REGIONS = {"m-1": "AT13", "m-2": "AT13", "m-3": "AT12"}


# A month before, m-2 still needed 3 people for trade fairs: its need has fallen since (the evidence that turns
# "many hold it, few need it" into obsolescence rather than a surplus).
EARLIER = {"m-2": [skill("intl:trade-fairs", 4, 4, 5, 3)]}
WORKED_ASSESSMENTS = len(EARLIER) + len(WORKED)


async def answer_worked_examples(skills: ServiceRuntime, broker: InMemoryBroker) -> None:
    month_before = T0 - timedelta(days=30)
    await publish(broker, *(response(m, a, region=REGIONS[m], completed_at=month_before) for m, a in EARLIER.items()))
    await eventually(until_assessed(skills, len(EARLIER)), timeout=10, what="the earlier assessment")
    await publish(broker, *(response(m, answers, region=REGIONS[m]) for m, answers in WORKED.items()))
    await eventually(until_assessed(skills, WORKED_ASSESSMENTS), timeout=10, what="the worked examples")


def by_code(profile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["skill_code"]: s for s in profile["skills"]}


def supply_report(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "report_id": "ams-wien-2026-02",
        "source": "AMS Wien (regional employment agency)",
        "scope": "region",
        "scope_id": "at13",  # members say AT13: regions match whatever the case
        "as_of": "2026-02-28",
        "figures": [{"skill_code": "digcomp:3.4", "headcount": 8, "level": 5}],
    }
    return {**body, **changes}


async def test_unknown_cluster_is_a_404(api: httpx.AsyncClient) -> None:
    for path in ("/clusters/nope/profile", "/clusters/nope/heatmap.svg", "/clusters/nope/heatmap.png"):
        answer = await api.get(path)
        assert answer.status_code == 404, path
        assert "nope" in answer.json()["detail"]


async def test_each_type_of_imbalance_from_member_answers(
    skills: ServiceRuntime, broker: InMemoryBroker, api: httpx.AsyncClient
) -> None:
    await answer_worked_examples(skills, broker)
    got = await api.get("/clusters/c-1/profile")
    assert got.status_code == 200, got.text
    profile = got.json()
    assert profile["members"] == 3
    assert profile["counts"] == {"shortage": 1, "gap": 1, "surplus": 1, "obsolescence": 1, "balanced": 1}
    assert list(profile["rules"]) == ["shortage", "obsolescence", "gap", "surplus", "balanced"]
    skills_by_code = by_code(profile)
    assert {code: s["imbalance"] for code, s in skills_by_code.items()} == {
        "digcomp:3.4": "shortage",
        "digcomp:4.2": "gap",
        "digcomp:1.3": "surplus",
        "intl:trade-fairs": "obsolescence",
        "digcomp:2.4": "balanced",
    }
    shortage = skills_by_code["digcomp:3.4"]
    assert (shortage["demand"], shortage["supply"], shortage["demand_supply_ratio"]) == (10, 2, 5.0)
    assert shortage["actions"] == ["upskilling", "talent_attraction"]
    assert shortage["skill_label"] == "Programming" and shortage["framework"] == "digcomp"
    assert "10 people" in shortage["explanation"] and "8 short" in shortage["explanation"]
    gap = skills_by_code["digcomp:4.2"]
    assert (gap["required_level"], gap["current_level"], gap["level_gap"]) == (4.0, 2.2, 1.8)
    assert skills_by_code["intl:trade-fairs"]["actions"] == ["reskilling"]
    assert skills_by_code["intl:trade-fairs"]["declining_members"] == 1
    assert (
        "1 member needs fewer people than at their previous answer" in skills_by_code["intl:trade-fairs"]["explanation"]
    )
    assert [s["imbalance"] for s in profile["skills"]] == ["shortage", "gap", "surplus", "obsolescence", "balanced"]

    only = (await api.get("/clusters/c-1/profile", params={"imbalance": ["gap", "surplus"]})).json()
    assert [s["skill_code"] for s in only["skills"]] == ["digcomp:4.2", "digcomp:1.3"]
    intl = (await api.get("/clusters/c-1/profile", params={"framework": "intl"})).json()
    assert [s["skill_code"] for s in intl["skills"]] == ["intl:trade-fairs"]
    bad = await api.get("/clusters/c-1/profile", params={"imbalance": "mismatch"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "imbalance", 0]


@pytest.mark.parametrize("overrides", [{"shortage_ratio": 6.0}], indirect=True)
async def test_thresholds_come_from_the_settings(
    skills: ServiceRuntime, broker: InMemoryBroker, api: httpx.AsyncClient
) -> None:
    await answer_worked_examples(skills, broker)
    profile = (await api.get("/clusters/c-1/profile")).json()
    assert profile["thresholds"]["shortage_ratio"] == 6.0
    shortage = by_code(profile)["digcomp:3.4"]
    assert shortage["imbalance"] == "balanced", "10 needed for 2 available is 5 ×, below 6 ×"
    assert "demand ≥ 6 × supply" in profile["rules"]["shortage"]


async def test_database_totals_equal_the_domain_totals(skills: ServiceRuntime, broker: InMemoryBroker) -> None:
    rnd = random.Random(7)
    codes = ["digcomp:1.1", "digcomp:3.4", "greencomp:2.1", "intl:export-readiness"]
    responses = [
        response(
            f"m-{i}",
            [
                skill(code, rnd.randint(0, 8), rnd.randint(0, 8), rnd.randint(0, 30), rnd.randint(0, 30))
                for code in rnd.sample(codes, rnd.randint(1, len(codes)))
            ],
        )
        for i in range(25)
    ]
    await publish(broker, *responses)
    await eventually(until_assessed(skills, 25), timeout=10, what="25 assessments")
    async with skills.db.sessions() as session:
        from_database = await repository.cluster_totals(session, Scope.everything(), "c-1")
    assert from_database == aggregate(a for r in responses for a in r.skills)


async def test_an_older_response_does_not_replace_a_newer_answer(
    skills: ServiceRuntime, broker: InMemoryBroker, api: httpx.AsyncClient
) -> None:
    newer = response("m-1", [skill("digcomp:3.4", 5, 5, 6, 6)], completed_at=T0)
    older = response("m-1", [skill("digcomp:3.4", 1, 5, 0, 6)], completed_at=T0 - timedelta(days=30))
    await publish(broker, newer, older)  # the older one arrives last (a replayed DLQ, say)
    await eventually(until_assessed(skills, 2), timeout=10, what="both assessed")
    balance = by_code((await api.get("/clusters/c-1/profile")).json())["digcomp:3.4"]
    assert (balance["member_supply"], balance["imbalance"]) == (6, "balanced")
    async with skills.db.sessions() as session:
        stored = (await session.execute(select(member_skill_profiles))).mappings().one()
    assert stored["response_id"] == newer.response_id


async def test_supply_reports_count_for_the_clusters_regions_once(
    skills: ServiceRuntime, broker: InMemoryBroker, api: httpx.AsyncClient
) -> None:
    await answer_worked_examples(skills, broker)
    created = await api.post("/supply-reports", json=supply_report())
    assert created.status_code == 201, created.text
    assert created.json()["received_via"] == "api"
    again = await api.post("/supply-reports", json=supply_report())
    assert again.status_code == 200 and again.json() == created.json()
    changed = await api.post(
        "/supply-reports", json=supply_report(figures=[{"skill_code": "digcomp:3.4", "headcount": 9}])
    )
    assert changed.status_code == 409 and "ams-wien-2026-02" in changed.json()["detail"]

    shortage = by_code((await api.get("/clusters/c-1/profile")).json())["digcomp:3.4"]
    assert (shortage["member_supply"], shortage["external_supply"], shortage["supply"]) == (2, 8, 10)
    assert shortage["imbalance"] == "balanced"
    assert shortage["sources"] == ["AMS Wien (regional employment agency) (region AT13)"]

    # An older report from the same source does not replace the figures in force; a newer one does.
    older = supply_report(
        report_id="ams-wien-2026-01", as_of="2026-01-31", figures=[{"skill_code": "digcomp:3.4", "headcount": 1}]
    )
    newer = supply_report(
        report_id="ams-wien-2026-03",
        as_of="2026-03-01",
        figures=[{"skill_code": "digcomp:3.4", "headcount": 3, "level": 6}],
    )
    assert (await api.post("/supply-reports", json=older)).status_code == 201
    assert by_code((await api.get("/clusters/c-1/profile")).json())["digcomp:3.4"]["external_supply"] == 8
    assert (await api.post("/supply-reports", json=newer)).status_code == 201
    assert by_code((await api.get("/clusters/c-1/profile")).json())["digcomp:3.4"]["external_supply"] == 3

    # A cluster nobody published is refused (it would be a phantom's figures).
    unknown = await api.post("/supply-reports", json=supply_report(report_id="x-0", scope="cluster", scope_id="c-9"))
    assert unknown.status_code == 422 and "unknown cluster 'c-9'" in unknown.text

    # Another cluster's figures and a region without members of c-1 do not count.
    await publish(broker, member_changed("m-c2", "Bora Robotics", cluster_id="c-2"))
    await eventually(lambda: known_member(skills, "m-c2"), timeout=10, what="c-2's member projected")
    other = supply_report(report_id="x-1", scope="cluster", scope_id="c-2")
    elsewhere = supply_report(report_id="x-2", scope_id="DE21")
    assert (await api.post("/supply-reports", json=other)).status_code == 201
    assert (await api.post("/supply-reports", json=elsewhere)).status_code == 201
    assert by_code((await api.get("/clusters/c-1/profile")).json())["digcomp:3.4"]["external_supply"] == 3
    # ... and a cluster whose members have not answered yet has a profile of its supply.
    assert by_code((await api.get("/clusters/c-2/profile")).json())["digcomp:3.4"]["supply"] == 8

    page = (await api.get("/supply-reports", params={"scope": "region", "limit": 2})).json()
    assert page["total"] == 4
    assert [r["report_id"] for r in page["items"]] == ["ams-wien-2026-03", "ams-wien-2026-02"]
    assert (await api.get("/supply-reports/ams-wien-2026-01")).json()["figures"] == [
        {"skill_code": "digcomp:3.4", "headcount": 1, "level": None}
    ]
    assert (await api.get("/supply-reports/none")).status_code == 404

    # Each report recorded through the API is also published; the consumer recognises it as known.
    spec = spec_for_model(SupplyReported)
    published = [from_kafka(r.headers, r.value) for r in broker.topics[spec.topic()]]
    assert [e.data["report_id"] for e in published if e.data] == [
        "ams-wien-2026-02",
        "ams-wien-2026-01",
        "ams-wien-2026-03",
        "x-1",
        "x-2",
    ]

    async def consumed() -> bool:
        async with skills.db.sessions() as session:
            count = await session.scalar(select(func.count()).select_from(inbox).where(inbox.c.event_type == spec.type))
        return count == 5

    await eventually(consumed, timeout=10, what="the five reports consumed back")
    assert (await api.get("/supply-reports", params={"scope_id": "at13"})).json()["total"] == 3


@pytest.mark.parametrize(
    ("changes", "loc", "message"),
    [
        (
            {"figures": [{"skill_code": "digcomp:9.9", "headcount": 1}]},
            ["body", "figures", 0, "skill_code"],
            "unknown skill code",
        ),
        (
            {"figures": [{"skill_code": "digcomp:3.4", "headcount": 1}, {"skill_code": "digcomp:3.4", "headcount": 2}]},
            ["body", "figures", 1, "skill_code"],
            "reported twice",
        ),
        (
            {"figures": [{"skill_code": "digcomp:3.4", "headcount": -1}]},
            ["body", "figures", 0, "headcount"],
            "greater than or equal to 0",
        ),
        (
            {"figures": [{"skill_code": "digcomp:3.4", "headcount": 100_001}]},
            ["body", "figures", 0, "headcount"],
            "more than the 100000",
        ),
        (
            {"figures": [{"skill_code": "digcomp:3.4", "headcount": 1, "level": 9}]},
            ["body", "figures", 0, "level"],
            "less than or equal to 8",
        ),
        (
            {"figures": [{"skill_code": "digcomp:3.4", "headcount": 1, "level": 0}]},
            ["body", "figures", 0, "level"],
            "outside digcomp levels 1-8",
        ),
        ({"figures": []}, ["body", "figures"], "at least 1 item"),
        ({"scope": "country"}, ["body", "scope"], "'cluster' or 'region'"),
        ({"as_of": (T0 + timedelta(days=30)).date().isoformat()}, ["body", "as_of"], "in the future"),
        ({"headcount": 3}, ["body", "headcount"], "Extra inputs are not permitted"),
        ({"report_id": ""}, ["body", "report_id"], "at least 1 character"),
    ],
)
async def test_bad_supply_reports_are_a_422_naming_the_field(
    api: httpx.AsyncClient, changes: dict[str, Any], loc: list[Any], message: str
) -> None:
    answer = await api.post("/supply-reports", json=supply_report(**changes))
    assert answer.status_code == 422, answer.text
    problems = {tuple(p["loc"]): p["msg"] for p in answer.json()["detail"]}
    assert tuple(loc) in problems, problems
    assert message in problems[tuple(loc)]
    assert (await api.get("/supply-reports")).json()["total"] == 0


NAMES = {"m-1": "Huber Präzision GmbH", "m-2": "Alpine Composites", "m-3": "Vienna Sensor Labs"}


async def name_members(skills: ServiceRuntime, broker: InMemoryBroker, names: dict[str, str]) -> None:
    await publish(broker, *(member_changed(m, name) for m, name in names.items()))

    async def projected() -> bool:
        kept = await names_kept(skills)
        return all(kept.get(member_id) == name for member_id, name in names.items())

    await eventually(projected, timeout=10, what="the members' names")


async def names_kept(skills: ServiceRuntime) -> dict[str, str]:
    async with skills.db.sessions() as session:
        rows = await session.execute(select(NAME_TABLES.members.c.member_id, NAME_TABLES.members.c.name))
        return {str(member_id): str(name) for member_id, name in rows}


async def unname(skills: ServiceRuntime, broker: InMemoryBroker, *member_ids: str) -> None:
    """Members deleted in surveys after they answered: their names are gone, their answers still count."""
    for member_id in member_ids:
        await forget(broker, member_id)

    async def gone() -> bool:
        return not set(member_ids) & set(await names_kept(skills))

    await eventually(gone, timeout=10, what="the members' names forgotten")


async def test_heatmap_svg_is_labelled_accessible_and_escaped(
    skills: ServiceRuntime, broker: InMemoryBroker, api: httpx.AsyncClient
) -> None:
    await answer_worked_examples(skills, broker)
    hostile = '<script>alert("x")</script>& Co. KG'  # control characters: see tests/unit/skills/test_heatmap.py
    await publish(broker, response("m-4", [skill("digcomp:3.4", 1, 5, 0, 2)], region="<b>AT13</b>"))
    await eventually(until_assessed(skills, WORKED_ASSESSMENTS + 1), timeout=10, what="one more assessment")
    await name_members(skills, broker, {**NAMES, "m-4": hostile})

    got = await api.get("/clusters/c-1/heatmap.svg")
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/svg+xml; charset=utf-8"
    assert "default-src 'none'" in got.headers["content-security-policy"]
    assert "<script" not in got.text
    root = ElementTree.fromstring(got.content)  # well-formed XML
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Skills heatmap: Danube Mechatronics"  # type: ignore[union-attr]
    desc = root.find(f"{SVG}desc").text or ""  # type: ignore[union-attr]
    assert "Rows: 5 skills; columns: 4 members" in desc
    assert "Largest gaps: Programming at Alpine Composites (6.5); Programming at <script>" in desc
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert {"shortage", "gap", "surplus", "obsolescence", "balanced"} <= texts
    assert {"Programming", "Protecting personal data and privacy", "Huber Präzision GmbH"} <= texts
    tips = [t.text or "" for t in root.iter(f"{SVG}title")]
    assert '<script>alert("x")</script>& Co. KG' in tips, "the column's full name"
    assert '<script>alert("x")</script>& …' in texts, "its label, shortened"
    # Programming (digcomp:3.4) at m-2: level gap 5, headcount gap 3 → 5 + 0.5 × 3 = 6.5
    assert "Programming · Alpine Composites: mean gap 6.5 over 1 answer(s)" in tips
    assert "Collaborating through digital technologies · Vienna Sensor Labs: no answer" in tips
    assert not re.search(r"\bm-\d\b|digcomp:|intl:", got.text), "people read names and labels, not ids and codes"

    columns = (await api.get("/clusters/c-1/heatmap.svg", params={"by": "region", "limit": 2})).text
    region_root = ElementTree.fromstring(columns)
    assert "2 of 3 regions" in (region_root.find(f"{SVG}text[2]").text or "")  # type: ignore[union-attr]
    # AT13: Programming at m-1 (0 + 0.5 × 3 = 1.5) and m-2 (6.5): mean 4
    assert "Programming · AT13: mean gap 4.0 over 2 answer(s)" in [t.text for t in region_root.iter(f"{SVG}title")]
    assert (await api.get("/clusters/c-1/heatmap.svg", params={"by": "colour"})).status_code == 422
    assert (await api.get("/clusters/c-1/heatmap.svg", params={"limit": 0})).status_code == 422


@pytest.mark.parametrize(
    ("asked", "language", "title", "kinds"),
    [
        ({"params": {"lang": "de-AT"}}, "de", "Kompetenz-Heatmap: Danube Mechatronics", {"Mangel", "Überschuss"}),
        (
            {"headers": {"Accept-Language": "it, fr;q=0.8"}},
            "fr",
            "Carte thermique des compétences : Danube Mechatronics",
            {"pénurie", "excédent"},
        ),
    ],
)
async def test_heatmap_speaks_the_readers_language(
    skills: ServiceRuntime,
    broker: InMemoryBroker,
    api: httpx.AsyncClient,
    asked: dict[str, Any],
    language: str,
    title: str,
    kinds: set[str],
) -> None:
    await answer_worked_examples(skills, broker)
    await name_members(skills, broker, {"m-1": "Huber Präzision GmbH"})
    await unname(skills, broker, "m-2", "m-3")
    svg = (await api.get("/clusters/c-1/heatmap.svg", **asked)).text
    root = ElementTree.fromstring(svg)
    assert root.find(f"{SVG}title").text == title  # type: ignore[union-attr]
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert kinds <= texts and skill_label("digcomp:3.4", language) in texts
    assert {WORDS[language]["unnamed_member"].format(number=1), WORDS[language]["no_answer"]} <= texts
    words = " ".join(t or "" for t in texts) + (root.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]
    english = {"imbalance", "shortage", "surplus", "no answer", "Rows", "Largest gaps", "mean gap", "member"}
    assert not [w for w in english if re.search(rf"\b{w}\b", words)], words
    png = await api.get("/clusters/c-1/heatmap.png", **asked)
    assert Image.open(io.BytesIO(png.content)).info["Title"] == title


async def test_heatmap_of_members_whose_names_are_gone_shows_no_ids(
    skills: ServiceRuntime, broker: InMemoryBroker, api: httpx.AsyncClient
) -> None:
    await answer_worked_examples(skills, broker)
    await name_members(skills, broker, {"m-2": "Alpine Composites"})
    await unname(skills, broker, "m-1", "m-3")
    svg = (await api.get("/clusters/c-1/heatmap.svg")).text
    texts = {t.text for t in ElementTree.fromstring(svg).iter(f"{SVG}text")}
    assert {"Alpine Composites", "member organisation 1", "member organisation 2"} <= texts
    assert not re.search(r"\bm-\d\b|digcomp:", svg)
    await publish(broker, member_changed("m-1", "Huber Präzision GmbH"))
    await eventually(lambda: _svg_has(api, "Huber Präzision GmbH"), timeout=10, what="the heatmap to show the new name")


async def _svg_has(api: httpx.AsyncClient, text: str) -> bool:
    return text in (await api.get("/clusters/c-1/heatmap.svg")).text


async def test_heatmap_png_is_a_valid_image_with_its_text_drawn(
    skills: ServiceRuntime, broker: InMemoryBroker, api: httpx.AsyncClient
) -> None:
    await answer_worked_examples(skills, broker)
    await name_members(skills, broker, NAMES)
    got = await api.get("/clusters/c-1/heatmap.png")
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    chunks = read_png(got.content)
    width, height = struct.unpack(">II", chunks["IHDR"][:8])
    image = Image.open(io.BytesIO(got.content))
    assert image.size == (width, height) and width >= 560
    metadata = (chunks.get("tEXt", b"") + chunks.get("iTXt", b"")).decode("latin-1")
    assert "Skills heatmap: Danube Mechatronics" in metadata
    assert "Rows: 5 skills; columns: 3 members" in metadata
    # Text was drawn: dark pixels in the band of the skill labels, left of the grid.
    gray = image.convert("L")
    band = gray.crop((0, height // 3, width // 3, height - 100))
    assert sum(1 for v in band.get_flattened_data() if isinstance(v, int) and v < 100) > 300


def read_png(data: bytes) -> dict[str, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks: dict[str, bytes] = {}
    at = 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind.decode()] = chunks.get(kind.decode(), b"") + body
        at += 12 + length
    return chunks


async def test_taxonomy_lists_levels_and_searches(api: httpx.AsyncClient) -> None:
    page = (await api.get("/taxonomy", params={"framework": "digcomp"})).json()
    assert page["count"] == 21 and all(item["levels"] == [1, 8] for item in page["items"])
    assert (await api.get("/taxonomy/greencomp:2.1")).json()["levels"] is None
    assert [i["code"] for i in (await api.get("/taxonomy", params={"q": "trade fair"})).json()["items"]] == [
        "intl:trade-fairs"
    ]


async def test_a_workforce_green_skill_is_listed_with_its_source_and_assessed_as_a_green_gap(
    skills: ServiceRuntime, broker: InMemoryBroker, api: httpx.AsyncClient
) -> None:
    """A skill members can name (energy management), answered on the green template's 0-4 scale, is a gap of the
    workforce green skills framework; the taxonomy says where each such skill comes from."""
    page = (await api.get("/taxonomy", params={"framework": "greenwork"})).json()
    assert page["count"] == 11 and all(item["source"] and item["levels"] is None for item in page["items"])
    assert "ISO 50001:2018" in (await api.get("/taxonomy/greenwork:energy-management")).json()["source"]

    answer = skill("greenwork:energy-management", 1, 4, 0, 2).model_copy(update={"level_scale_max": 4})
    green = response("m-e", [answer]).model_copy(
        update={"template_id": "green-transition", "template_version": 2, "theme": SurveyTheme.GREEN}
    )
    await publish(broker, member_changed("m-e", "Energiewerk Steyr"), green)
    await eventually(until_assessed(skills, 1), timeout=10, what="the green answer")
    [assessment] = (await api.get("/members/m-e/assessments")).json()
    assert [(g["skill_code"], g["skill_label"], g["framework"], g["level_gap"]) for g in assessment["gaps"]] == [
        ("greenwork:energy-management", "Energy management", "greenwork", 3)
    ]
    profile = (await api.get("/clusters/c-1/profile", params={"framework": "greenwork"})).json()
    assert [(b["skill_code"], b["framework"], b["demand"]) for b in profile["skills"]] == [
        ("greenwork:energy-management", "greenwork", 2)
    ]


async def test_a_falling_need_survives_a_redelivered_response(
    skills: ServiceRuntime, broker: InMemoryBroker, api: httpx.AsyncClient
) -> None:
    earlier = response("m-9", [skill("intl:trade-fairs", 4, 4, 5, 3)], completed_at=T0 - timedelta(days=30))
    later = response("m-9", [skill("intl:trade-fairs", 4, 0, 5, 0)])
    await publish(broker, earlier)
    await eventually(until_assessed(skills, 1), timeout=10, what="the earlier answer")
    await publish(broker, later)
    await eventually(until_assessed(skills, 2), timeout=10, what="the later answer")
    [balance] = (await api.get("/clusters/c-1/profile")).json()["skills"]
    assert (balance["imbalance"], balance["declining_members"]) == ("obsolescence", 1)

    await publish(broker, later)  # the same response again, under a new event id (a producer's resend)
    spec = spec_for_model(type(later))

    async def consumed() -> bool:
        async with skills.db.sessions() as session:
            count = await session.scalar(select(func.count()).select_from(inbox).where(inbox.c.event_type == spec.type))
        return count == 3

    await eventually(consumed, timeout=10, what="the resend consumed")
    [balance] = (await api.get("/clusters/c-1/profile")).json()["skills"]
    assert (balance["imbalance"], balance["declining_members"]) == ("obsolescence", 1), "the evidence is kept"


async def test_levels_rated_on_another_scale_are_put_on_the_frameworks(
    skills: ServiceRuntime, broker: InMemoryBroker, api: httpx.AsyncClient
) -> None:
    # The digital-skills template rates its GreenComp row 0-8; the green template rates GreenComp 0-4.
    on_digital = skill("greencomp:2.1", 6, 8, 1, 3).model_copy(update={"level_scale_max": 8})
    on_green = skill("greencomp:2.1", 3, 4, 1, 3).model_copy(update={"level_scale_max": 4})
    await publish(broker, response("m-d", [on_digital]), response("m-g", [on_green]))
    await eventually(until_assessed(skills, 2), timeout=10, what="both answers")
    [balance] = (await api.get("/clusters/c-1/profile")).json()["skills"]
    assert (balance["required_level"], balance["current_level"], balance["level_gap"]) == (4.0, 3.0, 1.0)
