"""The console's emails page in embedded mode, after the demo loop: the delivery log with kinds, addresses and
statuses by name; every template previewed in each language with a policy that allows the email's own styles
only; a platform admin looks an address up among the blocked ones and allows it again; a manager gets no such
tool and a forged allow is refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from tests.e2e.console_support import CSRF, assert_names_only, browser, demo_platform, sign_in, visible
from trellis.demo import MEMBERS, SIGN_IN_PEOPLE
from trellis.embedded import EmbeddedPlatform
from trellis_common.auth import Scope
from trellis_notifications.repositories.suppressions import suppress

BOUNCED = "no-such-mailbox@member.example"


@pytest.fixture(scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[EmbeddedPlatform, str]]:
    async with demo_platform(tmp_path_factory.mktemp("console-emails")) as found:
        runtime = found[0].runtimes["notifications"]
        async with runtime.unit_of_work() as uow:  # as a hard bounce would
            await suppress(uow.session, Scope.everything(), BOUNCED, "550 mailbox unavailable", None, datetime.now(UTC))
        yield found


async def test_the_delivery_log_reads_by_kind_and_status(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"])
        page = await client.get(f"/clusters/{cluster_id}/emails")
        text = visible(page.text)
        assert "Matches found" in text and "Sent" in text
        addresses = {c["email"] for m in MEMBERS for c in m["contacts"]}
        assert any(address in text for address in addresses)
        assert 'name="address"' not in page.text, "looking up blocked addresses is for platform admins"
        assert_names_only(page.text)
        failed = await client.get(f"/clusters/{cluster_id}/emails", params={"status": "failed"})
        assert "No email with this status." in failed.text


async def test_every_template_previews_in_each_language(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["viewer"])
        page = await client.get(f"/clusters/{cluster_id}/emails")
        links = re.findall(r'href="(/clusters/[^"]+/emails/templates/[^"?]+\?in=(?:en|de|fr))"', page.text)
        assert len(links) == 3 * 7, links  # seven templates, three languages
        german = await client.get(next(link for link in links if "/matches?" in link and link.endswith("de")))
        assert german.status_code == 200 and 'lang="de"' in german.text
        assert german.headers["content-security-policy"].startswith("default-src 'none'; style-src 'unsafe-inline'")
        assert "<script" not in german.text


async def test_a_platform_admin_allows_a_blocked_address_again(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["admin"])
        looked = await client.get(f"/clusters/{cluster_id}/emails", params={"address": BOUNCED})
        assert f"{BOUNCED} gets no email since" in looked.text and "550 mailbox unavailable" in looked.text
        allowed = await client.post(
            f"/clusters/{cluster_id}/emails/allow", data={"csrf": CSRF.findall(looked.text)[0], "address": BOUNCED}
        )
        assert f"{BOUNCED} may receive email again." in allowed.text
        again = await client.get(f"/clusters/{cluster_id}/emails", params={"address": BOUNCED})
        assert f"{BOUNCED} is not blocked." in again.text
        odd = await client.get(f"/clusters/{cluster_id}/emails", params={"address": "not an address"})
        assert "is not an email address" in odd.text


async def test_a_manager_cannot_allow_an_address(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        home = await sign_in(client, SIGN_IN_PEOPLE["manager"])
        refused = await client.post(
            f"/clusters/{cluster_id}/emails/allow", data={"csrf": CSRF.findall(home.text)[0], "address": BOUNCED}
        )
        assert refused.status_code == 403 and "Not allowed" in refused.text
        assert (await client.get("/clusters/another-cluster/emails")).status_code == 404
