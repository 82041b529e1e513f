"""GDPR erasure and right of access in surveys: erasing a contact (or a member) leaves no name or address in
surveys' tables, outbox included; the member's new state is published; campaign counts and responses stay."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.integration.surveys.conftest import BASE_URL, Surveys, ok
from tests.support import auth
from trellis_common.db import messaging_metadata
from trellis_common.events import InvitationRequested, MemberChanged
from trellis_common.privacy import row_text
from trellis_surveys.models import invitations, metadata

ANNA = {"name": "Anna Quellmalz", "email": "Anna.Quellmalz@member.example", "language": "de"}
BEN = {"name": "Ben Okafor", "email": "ben.okafor@member.example", "language": "en"}


async def member_with_campaign(surveys: Surveys) -> tuple[str, str, dict[str, str]]:
    """A cluster, a member with Anna and Ben, and a launched campaign; returns cluster, member and contact ids."""
    client = surveys.client
    cluster = await ok(await client.post("/clusters", json={"name": "Erasure cluster", "country": "AT"}), 201)
    member = await ok(
        await client.post(
            f"/clusters/{cluster['id']}/members", json={"name": "Quellmalz GmbH", "contacts": [ANNA, BEN]}
        ),
        201,
    )
    await ok(await client.post(f"/clusters/{cluster['id']}/campaigns", json={"template_id": "digital-skills"}), 201)
    ids = {c["name"]: c["id"] for c in member["contacts"]}
    return cluster["id"], member["id"], ids


async def rows_naming(surveys: Surveys, *needles: str) -> list[str]:
    """Every row of every table (outbox, inbox and audit log too) that mentions a needle, as "table: row"."""
    wanted = [n.lower() for n in needles]
    found = []
    async with surveys.runtime.db.sessions() as session:
        for table in [*metadata.sorted_tables, *messaging_metadata.sorted_tables]:
            for row in (await session.execute(select(table))).mappings():
                text = row_text(*row.values())
                if any(n in text for n in wanted):
                    found.append(f"{table.name}: {dict(row)}")
    return found


async def invitation_links(surveys: Surveys) -> dict[str, str]:
    """The answering link of each contact's invitation, by contact id, as the relay published them."""
    events: list[InvitationRequested] = await surveys.invitations()
    return {e.contact_id: e.link.removeprefix(BASE_URL) for e in events}


async def test_erasing_a_contact_leaves_no_trace_in_surveys(surveys: Surveys) -> None:
    client = surveys.client
    _cluster_id, member_id, ids = await member_with_campaign(surveys)
    anna, ben = ids[ANNA["name"]], ids[BEN["name"]]
    links = await invitation_links(surveys)  # the relay has published everything so far
    assert (await client.get(links[anna])).status_code == 200
    assert await rows_naming(surveys, ANNA["email"], ANNA["name"]), "the scan finds nothing even before erasure"

    exported = await ok(await client.get(f"/privacy/contacts/{anna}"))
    assert exported["found"] is True and exported["data"]["contact"]["email"] == ANNA["email"]
    assert [i["campaign_title"] for i in exported["data"]["invitations"]] != []
    campaign_id = exported["data"]["invitations"][0]["campaign_id"]
    progress = (await ok(await client.get(f"/campaigns/{campaign_id}")))["progress"]

    erased = await client.delete(f"/members/{member_id}/contacts/{anna}")
    assert erased.status_code == 204, erased.text

    member = await ok(await client.get(f"/members/{member_id}"))
    assert [c["id"] for c in member["contacts"]] == [ben]
    changes: list[MemberChanged] = await surveys.events(MemberChanged)
    assert [c.contact_id for c in changes[-1].contacts] == [ben], "the new state is published without Anna"
    assert await rows_naming(surveys, ANNA["email"], ANNA["name"]) == []
    # Her id is left only in the audit log's record of the erasure itself (an id that now names nobody).
    assert [row.partition(":")[0] for row in await rows_naming(surveys, anna)] == ["audit_log"]
    assert await rows_naming(surveys, BEN["email"]), "Ben is still there"

    # The invitation stays for the campaign's counts, without Anna; her link stops working, Ben's does not.
    assert (await ok(await client.get(f"/campaigns/{campaign_id}")))["progress"] == progress
    async with surveys.runtime.db.sessions() as session:
        rows = (await session.execute(select(invitations).where(invitations.c.member_id == member_id))).mappings()
        by_contact = {row["contact_id"]: row for row in rows}
    [anonymous] = [row for key, row in by_contact.items() if key.startswith("erased:")]
    assert anonymous["draft"] is None and anonymous["next_reminder_at"] is None
    assert ben in by_contact
    assert (await client.get(links[anna])).status_code == 404
    assert (await client.get(links[ben])).status_code == 200

    after = await ok(await client.get(f"/privacy/contacts/{anna}"))
    assert after["found"] is False and after["data"]["invitations"] == [] and after["data"]["contact"] is None
    assert (await client.delete(f"/members/{member_id}/contacts/{anna}")).status_code == 404


async def test_only_a_manager_of_the_cluster_erases_and_only_an_admin_exports(surveys: Surveys) -> None:
    cluster_id, member_id, ids = await member_with_campaign(surveys)
    anna = ids[ANNA["name"]]
    path = f"/members/{member_id}/contacts/{anna}"
    for headers in (auth.bearer("cluster-viewer", clusters=(cluster_id,)), auth.bearer("cluster-manager")):
        assert (await surveys.client.delete(path, headers=headers)).status_code in (403, 404)
    manager = auth.bearer("cluster-manager", clusters=(cluster_id,))
    assert (await surveys.client.get(f"/privacy/contacts/{anna}", headers=manager)).status_code == 403
    assert (await surveys.client.delete(path, headers=manager)).status_code == 204


async def test_replacing_a_member_keeps_contact_ids_and_erases_the_contacts_left_out(surveys: Surveys) -> None:
    client = surveys.client
    _cluster_id, member_id, ids = await member_with_campaign(surveys)
    await invitation_links(surveys)
    renamed_ben = {**BEN, "name": "Ben O. Okafor", "email": BEN["email"].upper()}
    replaced = await ok(
        await client.put(f"/members/{member_id}", json={"name": "Quellmalz GmbH", "contacts": [renamed_ben]})
    )
    assert [c["id"] for c in replaced["contacts"]] == [ids[BEN["name"]]], "same address, same contact"
    assert await rows_naming(surveys, ANNA["email"], ANNA["name"]) == []


async def test_deleting_a_member_erases_its_contacts(surveys: Surveys) -> None:
    client = surveys.client
    _cluster_id, member_id, ids = await member_with_campaign(surveys)
    await invitation_links(surveys)
    assert (await client.delete(f"/members/{member_id}")).status_code == 204
    await surveys.events(MemberChanged)  # the tombstone is out
    assert await rows_naming(surveys, ANNA["email"], ANNA["name"], BEN["email"], BEN["name"]) == []
    for contact_id in ids.values():
        export: dict[str, Any] = await ok(await client.get(f"/privacy/contacts/{contact_id}"))
        assert export["found"] is False
