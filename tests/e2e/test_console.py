"""The manager console in embedded mode, as a person uses it: sign in through the local sign-in page, read the
demo cluster's home by names only; viewers get no write buttons, forged sessions and other clusters get nowhere,
and forms without their CSRF token are refused with a page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from tests.e2e.console_support import CSRF, assert_names_only, browser, demo_platform, sign_in
from trellis.demo import CLUSTER, MEMBERS, SIGN_IN_PEOPLE
from trellis.embedded import EmbeddedPlatform
from trellis_common.skill_labels import skill_label
from trellis_console.session import COOKIE, Session


@pytest.fixture(scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[EmbeddedPlatform, str]]:
    async with demo_platform(tmp_path_factory.mktemp("console")) as found:
        yield found


async def test_the_manager_signs_in_and_reads_the_cluster_home_by_names(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        home = await sign_in(client, SIGN_IN_PEOPLE["manager"])
        assert home.status_code == 200
        assert home.url.path == f"/clusters/{cluster_id}", "a person with one cluster lands on it"
        html = home.text
        assert CLUSTER["name"] in html
        assert f"{len(MEMBERS)} member organisations" in html
        assert skill_label("digcomp:5.2", "en") in html, "the top gap is named, not coded"
        assert "Create a calendar link" in html, "a manager sees the write button"
        assert f"Signed in as {SIGN_IN_PEOPLE['manager']}" in html
        assert_names_only(html)

        german = await client.get(f"/clusters/{cluster_id}", params={"lang": "de"})
        assert "Mitgliedsorganisationen" in german.text and skill_label("digcomp:5.2", "de") in german.text
        assert_names_only(german.text)

        calendar_form = dict(re.findall(r'name="(\w+)" value="([^"]*)"', german.text.split('/calendar"')[1]))
        issued = await client.post(f"/clusters/{cluster_id}/calendar", data=calendar_form)
        assert issued.status_code == 200 and "/reviews.ics?token=" in issued.text, issued.text
        assert_names_only(issued.text)


async def test_an_expired_token_ends_the_session_and_sign_in_returns_to_the_page_wanted(
    platform: tuple[EmbeddedPlatform, str],
) -> None:
    embedded, cluster_id = platform
    console = next(r.app for r in embedded.app.routes if isinstance(r, Mount) and r.path == "")
    assert isinstance(console, Starlette), "the console app is mounted at the root"
    expired = embedded.auth_keys.mint(
        subject="local:manager",
        roles=["cluster-manager"],
        clusters=[cluster_id],
        now=datetime.now(UTC) - timedelta(hours=2),
        ttl=timedelta(hours=1),
    )
    async with browser(embedded) as client:
        client.cookies.set(COOKIE, console.state.signer.dump(Session(csrf="c", token=expired, name="Eva Steiner")))
        wanted = f"/clusters/{cluster_id}?lang=fr"
        page = await client.get(wanted)
        assert page.url.path == "/signin" and page.url.params["next"] == wanted, "the services answered 401"
        assert "Votre session a expiré" in page.text
        page = await sign_in(client, SIGN_IN_PEOPLE["viewer"], wanted=wanted)
        assert page.url.path == f"/clusters/{cluster_id}"
        assert "organisations membres" in page.text, "the language chosen before sign-in is kept"


async def test_a_viewer_sees_no_write_buttons_and_cannot_write(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        home = await sign_in(client, SIGN_IN_PEOPLE["viewer"])
        assert home.url.path == f"/clusters/{cluster_id}" and CLUSTER["name"] in home.text
        assert "data-write" not in home.text and "calendar" not in home.text.lower()
        csrf = CSRF.search(home.text)
        assert csrf is not None
        refused = await client.post(f"/clusters/{cluster_id}/calendar", data={"csrf": csrf.group(1)})
        assert refused.status_code == 403 and "Not allowed" in refused.text
        assert refused.headers["content-type"].startswith("text/html")


async def test_a_tampered_session_cookie_signs_you_out(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"])
        cookie = client.cookies[COOKIE]
        client.cookies.clear()
        client.cookies.set(COOKIE, cookie[:-3] + ("AAA" if not cookie.endswith("AAA") else "BBB"))
        page = await client.get(f"/clusters/{cluster_id}")
        assert page.url.path == "/signin" and page.url.params["next"] == f"/clusters/{cluster_id}"
        assert CLUSTER["name"] not in page.text.split("<main")[1].split("Sign in as")[0]


async def test_a_manager_asking_for_another_clusters_home_gets_a_not_found_page(
    platform: tuple[EmbeddedPlatform, str],
) -> None:
    embedded, _cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"])
        other = await client.get("/clusters/another-cluster")
        assert other.status_code == 404 and "Not found" in other.text
        assert other.headers["content-type"].startswith("text/html")


async def test_a_post_without_its_csrf_token_is_refused_with_a_page(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"])
        for path in ("/signout", f"/clusters/{cluster_id}/calendar"):
            refused = await client.post(path, data={})
            assert refused.status_code == 403, path
            assert refused.headers["content-type"].startswith("text/html") and "Form expired" in refused.text
        still = await client.get(f"/clusters/{cluster_id}")
        assert still.url.path == f"/clusters/{cluster_id}", "the refused sign-out left the session alone"
        signed_out = await client.post("/signout", data={"csrf": CSRF.findall(still.text)[0]})
        assert signed_out.url.path == "/signin"
        assert (await client.get(f"/clusters/{cluster_id}")).url.path == "/signin"


async def test_a_platform_admin_switches_clusters_and_the_apis_page_lists_the_docs(
    platform: tuple[EmbeddedPlatform, str],
) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        home = await sign_in(client, SIGN_IN_PEOPLE["admin"])
        assert home.url.path == f"/clusters/{cluster_id}"
        assert '<label for="cluster">' in home.text and f'value="{cluster_id}" selected' in home.text
        switched = await client.get("/", params={"cluster": cluster_id})
        assert switched.url.path == f"/clusters/{cluster_id}"
        apis = await client.get("/apis")
        assert 'href="/surveys/docs"' in apis.text and 'href="/mail"' in apis.text
        assert (await client.get("/healthz")).json()["status"] == "ok"
        assert (await client.get("/surveys/healthz")).json()["service"] == "surveys", "services stay mounted"
