"""Partners belong to a cluster or are shared: who reads and changes them, and who gets their seats.

A cluster's managers register and change its partners; platform admins share partners platform-wide (or
register one for any cluster). Another cluster's closed partner is not found. The seats of a cluster's offer
go to its members first: a closed offer serves no one else, an open one gives other clusters' members only
the seats no waiting member of the cluster could use when they are given.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.matchmaking.conftest import (
    created,
    deliver,
    deliver_batch,
    gaps_assessed,
    offer,
    partner,
    problem,
    skill_gap,
)
from tests.support import auth
from trellis_common.runtime import ServiceRuntime
from trellis_matchmaking.matching import rounds

A, B = "cluster-a", "cluster-b"
SEVERE = skill_gap("digcomp:5.2", current=2, required=5, headcount_gap=3, importance=5)  # priority 22.5
MILD = skill_gap("digcomp:5.2", current=4, required=5, headcount_gap=0, importance=2)  # priority 2


def manager(*clusters: str) -> dict[str, str]:
    return auth.bearer("cluster-manager", clusters=clusters, subject=f"manager-of-{'-'.join(clusters)}")


def viewer(cluster_id: str) -> dict[str, str]:
    return auth.bearer("cluster-viewer", clusters=(cluster_id,), subject=f"viewer-of-{cluster_id}")


def academy(name: str = "Danube Academy", seats: int = 1, **fields: Any) -> dict[str, Any]:
    return {**partner(name, "training_provider", offer("Data course", "digcomp:5.2", seats)), **fields}


async def holders(api: httpx.AsyncClient, offer_id: str) -> list[tuple[str, str]]:
    """(member, status) of the matches of the offer that hold a seat, as a platform admin reads them."""
    items = (await api.get("/matches", params={"offer_id": offer_id})).json()["items"]
    return sorted((m["member_id"], m["status"]) for m in items if m["status"] in ("proposed", "accepted"))


# --- who reads and changes a partner -----------------------------------------------------------------------


async def test_a_manager_registers_and_changes_its_clusters_partners(api: httpx.AsyncClient) -> None:
    made = await created(await api.post("/partners", json=academy(), headers=manager(A)))
    assert (made["owner_cluster_id"], made["open_to_other_clusters"]) == (A, False), "its one cluster by default"
    partner_id, offer_id = made["id"], made["offers"][0]["id"]
    renamed = await api.patch(f"/partners/{partner_id}", json={"name": "Danube Data Academy"}, headers=manager(A))
    assert renamed.status_code == 200 and renamed.json()["name"] == "Danube Data Academy"
    added = await api.post(f"/partners/{partner_id}/offers", json=offer("Python", "digcomp:3.4", 3), headers=manager(A))
    assert added.status_code == 201, added.text
    replaced = await api.put(f"/offers/{offer_id}", json=offer("Data course", "digcomp:5.2", 4), headers=manager(A))
    assert replaced.status_code == 200 and replaced.json()["seats"] == 4
    assert (await api.delete(f"/offers/{added.json()['id']}", headers=manager(A))).status_code == 204
    mine = (await api.get("/partners", params={"owner_cluster_id": A}, headers=viewer(A))).json()
    assert [p["id"] for p in mine["items"]] == [partner_id]
    assert (await api.delete(f"/partners/{partner_id}", headers=manager(A))).status_code == 204


async def test_another_clusters_manager_neither_sees_nor_changes_it(api: httpx.AsyncClient) -> None:
    made = await created(await api.post("/partners", json=academy(), headers=manager(A)))
    partner_id, offer_id = made["id"], made["offers"][0]["id"]
    for headers in (manager(B), viewer(B), auth.bearer("cluster-viewer")):
        assert (await api.get(f"/partners/{partner_id}", headers=headers)).status_code == 404
        assert (await api.get(f"/offers/{offer_id}", headers=headers)).status_code == 404
        assert (await api.get("/partners", headers=headers)).json() == {"items": [], "total": 0}
    writes = [
        api.patch(f"/partners/{partner_id}", json={"name": "Taken over"}, headers=manager(B)),
        api.post(f"/partners/{partner_id}/offers", json=offer("Mine", "digcomp:5.2", 9), headers=manager(B)),
        api.put(f"/offers/{offer_id}", json=offer("Mine", "digcomp:5.2", 9), headers=manager(B)),
        api.delete(f"/offers/{offer_id}", headers=manager(B)),
        api.delete(f"/partners/{partner_id}", headers=manager(B)),
    ]
    for write in writes:
        answer = await write
        assert answer.status_code == 404, answer.text
        assert answer.json()["detail"].endswith("not found"), "worded as for an id that does not exist"
    refused = await api.post("/partners", json=academy(owner_cluster_id=A), headers=manager(B))
    assert refused.status_code == 403, "nor registers partners for it"
    assert (await api.get(f"/partners/{partner_id}")).json() == made, "unchanged (a platform admin reads all)"


async def test_shared_partners_are_platform_admins(api: httpx.AsyncClient) -> None:
    shared = await created(await api.post("/partners", json=academy("Shared Academy")))
    assert (shared["owner_cluster_id"], shared["open_to_other_clusters"]) == (None, True)
    for_b = await created(await api.post("/partners", json=academy("B's Academy", owner_cluster_id=B)))
    assert (for_b["owner_cluster_id"], for_b["open_to_other_clusters"]) == (B, False)
    assert (await api.get(f"/partners/{shared['id']}", headers=viewer(A))).status_code == 200
    for write in (
        api.patch(f"/partners/{shared['id']}", json={"name": "Ours now"}, headers=manager(A)),
        api.patch(f"/partners/{for_b['id']}", json={"owner_cluster_id": None}, headers=manager(B)),
        api.put(f"/offers/{shared['offers'][0]['id']}", json=offer("x", "digcomp:5.2", 9), headers=manager(A)),
        api.post("/partners", json=academy("Sneaky", owner_cluster_id=None), headers=manager(A)),
    ):
        assert (await write).status_code == 403
    closed = await api.post("/partners", json=academy("Closed", open_to_other_clusters=False))
    assert "open to every cluster" in problem(closed)
    handed = await api.patch(f"/partners/{shared['id']}", json={"owner_cluster_id": A})
    assert (handed.json()["owner_cluster_id"], handed.json()["open_to_other_clusters"]) == (A, False)


async def test_viewers_do_not_write_and_managers_of_several_clusters_name_the_owner(api: httpx.AsyncClient) -> None:
    assert (await api.post("/partners", json=academy(), headers=viewer(A))).status_code == 403
    both = manager(A, B)
    assert "owner_cluster_id" in problem(await api.post("/partners", json=academy(), headers=both))
    made = await created(await api.post("/partners", json=academy(owner_cluster_id=B), headers=both))
    moved = await api.patch(f"/partners/{made['id']}", json={"owner_cluster_id": A}, headers=both)
    assert moved.status_code == 200 and moved.json()["owner_cluster_id"] == A
    away = await api.patch(f"/partners/{made['id']}", json={"owner_cluster_id": "cluster-c"}, headers=manager(A))
    assert away.status_code == 403, "only to a cluster the caller manages"


async def test_an_open_partner_is_read_by_other_clusters_and_changed_by_its_own(api: httpx.AsyncClient) -> None:
    made = await created(await api.post("/partners", json=academy(open_to_other_clusters=True), headers=manager(A)))
    listed = (await api.get("/partners", headers=viewer(B))).json()
    assert [p["id"] for p in listed["items"]] == [made["id"]], "other clusters' members may be given its seats"
    assert (await api.patch(f"/partners/{made['id']}", json={"name": "Ours"}, headers=manager(B))).status_code == 403


async def test_the_import_registers_partners_of_the_callers_cluster(api: httpx.AsyncClient) -> None:
    csv = (
        "partner_name,partner_type,offer_title,skill_codes,format,seats\n"
        "Danube Academy,training_provider,Data,digcomp:5.2,training,3\n"
    )
    await created(await api.post("/partners", json=academy()))  # a shared one of the same name: no clash
    files = {"file": ("partners.csv", csv.encode(), "text/csv")}
    report = await created(await api.post("/partners/import", files=files, headers=manager(A)))
    (partner_id,) = report["partner_ids"]
    imported = (await api.get(f"/partners/{partner_id}")).json()
    assert (imported["owner_cluster_id"], imported["open_to_other_clusters"]) == (A, False)
    again = await api.post("/partners/import", files=files, headers=manager(A))
    assert again.status_code == 422 and again.json()["errors"][0]["column"] == "partner_name", "A has it already"
    opened = await api.post(
        "/partners/import", files=files, params={"owner_cluster_id": B, "open_to_other_clusters": "true"}
    )
    (for_b,) = (await created(opened))["partner_ids"]
    assert (await api.get(f"/partners/{for_b}")).json()["owner_cluster_id"] == B
    refused = await api.post("/partners/import", files=files, params={"owner_cluster_id": B}, headers=manager(A))
    assert refused.status_code == 403


# --- who gets the seats --------------------------------------------------------------------------------------


async def test_a_clusters_offer_seats_go_to_its_members_not_to_a_more_severe_gap_of_another_cluster(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient
) -> None:
    """One seat of cluster A's offer; cluster B's member with the more severe gap comes first. Shared, it
    would take the seat (most severe first); A's offer keeps it for A's member."""
    made = await created(await api.post("/partners", json=academy(), headers=manager(A)))
    offer_id = made["offers"][0]["id"]
    (told,) = await deliver(matchmaking, gaps_assessed("m-b", [SEVERE], cluster_id=B))
    assert told.options == [], "B's member waits: the seat is A's"
    await deliver(matchmaking, gaps_assessed("m-a", [MILD], cluster_id=A))
    assert await holders(api, offer_id) == [("m-a", "proposed")]


async def test_an_open_offer_serves_its_clusters_member_first_then_others(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient
) -> None:
    made = await created(await api.post("/partners", json=academy(open_to_other_clusters=True), headers=manager(A)))
    offer_id = made["offers"][0]["id"]
    # Placed together: A's milder gap before B's more severe one.
    await deliver_batch(
        matchmaking, gaps_assessed("m-b", [SEVERE], cluster_id=B), gaps_assessed("m-a", [MILD], cluster_id=A)
    )
    assert await holders(api, offer_id) == [("m-a", "proposed")]
    # A seat nobody of A waits for goes to B's member.
    more = await api.put(f"/offers/{offer_id}", json=offer("Data course", "digcomp:5.2", 2), headers=manager(A))
    assert more.status_code == 200, more.text
    assert await holders(api, offer_id) == [("m-a", "proposed"), ("m-b", "proposed")]
    # A later member of A waits: proposals do not churn.
    await deliver(matchmaking, gaps_assessed("m-a2", [SEVERE], cluster_id=A))
    assert await holders(api, offer_id) == [("m-a", "proposed"), ("m-b", "proposed")]
    # Closing releases the other cluster's proposal; its seat goes to A's waiting member.
    closed = await api.patch(f"/partners/{made['id']}", json={"open_to_other_clusters": False}, headers=manager(A))
    assert closed.status_code == 200 and closed.json()["open_to_other_clusters"] is False
    assert await holders(api, offer_id) == [("m-a", "proposed"), ("m-a2", "proposed")]
    # Open again with a third seat: B's member, the only one waiting, takes it. A cut releases the other
    # cluster's member first, though A's m-a has the mildest gap.
    opened = await api.patch(f"/partners/{made['id']}", json={"open_to_other_clusters": True}, headers=manager(A))
    assert opened.status_code == 200
    third = await api.put(f"/offers/{offer_id}", json=offer("Data course", "digcomp:5.2", 3), headers=manager(A))
    assert third.status_code == 200
    assert await holders(api, offer_id) == [("m-a", "proposed"), ("m-a2", "proposed"), ("m-b", "proposed")]
    cut = await api.put(f"/offers/{offer_id}", json=offer("Data course", "digcomp:5.2", 2), headers=manager(A))
    assert cut.status_code == 200
    assert await holders(api, offer_id) == [("m-a", "proposed"), ("m-a2", "proposed")]


async def test_a_freed_seat_goes_to_the_owning_clusters_member_even_far_down_the_waiting_list(
    matchmaking: ServiceRuntime, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The waiting list is read most severe first, a page at a time; a cluster's waiting members are read with
    the first page, so a milder one of them is not passed over for other clusters' members in front of it."""
    monkeypatch.setattr(rounds, "_WAITING_PAGE_MIN", 0)
    monkeypatch.setattr(rounds, "_WAITING_PAGE_PER_SEAT", 1)  # a page of one gap per free offer
    made = await created(await api.post("/partners", json=academy(open_to_other_clusters=True), headers=manager(A)))
    offer_id = made["offers"][0]["id"]
    await deliver(matchmaking, gaps_assessed("m-a", [MILD], cluster_id=A))
    for member_id, cluster_id in (("m-b", B), ("m-b2", B), ("m-a3", A)):  # they wait, m-a3 behind the others
        await deliver(
            matchmaking, gaps_assessed(member_id, [SEVERE if cluster_id == B else MILD], cluster_id=cluster_id)
        )
    assert await holders(api, offer_id) == [("m-a", "proposed")]
    (seat,) = (await api.get("/matches", params={"offer_id": offer_id})).json()["items"]
    declined = await api.post(f"/matches/{seat['id']}/outcome", json={"outcome": "declined"})
    assert declined.status_code == 200
    assert await holders(api, offer_id) == [("m-a3", "proposed")]
