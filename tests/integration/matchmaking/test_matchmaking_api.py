"""The matchmaking service in-process (SQLite): the registry, CSV import, matching rounds, outcomes, pools."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.integration.matchmaking.conftest import (
    START,
    created,
    deliver,
    deliver_batch,
    gaps_assessed,
    move_clock,
    name_member,
    offer,
    partner,
    problem,
    skill_gap,
)
from trellis_common.errors import PermanentError
from trellis_common.events import MemberContext
from trellis_common.runtime import ServiceRuntime

SEVERE = skill_gap("digcomp:5.2", current=2, required=5, headcount_gap=3, importance=5)  # 5 × (3 + 1.5) = 22.5
MILD = skill_gap("digcomp:5.2", current=4, required=5, headcount_gap=0, importance=2)  # 2 × (1 + 0) = 2


async def matches_of(api: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    page = (await api.get("/matches", params=params)).json()
    return list(page["items"])


# --- the partner registry ---------------------------------------------------------------------------------


async def test_partner_registry_crud(api: httpx.AsyncClient) -> None:
    body = partner(
        "TU Danube",
        "university",
        offer(
            "Data masterclass",
            "digcomp:5.2",
            10,
            delivery="hybrid",
            countries=["at"],
            regions=["at1"],
            languages=["DE", "en"],
            sectors=["c25"],
            funding=["Erasmus+"],
            cost_eur=900,
            contact="courses@tu-danube.example",
        ),
    )
    made = await created(await api.post("/partners", json=body))
    (course,) = made["offers"]
    assert (course["countries"], course["regions"], course["languages"], course["sectors"]) == (
        ["AT"],
        ["AT1"],
        ["de", "en"],
        ["C25"],
    )
    assert (course["seats"], course["seats_taken"], course["seats_left"], course["period"]) == (10, 0, 10, "2026-Q1")
    assert (await api.get(f"/partners/{made['id']}")).json() == made

    listed = (await api.get("/partners", params={"partner_type": "university", "country": "AT"})).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == made["id"]
    assert (await api.get("/partners", params={"partner_type": "cluster"})).json()["total"] == 0

    patched = (await api.patch(f"/partners/{made['id']}", json={"name": "TU Danube Continuing Education"})).json()
    assert patched["name"] == "TU Danube Continuing Education" and patched["partner_type"] == "university"
    added = await created(
        await api.post(
            f"/partners/{made['id']}/offers", json=offer("Python basics", "digcomp:3.4", 5, format="training")
        )
    )
    changed = (await api.put(f"/offers/{added['id']}", json=offer("Python basics", "digcomp:3.4", 8))).json()
    assert changed["seats"] == 8 and changed["format"] == "masterclass"
    assert (await api.delete(f"/offers/{added['id']}")).status_code == 204
    assert (await api.get(f"/offers/{added['id']}")).status_code == 404
    assert (await api.delete(f"/partners/{made['id']}")).status_code == 204
    assert (await api.get(f"/partners/{made['id']}")).status_code == 404
    assert (await api.get(f"/offers/{course['id']}")).status_code == 404


async def test_bad_partner_input_names_the_field(api: httpx.AsyncClient) -> None:
    on_site = partner("A", "university", offer("X", "digcomp:5.2", 3, delivery="on_site"))
    assert "offers.0.countries" in problem(await api.post("/partners", json=on_site))
    assert "body.country" in problem(
        await api.post("/partners", json={**partner("A", "university"), "country": "Austria"})
    )
    assert "body.partner_type" in problem(await api.post("/partners", json=partner("A", "spaceport")))
    bad_skill = partner("A", "university", offer("X", "digital:5.2", 3))
    assert "offers.0.skill_codes.0" in problem(await api.post("/partners", json=bad_skill))
    assert "offers.0.seats" in problem(
        await api.post("/partners", json=partner("A", "cluster", offer("X", "intl:trade-fairs", 0)))
    )
    assert "body.colour" in problem(await api.post("/partners", json={**partner("A", "cluster"), "colour": "red"}))
    assert (await api.patch("/partners/nope", json={"name": "B"})).status_code == 404
    made = await created(await api.post("/partners", json=partner("A", "cluster")))
    assert "body.name" in problem(await api.patch(f"/partners/{made['id']}", json={"name": None}))
    assert (await api.post("/partners/nope/offers", json=offer("X", "digcomp:5.2", 3))).status_code == 404
    assert "status" in problem(await api.get("/matches", params={"status": "maybe"}))
    assert "period" in problem(await api.get("/outcomes/conversion", params={"period": "spring"}))


CSV_HEADER = "partner_name,partner_type,partner_country,offer_title,skill_codes,format,delivery,countries,seats"


async def test_csv_import_is_all_or_nothing_with_a_row_report(api: httpx.AsyncClient) -> None:
    good = "\n".join(
        [
            CSV_HEADER,
            "TU Danube,university,AT,Data masterclass,digcomp:5.2;digcomp:1.3,masterclass,online,,20",
            "TU Danube,university,AT,Security basics,digcomp:4.1,training,on_site,AT,10",
            "EEN Bavaria,enterprise_europe_network,DE,Partner search Germany,intl:partner-search,advisory,online,,15",
        ]
    )
    report = await created(await api.post("/partners/import", files={"file": ("partners.csv", good, "text/csv")}))
    assert (report["imported_partners"], report["imported_offers"], report["rows_checked"]) == (2, 3, 3)
    assert (await api.get("/partners")).json()["total"] == 2

    bad = "\n".join(
        [
            CSV_HEADER,
            "Green Minds,green_tech_consultant,AT,Circular advisory,greencomp:2.1,advisory,on_site,,5",
            "Fine Academy,training_provider,AT,Fine course,digcomp:3.4,training,online,,12",
            "TU Danube,university,AT,Again,digcomp:5.2,masterclass,online,,lots",
        ]
    )
    refused = await api.post("/partners/import", files={"file": ("partners.csv", bad, "text/csv")})
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["imported_partners"] == 0 and body["bad_rows"] == [2, 4]
    assert {(e["row"], e["column"]) for e in body["errors"]} == {(2, "countries"), (4, "partner_name"), (4, "seats")}
    assert (await api.get("/partners")).json()["total"] == 2, "nothing of the file was stored"

    layout = await api.post("/partners/import", files={"file": ("p.csv", "name,colour\nA,red\n", "text/csv")})
    assert "body.file" in problem(layout) and "partner_name" in problem(layout)
    huge = CSV_HEADER + "\n" + "x" * (5 * 1024 * 1024)
    assert (await api.post("/partners/import", files={"file": ("p.csv", huge, "text/csv")})).status_code == 413


async def test_partners_offer_workforce_green_skills_and_a_gap_in_one_is_matched(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient
) -> None:
    """Partners declare workforce green skills (energy management, life-cycle assessment, …) by API or CSV; a
    member's gap in one of them is matched to the offer that declares it, and matches filter by the code."""
    consultant = partner(
        "GreenShift", "green_tech_consultant", offer("Energy management for SMEs", "greenwork:energy-management", 5)
    )
    energy = (await created(await api.post("/partners", json=consultant)))["offers"][0]["id"]
    row = "Eco Lab,knowledge_institution,AT,LCA clinic,greenwork:life-cycle-assessment;greenwork:circular-design"
    sheet = f"{CSV_HEADER}\n{row},workshop,online,,8"
    report = await created(await api.post("/partners/import", files={"file": ("partners.csv", sheet, "text/csv")}))
    assert (report["imported_partners"], report["imported_offers"]) == (1, 1)

    gap = skill_gap("greenwork:energy-management", current=1, required=4, headcount_gap=2, importance=4)
    (told,) = await deliver(matchmaking, gaps_assessed("m-green", [gap]))
    assert [(o.offer_id, o.skill_code) for o in told.options] == [(energy, "greenwork:energy-management")]
    found = await matches_of(api, skill_code="greenwork:energy-management")
    assert [(m["member_id"], m["offer_id"]) for m in found] == [("m-green", energy)]


# --- matching, seats and outcomes -----------------------------------------------------------------------------


async def test_a_proposal_keeps_its_seat_and_a_later_severe_gap_waits_for_the_next_free_one(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient
) -> None:
    made = await created(
        await api.post("/partners", json=partner("TU Danube", "university", offer("Data", "digcomp:5.2", 1)))
    )
    offer_id = made["offers"][0]["id"]

    (first,) = await deliver(matchmaking, gaps_assessed("m-mild", [MILD]))
    assert first.reason == "assessment" and first.period == "2026-Q1"
    assert [(o.offer_id, o.rank) for o in first.options] == [(offer_id, 1)] and first.options[0].match_id

    move_clock(matchmaking, START + timedelta(minutes=5))
    severe = gaps_assessed("m-severe", [SEVERE])
    (told,) = await deliver(matchmaking, severe)
    assert told.member_id == "m-severe" and told.reason == "assessment"
    assert told.options == [], "the only seat is the milder gap's proposal: the severe gap waits"
    statuses = {m["member_id"]: m["status"] for m in await matches_of(api)}
    assert statuses == {"m-mild": "proposed"}, "a proposal once made is not taken away (no churn)"
    assert (await api.get(f"/offers/{offer_id}")).json()["seats_taken"] == 1
    assert await deliver(matchmaking, severe) == [], "the same assessment again changes nothing"

    # A second seat: the waiting gap gets it at once, and only its member hears of it.
    move_clock(matchmaking, START + timedelta(minutes=10))
    await api.put(f"/offers/{offer_id}", json=offer("Data", "digcomp:5.2", 2))
    runs = (await api.get("/members/m-severe/matches")).json()
    assert [r["reason"] for r in runs] == ["rematch", "assessment"], "newest first"
    assert runs[0]["options"][0]["offer_id"] == offer_id and runs[0]["options"][0]["match_id"]
    assert [r["reason"] for r in (await api.get("/members/m-mild/matches")).json()] == ["assessment"]


async def test_gaps_placed_together_give_a_contested_seat_to_the_more_severe(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient
) -> None:
    await api.post("/partners", json=partner("TU Danube", "university", offer("Data", "digcomp:5.2", 1)))
    events = {
        e.member_id: e
        for e in await deliver_batch(matchmaking, gaps_assessed("m-mild", [MILD]), gaps_assessed("m-severe", [SEVERE]))
    }
    assert events.keys() == {"m-mild", "m-severe"} and {e.reason for e in events.values()} == {"assessment"}
    assert events["m-severe"].options and events["m-mild"].options == []
    assert {m["member_id"] for m in await matches_of(api, status="proposed")} == {"m-severe"}


async def test_outcomes_confirm_or_free_seats_and_give_the_conversion_rate(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient
) -> None:
    made = await created(
        await api.post("/partners", json=partner("TU Danube", "university", offer("Data", "digcomp:5.2", 2)))
    )
    offer_id = made["offers"][0]["id"]
    await deliver(matchmaking, gaps_assessed("m-severe", [SEVERE]))
    await deliver(matchmaking, gaps_assessed("m-mild", [MILD]))
    match = {m["member_id"]: m for m in await matches_of(api, status="proposed")}

    accepted = (await api.post(f"/matches/{match['m-severe']['id']}/outcome", json={"outcome": "accepted"})).json()
    assert (accepted["status"], accepted["outcome_by"]) == ("accepted", "member")
    move_clock(matchmaking, START + timedelta(minutes=1))
    await api.post("/members/m-severe/rematch")
    (kept,) = (await api.get("/members/m-severe/matches")).json()[0]["options"]
    assert kept["match_id"] == match["m-severe"]["id"], "an accepted seat is listed, not placed again"
    again = await api.post(f"/matches/{match['m-severe']['id']}/outcome", json={"outcome": "accepted"})
    assert again.json()["outcome_at"] == accepted["outcome_at"], "recording the same outcome twice changes nothing"
    completed = await api.post(
        f"/matches/{match['m-severe']['id']}/outcome",
        json={"outcome": "completed", "recorded_by": "cluster_manager", "note": "took part in March"},
    )
    assert completed.json()["status"] == "completed"
    refused = await api.post(f"/matches/{match['m-severe']['id']}/outcome", json={"outcome": "declined"})
    assert refused.status_code == 409 and "completed match cannot become declined" in refused.json()["detail"]
    assert "body.outcome" in problem(
        await api.post(f"/matches/{match['m-mild']['id']}/outcome", json={"outcome": "maybe"})
    )
    assert (await api.post("/matches/nope/outcome", json={"outcome": "accepted"})).status_code == 404

    # Cutting seats below what members accepted is refused; cutting below the proposals releases the mildest.
    await api.post(f"/matches/{match['m-mild']['id']}/outcome", json={"outcome": "accepted"})
    cut = await api.put(f"/offers/{offer_id}", json=offer("Data", "digcomp:5.2", 1))
    assert cut.status_code == 409 and cut.json()["detail"].startswith("seats: 2 members have accepted")
    declined = await api.post(f"/matches/{match['m-mild']['id']}/outcome", json={"outcome": "declined"})
    assert declined.json()["status"] == "declined"
    assert (await api.get(f"/offers/{offer_id}")).json()["seats_taken"] == 1, "a declined match frees its seat"

    figures = (await api.get("/outcomes/conversion", params={"cluster_id": "c-1", "period": "2026-Q1"})).json()
    assert {k: figures[k] for k in ("proposals", "agreements", "answered", "declined", "completed")} == {
        "proposals": 2,
        "agreements": 1,
        "answered": 2,
        "declined": 1,
        "completed": 1,
    }
    assert figures["conversion_rate"] == 0.5 and figures["share_of_proposals"] == 0.5
    assert figures["completion_rate"] == 1.0 and "eccp" not in figures and "ahead_of_eccp" not in figures
    assert (await api.get("/outcomes/conversion", params={"cluster_id": "c-other"})).json()["conversion_rate"] is None


async def test_a_declined_offer_is_not_proposed_again_and_seat_cuts_release_the_mildest(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient
) -> None:
    made = await created(
        await api.post(
            "/partners",
            json=partner(
                "TU Danube",
                "university",
                offer("Data masterclass", "digcomp:5.2", 3),
                offer("Data coaching", "digcomp:5.2", 3, format="coaching"),
            ),
        )
    )
    by_title = {o["title"]: o["id"] for o in made["offers"]}
    await deliver(matchmaking, gaps_assessed("m-severe", [SEVERE]))
    (proposal,) = await matches_of(api, member_id="m-severe")
    assert proposal["offer_title"] == "Data masterclass"
    await api.post(f"/matches/{proposal['id']}/outcome", json={"outcome": "declined"})
    move_clock(matchmaking, START + timedelta(minutes=5))
    result = (await api.post("/members/m-severe/rematch")).json()
    assert result["notified_members"] == ["m-severe"]
    latest = (await api.get("/members/m-severe/matches")).json()[0]
    assert [o["offer_title"] for o in latest["options"]] == ["Data coaching"], "the declined offer is not proposed"

    masterclass = by_title["Data masterclass"]
    await deliver(matchmaking, gaps_assessed("m-mild", [MILD]))
    await deliver(matchmaking, gaps_assessed("m-severe-2", [SEVERE]))
    held = await matches_of(api, status="proposed", offer_id=masterclass)
    assert {m["member_id"] for m in held} == {"m-mild", "m-severe-2"}
    await api.put(f"/offers/{masterclass}", json=offer("Data masterclass", "digcomp:5.2", 1))
    held = await matches_of(api, status="proposed", offer_id=masterclass)
    assert [m["member_id"] for m in held] == ["m-severe-2"], "the cut released the milder gap's proposal"
    assert (await api.post("/members/nobody/rematch")).status_code == 404


async def test_members_sharing_a_gap_are_pooled_in_one_group_offer(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient
) -> None:
    made = await api.post(
        "/partners",
        json=partner(
            "TU Danube",
            "university",
            offer("Data masterclass", "digcomp:5.2", 10),
            offer("Data coaching", "digcomp:5.2", 10, format="coaching"),
        )
        | {"contact": "weiterbildung@tu-danube.example"},
    )
    for member in ("m-1", "m-2"):
        await deliver(matchmaking, gaps_assessed(member, [SEVERE]))
    await deliver(matchmaking, gaps_assessed("m-elsewhere", [SEVERE], cluster_id="c-2"))
    (third,) = await deliver(matchmaking, gaps_assessed("m-3", [SEVERE]))
    assert third.options[0].offer_title == "Data masterclass"
    pooling = {c.factor: c for c in third.options[0].explanation}["pooling"]
    assert pooling.value == 1.0 and pooling.note and "3 members of the cluster share this gap" in pooling.note
    (pool,) = third.pooled
    assert (pool.member_count, pool.seats, pool.offer_title) == (3, 3, "Data masterclass")

    (listed,) = (await api.get("/clusters/c-1/pools")).json()
    assert listed["member_ids"] == ["m-1", "m-2", "m-3"] and listed["pool_id"] == pool.pool_id
    assert listed["member_names"] == ["Member m-1", "Member m-2", "Member m-3"], "as surveys published them"
    assert listed["contact"] == "weiterbildung@tu-danube.example", "the partner's, as the offer has none of its own"
    masterclass = next(o for o in made.json()["offers"] if o["title"] == "Data masterclass")
    await api.put(
        f"/offers/{masterclass['id']}",
        json=offer("Data masterclass", "digcomp:5.2", 10) | {"contact": "https://tu-danube.example/masterclass"},
    )
    (listed,) = (await api.get("/clusters/c-1/pools")).json()
    assert listed["contact"] == "https://tu-danube.example/masterclass", "the offer's own contact point comes first"
    assert (await api.get("/clusters/c-2/pools")).json() == [], "one member alone is no pool"
    assert [p["pool_id"] for p in (await api.get("/clusters/c-1/pools", params={"limit": 1})).json()] == [pool.pool_id]
    assert (await api.get("/clusters/c-1/pools", params={"limit": 0})).status_code == 422

    # A new name arrives with surveys.member.changed: pools and matches name members by their latest names.
    await name_member(matchmaking, "m-1", "Huber Präzision GmbH")
    await name_member(matchmaking, "m-3", "Vienna Sensor Labs")
    (listed,) = (await api.get("/clusters/c-1/pools")).json()
    assert listed["member_names"] == ["Huber Präzision GmbH", "Member m-2", "Vienna Sensor Labs"]
    assert listed["skill_label"] == "Identifying needs and technological responses"
    (held,) = (await api.get("/matches", params={"member_id": "m-3"})).json()["items"]
    assert (held["member_name"], held["skill_label"]) == ("Vienna Sensor Labs", listed["skill_label"])
    single = (await api.get(f"/matches/{held['id']}")).json()
    assert single["member_name"] == "Vienna Sensor Labs"


async def test_international_ambitions_meet_partners_in_the_target_countries(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient
) -> None:
    advisory = {"format": "advisory"}
    await api.post(
        "/partners",
        json=partner(
            "EEN Bavaria",
            "enterprise_europe_network",
            offer("Partner search DE", "intl:partner-search", 5, **advisory),
            country="DE",
        ),
    )
    await api.post(
        "/partners",
        json=partner(
            "Pôle Lyon", "cluster", offer("Partner search FR", "intl:partner-search", 5, **advisory), country="FR"
        ),
    )
    await api.post(
        "/partners",
        json=partner("DIH Vienna", "digital_innovation_hub", offer("Go global", "intl:partner-search", 5, **advisory)),
    )
    context = MemberContext(country="AT", languages=["de"], sector="C25", target_countries=["DE"])
    intl = skill_gap("intl:partner-search", current=1, required=3, headcount_gap=0, importance=4)
    (event,) = await deliver(matchmaking, gaps_assessed("m-export", [intl], context=context))
    # The French cluster reaches France, not a target country: never proposed. The Vienna hub declares the skill
    # (its type excludes nothing) but reaches no market of the member's: an alternative, ranked after.
    assert [o.partner_name for o in event.options] == ["EEN Bavaria", "DIH Vienna"]
    market = {c.factor: c for c in event.options[0].explanation}["market_fit"]
    assert (market.value, market.note) == (1.0, "reaches DE")
    assert event.options[0].score > event.options[1].score


async def test_seats_are_counted_per_period(matchmaking: ServiceRuntime, api: httpx.AsyncClient) -> None:
    made = await created(
        await api.post("/partners", json=partner("TU Danube", "university", offer("Data", "digcomp:5.2", 1)))
    )
    offer_id = made["offers"][0]["id"]
    await deliver(matchmaking, gaps_assessed("m-severe", [SEVERE]))
    assert (await api.get(f"/offers/{offer_id}")).json()["seats_left"] == 0

    move_clock(matchmaking, datetime(2026, 4, 1, 8, 0, tzinfo=START.tzinfo))
    fresh = (await api.get(f"/offers/{offer_id}")).json()
    assert (fresh["period"], fresh["seats_left"]) == ("2026-Q2", 1)
    assert (await api.post("/rematch")).json()["gaps"] == 0, "last quarter's gaps stay in last quarter"
    moved = (await api.post("/members/m-severe/rematch")).json()
    assert (moved["period"], moved["proposals_made"]) == ("2026-Q2", 1)
    by_period = {m["period"]: m["status"] for m in await matches_of(api, member_id="m-severe")}
    assert by_period == {"2026-Q1": "released", "2026-Q2": "proposed"}

    older = gaps_assessed("m-severe", [MILD], assessed_at=START - timedelta(days=30))
    assert await deliver(matchmaking, older) == [], "an assessment older than the one on file changes nothing"


async def test_directory_changes_release_the_proposals_they_break(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient
) -> None:
    made = await created(
        await api.post("/partners", json=partner("TU Danube", "university", offer("Data", "digcomp:5.2", 3)))
    )
    offer_id = made["offers"][0]["id"]
    await deliver(matchmaking, gaps_assessed("m-severe", [SEVERE]))
    assert [m["status"] for m in await matches_of(api)] == ["proposed"]

    await api.patch(f"/partners/{made['id']}", json={"partner_type": "green_tech_consultant"})
    assert [m["status"] for m in await matches_of(api)] == ["proposed"], "a partner's type excludes nothing"

    await api.put(f"/offers/{offer_id}", json=offer("Data", "digcomp:5.2", 3, countries=["DE"]))  # not AT any more
    assert [m["status"] for m in await matches_of(api)] == ["released"]
    assert (await api.post("/rematch")).json()["unserved_gaps"] == 1, "the gap waits: no offer serves it"

    move_clock(matchmaking, START + timedelta(minutes=1))
    await api.put(f"/offers/{offer_id}", json=offer("Data", "digcomp:5.2", 3))
    assert await matches_of(api, status="proposed"), "the offer serves the gap again: the waiting gap got its seat"
    latest = (await api.get("/members/m-severe/matches")).json()[0]
    assert latest["reason"] == "rematch" and latest["options"][0]["offer_title"] == "Data"
    assert (await api.post("/rematch")).json()["notified_members"] == [], "nothing left to place"
    assert (await api.delete(f"/partners/{made['id']}")).status_code == 204
    assert await matches_of(api, status="proposed") == [], "a removed partner's proposals are released"


async def test_a_gap_named_twice_breaks_the_contract(matchmaking: ServiceRuntime) -> None:
    with pytest.raises(PermanentError, match=r"digcomp:5\.2"):
        await deliver(matchmaking, gaps_assessed("m-1", [SEVERE, MILD]))


async def test_partners_and_formats_the_guide_names_are_registered_and_matched(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient
) -> None:
    chamber = partner(
        "Chamber of Commerce Vienna",
        "chamber_of_commerce",
        offer("Data workshop for SMEs", "digcomp:5.2", 4, format="workshop"),
        offer("Trade mission to Bavaria", "intl:partner-search", 4, format="trade_mission", target_markets=["DE"]),
    )
    made = await created(await api.post("/partners", json=chamber))
    assert {o["format"] for o in made["offers"]} == {"workshop", "trade_mission"}
    for kind in ("regional_development_agency", "trade_promotion_agency", "large_company", "start_up", "investor"):
        assert (await api.post("/partners", json=partner(f"A {kind}", kind))).status_code == 201, kind
    (told,) = await deliver(matchmaking, gaps_assessed("m-1", [SEVERE]))
    assert [(o.partner_name, o.format) for o in told.options] == [("Chamber of Commerce Vienna", "workshop")]


async def test_the_largest_pools_are_counted_in_the_database_and_match_the_full_list(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient
) -> None:
    """``limit`` reads only the largest pools' seats; what it lists is the head of the full list, largest first."""
    security = skill_gap("digcomp:4.2", current=1, required=4, headcount_gap=2, importance=5)
    await api.post(
        "/partners",
        json=partner(
            "TU Danube",
            "university",
            offer("Data masterclass", "digcomp:5.2", 10),
            offer("Security masterclass", "digcomp:4.2", 10),
        ),
    )
    for member in ("m-1", "m-2", "m-3"):
        await deliver(matchmaking, gaps_assessed(member, [SEVERE]))
    for member in ("m-4", "m-5"):
        await deliver(matchmaking, gaps_assessed(member, [security]))
    full = (await api.get("/clusters/c-1/pools")).json()
    assert sorted(len(p["member_ids"]) for p in full) == [2, 3]
    (largest,) = (await api.get("/clusters/c-1/pools", params={"limit": 1})).json()
    assert largest == max(full, key=lambda p: len(p["member_ids"]))
    both = (await api.get("/clusters/c-1/pools", params={"limit": 5})).json()
    assert [p["offer_title"] for p in both] == ["Data masterclass", "Security masterclass"]
    assert sorted(both, key=lambda p: p["pool_id"]) == sorted(full, key=lambda p: p["pool_id"])
