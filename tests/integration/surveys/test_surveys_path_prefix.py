"""The answering form behind a path prefix: mounted under /surveys (embedded mode) or served by a proxy that
strips a prefix (the ASGI root path). Every form action and link the pages carry must keep the prefix, or the
member's Submit lands outside the service."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from tests.integration.surveys.conftest import BASE_URL, Surveys, cluster_with_members
from tests.integration.surveys.test_surveys_campaigns import SKILL, csrf, launch
from tests.support.prefix import behind
from trellis_common.app import create_app
from trellis_surveys.service import DEFINITION

ANSWERS = {"q.employees": "40", "q.hiring_difficulty": "yes", "q.open_it_positions": "3", **SKILL}


def targets(html: str) -> list[str]:
    """Every URL a page sends the browser to: form actions and links."""
    return re.findall(r'\b(?:action|href)="([^"]*)"', html)


def outside(html: str, prefix: str) -> list[str]:
    """Targets that would leave the prefix: anything but a same-page anchor or a path under it."""
    return [t for t in targets(html) if not t.startswith("#") and not t.startswith(f"{prefix}/")]


@asynccontextmanager
async def client(surveys: Surveys, mount: str = "", root_path: str = "") -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(DEFINITION, runtime=surveys.runtime, manage_runtime=False)
    host: ASGIApp = Starlette(routes=[Mount(mount, app)]) if mount else app
    transport = httpx.ASGITransport(app=behind(root_path, host) if root_path else host)
    async with httpx.AsyncClient(transport=transport, base_url="http://surveys.test") as http:
        yield http


async def invitation_token(surveys: Surveys) -> str:
    cluster_id, _ = await cluster_with_members(surveys.client, 1)
    await launch(surveys, cluster_id)
    [invitation] = await surveys.invitations()
    assert invitation.link.startswith(f"{BASE_URL}/answer/")
    return invitation.link.rsplit("/", 1)[1]


async def save_and_submit(http: httpx.AsyncClient, path: str, prefix: str) -> None:
    """Follow the pages as a browser would: each POST goes where the page's form action says."""
    page = await http.get(path)
    assert page.status_code == 200, page.text
    assert targets(page.text) == [path] and outside(page.text, prefix) == []
    saved = await http.post(path, data={"csrf": csrf(page.text), "action": "save", "q.employees": "40"})
    assert saved.status_code == 200 and "Your answers are saved" in saved.text
    assert targets(saved.text) == [path]
    bad = await http.post(path, data={"csrf": csrf(saved.text), "action": "submit", "q.employees": "forty"})
    assert bad.status_code == 422 and outside(bad.text, prefix) == []  # error summary: same-page anchors only
    assert targets(bad.text)[-1] == path
    done = await http.post(path, data={"csrf": csrf(bad.text), "action": "submit", **ANSWERS})
    assert done.status_code == 200 and "Thank you" in done.text and outside(done.text, prefix) == []


async def test_the_form_posts_under_the_mount_path(surveys: Surveys) -> None:
    token = await invitation_token(surveys)
    async with client(surveys, mount="/surveys") as http:
        await save_and_submit(http, f"/surveys/answer/{token}", "/surveys")
    [response] = await surveys.responses()
    assert response.answers == {"employees": 40, "hiring_difficulty": "yes", "open_it_positions": 3}


async def test_the_form_posts_under_the_prefix_a_proxy_stripped(surveys: Surveys) -> None:
    token = await invitation_token(surveys)
    # The proxy serves https://host/edge/surveys/... and forwards /answer/...: uvicorn --root-path /edge/surveys.
    async with client(surveys, root_path="/edge/surveys") as http:
        page = await http.get(f"/answer/{token}")
        assert page.status_code == 200 and targets(page.text) == [f"/edge/surveys/answer/{token}"]
    # Mounted under a host that is itself behind a prefix: both parts, in order.
    async with client(surveys, mount="/surveys", root_path="/edge") as http:
        page = await http.get(f"/surveys/answer/{token}")
        assert page.status_code == 200 and targets(page.text) == [f"/edge/surveys/answer/{token}"]


async def test_pages_without_a_prefix_keep_root_paths(surveys: Surveys) -> None:
    token = await invitation_token(surveys)
    async with client(surveys) as http:
        page = await http.get(f"/answer/{token}")
    assert page.status_code == 200 and targets(page.text) == [f"/answer/{token}"]
