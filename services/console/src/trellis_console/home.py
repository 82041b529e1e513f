"""What the cluster home shows, gathered from the services' GET APIs in parallel.

Only names and labels reach the page: skills by their label in the page's language, members and offers by
name. A part whose service has nothing yet (no schedule, no profile) or does not answer shows as such; the
cluster itself must be readable (404 otherwise: another cluster's id looks like one that does not exist).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from trellis_common.skill_labels import skill_label
from trellis_console.backends import Backends

TOP_GAPS = 5
HOME_POOLS = 3  # the largest; the matches page lists more
OUTCOMES = ("pending", "accepted", "declined", "completed", "released")


@dataclass(frozen=True)
class Campaign:
    title: str
    response_rate: float
    closes_on: str


@dataclass(frozen=True)
class Gap:
    skill: str
    imbalance: str
    demand: int


@dataclass(frozen=True)
class Pool:
    offer: str
    partner: str
    members: int


@dataclass(frozen=True)
class Review:
    due_on: str
    overdue_since: str | None
    days_left: int


@dataclass
class ClusterHome:
    cluster_id: str
    name: str
    members: int
    campaign: Campaign | None = None
    gaps: list[Gap] | None = None  # None: the skills service did not answer
    period: str | None = None
    outcomes: dict[str, int] = field(default_factory=dict)
    pooled: list[Pool] | None = None
    review: Review | None = None
    failed_emails: int | None = None


async def cluster_home(backends: Backends, token: str, cluster_id: str, language: str) -> ClusterHome:
    cluster, members = await asyncio.gather(
        backends.get(token, "surveys", f"/clusters/{cluster_id}"),
        backends.get(token, "surveys", f"/clusters/{cluster_id}/members", {"limit": 1}),
    )
    home = ClusterHome(cluster_id=cluster_id, name=str(cluster["name"]), members=int(members["total"]))
    campaigns, profile, latest, schedule, failed = await asyncio.gather(
        backends.optional(token, "surveys", f"/clusters/{cluster_id}/campaigns"),
        backends.optional(token, "skills", f"/clusters/{cluster_id}/profile"),
        backends.optional(token, "matchmaking", "/matches", {"cluster_id": cluster_id, "limit": 1}),
        backends.optional(token, "strategy", f"/clusters/{cluster_id}/schedule"),
        backends.optional(token, "notifications", "/deliveries", {"cluster_id": cluster_id, "status": "failed"}),
    )
    home.campaign = open_campaign(campaigns or [], datetime.now(UTC))
    if profile is not None:
        home.gaps = top_gaps(profile.get("skills", []), language)
    if schedule is not None:
        due_on = str(schedule["next_due_date"])
        days_left = (date.fromisoformat(due_on[:10]) - datetime.now(UTC).date()).days
        home.review = Review(due_on, _day(schedule.get("overdue_since")), days_left)
    if failed is not None:
        home.failed_emails = int(failed["total"])
    if latest and latest.get("items"):
        home.period = period = str(latest["items"][0]["period"])
        conversion, pools = await asyncio.gather(
            backends.optional(
                token, "matchmaking", "/outcomes/conversion", {"cluster_id": cluster_id, "period": period}
            ),
            backends.optional(
                token, "matchmaking", f"/clusters/{cluster_id}/pools", {"period": period, "limit": HOME_POOLS}
            ),
        )
        if conversion is not None:
            home.outcomes = {outcome: int(conversion.get(outcome) or 0) for outcome in OUTCOMES}
        if pools is not None:
            home.pooled = [Pool(str(p["offer_title"]), str(p["partner_name"]), int(p["member_count"])) for p in pools]
    return home


def open_campaign(campaigns: list[dict[str, Any]], now: datetime) -> Campaign | None:
    """The latest launched campaign that has not closed."""
    running = [c for c in campaigns if datetime.fromisoformat(c["closes_at"]) > now]
    if not running:
        return None
    latest = max(running, key=lambda c: str(c["launched_at"]))
    return Campaign(str(latest["title"]), float(latest["progress"]["response_rate"]), str(latest["closes_at"])[:10])


def top_gaps(skills: list[dict[str, Any]], language: str) -> list[Gap]:
    """The imbalanced skills with the largest demand first; labelled in the page's language, never by code."""
    imbalanced = [s for s in skills if s.get("imbalance") != "balanced"]
    imbalanced.sort(key=lambda s: (-int(s.get("demand") or 0), -float(s.get("level_gap") or 0)))
    return [
        Gap(skill_label(str(s["skill_code"]), language), str(s["imbalance"]), int(s.get("demand") or 0))
        for s in imbalanced[:TOP_GAPS]
    ]


def _day(value: Any) -> str | None:
    return str(value)[:10] if value else None
