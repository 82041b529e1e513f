"""The cluster directory: member card, filtering and paging, and the all-or-nothing CSV import."""

from __future__ import annotations

from tests.integration.surveys.conftest import Surveys, cluster_with_members, ok
from tests.support import auth
from trellis_common.events import MemberChanged
from trellis_surveys.models import members

HEADER = (
    "name,member_type,sector,size_class,country,region,languages,member_role,pain_points,contact_name,contact_email\n"
)


def member_list(bad: dict[int, str] | None = None) -> bytes:
    """50 members; ``bad`` replaces the line of the n-th member (1-based) with a broken one."""
    lines = []
    for n in range(1, 51):
        line = (
            f"Member {n:02d} GmbH,{'sme' if n % 3 else 'research'},C25,small,{'AT' if n % 2 else 'DE'},AT13,"
            f"de;en,peer,finding staff;energy prices,Person {n},person{n}@m{n}.example"
        )
        lines.append((bad or {}).get(n, line))
    return (HEADER + "\n".join(lines) + "\n").encode()


async def test_a_file_with_three_bad_rows_imports_nothing_and_names_them(surveys: Surveys) -> None:
    cluster = await ok(await surveys.client.post("/clusters", json={"name": "Import cluster"}), 201)
    bad = {
        7: "Member 07 GmbH,multinational,C25,small,AT,AT13,de,peer,,Person 7,person7@m7.example",
        20: "Member 20 GmbH,sme,C25,small,Austria,AT13,de,peer,,Person 20,person20@m20.example",
        42: "Member 42 GmbH,sme,C25,small,AT,AT13,de,peer,,Person 42,not-an-address",
    }
    response = await surveys.client.post(
        f"/clusters/{cluster['id']}/members/import", files={"file": ("members.csv", member_list(bad), "text/csv")}
    )
    report = await ok(response, 422)
    assert report["imported"] == 0 and report["rows_checked"] == 50
    # Row numbers as a spreadsheet shows them: the header is row 1, member n is row n + 1.
    assert report["bad_rows"] == [8, 21, 43]
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (8, "member_type"),
        (21, "country"),
        (43, "contact_email"),
    ]
    assert all(e["message"] for e in report["errors"])
    assert await surveys.count(members) == 0
    assert await surveys.outbox_rows(MemberChanged) == 0

    fixed = await surveys.client.post(
        f"/clusters/{cluster['id']}/members/import", files={"file": ("members.csv", member_list(), "text/csv")}
    )
    report = await ok(fixed, 201)
    assert report["imported"] == 50 and len(report["member_ids"]) == 50 and report["errors"] == []
    assert await surveys.count(members) == 50
    assert await surveys.outbox_rows(MemberChanged) == 50

    again = await ok(
        await surveys.client.post(
            f"/clusters/{cluster['id']}/members/import", files={"file": ("members.csv", member_list(), "text/csv")}
        ),
        422,
    )
    assert len(again["bad_rows"]) == 50 and again["errors"][0]["field"] == "name"
    assert await surveys.count(members) == 50


async def test_an_unreadable_file_is_a_422_naming_the_file(surveys: Surveys) -> None:
    cluster = await ok(await surveys.client.post("/clusters", json={"name": "Import cluster"}), 201)
    response = await surveys.client.post(
        f"/clusters/{cluster['id']}/members/import", files={"file": ("x.csv", b"company,country\nA,AT\n", "text/csv")}
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "file"]], "the shape of every validation error"
    missing = await surveys.client.post(f"/clusters/{cluster['id']}/members/import")
    assert missing.status_code == 422 and "file" in missing.text


async def test_member_card_filters_and_pages(surveys: Surveys) -> None:
    cluster = await ok(await surveys.client.post("/clusters", json={"name": "Directory cluster"}), 201)
    await ok(
        await surveys.client.post(
            f"/clusters/{cluster['id']}/members/import", files={"file": ("members.csv", member_list(), "text/csv")}
        ),
        201,
    )
    url = f"/clusters/{cluster['id']}/members"
    page = await ok(await surveys.client.get(url, params={"limit": 20, "offset": 40}))
    assert page["total"] == 50 and len(page["items"]) == 10 and page["items"][0]["name"] == "Member 41 GmbH"
    first = page["items"][0]
    assert first["member_role"] == "peer" and first["pain_points"] == ["finding staff", "energy prices"]
    assert first["contacts"][0]["email"] == "person41@m41.example"
    research = await ok(await surveys.client.get(url, params={"member_type": "research", "country": "AT"}))
    assert research["total"] == 8  # n divisible by 3 and odd: 3, 9, ..., 45
    assert (await ok(await surveys.client.get(url, params={"q": "member 0"})))["total"] == 9
    assert (await ok(await surveys.client.get(url, params={"sector": "C2"})))["total"] == 50
    bad = await surveys.client.get(url, params={"member_type": "giant"})
    assert bad.status_code == 422 and "member_type" in bad.text

    member_id = first["id"]
    card = {
        "name": "Member 41 GmbH",
        "member_role": "decision_maker",
        "jobs_to_be_done": ["market access"],
        "ambitions": ["enter the Nordic market"],
    }
    updated = await ok(await surveys.client.put(f"/members/{member_id}", json=card))
    assert updated["member_role"] == "decision_maker" and updated["ambitions"] == ["enter the Nordic market"]
    wrong = await surveys.client.put(f"/members/{member_id}", json={**card, "member_role": "boss"})
    assert wrong.status_code == 422 and "member_role" in wrong.text


async def test_member_changed_carries_the_member_and_cluster_names(surveys: Surveys) -> None:
    cluster = await ok(await surveys.client.post("/clusters", json={"name": "Danube Mechatronics"}), 201)
    body = {"name": "Huber Präzision GmbH", "contacts": [{"name": "Lea Huber", "email": "lea@huber.example"}]}
    member = await ok(await surveys.client.post(f"/clusters/{cluster['id']}/members", json=body), 201)
    assert member["cluster_name"] == "Danube Mechatronics"
    [changed] = await surveys.events(MemberChanged)
    # Organisations' names travel (everyone renders names, not ids); contacts' data only in `contacts`.
    assert (changed.member_id, changed.name, changed.cluster_name) == (
        member["id"],
        "Huber Präzision GmbH",
        "Danube Mechatronics",
    )


async def test_an_operator_announces_every_member_again_after_an_upgrade(surveys: Surveys) -> None:
    cluster_id, member_ids = await cluster_with_members(surveys.client, 2)
    other, _ = await cluster_with_members(surveys.client, 1)
    before = await surveys.events(MemberChanged)
    assert len(before) == 3

    only_one = await ok(await surveys.client.post("/admin/members/announce", params={"cluster_id": cluster_id}))
    assert only_one == {"announced": 2, "clusters": 1}
    again = (await surveys.events(MemberChanged))[3:]
    assert sorted(e.member_id for e in again) == sorted(member_ids)
    by_member = {e.member_id: e for e in before}
    for event in again:  # the same state, the same time: consumers keep what they hold, now complete
        assert event == by_member[event.member_id] and event.cluster_name == "Test cluster"

    assert await ok(await surveys.client.post("/admin/members/announce")) == {"announced": 3, "clusters": 2}
    missing = await surveys.client.post("/admin/members/announce", params={"cluster_id": "no-such-cluster"})
    assert missing.status_code == 404
    manager = auth.bearer("cluster-manager", clusters=(cluster_id, other))
    refused = await surveys.client.post("/admin/members/announce", headers=manager)
    assert refused.status_code == 403, "platform admins only: it publishes the whole directory"
    assert len(await surveys.events(MemberChanged)) == 3 + 2 + 3, "the refused call published nothing"


async def test_the_cluster_list_holds_only_the_clusters_a_caller_may_read(surveys: Surveys) -> None:
    first = await ok(await surveys.client.post("/clusters", json={"name": "Baltic Marine Cluster"}), 201)
    second = await ok(await surveys.client.post("/clusters", json={"name": "Alpine Wood Cluster"}), 201)
    everything = await ok(await surveys.client.get("/clusters", params={"limit": 200}))
    names = [c["name"] for c in everything["items"]]
    assert names == sorted(names), "by name"
    assert {"Baltic Marine Cluster", "Alpine Wood Cluster"} <= set(names)
    found = await ok(await surveys.client.get("/clusters", params={"q": "baltic"}))
    assert [c["id"] for c in found["items"]] == [first["id"]]
    viewer = auth.bearer("cluster-viewer", clusters=(second["id"],))
    own = await ok(await surveys.client.get("/clusters", headers=viewer))
    assert [c["id"] for c in own["items"]] == [second["id"]] and own["total"] == 1
