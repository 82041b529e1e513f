"""The console's partners pages in embedded mode, after the demo loop: the partners with their kinds, offers and
seats taken this period, by name; a manager registers the cluster's own partner with its first offer (after
fixing what the service refused) and imports partners from CSV (the report first, nothing written, then the
fixed file); viewers get no write controls and their forged forms are refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from tests.e2e.console_support import CSRF, assert_names_only, browser, demo_platform, sign_in, visible
from trellis.demo import PARTNERS, SIGN_IN_PEOPLE
from trellis.embedded import EmbeddedPlatform


@pytest.fixture(scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[EmbeddedPlatform, str]]:
    async with demo_platform(tmp_path_factory.mktemp("console-partners")) as found:
        yield found


async def test_partners_read_with_their_offers_and_seats_by_name(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["viewer"], wanted="/?lang=de")
        page = await client.get(f"/clusters/{cluster_id}/partners")
        text = visible(page.text)
        for partner in PARTNERS:
            assert partner["name"] in text
        assert "Hochschule" in text and "Masterclass" in text and "von 20 Plätzen im Zeitraum" in text
        assert "Partner erfassen" not in text, "a viewer gets no write controls"
        assert_names_only(page.text)


async def test_a_manager_registers_the_clusters_own_partner_after_fixing_the_offer(
    platform: tuple[EmbeddedPlatform, str],
) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"], wanted="/?lang=en")
        form = await client.get(f"/clusters/{cluster_id}/partners/new")
        fields = {
            "csrf": CSRF.findall(form.text)[0],
            "name": "Linz Lean Academy",
            "partner_type": "training_provider",
            "country": "AT",
            "website": "",
            "contact": "courses@lean-academy.example",
            "open": "yes",
            "title": "Lean and digital shop floor",
            "skills": ["digcomp:5.2", "digcomp:3.4"],
            "format": "workshop",
            "delivery": "on_site",
            "offer_countries": "",
            "seats": "12",
            "max_level": "5",
            "cost_eur": "",
        }
        refused = await client.post(f"/clusters/{cluster_id}/partners/new", data=fields)
        assert refused.status_code == 422 and 'aria-describedby="offer_countries-error"' in refused.text
        assert 'value="Linz Lean Academy"' in refused.text and 'value="digcomp:5.2" selected' in refused.text
        fields.update(csrf=CSRF.findall(refused.text)[0], offer_countries="AT")
        saved = await client.post(f"/clusters/{cluster_id}/partners/new", data=fields)
        assert saved.status_code == 200 and "The partner was saved." in saved.text
        section = saved.text.split(">Linz Lean Academy</h2>")[1].split("</section>")[0]
        assert "The cluster&#39;s own" in section or "The cluster's own" in section
        assert "0 of 12 seats taken" in section and "Workshop" in section


async def test_the_partner_csv_import_reports_rows_to_fix_before_anything_is_written(
    platform: tuple[EmbeddedPlatform, str],
) -> None:
    embedded, cluster_id = platform
    header = "partner_name,partner_type,partner_country,offer_title,skill_codes,format,delivery,countries,seats\n"
    wrong = header + (
        "Graz Data School,training_provider,AT,Data basics,digcomp:1.3,training,on_site,,8\n"
        "Graz Data School,training_provider,AT,Data advanced,digcomp:1.3,training,online,,many\n"
    )
    fixed = wrong.replace("on_site,,8", "on_site,AT,8").replace(",many", ",8")
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"], wanted="/?lang=en")
        page = await client.get(f"/clusters/{cluster_id}/partners/import")
        files = {"file": ("partners.csv", wrong.encode(), "text/csv")}
        report = await client.post(
            f"/clusters/{cluster_id}/partners/import", data={"csrf": CSRF.findall(page.text)[0]}, files=files
        )
        assert report.status_code == 422 and "Nothing was imported: 2 of 2 rows need fixing." in report.text
        rows = re.findall(r'<tr><td class="number"[^>]*>(\d+)</td><td[^>]*>([^<]+)</td>', report.text)
        assert rows == [("2", "countries"), ("3", "seats")], rows
        listed = await client.get(f"/clusters/{cluster_id}/partners")
        assert "Graz Data School" not in listed.text, "all or nothing"
        files = {"file": ("partners.csv", fixed.encode(), "text/csv")}
        done = await client.post(
            f"/clusters/{cluster_id}/partners/import", data={"csrf": CSRF.findall(report.text)[0]}, files=files
        )
        assert done.status_code == 200 and "1 partners with 2 offers imported." in done.text
        assert "Graz Data School" in (await client.get(f"/clusters/{cluster_id}/partners")).text


async def test_a_viewer_cannot_register_or_import_partners(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        home = await sign_in(client, SIGN_IN_PEOPLE["viewer"])
        csrf = CSRF.findall(home.text)[0]
        for path in (f"/clusters/{cluster_id}/partners/new", f"/clusters/{cluster_id}/partners/import"):
            assert (await client.get(path)).status_code == 403, path
        forged = await client.post(
            f"/clusters/{cluster_id}/partners/new",
            data={"csrf": csrf, "name": "Forged Partner", "partner_type": "university"},
        )
        assert forged.status_code == 403
        files = {"file": ("p.csv", b"partner_name,partner_type\nForged Two,university\n", "text/csv")}
        imported = await client.post(f"/clusters/{cluster_id}/partners/import", data={"csrf": csrf}, files=files)
        assert imported.status_code == 403
        assert "Forged" not in (await client.get(f"/clusters/{cluster_id}/partners")).text
        assert (await client.get("/clusters/another-cluster/partners")).status_code == 404


async def test_a_manager_edits_the_clusters_own_partner_and_its_offers(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"], wanted="/?lang=en")
        listed = await client.get(f"/clusters/{cluster_id}/partners")
        own = listed.text.split(">GreenShift Consulting</h2>")[1].split("</section>")[0]
        edit = re.search(r'href="(/clusters/[^"]+/partners/([^"/]+)/edit)">Edit the partner', own)
        assert edit, "the cluster's own partner (GreenShift Consulting in the demo) can be edited"
        partner_id = edit.group(2)
        form = await client.get(edit.group(1))
        assert form.status_code == 200 and 'value="GreenShift Consulting"' in form.text
        fields = dict(re.findall(r'name="(\w+)"[^>]*value="([^"]*)"', form.text))
        fields.update(name="GreenShift Consulting Austria", partner_type="green_tech_consultant", country="AT")
        saved = await client.post(edit.group(1), data=fields)
        assert "The partner was saved." in saved.text
        assert ">GreenShift Consulting Austria</h2>" in saved.text

        offer_edit = re.search(rf'href="(/clusters/[^"]+/partners/{partner_id}/offers/[^"/]+/edit)"', saved.text)
        assert offer_edit
        form = await client.get(offer_edit.group(1))
        fields = dict(re.findall(r'name="(\w+)"[^>]*value="([^"]*)"', form.text))
        skills = re.findall(
            r'<option value="([^"]+)" selected>', form.text.split('id="skills"')[1].split("</select>")[0]
        )
        fields.update(seats="0", format="workshop", delivery="online", offer_countries="")
        refused = await client.post(offer_edit.group(1), data={**fields, "skills": skills})
        assert refused.status_code == 422 and 'aria-describedby="seats-error"' in refused.text
        fields.update(csrf=CSRF.findall(refused.text)[0], seats="25")
        changed = await client.post(offer_edit.group(1), data={**fields, "skills": skills})
        assert changed.status_code == 200 and "of 25 seats taken" in changed.text

        added = await client.post(
            f"/clusters/{cluster_id}/partners/{partner_id}/offers/new",
            data={
                "csrf": CSRF.findall(changed.text)[0],
                "title": "Carbon accounting clinic",
                "skills": ["greenwork:carbon_accounting"] if "greenwork:carbon_accounting" in form.text else skills,
                "format": "coaching",
                "delivery": "online",
                "seats": "4",
            },
        )
        assert added.status_code == 200 and "Carbon accounting clinic" in added.text


async def test_a_shared_partner_cannot_be_edited_by_a_manager(platform: tuple[EmbeddedPlatform, str]) -> None:
    embedded, cluster_id = platform
    async with browser(embedded) as client:
        await sign_in(client, SIGN_IN_PEOPLE["manager"], wanted="/?lang=en")
        listed = await client.get(f"/clusters/{cluster_id}/partners")
        shared = listed.text.split(">TU Danube Continuing Education</h2>")[1].split("</section>")[0]
        assert "Edit the partner" not in shared, "shared partners are the platform admins'"
        refused = await client.get(f"/clusters/{cluster_id}/partners/not-ours/edit")
        assert refused.status_code == 404
