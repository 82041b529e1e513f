"""Walls, read from the console's route table so a new page is walled from the day it exists:

- a manager of one cluster cannot open any page of another: every route that names a cluster's thing, filled with
  a second cluster's real ids (its member, survey, strategy, partner, offer and match), answers the "not found"
  page to the first cluster's manager, and every form posted there is refused the same way, nothing written;
- a viewer walks every page of their own cluster and finds no control that writes (a write page itself is "not
  allowed"), and every form forged there is refused with that page, nothing written."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from tests.e2e.console_support import CSRF, browser, sign_in
from tests.e2e.test_console_accessibility import console_of, route_keys
from tests.support.polling import eventually
from trellis.demo import SIGN_IN_PEOPLE, run_demo
from trellis.embedded import DEMO_FILE, EmbeddedPlatform, build_embedded

PARAMETER = re.compile(r"\{(\w+)\}")
# Routes with a parameter that names no cluster's thing: the sign-in and probes take none, the static files are
# everyone's.
OPEN_TO_ALL = {"* /static"}


@dataclass(frozen=True)
class Other:
    """Each cluster's ids, by the name of the route parameter they fill: the second cluster's, and the demo's."""

    ids: dict[str, str]
    own: dict[str, str]


@pytest.fixture(scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[EmbeddedPlatform, Other]]:
    data: Path = tmp_path_factory.mktemp("console-walls")
    embedded = build_embedded(data)
    async with LifespanManager(embedded.app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=embedded.app)
        async with httpx.AsyncClient(
            headers=embedded.admin_headers(), transport=transport, base_url="http://trellis", timeout=60
        ) as admin:
            own = await run_demo(admin, record=data / DEMO_FILE)  # the demo manager's and viewer's cluster
            other = await run_demo(admin)  # the same loop again, as a second cluster they do not hold
            yield embedded, Other(await ids_of(admin, other.cluster_id), await ids_of(admin, own.cluster_id))


async def ids_of(admin: httpx.AsyncClient, cluster_id: str) -> dict[str, str]:
    """One real thing of each kind in the cluster, as the route parameters name them."""
    member = (await admin.get(f"/surveys/clusters/{cluster_id}/members")).json()["items"][0]
    partner = await admin.post(
        "/matchmaking/partners",
        params={"owner_cluster_id": cluster_id},
        json={
            "name": f"Own academy {cluster_id[:8]}",
            "partner_type": "training_provider",
            "country": "AT",
            "offers": [
                {
                    "title": "Own course",
                    "skill_codes": ["digcomp:5.2"],
                    "format": "training",
                    "delivery": "online",
                    "seats": 5,
                }
            ],
        },
    )
    assert partner.status_code == 201, partner.text
    campaign = await admin.post(
        f"/surveys/clusters/{cluster_id}/campaigns", json={"template_id": "digital-skills", "member_type": "sme"}
    )
    assert campaign.status_code == 201, campaign.text

    async def strategy() -> str | None:
        found = (await admin.get(f"/strategy/clusters/{cluster_id}/strategies")).json()["items"]
        return str(found[0]["id"]) if found else None

    match = (await admin.get("/matchmaking/matches", params={"cluster_id": cluster_id, "limit": 1})).json()
    assert match["items"], "the second cluster's loop matched its members"
    return {
        "cluster_id": cluster_id,
        "member_id": str(member["id"]),
        "campaign_id": str(campaign.json()["id"]),
        "strategy_id": await eventually(strategy, timeout=30, what="the second cluster's strategy"),
        "partner_id": str(partner.json()["id"]),
        "offer_id": str(partner.json()["offers"][0]["id"]),
        "match_id": str(match["items"][0]["id"]),
        "template_id": "digital-skills",
        "name": "answers_received",  # an email template
        "kpi_id": "no-such-kpi",
    }


def walled_routes(embedded: EmbeddedPlatform) -> list[tuple[str, str]]:
    """(method, path template) of every console route that takes a parameter."""
    found = []
    for key in sorted(route_keys(console_of(embedded).routes) - OPEN_TO_ALL):
        method, path = key.split(" ", 1)
        if PARAMETER.search(path):
            found.append((method, path))
    return found


async def test_a_manager_opens_no_page_of_another_cluster_and_posts_nothing_there(
    platform: tuple[EmbeddedPlatform, Other],
) -> None:
    embedded, other = platform
    routes = walled_routes(embedded)
    unknown = sorted({name for _, path in routes for name in PARAMETER.findall(path)} - set(other.ids))
    assert not unknown, f"route parameters this test cannot fill with the second cluster's ids: {unknown}"
    before = await embedded_counts(embedded, other.ids["cluster_id"])
    checked = []
    async with browser(embedded) as client:
        home = await sign_in(client, SIGN_IN_PEOPLE["manager"])
        csrf = CSRF.findall(home.text)[0]
        for method, template in routes:
            path = PARAMETER.sub(lambda m: other.ids[m.group(1)], template)
            if method == "GET":
                answer = await client.get(path)
            else:
                answer = await client.request(method, path, data={"csrf": csrf, "outcome": "declined", "name": "X"})
            assert answer.status_code == 404, f"{method} {template}: {answer.status_code} at {answer.url}"
            assert answer.headers["content-type"].startswith("text/html") and "Not found" in answer.text
            checked.append(f"{method} {template}")
    assert await embedded_counts(embedded, other.ids["cluster_id"]) == before, "a refused form wrote something"
    print(f"{len(checked)} routes walled:\n  " + "\n  ".join(checked))
    assert len(checked) >= 20, checked


async def embedded_counts(embedded: EmbeddedPlatform, cluster_id: str) -> dict[str, object]:
    """What the refused forms could have changed in the second cluster, read as its platform admin would."""
    transport = httpx.ASGITransport(app=embedded.app)
    async with httpx.AsyncClient(
        headers=embedded.admin_headers(), transport=transport, base_url="http://trellis"
    ) as admin:
        members = (await admin.get(f"/surveys/clusters/{cluster_id}/members")).json()
        matches = (await admin.get("/matchmaking/matches", params={"cluster_id": cluster_id})).json()
        strategies = (await admin.get(f"/strategy/clusters/{cluster_id}/strategies")).json()
        return {
            "members": sorted((m["id"], m["name"]) for m in members["items"]),
            "matches": sorted((m["id"], m["status"]) for m in matches["items"]),
            "reviews": [s.get("last_review") for s in strategies["items"]],
        }


WRITE_FORM = re.compile(r'<form[^>]*method="post"[^>]*action="([^"]*)"', re.IGNORECASE)


async def test_a_viewer_finds_no_write_control_on_any_page_and_a_forged_form_is_refused(
    platform: tuple[EmbeddedPlatform, Other],
) -> None:
    embedded, clusters = platform
    before = await embedded_counts(embedded, clusters.own["cluster_id"])
    read, refused = [], []
    async with browser(embedded) as client:
        home = await sign_in(client, SIGN_IN_PEOPLE["viewer"])
        csrf = CSRF.findall(home.text)[0]
        for method, template in walled_routes(embedded):
            path = PARAMETER.sub(lambda m: clusters.own[m.group(1)], template)
            if method == "GET":
                answer = await client.get(path)
                if answer.status_code == 403:  # a page that is a form (add, edit, import, launch)
                    assert "Not allowed" in answer.text, template
                    refused.append(f"GET {template}")
                    continue
                assert answer.status_code == 200, f"GET {template}: {answer.status_code}"
                if answer.headers["content-type"].startswith("text/html"):
                    writes = [a for a in WRITE_FORM.findall(answer.text) if not a.endswith("/signout")]
                    assert not writes, f"GET {template} shows a viewer forms that write: {writes}"
                read.append(f"GET {template}")
            else:
                answer = await client.request(method, path, data={"csrf": csrf, "outcome": "declined", "name": "X"})
                assert answer.status_code == 403 and "Not allowed" in answer.text, f"{method} {template}"
                refused.append(f"{method} {template}")
    assert await embedded_counts(embedded, clusters.own["cluster_id"]) == before, "a refused form wrote something"
    print(f"viewer: {len(read)} pages read without a write control, {len(refused)} refused")
    assert len(read) >= 15 and len(refused) >= 15, (read, refused)
