"""On PostgreSQL: the countries and sectors a member aims at, chosen by name on the form, are published as codes
on the response's member context (where skills and matchmaking read them)."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.conftest import NewDatabase
from tests.integration.surveys.conftest import START, Surveys, cluster_with_members, ok, start_surveys
from tests.integration.surveys.test_surveys_campaigns import answer, path_of

PARTNER_SEARCH = {
    "skill.intl:partner-search.current_level": "1",
    "skill.intl:partner-search.required_level": "3",
    "skill.intl:partner-search.headcount_having": "1",
    "skill.intl:partner-search.headcount_needed": "2",
    "skill.intl:partner-search.importance": "5",
}


def choice_labels(html: str, question_id: str) -> list[str]:
    return re.findall(rf'<label for="q-{question_id}-\d+">([^<]*)</label>', html)


async def test_target_countries_and_sectors_travel_on_the_response(new_database: NewDatabase) -> None:
    async for surveys in start_surveys(await new_database("surveys"), workers=False):
        await answer_the_internationalisation_survey(surveys)


async def answer_the_internationalisation_survey(surveys: Surveys) -> None:
    cluster_id, (english, german) = await cluster_with_members(surveys.client, 2)
    campaign = await ok(
        await surveys.client.post(
            f"/clusters/{cluster_id}/campaigns",
            json={
                "template_id": "internationalisation-readiness",
                "closes_at": (START + timedelta(days=21)).isoformat(),
            },
        ),
        201,
    )
    assert campaign["template_version"] == 2  # the newest published version
    links = {i.member_id: i.link for i in await surveys.invitations()}

    # Members choose countries and sectors by name, in their language; codes are only the submitted values.
    for member_id, czechia, manufacturing in (
        (english, "Czechia", "Manufacturing"),
        (german, "Tschechien", "Verarbeitendes Gewerbe"),
    ):
        page = await surveys.client.get(path_of(links[member_id]))
        countries, sectors = choice_labels(page.text, "target_countries"), choice_labels(page.text, "target_sectors")
        assert czechia in countries and manufacturing in sectors
        assert not [label for label in countries + sectors if re.fullmatch(r"[A-Z]{1,2}", label)], "names, not codes"

    done = await answer(
        surveys,
        links[english],
        "submit",
        **{
            "q.international_ambition": "explore",
            "q.target_countries": "CZ",
            "q.target_sectors": "C",
            "q.value_chain_disrupted": "2",
            "q.support_wanted": "partner_search",
        },
        **PARTNER_SEARCH,
    )
    assert done.status_code == 200 and "Thank you" in done.text, done.text
    (published,) = await surveys.responses()
    assert published.template_version == 2
    assert published.member_context.target_countries == ["CZ"]
    assert published.member_context.target_sectors == ["C"]
    assert published.member_context.country == "AT"  # the directory's context, with the ambitions added
    assert published.answers["target_countries"] == ["CZ"]
