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
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from loopkit.platform import Platform, Service, asyncpg_dsn
from trellis_common.events import ReminderKind, ReviewDue
from trellis_notifications.domain.deliveries import OPEN_STATUSES, EmailTemplate
from trellis_notifications.handlers import is_escalation
from trellis_strategy.repositories.schedules import reminder_id

SCHEDULED = ("strategy", "notifications")
MANAGER = "manager@chaos.bench.example"
BOARD = "board@chaos.bench.example"
REVIEW_TEMPLATES = [EmailTemplate.REVIEW_REMINDER.value, EmailTemplate.REVIEW_ESCALATION.value]
SCHEDULER_INTERVAL_S = 2  # how often the schedules look for due work (30 s in production)
TELL_WITHIN_S = 120  # a running replica takes a jump within this (longer than any freeze or restart here)


class PlatformClock:
    """The shift of every scheduled replica's clock, moved by jumps."""

    def __init__(self, platform: Platform, replicas: dict[str, list[Service]]) -> None:
        self.platform = platform
        self.replicas = replicas
        self.shift = timedelta(0)
        self.unreached = 0  # replicas that did not take a jump in time (running, yet never answering)

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
        deadline = asyncio.get_running_loop().time() + TELL_WITHIN_S
        async with httpx.AsyncClient(base_url=replica.url, headers=self.platform.admin_headers(), timeout=2) as client:
            # A frozen replica answers when it wakes (and may then handle stale requests too: the time is read back
            # until it is right); one killed meanwhile starts from the shift in its environment.
            while replica.running() and replica.process is process:
                if asyncio.get_running_loop().time() > deadline:
                    self.unreached += 1
                    return
                try:
                    await client.put("/admin/clock", json={"now": self.now().isoformat()})
                    answer = await client.get("/admin/clock")
                    if answer.status_code == 200:
                        told = datetime.fromisoformat(answer.json()["now"])
                        if abs((told - self.now()).total_seconds()) < 5:
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
        return int(
            await conn.fetchval("SELECT count(*) FROM deliveries WHERE status = ANY($1::text[])", list(OPEN_STATUSES))
        )
    finally:
        await conn.close()


@dataclass
class Reminder:
    event_id: str
    reminder_id: str  # the strategy's id of the reminder: its schedule, review date, kind and lead time
    escalation: bool  # an overdue review: the board is emailed as well as the manager

    @property
    def recipients(self) -> set[str]:
        return {MANAGER, BOARD} if self.escalation else {MANAGER}


def reminders_of(records: list[Any]) -> list[Reminder]:
    out = []
    for record in records:
        review = ReviewDue.model_validate_json(record.value or b"{}")
        event_id = dict(record.headers or ()).get("ce_id", b"").decode()
        out.append(Reminder(event_id, review.reminder_id, is_escalation(review)))
    return out


def _fired_reminder(schedule_key: str, due_at: datetime, note: str | None) -> str:
    """The reminder id of a ``schedule_fires`` row of strategy's review clock (its key names the schedule, its
    note the reminder: ``upcoming-14d``, ``due``, ``overdue``, with what it stands for after a ``;``)."""
    which = (note or "").split(";")[0].strip()
    kind, _, lead = which.partition("-")
    lead_days = int(lead.removesuffix("d")) if lead else None
    return reminder_id(schedule_key.rpartition(":")[2], due_at, ReminderKind(kind), lead_days)


def _bare(message_id: object) -> bytes:
    text = message_id.decode() if isinstance(message_id, bytes) else str(message_id)
    return text.strip().strip("<>").encode()


async def check_schedules(
    platform: Platform, reminders: list[Reminder], arrivals: dict[str, list[bytes]], clock: PlatformClock
) -> dict[str, int]:
    """Review reminders: each firing of the review clock published once and emailed once to each person it is
    for (the manager; the board as well when overdue); no reminder without a firing; no schedule behind the clock."""
    published: dict[str, list[Reminder]] = defaultdict(list)
    for reminder in reminders:
        published[reminder.reminder_id].append(reminder)
    behind = await schedules_behind(platform, clock)
    conn = await asyncpg.connect(asyncpg_dsn(platform.databases["strategy"]))
    try:
        schedules = await conn.fetchval("SELECT count(*) FROM review_schedules")
        fires = await conn.fetch(
            "SELECT schedule_key, due_at, note FROM schedule_fires WHERE schedule_key LIKE 'review%'"
        )
    finally:
        await conn.close()
    fired = {_fired_reminder(f["schedule_key"], f["due_at"], f["note"]) for f in fires}
    conn = await asyncpg.connect(asyncpg_dsn(platform.databases["notifications"]))
    try:
        rows = await conn.fetch(
            "SELECT cause_event_id, lower(to_address) AS address, message_id FROM deliveries"
            " WHERE template = ANY($1::text[]) AND status = 'sent'",
            REVIEW_TEMPLATES,
        )
    finally:
        await conn.close()
    sent = {(str(r["cause_event_id"]), str(r["address"])) for r in rows}
    owed = {(copies[0].event_id, address) for copies in published.values() for address in copies[0].recipients}
    figures = {
        "reviews: schedules": int(schedules),
        "reviews: reminders fired": len(fires),
        # The first review is a quarter after the schedule starts: a run whose clock passed it fired something.
        "reviews: none fired although due": int(not fires and clock.shift > timedelta(days=100)),
        "reviews: fired, never published": len(fired - published.keys()),
        "reviews: published, never fired": len(published.keys() - fired),
        "reviews: reminders doubled": sum(1 for copies in published.values() if len({c.event_id for c in copies}) > 1),
        "reviews: schedules behind the clock": behind,
        "reviews: emails not sent": len(owed - sent),
        "reviews: emails to someone not meant": len(sent - owed),
        "reviews: emails lost": 0,
        "reviews: emails doubled (another Message-ID)": 0,
        "reviews: emails resent (same Message-ID)": 0,
    }
    for address in (MANAGER, BOARD):
        expected = {_bare(r["message_id"]) for r in rows if r["address"] == address}
        arrived = [_bare(m) for m in arrivals.get(address, [])]
        figures["reviews: emails lost"] += len(expected - set(arrived))
        figures["reviews: emails doubled (another Message-ID)"] += len(set(arrived) - expected)
        figures["reviews: emails resent (same Message-ID)"] += len(arrived) - len(set(arrived))
    return figures


async def check_digests(platform: Platform, digests: set[str]) -> dict[str, int]:
    """Members on the weekly digest: their matches came in a digest, never in an email of their own."""
    conn = await asyncpg.connect(asyncpg_dsn(platform.databases["notifications"]))
    try:
        rows = await conn.fetch(
            "SELECT lower(to_address) AS address, template FROM deliveries"
            " WHERE template = ANY($1::text[]) AND status = 'sent'",
            [EmailTemplate.MATCHES.value, EmailTemplate.MATCHES_DIGEST.value],
        )
    finally:
        await conn.close()
    return {
        "digests: members on the weekly digest": len(digests),
        "digests: sent": sum(1 for r in rows if r["template"] == EmailTemplate.MATCHES_DIGEST),
        "digests: matches emailed at once instead": len(
            {r["address"] for r in rows if r["template"] == "matches"} & digests
        ),
    }


FAILING = (
    "reviews: none fired although due",
    "reviews: fired, never published",
    "reviews: published, never fired",
    "reviews: reminders doubled",
    "reviews: schedules behind the clock",
    "reviews: emails not sent",
    "reviews: emails to someone not meant",
    "reviews: emails lost",
    "reviews: emails doubled (another Message-ID)",
    "digests: matches emailed at once instead",
)
