"""The notifications service in-process: SQLite or PostgreSQL, the in-memory bus and a real SMTP server
(aiosmtpd). Shared by the integration tests of this folder.

Input events are appended to the in-memory broker as CloudEvents, exactly as the outbox relays of the other
services would publish them; results are observed in the database, on the SMTP server and on the bus.
Time is a manual clock: retries and digests become due when a test moves it.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any, TypeVar

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from prometheus_client import REGISTRY
from sqlalchemy import select

from tests.support import auth
from tests.support.polling import eventually as poll
from tests.support.runtime import runtime_for
from trellis_common.app import create_app
from trellis_common.bus import OutgoingMessage
from trellis_common.bus.memory import InMemoryBroker, InMemoryBus
from trellis_common.catalogue import spec_for_model
from trellis_common.clock import ManualClock
from trellis_common.db import outbox
from trellis_common.envelope import CloudEvent, to_binary
from trellis_common.events import (
    Contact,
    ContactRole,
    EventData,
    InvitationRequested,
    MatchOption,
    MemberChanged,
    MemberContext,
    PartnersMatched,
    PooledOpportunity,
    ReminderKind,
    ReviewAgenda,
    ReviewDue,
    ScoreComponent,
    SurveyTheme,
)
from trellis_common.runtime import ServiceRuntime
from trellis_notifications.models import deliveries
from trellis_notifications.service import DEFINITION
from trellis_notifications.settings import NotificationsSettings

T = TypeVar("T")
MAIL_DOMAIN = "notifications.test"
DEADLINE_S = 15.0


# --------------------------------------------------------------------------------------------- SMTP server


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    at: float = 0.0  # time.monotonic() when the relay accepted it

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        assert part is not None
        return str(part.get_content())


@dataclass
class RecordingHandler:
    """Keeps what it accepts; can be told to refuse recipients or data with a given reply."""

    received: list[Received] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_replies: list[str] = field(default_factory=list)  # used up one per message, then accepted
    stall_s: float = 0.0  # answer DATA this much later, like an overloaded relay
    sessions: int = 0  # SMTP sessions greeted (EHLO/HELO): how many connections the sender opened
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        with self.lock:
            # STARTTLS greets twice on one connection; count the connection once.
            if not getattr(session, "counted", False):
                self.sessions += 1
                session.counted = True  # type: ignore[attr-defined]
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.stall_s:
            await asyncio.sleep(self.stall_s)
        with self.lock:
            if self.data_replies:
                return self.data_replies.pop(0)
            raw = envelope.original_content or b""
            parsed = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed, time.monotonic()))
        return "250 Message accepted for delivery"

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpServer:
    """aiosmtpd on a free port; optionally demanding STARTTLS and a login, like a submission relay."""

    def __init__(
        self, *, tls_context: Any = None, login: tuple[str, str] | None = None, implicit_tls: bool = False
    ) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self.tls_context = tls_context
        self.login = login
        self.implicit_tls = implicit_tls  # TLS from the first byte (port 465) instead of STARTTLS
        self._controller: Controller | None = None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == self.login
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    def start(self) -> None:
        extra: dict[str, Any] = {}
        if self.tls_context is not None and self.implicit_tls:
            extra.update(ssl_context=self.tls_context)
        elif self.tls_context is not None:
            extra.update(tls_context=self.tls_context, require_starttls=True)
        if self.login is not None:
            extra.update(
                authenticator=self._authenticate, auth_required=True, auth_require_tls=self.tls_context is not None
            )
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **extra)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


# ------------------------------------------------------------------------------------------------ harness


@dataclass
class Harness:
    runtime: ServiceRuntime
    broker: InMemoryBroker
    smtp: SmtpServer

    @property
    def clock(self) -> ManualClock:
        assert isinstance(self.runtime.clock, ManualClock)
        return self.runtime.clock

    def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        self.runtime.wake_workers()

    async def publish(
        self,
        data: EventData | None,
        *,
        key: str | None = None,
        event_id: str | None = None,
        spec_model: type[EventData] | None = None,
    ) -> CloudEvent:
        """Append a CloudEvent (or a tombstone when ``data`` is None) the way a producer's relay would."""
        model = spec_model or (type(data) if data is not None else None)
        assert model is not None, "a tombstone needs spec_model"
        spec = spec_for_model(model)
        key = key or str(getattr(data, spec.key_field))
        event = CloudEvent(
            id=event_id or str(uuid.uuid4()),
            source="/tests/producer",
            type=spec.type,
            time=self.clock.now(),
            subject=key,
            correlationid="correlation-1",
            data=data.model_dump(mode="json") if data is not None else None,
        )
        await self.republish(event, key)
        return event

    async def republish(self, event: CloudEvent, key: str) -> None:
        spec = next(s for s in (spec_for_model(m) for m in _INPUT_MODELS) if s.type == event.type)
        headers, value = to_binary(event)
        await self.broker.append([OutgoingMessage(spec.topic(), key, value, headers)])

    async def all_consumed(self) -> None:
        """Every input event has been handled and its offset committed."""

        async def done() -> bool:
            group = self.runtime.settings.consumer_group
            return all(
                self.broker.committed.get((group, spec_for_model(m).topic()), 0)
                == len(self.broker.topics[spec_for_model(m).topic()])
                for m in _INPUT_MODELS
            )

        await eventually(done, "the consumer to handle every event")

    async def deliveries(self, **where: Any) -> list[dict[str, Any]]:
        query = select(deliveries).order_by(deliveries.c.created_at, deliveries.c.contact_id)
        for column, value in where.items():
            query = query.where(deliveries.c[column] == value)
        async with self.runtime.db.sessions() as session:
            return [dict(row) for row in (await session.execute(query)).mappings()]

    async def outbox_events(self, event_type: str) -> list[bytes]:
        async with self.runtime.db.sessions() as session:
            rows = await session.execute(select(outbox.c.payload).where(outbox.c.event_type == event_type))
            return [row.payload for row in rows]

    async def emails(self, count: int) -> list[Received]:
        """Wait until the SMTP server holds ``count`` messages; then make sure nothing more is sent."""

        async def arrived() -> list[Received]:
            messages = self.smtp.handler.messages()
            return messages if len(messages) >= count else []

        got = await eventually(arrived, f"{count} email(s) at the SMTP server")
        # Every delivery row is settled (sent/failed): the sender has nothing left that could add a message.
        await eventually(self._settled, "every delivery to be settled")
        messages = self.smtp.handler.messages()
        assert len(messages) == count, [m.message["Subject"] for m in messages]
        return got

    async def _settled(self) -> bool:
        rows = await self.deliveries()
        return all(r["status"] in {"sent", "failed", "parked", "cancelled", "skipped"} for r in rows)

    def api(self, base_url: str = "http://notifications") -> httpx.AsyncClient:
        """An HTTP client on the service's API, in-process."""
        app = create_app(DEFINITION, runtime=self.runtime, manage_runtime=False)
        return httpx.AsyncClient(headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url=base_url)

    @property
    def settings(self) -> NotificationsSettings:
        settings = self.runtime.settings
        assert isinstance(settings, NotificationsSettings)
        return settings


SERVICE_SETTINGS: dict[str, Any] = {
    "clock": "manual",
    "smtp_host": "127.0.0.1",
    "smtp_starttls": False,
    "smtp_timeout_s": 5.0,
    "mail_from": "Trellis <notifications@notifications.test>",
    "mail_domain": MAIL_DOMAIN,
    "public_base_url": "https://trellis.test/notifications",
    "sender_poll_interval_s": 0.05,
    "send_retry_base_s": 1.0,
    "send_retry_max_s": 600.0,
    "max_attempts": 5,
    "smtp_rate_per_s": 0,  # unlimited unless a test is about the limit
    # One sender: tests move the manual clock by days, which would make a sibling sender take the emails in
    # flight for a crashed sender's (concurrent senders have their own tests).
    "smtp_connections": 1,
}


@asynccontextmanager
async def running_service(database_url: str, smtp: SmtpServer, **overrides: Any) -> AsyncIterator[Harness]:
    broker = InMemoryBroker()
    settings = {**SERVICE_SETTINGS, "smtp_port": smtp.port, **overrides}
    runtime = runtime_for(DEFINITION, database_url=database_url, bus=InMemoryBus(broker), **settings)
    assert isinstance(runtime.settings, NotificationsSettings)
    await runtime.start()
    try:
        yield Harness(runtime, broker, smtp)
    finally:
        await runtime.stop()


_INPUT_MODELS: tuple[type[EventData], ...] = (MemberChanged, PartnersMatched, ReviewDue, InvitationRequested)


async def ready(value: T) -> T:
    return value


def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> Awaitable[T]:
    return poll(probe, timeout=DEADLINE_S, interval=0.02, what=what)


def emails_total(outcome: str) -> float:
    value = REGISTRY.get_sample_value("trellis_emails_total", {"service": "notifications", "outcome": outcome})
    return value or 0.0


def events_consumed(model: type[EventData], outcome: str) -> float:
    labels = {"service": "notifications", "type": spec_for_model(model).type, "outcome": outcome}
    return REGISTRY.get_sample_value("trellis_events_consumed_total", labels) or 0.0


# ------------------------------------------------------------------------------------------------- events


TWO_CONTACTS = [
    ("contact-1", "Anna Schmidt", "en", ContactRole.MEMBER_CONTACT),
    ("contact-2", "Jürgen Müller", "de", ContactRole.MEMBER_CONTACT),
]


def member(
    member_id: str = "member-1",
    cluster_id: str = "cluster-1",
    people: list[tuple[str, str, str, ContactRole]] | None = None,
    changed_at: datetime | None = None,
    cluster_name: str | None = "Rhine Photonics Cluster",
) -> MemberChanged:
    people = people if people is not None else [("contact-1", "Anna Schmidt", "en", ContactRole.MEMBER_CONTACT)]
    return MemberChanged(
        cluster_id=cluster_id,
        member_id=member_id,
        name=f"Member {member_id}",
        cluster_name=cluster_name,
        context=MemberContext(country="DE"),
        contacts=[
            Contact(contact_id=cid, name=name, email=f"{cid}@member.example", language=lang, role=role)
            for cid, name, lang, role in people
        ],
        changed_at=changed_at or datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    )


REPLY_LINK = "https://trellis.test/matchmaking/reply/token-of-match-1"  # as matchmaking signs it


def matched(member_id: str = "member-1", cluster_id: str = "cluster-1") -> PartnersMatched:
    return PartnersMatched(
        match_run_id=f"run-{uuid.uuid4()}",
        assessment_id="assessment-1",
        cluster_id=cluster_id,
        member_id=member_id,
        options=[
            MatchOption(
                rank=1,
                skill_code="digcomp:4.2",
                partner_id="partner-1",
                partner_name="Digital Innovation Hub North",
                partner_type="digital_innovation_hub",
                offer_id="offer-1",
                offer_title="Cyber security for SMEs",
                format="training",
                delivery="online",
                score=0.86,
                explanation=[ScoreComponent(factor="gap_severity", weight=0.5, value=1.0, contribution=0.5)],
                match_id="match-1",
                reply_link=REPLY_LINK,
            ),
            MatchOption(
                rank=2,
                skill_code="digcomp:1.2",
                partner_id="partner-2",
                partner_name="University of Applied Sciences",
                partner_type="university",
                offer_id="offer-2",
                offer_title="Data literacy masterclass",
                format="masterclass",
                delivery="on_site",
                score=0.64,
                explanation=[],
            ),
        ],
        pooled=[
            PooledOpportunity(
                pool_id="pool-1",
                skill_code="digcomp:4.2",
                partner_id="partner-1",
                partner_name="Digital Innovation Hub North",
                offer_id="offer-1",
                offer_title="Cyber security for SMEs",
                member_count=3,
                seats=12,
            )
        ],
        matched_at=datetime(2026, 1, 6, 9, 0, tzinfo=UTC),
    )


def review_due(cluster_id: str = "cluster-1") -> ReviewDue:
    return ReviewDue(
        reminder_id=f"reminder-{uuid.uuid4()}",
        strategy_id="strategy-1",
        cluster_id=cluster_id,
        strategy_title="Aviation skills 2030",
        due_at=datetime(2026, 3, 31, 8, 0, tzinfo=UTC),
        due_date=date(2026, 3, 31),
        kind=ReminderKind.DUE,
        late=False,
        fired_at=datetime(2026, 3, 31, 8, 0, tzinfo=UTC),
        agenda=ReviewAgenda(new_matches=4, members_with_gaps=2, proposed_actions=["Pool the cyber training"]),
    )


def invitation(contact_id: str = "contact-1", reminder: int = 0, link: str | None = None) -> InvitationRequested:
    return InvitationRequested(
        invitation_id=f"invitation-{uuid.uuid4()}",
        campaign_id="campaign-1",
        cluster_id="cluster-1",
        member_id="member-1",
        contact_id=contact_id,
        survey_title="Digital skills check 2026",
        theme=SurveyTheme.DIGITAL,
        link=link or "https://surveys.trellis.example/s/abc?sig=1",
        expires_at=datetime(2026, 4, 15, 18, 0, tzinfo=UTC),
        reminder=reminder,
    )
