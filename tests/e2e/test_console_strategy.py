"""The console's strategy pages in embedded mode, after the demo loop: the cluster's overall strategy with its
next review and the agenda the matches fed; a manager adds a KPI measurement (its progress shows, the chart is
drawn) and records a review, after which the next review date moves; viewers get no forms and their forged
posts are refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest

from tests.e2e.console_support import CSRF, assert_names_only, browser, demo_platform, sign_in, visible
from trellis.demo import SIGN_IN_PEOPLE
from trellis.embedded import EmbeddedPlatform

STRATEGY_LINK = re.compile(r'href="/strategies/([^"/?#]+)"')


@pytest.fixture(scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[EmbeddedPlatform, str]]:
    async with demo_platform(tmp_path_factory.mktemp("console-strategy")) as found:
        yield found


async def strategy_with_a_kpi(embedded: EmbeddedPlatform, cluster_id: str) -> tuple[str, str]:
    """The demo's overall strategy, given a KPI through the API (as an integrating system could)."""
    transport = httpx.ASGITransport(app=embedded.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=embedded.admin_headers()) as api:
        strategies = (await api.get(f"/strategy/clusters/{cluster_id}/strategies")).json()["items"]
        strategy_id = strategies[0]["id"]
        kpis = strategies[0]["kpis"]
        if kpis:
            return strategy_id, kpis[0]["id"]
        body = {
            "name": "SME members with a digital skills plan",
            "unit": "%",
            "baseline": 10,
            "baseline_date": (date.today() - timedelta(days=30)).isoformat(),
            "target": 50,
            "target_date": (date.today() + timedelta(days=365)).isoformat(),
        }
        created = await api.post(f"/strategy/strategies/{strategy_id}/kpis", json=body)
        assert created.status_code == 201, created.text
        return strategy_id, created.json()["id"]


async def test_a_manager_measures_a_kpi_and_records_a_review_that_moves_the_next_date(
    platform: tuple[EmbeddedPlatform, str],
) -> None:
    embedded, cluster_id = platform
    strategy_id, kpi_id = await strategy_with_a_kpi(embedded, cluster_id)
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"])
        listed = await client.get(f"/clusters/{cluster_id}/strategy")
        assert strategy_id in STRATEGY_LINK.findall(listed.text)
        page = await client.get(f"/strategies/{strategy_id}")
        text = visible(page.text)
        assert "Overall cluster strategy" in text and "SME members with a digital skills plan" in text
        assert "Phase: Diagnostics" in text and '<option value="action"' not in page.text, "one step at a time"
        assert "No measurement yet" in text
        agenda = page.text.split('id="agenda-h"')[1].split("</section>")[0]
        assert "<li>" in agenda, "the demo's matches put actions on the next review's agenda"
        german = await client.get(f"/strategies/{strategy_id}", params={"lang": "de"})
        agenda_de = german.text.split('id="agenda-h"')[1].split("</section>")[0]
        assert "könnte bei" in agenda_de and "Mitglieder haben eine Lücke bei" in agenda_de, "worded from the facts"
        assert " could work with " not in agenda_de
        page = await client.get(f"/strategies/{strategy_id}", params={"lang": "en"})
        assert_names_only(page.text)
        before = re.search(r'<p class="figure date[^"]*">([^<]+)</p>', page.text)
        assert before

        wrong = await client.post(
            f"/strategies/{strategy_id}/kpis/{kpi_id}/measurements",
            data={"csrf": CSRF.findall(page.text)[0], "value": "lots", "measured_on": "", "note": ""},
        )
        assert wrong.status_code == 422 and "Not a number." in wrong.text
        measured = await client.post(
            f"/strategies/{strategy_id}/kpis/{kpi_id}/measurements",
            data={"csrf": CSRF.findall(wrong.text)[0], "value": "30", "measured_on": "", "note": "survey count"},
        )
        assert "The measurement was added." in measured.text and "50 %" in measured.text, "(30−10)/(50−10)"
        assert 'class="chart-bar kpi ks-on_track"' in measured.text and '<span class="p50">' in measured.text

        reviewed = await client.post(
            f"/strategies/{strategy_id}/reviews",
            data={
                "csrf": CSRF.findall(measured.text)[0],
                "held_on": "",
                "notes": "Pooled masterclass agreed with the university.",
                "decisions": "Book the masterclass\nAsk the DIH for a second date",
                "phase": "choice",
            },
        )
        assert reviewed.status_code == 200 and "The review was recorded." in reviewed.text
        after = re.search(r'<p class="figure date[^"]*">([^<]+)</p>', reviewed.text)
        assert after and after.group(1) != before.group(1), "the next review date moved"
        assert "Phase: Strategic choice" in visible(reviewed.text)


async def test_a_review_dated_in_the_future_is_refused_beside_its_field(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    strategy_id, _kpi = await strategy_with_a_kpi(embedded, cluster_id)
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"], wanted="/?lang=de")
        page = await client.get(f"/strategies/{strategy_id}")
        refused = await client.post(
            f"/strategies/{strategy_id}/reviews",
            data={
                "csrf": CSRF.findall(page.text)[0],
                "held_on": (date.today() + timedelta(days=3)).isoformat(),
                "notes": "",
                "decisions": "",
                "phase": "",
            },
        )
        assert refused.status_code == 422 and 'aria-describedby="held_on-error"' in refused.text
        assert "Bitte korrigieren Sie die markierten Felder." in refused.text


async def test_a_viewer_reads_the_strategy_but_cannot_change_it(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    strategy_id, kpi_id = await strategy_with_a_kpi(embedded, cluster_id)
    async with browser(embedded) as client:
        home = await sign_in(client, SIGN_IN_PEOPLE["viewer"])
        page = await client.get(f"/strategies/{strategy_id}")
        assert page.status_code == 200 and "Record a review" not in page.text and "Add a measurement" not in page.text
        csrf = CSRF.findall(home.text)[0]
        for path, data in (
            (f"/strategies/{strategy_id}/reviews", {"csrf": csrf, "notes": "forged"}),
            (f"/strategies/{strategy_id}/kpis/{kpi_id}/measurements", {"csrf": csrf, "value": "99"}),
        ):
            refused = await client.post(path, data=data)
            assert refused.status_code == 403 and "Not allowed" in refused.text, path
        assert (await client.get("/clusters/another-cluster/strategy")).status_code == 404
