"""The console's skills page in embedded mode, after the demo loop: the heatmap with members' and skills' names
in the page's language, and the cluster profile with each skill's imbalance type, the numbers behind it and
the proposed actions; a framework filter; another cluster is not found."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.console_support import assert_names_only, browser, demo_platform, sign_in, visible
from trellis.demo import RESPONSES, SIGN_IN_PEOPLE
from trellis.embedded import EmbeddedPlatform
from trellis_common.skill_labels import skill_label


@pytest.fixture(scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[EmbeddedPlatform, str]]:
    async with demo_platform(tmp_path_factory.mktemp("console-skills")) as found:
        yield found


async def test_the_heatmap_and_the_profile_read_by_name(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["viewer"], wanted="/?lang=de")
        page = await client.get(f"/clusters/{cluster_id}/skills")
        text = visible(page.text)
        assert skill_label("digcomp:5.2", "de") in text and "Mangel" in text and "Weiterqualifizierung" in text
        assert "Mitglieder haben geantwortet" in text
        assert_names_only(page.text)
        heatmap = await client.get(f"/clusters/{cluster_id}/skills/heatmap.svg")
        assert heatmap.headers["content-type"].startswith("image/svg+xml")
        for member in RESPONSES:
            assert member in heatmap.text, "members by name on one axis"
        assert skill_label("digcomp:5.2", "de") in heatmap.text, "skills by name, in the page's language"
        digital = await client.get(f"/clusters/{cluster_id}/skills", params={"framework": "greencomp"})
        assert skill_label("digcomp:5.2", "de") not in visible(digital.text)
        assert (await client.get("/clusters/another-cluster/skills")).status_code == 404
