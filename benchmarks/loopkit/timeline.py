"""Time in the chaos runs: the schedulers' clock jumps ahead, so strategy reviews and weekly digests fall due
while replicas die and the infrastructure restarts; and the checker of what the schedules promise (every review
reminder fired once per due date and emailed once, no schedule left behind the clock).

The services whose schedules run on the clock (strategy's reviews, notifications' digests and leases) run with
``clock=shifted``: real time plus a shift that ``PUT /admin/clock`` moves, as a node's clock corrected by NTP or a
VM resumed after a pause would. A jump reaches the replicas one after the other (for a moment they disagree, as
nodes do), a frozen replica takes it when it wakes, and a replica started again later starts from the shift.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from loopkit.platform import Platform, Service, asyncpg_dsn

SCHEDULED = ("strategy", "notifications")
MANAGER = "manager@chaos.bench.example"
BOARD = "board@chaos.bench.example"
REVIEW_TEMPLATES = ("review_reminder", "review_escalation")
SCHEDULER_INTERVAL_S = 2  # how often the schedules look for due work (30 s in production)


class PlatformClock:
    """The shift of every scheduled replica's clock, moved by jumps."""

    def __init__(self, platform: Platform, replicas: dict[str, list[Service]]) -> None:
        self.platform = platform
        self.replicas = replicas
        self.shift = timedelta(0)

    @staticmethod
    def environment() -> dict[str, str]:
        return {
            "TRELLIS_CLOCK": "shifted",
            "TRELLIS_CLOCK_SHIFT_S": "0",
            "TRELLIS_SCHEDULER_INTERVAL_S": str(SCHEDULER_INTERVAL_S),
        }

    def now(self) -> datetime:
        return datetime.now(UTC) + self.shift

    async def jump(self, by: timedelta) -> None:
        """Move every scheduled replica's clock ahead by ``by``; returns once each running replica has it."""
        self.shift += by
        targets = [r for name in SCHEDULED for r in self.replicas[name]]
        for replica in targets:  # a replica started again after this starts from the new shift
            replica.env["TRELLIS_CLOCK_SHIFT_S"] = str(self.shift.total_seconds())
        await asyncio.gather(*(self._tell(replica) for replica in targets))

    async def _tell(self, replica: Service) -> None:
        process = replica.process
        async with httpx.AsyncClient(base_url=replica.url, headers=self.platform.admin_headers(), timeout=2) as client:
            # A frozen replica answers when it wakes; one killed meanwhile starts from the shift in its env.
            while replica.running() and replica.process is process:
                try:
                    answer = await client.put("/admin/clock", json={"now": self.now().isoformat()})
                    if answer.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)  # retrying a replica that is starting or frozen


async def seed_audience(surveys: httpx.AsyncClient, cluster_id: str) -> None:
    """The cluster office, with the manager the reviews are reminded to and a board member they escalate to."""
    contacts = [
        {"name": "Clara Manager", "email": MANAGER, "role": "cluster_manager", "language": "en"},
        {"name": "Bernd Board", "email": BOARD, "role": "board_member", "language": "en"},
    ]
    office = {"name": "Chaos cluster office", "member_type": "cluster_organisation", "country": "AT"}
    body = {**office, "contacts": contacts}
    answer = await surveys.post(f"/clusters/{cluster_id}/members", json=body)
    if answer.status_code != 201:
        raise RuntimeError(f"seeding the cluster office: {answer.status_code} {answer.text}")


async def choose_digests(platform: Platform, notifications: httpx.AsyncClient, rng: random.Random) -> set[str]:
    """About one member in ten takes matches as a weekly digest; returns their addresses."""
    conn = await asyncpg.connect(asyncpg_dsn(platform.databases["notifications"]))
    try:
        rows = await conn.fetch("SELECT contact_id, email FROM contacts WHERE role = 'member_contact' ORDER BY email")
    finally:
        await conn.close()
    chosen = [row for row in rows if rng.random() < 0.1]
    for row in chosen:
        answer = await notifications.patch(
            f"/contacts/{row['contact_id']}/preferences", json={"match_delivery": "weekly_digest"}
        )
        if answer.status_code != 200:
            raise RuntimeError(f"choosing the digest: {answer.status_code} {answer.text}")
    return {str(row["email"]).lower() for row in chosen}


async def schedules_behind(platform: Platform, clock: PlatformClock) -> int:
    """Schedules that have not yet dealt with what fell due (a few scheduler ticks' slack allowed)."""
    conn = await asyncpg.connect(asyncpg_dsn(platform.databases["strategy"]))
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM review_schedules WHERE next_reminder_at <= $1",
                clock.now() - timedelta(seconds=10 * SCHEDULER_INTERVAL_S),
            )
        )
    finally:
        await conn.close()


async def emails_open(platform: Platform) -> int:
    """Emails not yet sent that are still meant to be (pending, or claimed by a sender)."""
    conn = await asyncpg.connect(asyncpg_dsn(platform.databases["notifications"]))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending')"))
    finally:
        await conn.close()


@dataclass
class Reminder:
    event_id: str
    key: tuple[str, ...]  # what it reminds of: the strategy, the kind, the review date, the lead time


def reminders_of(records: list[Any]) -> list[Reminder]:
    out = []
    for record in records:
        data = json.loads(record.value or b"{}")
        event_id = dict(record.headers or ()).get("ce_id", b"").decode()
        key = tuple(str(data.get(f)) for f in ("strategy_id", "kind", "due_at", "lead_days", "escalation"))
        out.append(Reminder(event_id, key))
    return out


def _bare(message_id: object) -> bytes:
    text = message_id.decode() if isinstance(message_id, bytes) else str(message_id)
    return text.strip().strip("<>").encode()


async def check_schedules(
    platform: Platform, reminders: list[Reminder], arrivals: dict[str, list[bytes]], clock: PlatformClock
) -> dict[str, int]:
    """Review reminders: fired once per due date and kind, each emailed once; no schedule behind the clock."""
    by_key: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for reminder in reminders:
        by_key[reminder.key].add(reminder.event_id)
    fired = {r.event_id for r in reminders}
    behind = await schedules_behind(platform, clock)
    conn = await asyncpg.connect(asyncpg_dsn(platform.databases["strategy"]))
    try:
        schedules = await conn.fetchval("SELECT count(*) FROM review_schedules")
    finally:
        await conn.close()
    conn = await asyncpg.connect(asyncpg_dsn(platform.databases["notifications"]))
    try:
        rows = await conn.fetch(
            "SELECT cause_event_id, to_address, message_id, status FROM deliveries WHERE template = ANY($1::text[])",
            list(REVIEW_TEMPLATES),
        )
        digests = await conn.fetchval(
            "SELECT count(*) FROM deliveries WHERE template = 'matches_digest' AND status = 'sent'"
        )
    finally:
        await conn.close()
    emailed = {str(r["cause_event_id"]) for r in rows if r["status"] == "sent"}
    sent = {_bare(r["message_id"]) for r in rows if r["status"] == "sent"}
    arrived = [_bare(m) for address in (MANAGER, BOARD) for m in arrivals.get(address, [])]
    return {
        "reviews: schedules": int(schedules),
        "reviews: reminders fired": len(fired),
        # The first review is a quarter after the schedule starts: a run whose clock passed it fired something.
        "reviews: none fired although due": int(not fired and clock.shift > timedelta(days=100)),
        "reviews: reminders doubled": sum(1 for ids in by_key.values() if len(ids) > 1),
        "reviews: schedules behind the clock": behind,
        "reviews: reminders not emailed": len(fired - emailed),
        "reviews: emails lost": len(sent - set(arrived)),
        "reviews: emails doubled (another Message-ID)": len(set(arrived) - sent),
        "reviews: emails resent (same Message-ID)": len(arrived) - len(set(arrived)),
        "digests: sent": int(digests),
    }


FAILING = (
    "reviews: none fired although due",
    "reviews: reminders doubled",
    "reviews: schedules behind the clock",
    "reviews: reminders not emailed",
    "reviews: emails lost",
    "reviews: emails doubled (another Message-ID)",
)
