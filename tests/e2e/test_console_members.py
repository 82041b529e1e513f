"""The console's members pages in embedded mode, after the demo loop: the list searched and filtered by names,
a member's page (contacts, gaps with their trend, matches, emails), adding and editing a member with the
service's objections shown beside the fields, and the CSV import whose report is a table and writes nothing
until the whole file is right. Viewers get no write controls and their forged forms are refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.e2e.console_support import CSRF, assert_names_only, browser, demo_platform, sign_in, visible
from trellis.demo import MEMBERS, SIGN_IN_PEOPLE
from trellis.embedded import EmbeddedPlatform

MEMBER_LINK = re.compile(r'href="/members/([^"/]+)">([^<]+)</a>')


@pytest.fixture(scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[EmbeddedPlatform, str]]:
    async with demo_platform(tmp_path_factory.mktemp("console-members")) as found:
        yield found


async def member_total(embedded: EmbeddedPlatform, cluster_id: str) -> int:
    transport = httpx.ASGITransport(app=embedded.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=embedded.admin_headers()) as api:
        found = await api.get(f"/surveys/clusters/{cluster_id}/members", params={"limit": 1})
    return int(found.json()["total"])


def member_ids(html: str) -> dict[str, str]:
    return {name: member_id for member_id, name in MEMBER_LINK.findall(html)}


async def test_the_member_list_reads_by_names_and_filters(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["viewer"])
        listed = await client.get(f"/clusters/{cluster_id}/members")
        assert listed.status_code == 200
        text = visible(listed.text)
        for member in MEMBERS:
            assert member["name"] in text
        assert "Manufacturing (C25)" in text and "Austria" in text and "Small (10–49 staff)" in text
        assert "Add a member" not in text and "Import from CSV" not in text, "a viewer gets no write controls"
        assert_names_only(listed.text)

        found = await client.get(f"/clusters/{cluster_id}/members", params={"q": "sensor"})
        assert list(member_ids(found.text)) == ["Vienna Sensor Labs"]
        cluster_office = await client.get(
            f"/clusters/{cluster_id}/members", params={"member_type": "cluster_organisation", "page": "x"}
        )
        assert list(member_ids(cluster_office.text)) == ["Cluster management office"]
        german = await client.get(f"/clusters/{cluster_id}/members", params={"lang": "de", "q": "huber"})
        assert "Verarbeitendes Gewerbe (C25)" in german.text and "Österreich" in german.text
        none = await client.get(f"/clusters/{cluster_id}/members", params={"lang": "en", "q": "no such member"})
        assert "No member matches these filters." in none.text


async def test_a_members_page_shows_contacts_gaps_matches_and_emails_by_name(
    platform: tuple[EmbeddedPlatform, str],
) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"])
        ids = member_ids((await client.get(f"/clusters/{cluster_id}/members")).text)
        page = await client.get(f"/members/{ids['Präzisionsteile Huber GmbH']}")
        assert page.status_code == 200
        text = visible(page.text)
        assert "Lukas Huber" in text and "lukas@huber.example" in text and "German" in text
        assert "German, English" in text, "working languages by name"
        gaps = page.text.split('id="gaps-h"')[1].split("</section>")[0]
        assert '<td class="title">' in gaps and "Levels short" in gaps, "the member answered in the demo: its gaps"
        assert any(trend in gaps for trend in ("New", "Widening", "Closing", "Unchanged"))
        matches = page.text.split('id="matches-h"')[1].split("</section>")[0]
        assert "Proposed" in matches and '<td class="title">' in matches, "the demo proposed partners to it"
        emails = page.text.split('id="emails-h"')[1].split("</section>")[0]
        assert "Sent" in emails, "the demo emailed the member (it waits for the emails to go out)"
        assert "Edit" in text, "a manager may edit"
        assert_names_only(page.text)

        other = await client.get("/members/not-a-member-of-this-cluster")
        assert other.status_code == 404 and "Not found" in other.text


async def test_a_manager_adds_a_member_after_fixing_what_the_service_refused(
    platform: tuple[EmbeddedPlatform, str],
) -> None:
    embedded, cluster_id = platform
    before = await member_total(embedded, cluster_id)
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"])
        form = await client.get(f"/clusters/{cluster_id}/members/new")
        assert form.status_code == 200 and "Add a member to" in form.text
        fields = {
            "csrf": CSRF.findall(form.text)[0],
            "name": "Graz Hydrogen Works",
            "member_type": "sme",
            "size_class": "medium",
            "country": "AT",
            "sector": "C28",
            "languages": "de en",
            "contact_name_0": "Anna Gruber",
            "contact_email_0": "not-an-address",
            "contact_language_0": "de",
            "contact_role_0": "member_contact",
            "contact_name_1": "",
            "contact_email_1": "",
        }
        refused = await client.post(f"/clusters/{cluster_id}/members/new", data=fields)
        assert refused.status_code == 422
        assert "Please correct the marked fields." in refused.text
        assert 'id="contact_email_0" name="contact_email_0" type="email" maxlength="320" value="not-an-address"' in (
            refused.text
        )
        assert 'aria-describedby="contact_email_0-error"' in refused.text, "the error sits beside its field"
        assert await member_total(embedded, cluster_id) == before, "nothing was written"

        fields.update(csrf=CSRF.findall(refused.text)[0], contact_email_0="anna@hydrogen.example")
        saved = await client.post(f"/clusters/{cluster_id}/members/new", data=fields)
        assert saved.status_code == 200 and saved.url.path.startswith("/members/")
        assert "Saved." in saved.text and "Graz Hydrogen Works" in saved.text and "Anna Gruber" in saved.text
        assert await member_total(embedded, cluster_id) == before + 1

        edit = await client.get(f"{saved.url.path}/edit")
        assert 'value="Anna Gruber"' in edit.text and 'value="C28"' in edit.text
        changed = dict(re.findall(r'name="(\w+)"[^>]*value="([^"]*)"', edit.text))
        changed.update(region="Styria", member_type="sme", country="AT", contact_role_0="member_contact")
        changed["contact_language_0"] = "de"
        again = await client.post(f"{saved.url.path}/edit", data=changed)
        assert again.status_code == 200 and "Styria" in again.text and "Anna Gruber" in again.text


async def test_the_csv_import_reports_rows_to_fix_as_a_table_and_writes_nothing_until_the_file_is_right(
    platform: tuple[EmbeddedPlatform, str],
) -> None:
    embedded, cluster_id = platform
    before = await member_total(embedded, cluster_id)
    wrong = (
        "name,member_type,country,contact_name,contact_email\n"
        "Linz Robotics,sme,AT,Pia Lang,pia@linz-robotics.example\n"
        "Salzburg Textiles,factory,AT,Emil Bauer,emil@textiles.example\n"
        "Tyrol Timber,sme,AT,Rosa Klein,no-address\n"
    )
    fixed = wrong.replace(",factory,", ",sme,").replace("no-address", "rosa@timber.example")
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"])
        page = await client.get(f"/clusters/{cluster_id}/members/import")
        csrf = CSRF.findall(page.text)[0]
        files = {"file": ("members.csv", wrong.encode(), "text/csv")}
        report = await client.post(f"/clusters/{cluster_id}/members/import", data={"csrf": csrf}, files=files)
        assert report.status_code == 422
        assert "Nothing was imported: 2 of 3 rows need fixing." in report.text
        cells = r'<tr><td class="number"[^>]*>(\d+)</td><td[^>]*>([^<]+)</td><td[^>]*>([^<]+)</td>'
        rows = re.findall(cells, report.text)
        assert [(row, column) for row, column, _ in rows] == [("3", "member_type"), ("4", "contact_email")], rows
        assert rows[1][2] == "Not a valid email address.", "the reason in the page's language"
        assert rows[0][2].startswith("Use one of: ")
        assert await member_total(embedded, cluster_id) == before, "all or nothing"

        files = {"file": ("members.csv", fixed.encode(), "text/csv")}
        csrf = CSRF.findall(report.text)[0]
        done = await client.post(f"/clusters/{cluster_id}/members/import", data={"csrf": csrf}, files=files)
        assert done.status_code == 200 and "3 members imported." in done.text
        assert await member_total(embedded, cluster_id) == before + 3

        unreadable = {"file": ("members.csv", b"nom,pays\nX,AT\n", "text/csv")}
        csrf = CSRF.findall(done.text)[0]
        problem = await client.post(f"/clusters/{cluster_id}/members/import", data={"csrf": csrf}, files=unreadable)
        assert problem.status_code == 422 and "The file cannot be read:" in problem.text


async def test_a_viewer_cannot_add_import_or_edit_even_with_a_forged_form(
    platform: tuple[EmbeddedPlatform, str],
) -> None:
    embedded, cluster_id = platform
    before = await member_total(embedded, cluster_id)
    async with browser(embedded) as client:
        home = await sign_in(client, SIGN_IN_PEOPLE["viewer"])
        csrf = CSRF.findall(home.text)[0]
        ids = member_ids((await client.get(f"/clusters/{cluster_id}/members")).text)
        member = ids["Alpine Composites"]
        assert "Edit" not in visible((await client.get(f"/members/{member}")).text)
        for path in (
            f"/clusters/{cluster_id}/members/new",
            f"/clusters/{cluster_id}/members/import",
            f"/members/{member}/edit",
        ):
            refused = await client.get(path)
            assert refused.status_code == 403 and "Not allowed" in refused.text, path
        forged = await client.post(
            f"/clusters/{cluster_id}/members/new", data={"csrf": csrf, "name": "Forged GmbH", "contact_name_0": ""}
        )
        assert forged.status_code == 403
        renamed = await client.post(f"/members/{member}/edit", data={"csrf": csrf, "name": "Renamed"})
        assert renamed.status_code == 403
        files = {"file": ("m.csv", b"name\nForged Two\n", "text/csv")}
        imported = await client.post(f"/clusters/{cluster_id}/members/import", data={"csrf": csrf}, files=files)
        assert imported.status_code == 403
    assert await member_total(embedded, cluster_id) == before


async def test_another_clusters_members_are_not_found(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, _cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"])
        for path in ("/clusters/another-cluster/members", "/clusters/another-cluster/members/new"):
            page = await client.get(path)
            assert page.status_code == 404 and "Not found" in page.text, path
