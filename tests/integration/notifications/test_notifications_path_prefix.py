"""Notifications behind a path prefix: mounted under /notifications (embedded mode) or behind a proxy that
strips the prefix. The unsubscribe page's button and the template listing's preview links stay under it."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from tests.integration.notifications.harness import Harness
from tests.support import auth
from tests.support.prefix import behind
from trellis_common.app import create_app
from trellis_notifications.composer import unsubscribe_url
from trellis_notifications.domain.preferences import Category
from trellis_notifications.service import DEFINITION


def prefixed_app(service: Harness, how: str) -> tuple[ASGIApp, str, str]:
    """(app, prefix of the request path, prefix the pages must use)."""
    app = create_app(DEFINITION, runtime=service.runtime, manage_runtime=False)
    if how == "mounted":
        return Starlette(routes=[Mount("/notifications", app)]), "/notifications", "/notifications"
    return behind("/edge/notifications", app), "", "/edge/notifications"


@pytest.mark.parametrize("how", ["mounted", "proxied"])
async def test_unsubscribe_and_previews_stay_under_the_prefix(service: Harness, how: str) -> None:
    app, request_prefix, page_prefix = prefixed_app(service, how)
    url = unsubscribe_url(service.settings, "contact-1", Category.MATCHES, service.clock.now())
    token = url.rsplit("/", 1)[1]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://trellis.test", headers=auth.admin()) as api:
        page = await api.get(f"{request_prefix}/unsubscribe/{token}")
        assert page.status_code == 200, page.text
        # A form without an action posts to the page's own URL, whatever prefix that URL has.
        [form] = re.findall(r"<form[^>]*>", page.text)
        assert "action=" not in form and "href=" not in page.text
        posted = await api.post(f"{request_prefix}/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert posted.status_code == 200 and "You are unsubscribed" in posted.text

        listed = (await api.get(f"{request_prefix}/templates")).json()
        for template in listed:
            preview = template["preview"]
            assert preview.startswith(f"{page_prefix}/templates/{template['name']}/preview?"), preview
            shown = await api.get(request_prefix + preview.removeprefix(page_prefix))
            assert shown.status_code == 200 and "text/html" in shown.headers["content-type"]
