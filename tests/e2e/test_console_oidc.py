"""Sign-in at the organisation's OpenID Connect provider, a real provider process (tests/support/oidc.py): the
console as its own process sends people through the authorization code flow with PKCE and calls the surveys
service (a process on PostgreSQL and Kafka that trusts only that provider) with the person's own access token.
Stale, foreign and cancelled sign-ins get clear pages; sign-out ends the provider's session too; tokens about
to expire are refreshed."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from playwright.async_api import Browser

from tests.conftest import databases
from tests.support.distributed import service_env
from tests.support.oidc import API_AUDIENCE, CONSOLE_CLIENT, OidcServer, oidc_server_libs
from tests.support.processes import ServiceProcess, free_port
from trellis_common.topics import create_topics
from trellis_console import oidc as console_oidc
from trellis_console.app import create_console
from trellis_console.session import COOKIE, SessionSigner
from trellis_console.settings import ConsoleSettings

SECRET = "a-test-session-secret-of-32-chars-or-more"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@dataclass(frozen=True)
class Platform:
    provider: OidcServer
    surveys: str
    console: str
    cluster_id: str
    other_cluster_id: str


@pytest.fixture(scope="module")
async def platform(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, pg_admin_url: str
) -> AsyncIterator[Platform]:
    logs = tmp_path_factory.mktemp("console-oidc")
    provider = OidcServer(oidc_server_libs(), logs / "oidc.log")
    prefix = f"t{free_port()}oidc."
    await create_topics(kafka_bootstrap, prefix, partitions=1)
    processes: list[ServiceProcess] = []
    try:
        await provider.wait_ready()
        async with databases(pg_admin_url) as new_database:
            env = service_env("surveys", await new_database("surveys"), kafka_bootstrap, prefix, None)
            surveys = ServiceProcess("surveys", {**env, **provider.service_env()}, logs)
            processes.append(surveys.start())
            console = ServiceProcess("console", console_env(provider, surveys.url), logs)
            processes.append(console.start(TRELLIS_CONSOLE_HTTP_PORT=str(console.port)))
            await surveys.wait_ready()
            await console.wait_ready()
            admin = {"Authorization": f"Bearer {await provider.admin_token()}"}
            async with httpx.AsyncClient(base_url=surveys.url, headers=admin, timeout=30) as client:
                created = await client.post("/clusters", json={"name": "Nordic Bioeconomy Cluster"})
                assert created.status_code == 201, created.text
                other = await client.post("/clusters", json={"name": "Alpine Mechatronics"})
                assert other.status_code == 201, other.text
            yield Platform(provider, surveys.url, console.url, created.json()["id"], other.json()["id"])
    finally:
        for proc in processes:
            proc.stop()
        provider.stop()


def console_env(provider: OidcServer, surveys_url: str) -> dict[str, str]:
    closed = f"http://127.0.0.1:{free_port()}"  # the other services are not needed by these pages' main parts
    return {
        "TRELLIS_CONSOLE_ENVIRONMENT": "test",
        "TRELLIS_CONSOLE_SESSION_SECRET": SECRET,
        "TRELLIS_CONSOLE_COOKIE_SECURE": "false",
        "TRELLIS_CONSOLE_HTTP_HOST": "127.0.0.1",
        "TRELLIS_CONSOLE_OIDC_ISSUER": provider.issuer,
        "TRELLIS_CONSOLE_OIDC_CLIENT_ID": CONSOLE_CLIENT,
        "TRELLIS_CONSOLE_SURVEYS_URL": surveys_url,
        **{f"TRELLIS_CONSOLE_{name.upper()}_URL": closed for name in ("skills", "matchmaking", "strategy")},
        "TRELLIS_CONSOLE_NOTIFICATIONS_URL": closed,
    }


def manager(cluster_id: str, name: str = "Eva Steiner") -> dict[str, Any]:
    return {"name": name, "roles": ["cluster-manager"], "clusters": [cluster_id]}


def browser_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(follow_redirects=True, timeout=30)


async def to_provider(client: httpx.AsyncClient, console: str, wanted: str) -> httpx.Response:
    """Open ``wanted``, land on the sign-in page, press "Sign in with your organisation's account": the
    provider's login form."""
    page = await client.get(f"{console}{wanted}")
    assert urlsplit(str(page.url)).path == "/signin", page.url
    link = re.search(r'href="([^"]*/auth/start[^"]*)"', page.text)
    assert link, page.text
    return await client.get(urljoin(str(page.url), html.unescape(link.group(1))))


async def log_in(client: httpx.AsyncClient, form: httpx.Response, who: str, claims: dict[str, Any]) -> httpx.Response:
    """Fill in the provider's login form, as the person would; the browser follows the redirects home."""
    return await client.post(str(form.url), data={"username": who, "claims": json.dumps(claims)})


async def sign_in(
    client: httpx.AsyncClient, console: str, wanted: str, who: str, claims: dict[str, Any]
) -> httpx.Response:
    return await log_in(client, await to_provider(client, console, wanted), who, claims)


async def test_a_manager_signs_in_at_the_provider_and_lands_on_the_page_wanted(platform: Platform) -> None:
    wanted = f"/clusters/{platform.cluster_id}"
    async with browser_client() as client:
        form = await to_provider(client, platform.console, wanted)
        asked = parse_qs(urlsplit(str(form.url)).query)
        assert str(form.url).startswith(f"{platform.provider.issuer}/authorize")
        assert asked["client_id"] == [CONSOLE_CLIENT] and asked["response_type"] == ["code"]
        assert asked["code_challenge_method"] == ["S256"] and len(asked["code_challenge"][0]) == 43
        assert "code_verifier" not in asked and asked["state"][0] and asked["nonce"][0]
        assert asked["redirect_uri"] == [f"{platform.console}/auth/callback"]

        home = await log_in(client, form, "eva", manager(platform.cluster_id))
        assert home.status_code == 200, home.text
        assert urlsplit(str(home.url)).path == wanted
        assert "Nordic Bioeconomy Cluster" in home.text  # read from surveys with the provider's token
        assert "Signed in as Eva Steiner" in home.text
        # The cookie carries the provider's access token (the services verified it), never the demo issuer's.
        session = SessionSigner(SECRET, 3600).load(client.cookies.get(COOKIE))
        assert session is not None and session.token is not None
        claims = jwt.decode(session.token, options={"verify_signature": False})
        assert claims["iss"] == platform.provider.issuer and API_AUDIENCE in claims["aud"]


async def test_another_clusters_page_is_not_found_after_signing_in_at_the_provider(platform: Platform) -> None:
    async with browser_client() as client:
        await sign_in(client, platform.console, f"/clusters/{platform.cluster_id}", "eva", manager(platform.cluster_id))
        other = await client.get(f"{platform.console}/clusters/{platform.other_cluster_id}")
        assert other.status_code == 404
        assert "Alpine Mechatronics" not in other.text


async def test_a_replayed_or_foreign_callback_gets_a_clear_page_and_no_session(platform: Platform) -> None:
    async with browser_client() as client:
        home = await sign_in(client, platform.console, "/", "eva", manager(platform.cluster_id))
        callback = next(str(r.url) for r in home.history if urlsplit(str(r.url)).path == "/auth/callback")
        again = await client.get(callback)  # the same code and state a second time
        assert again.status_code == 400 and "Sign-in expired" in again.text

    async with browser_client() as stranger:  # someone else's browser, holding a leaked callback URL
        leaked = await stranger.get(callback)
        assert leaked.status_code == 400 and "Sign-in expired" in leaked.text
        assert "Signed in" not in leaked.text

    async with browser_client() as client:
        form = await to_provider(client, platform.console, "/")
        client.follow_redirects = False
        back = await log_in(client, form, "eva", manager(platform.cluster_id))
        assert back.status_code == 302
        location = back.headers["location"]
        forged = re.sub(r"state=[^&]+", "state=forged", location)
        refused = await client.get(forged)
        assert refused.status_code == 400 and "Sign-in expired" in refused.text
        # The genuine callback still works: a forged one does not spend the sign-in.
        honest = await client.get(location)
        assert honest.status_code == 303 and COOKIE in honest.headers.get("set-cookie", "")


async def test_a_sign_in_cancelled_at_the_provider_says_so(platform: Platform) -> None:
    async with browser_client() as client:
        form = await to_provider(client, platform.console, "/")
        state = parse_qs(urlsplit(str(form.url)).query)["state"][0]
        cancelled = await client.get(
            f"{platform.console}/auth/callback", params={"error": "access_denied", "state": state}
        )
        assert cancelled.status_code == 400
        assert "Sign-in cancelled" in cancelled.text and "Sign in again" in cancelled.text


async def test_a_viewer_signing_in_at_the_provider_gets_no_write_buttons(platform: Platform) -> None:
    viewer = {"name": "Tobias Gruber", "roles": ["cluster-viewer"], "clusters": [platform.cluster_id]}
    async with browser_client() as client:
        home = await sign_in(client, platform.console, "/", "tobias", viewer)
        assert home.status_code == 200 and "Nordic Bioeconomy Cluster" in home.text
        assert "/calendar" not in home.text  # the one write form of the home page
        csrf = CSRF.search(home.text)
        assert csrf
        forged = await client.post(
            f"{platform.console}/clusters/{platform.cluster_id}/calendar", data={"csrf": csrf.group(1)}
        )
        assert forged.status_code == 403 and "Not allowed" in forged.text


async def test_signing_out_ends_the_session_at_the_provider_too(platform: Platform) -> None:
    async with browser_client() as client:
        home = await sign_in(client, platform.console, "/", "eva", manager(platform.cluster_id))
        csrf = CSRF.search(home.text)
        assert csrf
        out = await client.post(f"{platform.console}/signout", data={"csrf": csrf.group(1)})
        visited = [str(r.url) for r in out.history] + [str(out.url)]
        assert any(url.startswith(f"{platform.provider.issuer}/endsession") for url in visited), visited
        assert str(out.url).startswith(f"{platform.console}/signin") and "Sign in with your organisation" in out.text
        after = await client.get(f"{platform.console}/clusters/{platform.cluster_id}")
        assert urlsplit(str(after.url)).path == "/signin"


async def test_an_access_token_about_to_expire_is_refreshed_and_the_page_still_shows(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console in-process (so the test can make every token look old), against the same provider and
    surveys processes: each page first trades the refresh token for a new access token."""
    app = in_process_console(platform)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://console", follow_redirects=False, timeout=30
        ) as console,
    ):
        async with browser_client() as provider:
            start = await console.get("/auth/start", params={"next": f"/clusters/{platform.cluster_id}"})
            assert start.status_code == 302
            form = await provider.get(start.headers["location"])
            provider.follow_redirects = False
            back = await log_in(provider, form, "eva", manager(platform.cluster_id))
        landed = await console.get(back.headers["location"])
        assert landed.status_code == 303, landed.text
        first = token_in(console)
        monkeypatch.setattr(console_oidc, "REFRESH_BEFORE_S", 10 * 3600)  # every token now "ends soon"
        home = await console.get(f"/clusters/{platform.cluster_id}")
        assert home.status_code == 200 and "Nordic Bioeconomy Cluster" in home.text
        second = token_in(console)
        assert second != first
        assert jwt.decode(second, options={"verify_signature": False})["name"] == "Eva Steiner"


async def test_a_provider_that_does_not_answer_gets_a_clear_page(platform: Platform) -> None:
    down = f"http://127.0.0.1:{free_port()}/trellis"
    app = in_process_console(platform, issuer=down)
    transport = httpx.ASGITransport(app=app)
    async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url="http://console") as console:
        page = await console.get("/auth/start")
        assert page.status_code == 503
        assert "Sign-in did not work" in page.text and "Traceback" not in page.text


async def test_the_sign_in_in_chromium(platform: Platform, browser: Browser, tmp_path: Path) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{platform.console}/clusters/{platform.cluster_id}")
    await page.get_by_role("link", name="Sign in with your organisation's account").click()
    await page.locator("input[name=username]").fill("eva")
    await page.locator("textarea[name=claims]").fill(json.dumps(manager(platform.cluster_id)))
    await page.locator("input[type=submit]").click()
    await page.wait_for_url(f"{platform.console}/clusters/{platform.cluster_id}")
    assert await page.get_by_role("heading", name="Nordic Bioeconomy Cluster").count() == 1
    await page.screenshot(path=str(tmp_path / "home-after-oidc.png"), full_page=True)
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(re.compile(rf"{re.escape(platform.console)}/signin"))
    await context.close()


def in_process_console(platform: Platform, issuer: str | None = None) -> Any:
    settings = ConsoleSettings(
        environment="test",
        session_secret=SECRET,
        cookie_secure=False,
        oidc_issuer=issuer or platform.provider.issuer,
        oidc_client_id=CONSOLE_CLIENT,
        surveys_url=platform.surveys,
        public_url="http://console",
    )
    return create_console(settings)


def token_in(client: httpx.AsyncClient) -> str:
    session = SessionSigner(SECRET, 3600).load(client.cookies.get(COOKIE))
    assert session is not None and session.token is not None
    return session.token
