"""A member's international ambitions, from the survey answer to the ranking: surveys, skills and matchmaking
in-process on PostgreSQL, sharing one in-memory bus (each a consumer group, as on Kafka).

The member answers the internationalisation survey aiming at Czechia and at manufacturing; skills copies the
response's member context onto its gaps; matchmaking then proposes the partner that opens the Czech market
first, never the otherwise equal one that opens Poland.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx

from tests.conftest import NewDatabase
from tests.integration.surveys.conftest import START, ok, surveys_runtime
from tests.support import auth
from tests.support.polling import eventually
from tests.support.runtime import runtime_for
from trellis_common.app import create_app
from trellis_common.bus.memory import InMemoryBroker, InMemoryBus
from trellis_common.catalogue import spec_for_model
from trellis_common.clock import ManualClock
from trellis_common.envelope import from_kafka
from trellis_common.events import EventData, GapsAssessed, PartnersMatched
from trellis_common.runtime import ServiceDefinition, ServiceRuntime
from trellis_matchmaking.service import DEFINITION as MATCHMAKING
from trellis_skills.service import DEFINITION as SKILLS
from trellis_surveys.service import DEFINITION as SURVEYS

ROW = {"current_level": 1, "required_level": 3, "headcount_having": 1, "headcount_needed": 2, "importance": 5}


@asynccontextmanager
async def client_of(definition: ServiceDefinition, runtime: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    await runtime.start()
    app = create_app(definition, runtime=runtime, manage_runtime=False)
    try:
        async with httpx.AsyncClient(
            headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url=f"http://{definition.name}"
        ) as client:
            yield client
    finally:
        await runtime.stop()


def on_the_bus(broker: InMemoryBroker, model: type[EventData]) -> list[Any]:
    records = broker.topics.get(spec_for_model(model).topic(), [])
    return [model.model_validate(from_kafka(r.headers, r.value).data) for r in records if r.value is not None]


def market_offer(title: str, market: str | None) -> dict[str, Any]:
    return {
        "title": title,
        "skill_codes": ["intl:partner-search"],
        "max_level": 4,
        "format": "advisory",
        "seats": 5,
        "sectors": ["C"] if market else [],
        "target_markets": [market] if market else [],
    }


async def test_a_member_aiming_at_czechia_gets_the_czech_door_first(new_database: NewDatabase) -> None:
    broker = InMemoryBroker()
    surveys = surveys_runtime(await new_database("surveys"), broker, workers=False)
    others = [
        runtime_for(
            definition, database_url=await new_database(definition.name), bus=InMemoryBus(broker), clock="manual"
        )
        for definition in (SKILLS, MATCHMAKING)
    ]
    for runtime in others:
        assert isinstance(runtime.clock, ManualClock)
        runtime.clock.set(START)
    async with AsyncExitStack() as stack:
        survey_api = await stack.enter_async_context(client_of(SURVEYS, surveys))
        await stack.enter_async_context(client_of(SKILLS, others[0]))
        matching_api = await stack.enter_async_context(client_of(MATCHMAKING, others[1]))

        for name, market in (("Prague Export Desk", "CZ"), ("Kraków Export Desk", "PL"), ("Go Global Advisors", None)):
            partner = {
                "name": name,
                "partner_type": "training_provider",
                "country": "AT",
                "offers": [market_offer(f"Partner search ({market or 'any market'})", market)],
            }
            await ok(await matching_api.post("/partners", json=partner), 201)

        cluster = await ok(await survey_api.post("/clusters", json={"name": "Danube", "country": "AT"}), 201)
        member = await ok(
            await survey_api.post(
                f"/clusters/{cluster['id']}/members",
                json={"name": "Vienna Code Works", "country": "AT", "sector": "J62", "languages": ["de"]},
            ),
            201,
        )
        answered = {
            "member_id": member["id"],
            "template_id": "internationalisation-readiness",
            "template_version": 2,
            "theme": "internationalisation",
            "answers": {
                "international_ambition": "explore",
                "target_countries": ["CZ"],
                "target_sectors": ["C"],
                "value_chain_disrupted": 2,
                "support_wanted": ["partner_search"],
            },
            "skills": [{"skill_code": "intl:partner-search", **ROW}],
        }
        await ok(await survey_api.post("/responses", json=answered), 201)

        async def matched() -> list[PartnersMatched]:
            return on_the_bus(broker, PartnersMatched)

        (event,) = await eventually(matched, timeout=20, what="matchmaking to propose partners")
    (assessed,) = on_the_bus(broker, GapsAssessed)
    assert assessed.member_context.target_countries == ["CZ"], "skills passes the ambitions on"
    ranked = sorted(event.options, key=lambda o: o.rank)
    # Poland is not a target: that offer is never proposed. The Czech door comes before the offer tied to no market.
    assert [o.partner_name for o in ranked] == ["Prague Export Desk", "Go Global Advisors"]
    factors = {c.factor: (c.value, c.note) for c in ranked[0].explanation}
    assert factors["market_fit"] == (1.0, "reaches CZ")
    assert factors["sector_fit"] == (1.0, "made for sector C")  # a target sector, not the member's own (J62)
    assert ranked[0].score > ranked[1].score
