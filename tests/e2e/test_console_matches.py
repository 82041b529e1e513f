"""The console's matches page in embedded mode, after the demo loop: a period's proposals by member and by
offer, names only; a manager marks one accepted and then completed, an outcome that no longer fits is refused
with a notice; pooled demand comes with an email to the partner that writes it out; viewers get no outcome
buttons and their forged forms are refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import unquote

import pytest

from tests.e2e.console_support import CSRF, assert_names_only, browser, demo_platform, sign_in, visible
from trellis.demo import RESPONSES, SIGN_IN_PEOPLE
from trellis.embedded import EmbeddedPlatform

OUTCOME_FORM = re.compile(r'action="/matches/([^"/]+)/outcome"')


@pytest.fixture(scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[EmbeddedPlatform, str]]:
    async with demo_platform(tmp_path_factory.mktemp("console-matches")) as found:
        yield found


async def test_matches_read_by_member_and_by_offer_with_names_only(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["viewer"])
        by_member = await client.get(f"/clusters/{cluster_id}/matches")
        assert by_member.status_code == 200
        text = visible(by_member.text)
        for member in RESPONSES:
            assert member in text, "every member the demo matched is listed by name"
        assert "Proposed" in text and "Data-driven production masterclass" in text
        assert not OUTCOME_FORM.search(by_member.text), "a viewer gets no outcome buttons"
        assert_names_only(by_member.text)
        by_offer = await client.get(f"/clusters/{cluster_id}/matches", params={"by": "offer", "status": "proposed"})
        headings = re.findall(r"<h3>([^<]+)<span", by_offer.text)
        assert any("Data-driven production masterclass" in h for h in headings), headings
        assert_names_only(by_offer.text)


async def test_a_manager_records_accepted_then_completed_and_a_stale_outcome_is_refused(
    platform: tuple[EmbeddedPlatform, str],
) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"])
        page = await client.get(f"/clusters/{cluster_id}/matches", params={"status": "proposed"})
        match_id = OUTCOME_FORM.findall(page.text)[0]
        back = f"/clusters/{cluster_id}/matches?status=proposed"
        accepted = await client.post(
            f"/matches/{match_id}/outcome",
            data={"csrf": CSRF.findall(page.text)[0], "outcome": "accepted", "back": back},
        )
        assert "Recorded: Accepted." in accepted.text
        assert accepted.url.path == f"/clusters/{cluster_id}/matches", "back to the list the manager was on"
        listed = await client.get(f"/clusters/{cluster_id}/matches", params={"status": "accepted"})
        assert match_id in OUTCOME_FORM.findall(listed.text), "now among the accepted, with its next outcomes"
        completed = await client.post(
            f"/matches/{match_id}/outcome", data={"csrf": CSRF.findall(listed.text)[0], "outcome": "completed"}
        )
        assert "Recorded: Completed." in completed.text
        stale = await client.post(
            f"/matches/{match_id}/outcome", data={"csrf": CSRF.findall(completed.text)[0], "outcome": "declined"}
        )
        assert stale.status_code == 200 and "no longer fits this match" in stale.text


async def test_pooled_demand_comes_with_an_email_to_the_partner(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"])
        page = await client.get(f"/clusters/{cluster_id}/matches")
        pools = page.text.split('id="pools-h"')[1]
        mailtos = [unquote(m) for m in re.findall(r'href="(mailto:[^"]+)"', pools)]
        assert mailtos, "the demo pools two members on one offer"
        assert "pooled demand for" in mailtos[0] and "members of Danube Smart Manufacturing Cluster" in mailtos[0]
        assert mailtos[0].startswith("mailto:weiterbildung@tu-danube.example?"), "to the partner's contact point"
        assert_names_only(page.text)


async def test_a_viewer_cannot_record_an_outcome(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"])
        match_id = OUTCOME_FORM.findall((await client.get(f"/clusters/{cluster_id}/matches")).text)[0]
    async with browser(embedded) as client:
        home = await sign_in(client, SIGN_IN_PEOPLE["viewer"])
        refused = await client.post(
            f"/matches/{match_id}/outcome", data={"csrf": CSRF.findall(home.text)[0], "outcome": "declined"}
        )
        assert refused.status_code == 403 and "Not allowed" in refused.text
        other = await client.get("/clusters/another-cluster/matches")
        assert other.status_code == 404
