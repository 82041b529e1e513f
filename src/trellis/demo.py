"""The demo scenario: one cluster, its members and partners, three completed surveys, and what follows."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

CLUSTER = {"name": "Danube Smart Manufacturing Cluster", "country": "AT", "timezone": "Europe/Vienna"}
# Who signs in to the embedded console (the local issuer mints their tokens): the cluster's manager (the
# manager contact below), a viewer of the cluster and a platform admin.
SIGN_IN_PEOPLE = {"manager": "Eva Steiner", "viewer": "Tobias Gruber", "admin": "Platform Admin"}

MEMBERS: list[dict[str, Any]] = [
    {
        "name": "Cluster management office",
        "member_type": "cluster_organisation",
        "country": "AT",
        "region": "AT13",
        "contacts": [
            {"name": "Eva Steiner", "email": "eva.steiner@cluster.example", "language": "de", "role": "cluster_manager"}
        ],
    },
    {
        "name": "Präzisionsteile Huber GmbH",
        "member_type": "sme",
        "size_class": "small",
        "sector": "C25",
        "country": "AT",
        "region": "AT12",
        "languages": ["de", "en"],
        "contacts": [{"name": "Lukas Huber", "email": "lukas@huber.example", "language": "de"}],
    },
    {
        "name": "Alpine Composites",
        "member_type": "sme",
        "size_class": "medium",
        "sector": "C22",
        "country": "AT",
        "region": "AT31",
        "languages": ["en"],
        "contacts": [{"name": "Maria Rossi", "email": "maria@alpine-composites.example", "language": "en"}],
    },
    {
        "name": "Vienna Sensor Labs",
        "member_type": "sme",
        "size_class": "micro",
        "sector": "C26",
        "country": "AT",
        "region": "AT13",
        "languages": ["en", "de"],
        "contacts": [{"name": "Jonas Berg", "email": "jonas@sensorlabs.example", "language": "en"}],
    },
]

PARTNERS: list[dict[str, Any]] = [
    {
        "name": "TU Danube Continuing Education",
        "partner_type": "university",
        "country": "AT",
        "contact": "weiterbildung@tu-danube.example",
        "offers": [
            {
                "title": "Data-driven production masterclass",
                "skill_codes": ["digcomp:5.2", "digcomp:1.3"],
                "max_level": 6,
                "format": "masterclass",
                "delivery": "hybrid",
                "countries": ["AT", "DE"],
                "languages": ["de", "en"],
                "seats": 20,
                "cost_eur": 900,
            }
        ],
    },
    {
        "name": "DIH Industry 4.0 Austria",
        "partner_type": "digital_innovation_hub",
        "country": "AT",
        "offers": [
            {
                "title": "Python for shop-floor automation",
                "skill_codes": ["digcomp:3.4"],
                "max_level": 5,
                "format": "training",
                "delivery": "online",
                "languages": ["en", "de"],
                "seats": 15,
            }
        ],
    },
    {
        "name": "CyberSafe Academy",
        "partner_type": "training_provider",
        "country": "DE",
        "offers": [
            {
                "title": "Protecting devices and data in SMEs",
                "skill_codes": ["digcomp:4.1", "digcomp:4.2"],
                "max_level": 5,
                "format": "training",
                "delivery": "online",
                "languages": ["en"],
                "seats": 30,
            }
        ],
    },
    {
        "name": "GreenShift Consulting",
        "partner_type": "green_tech_consultant",
        "country": "AT",
        "offers": [
            {
                "title": "Systems thinking for circular production",
                "skill_codes": ["greencomp:2.1"],
                "format": "advisory",
                "delivery": "on_site",
                "countries": ["AT"],
                "languages": ["de"],
                "seats": 5,
            },
            {
                "title": "Energy management and carbon accounting for SMEs",
                "skill_codes": ["greenwork:energy-management", "greenwork:carbon-accounting"],
                "format": "workshop",
                "delivery": "hybrid",
                "countries": ["AT"],
                "languages": ["de", "en"],
                "seats": 12,
            },
        ],
    },
]


# Partners the cluster negotiated for its own members (the guide's digital Action 3): the cluster's partners,
# whose seats its members get first; the others are shared platform-wide.
OWN_PARTNERS = frozenset({"GreenShift Consulting"})


def _skill(code: str, current: int, required: int, having: int, needed: int, importance: int) -> dict[str, Any]:
    return {
        "skill_code": code,
        "current_level": current,
        "required_level": required,
        "headcount_having": having,
        "headcount_needed": needed,
        "importance": importance,
    }


# Digital skills demand and supply per member (guide, digital segment, Action 1).
RESPONSES: dict[str, list[dict[str, Any]]] = {
    "Präzisionsteile Huber GmbH": [
        _skill("digcomp:5.2", 2, 5, 1, 4, 5),
        _skill("digcomp:4.2", 3, 4, 2, 3, 3),
        _skill("greencomp:2.1", 1, 3, 0, 2, 4),
    ],
    "Alpine Composites": [_skill("digcomp:5.2", 3, 5, 2, 5, 4), _skill("digcomp:3.4", 1, 4, 0, 2, 5)],
    "Vienna Sensor Labs": [_skill("digcomp:4.1", 2, 5, 1, 3, 5), _skill("digcomp:1.1", 5, 5, 3, 3, 2)],
}


@dataclass
class DemoReport:
    cluster_id: str
    members: dict[str, str] = field(default_factory=dict)
    gaps: dict[str, list[str]] = field(default_factory=dict)
    matches: dict[str, list[str]] = field(default_factory=dict)
    pooled: list[str] = field(default_factory=list)
    emails_sent: int = 0
    next_review: str | None = None
    already_seeded: list[str] = field(default_factory=list)  # members and partners found, not created


async def _poll(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"demo: timed out waiting for {what}")


async def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} -> {response.status_code}: {response.text}"
        )
    return response.json()


@dataclass
class _Seeded:
    """What the demo has put into a data directory, kept next to it so a restart on the same data
    (``--no-reset``) finds the cluster again (clusters cannot be listed) and submits no survey twice."""

    path: Path | None
    cluster_id: str | None = None
    responses: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path | None) -> _Seeded:
        if path is None or not path.exists():
            return cls(path)
        saved = json.loads(path.read_text("utf-8"))
        return cls(path, saved.get("cluster_id"), list(saved.get("responses", [])))

    def save(self) -> None:
        if self.path is not None:
            body = {"cluster_id": self.cluster_id, "responses": self.responses}
            self.path.write_text(json.dumps(body, indent=2), "utf-8")


async def _partner_names(client: httpx.AsyncClient) -> set[str]:
    names: set[str] = set()
    offset = 0
    while True:
        page = await _ok(await client.get("/matchmaking/partners", params={"limit": 200, "offset": offset}))
        names.update(p["name"] for p in page["items"])
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return names


async def _seed(client: httpx.AsyncClient, report: DemoReport, seeded: _Seeded) -> None:
    """Create what is missing of the cluster, its members, the partners and the responses; never twice."""
    if seeded.cluster_id is not None and (await client.get(f"/surveys/clusters/{seeded.cluster_id}")).is_success:
        report.cluster_id = seeded.cluster_id
    else:
        report.cluster_id = (await _ok(await client.post("/surveys/clusters", json=CLUSTER)))["id"]
        seeded.cluster_id, seeded.responses = report.cluster_id, []
        seeded.save()
    listed = await _ok(await client.get(f"/surveys/clusters/{report.cluster_id}/members", params={"limit": 200}))
    report.members = {m["name"]: m["id"] for m in listed["items"]}
    for member in MEMBERS:
        if member["name"] in report.members:
            report.already_seeded.append(member["name"])
            continue
        created = await _ok(await client.post(f"/surveys/clusters/{report.cluster_id}/members", json=member))
        report.members[member["name"]] = created["id"]
    registered = await _partner_names(client)
    for partner in PARTNERS:
        if partner["name"] in registered:
            report.already_seeded.append(partner["name"])
            continue
        owner = {"owner_cluster_id": report.cluster_id} if partner["name"] in OWN_PARTNERS else {}
        await _ok(await client.post("/matchmaking/partners", json={**partner, **owner}))
    for name, skills in RESPONSES.items():
        if name in seeded.responses:
            continue
        body = {
            "member_id": report.members[name],
            "template_id": "digital-skills",
            "theme": "digital",
            "skills": skills,
        }
        await _ok(await client.post("/surveys/responses", json=body))
        seeded.responses.append(name)
        seeded.save()


async def run_demo(client: httpx.AsyncClient, timeout_s: float = 60, *, record: Path | None = None) -> DemoReport:
    """Seed the demo and report what followed. With ``record`` (a file in the data directory) it is
    idempotent: run again on the same data, it adds nothing that is already there and reports again."""
    report = DemoReport(cluster_id="")
    await _seed(client, report, _Seeded.load(record))

    for name in RESPONSES:
        member_id = report.members[name]

        async def matched(member_id: str = member_id) -> bool:
            return bool(await _ok(await client.get(f"/matchmaking/members/{member_id}/matches")))

        await _poll(matched, timeout_s, f"matches for {name}")
        assessment = (await _ok(await client.get(f"/skills/members/{member_id}/assessments")))[0]
        report.gaps[name] = [
            f"{g['skill_code']} {g['skill_label']}: priority {g['priority_formula']}" for g in assessment["gaps"]
        ]
        run = (await _ok(await client.get(f"/matchmaking/members/{member_id}/matches")))[0]
        report.matches[name] = [
            f"#{o['rank']} {o['offer_title']} ({o['partner_name']}) for {o['skill_code']}, score {o['score']:.2f}"
            for o in run["options"]
        ]
        report.pooled.extend(
            f"{p['member_count']} members share {p['skill_code']}: {p['offer_title']} ({p['partner_name']})"
            for p in run["pooled"]
        )

    async def emails_out() -> bool:
        page = await _ok(await client.get("/notifications/deliveries", params={"cluster_id": report.cluster_id}))
        sent = [d for d in page["items"] if d["status"] == "sent"]
        report.emails_sent = len(sent)
        return len(sent) >= len(RESPONSES)

    await _poll(emails_out, timeout_s, "the match emails")

    async def scheduled() -> bool:
        response = await client.get(f"/strategy/clusters/{report.cluster_id}/schedule")
        if response.status_code != 200:
            return False
        report.next_review = response.json()["next_due_at"]
        return True

    await _poll(scheduled, timeout_s, "the strategy review schedule")
    report.pooled = sorted(set(report.pooled))
    return report


def render(report: DemoReport, base_url: str) -> str:
    lines = [f"Cluster {CLUSTER['name']} ({report.cluster_id})", ""]
    if report.already_seeded:
        lines[1:1] = ["(demo data found from an earlier start: nothing seeded twice)"]
    for name in RESPONSES:
        lines.append(f"{name}")
        lines.extend(f"  gap   {g}" for g in report.gaps.get(name, []))
        lines.extend(f"  match {m}" for m in report.matches.get(name, []))
    lines.append("")
    lines.extend(f"Pooled opportunity: {p}" for p in report.pooled)
    lines.append(f"Emails sent: {report.emails_sent}")
    lines.append(f"Next strategy review due: {report.next_review}")
    lines.append("")
    lines.append("Where to look:")
    lines.append(f"  console        {base_url}/  (sign in as {SIGN_IN_PEOPLE['manager']}, the cluster's manager)")
    for service in ("surveys", "skills", "matchmaking", "strategy", "notifications"):
        lines.append(f"  {service:14} {base_url}/{service}/docs")
    lines.append(f"  mail sink      {base_url}/mail")
    lines.append(f"  all APIs       {base_url}/apis")
    return "\n".join(lines)
