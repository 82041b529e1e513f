"""The sender workers: claim due deliveries, send them over SMTP, record the outcomes.

At-least-once towards SMTP, never silently lost:

1. *Claim* (one short transaction): due rows (pending and due, or stuck in ``sending`` past the lease
   because a sender died mid-send) are locked with ``FOR UPDATE SKIP LOCKED``, marked ``sending`` with
   ``attempts + 1`` and a claim time, and committed before any byte goes to SMTP.
2. *Send* the batch over one connection, ``send_confirm_every`` emails at a time. Right before each chunk the
   chunk's claims are renewed (an email no longer ours — taken over, or cancelled by an erasure — is
   skipped), the whole rest of the batch is renewed every quarter lease, and each message's SMTP exchange is
   bounded by half the lease, so a slow relay never lets a second sender take over a row being sent.
3. *Confirm* the chunk's outcomes in one transaction, with their audit events (``EmailDelivered``) in the
   outbox and the next chunk's renewal. Every outcome update is fenced by (status, attempts), so a sender
   whose lease expired cannot overwrite the outcome of the sender that took the row over. Failures and
   retries are recorded one by one, at once.

A database outage between 2 and 3 is waited out: the confirmation is tried again until it commits. A crash (or a
stop) between 2 and 3 resends the chunk's sent emails (at most ``send_confirm_every``) after the lease with
the same Message-IDs, so receiving systems can recognise the duplicates; such resends are counted in
``trellis_emails_total{outcome="resent_after_crash"}``.

Towards the relay: ``smtp_connections`` senders per process, each reusing one connection across batches
(checked with NOOP before reuse, closed after ``smtp_idle_close_s`` without work); messages are paced by one
token bucket per process (``smtp_rate_per_s``), and a hard bounce (5xx to RCPT) puts the address on the
suppression list, which skips everything still queued for it. The connection, and what the relay's answers
mean, are in ``relay``; the claims and fenced updates in ``repositories.send_queue``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from typing import TYPE_CHECKING

import aiosmtplib

from trellis_common.auth import Scope
from trellis_common.errors import is_transient
from trellis_common.events import EmailDelivered, EmailFailed
from trellis_common.logging import get_logger
from trellis_common.metrics import EMAILS
from trellis_common.runtime import ServiceRuntime
from trellis_common.settings import narrowed
from trellis_common.unit_of_work import flush_outboxes
from trellis_notifications.domain.deliveries import DELIVERIES_DUE, DeliveryStatus, message_id_for, retry_delay
from trellis_notifications.domain.message import Attachment, OutgoingEmail, build_message, single_line
from trellis_notifications.domain.preferences import address_key
from trellis_notifications.domain.ratelimit import TokenBucket
from trellis_notifications.repositories import send_queue
from trellis_notifications.repositories.suppressions import suppress, suppressed_keys
from trellis_notifications.settings import NotificationsSettings
from trellis_notifications.workers.smtp import (
    MAX_ERROR_CHARS,
    RelayConnection,
    Verdict,
    classify_smtp_error,
    describe,
    is_hard_bounce,
    redact,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import RowMapping

log = get_logger(__name__)
SERVICE = Scope.everything("notifications-sender")  # the sender works for every cluster


@dataclass(frozen=True)
class ClaimedDelivery:
    id: str
    cause_event_id: str
    correlation_id: str | None
    contact_id: str
    template: str
    to_address: str
    to_name: str
    subject: str
    text_body: str
    html_body: str
    message_id: str
    attempts: int  # including the attempt this claim is for
    created_at: datetime
    unsubscribe_url: str | None = None
    attachments: tuple[Attachment, ...] = ()
    from_name: str | None = None

    @classmethod
    def from_row(cls, row: RowMapping, *, message_id: str, attempts: int) -> ClaimedDelivery:
        return cls(
            id=row["id"],
            cause_event_id=row["cause_event_id"],
            correlation_id=row["correlation_id"],
            contact_id=row["contact_id"],
            template=row["template"],
            to_address=row["to_address"] or "",
            to_name=row["to_name"] or "",
            subject=row["subject"] or "",
            text_body=row["text_body"] or "",
            html_body=row["html_body"] or "",
            message_id=message_id,
            attempts=attempts,
            created_at=row["created_at"],
            unsubscribe_url=row["unsubscribe_url"],
            attachments=tuple(Attachment.from_json(a) for a in row["attachments"] or ()),
            from_name=row["from_name"],
        )


class EmailSender:
    def __init__(
        self, runtime: ServiceRuntime, settings: NotificationsSettings, bucket: TokenBucket | None = None
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.service = settings.service_name
        self.sender_address = settings.sender_address  # parsed once, not twice per email
        # Physical pacing, so real (monotonic) time, not the service clock that tests and demos move.
        # Shared by the senders of a process: the rate limit is the process's, whatever the connections.
        self.bucket = bucket or TokenBucket(settings.smtp_rate_per_s, settings.smtp_rate_burst, time.monotonic())
        self.relay = RelayConnection(settings)

    def _now(self) -> datetime:
        return self.runtime.clock.now()

    async def run(self, stop: asyncio.Event) -> None:
        # Its own event (the digest scheduler clears another one), set as soon as emails are queued.
        wakeup = self.runtime.wakeup_signal(DELIVERIES_DUE)
        try:
            while not stop.is_set():
                wakeup.clear()
                try:
                    claimed = await self.send_due(stop)
                except Exception as exc:
                    if not is_transient(exc):
                        raise
                    log.warning("email_sender_failed", error=repr(exc))
                    claimed = 0
                if claimed >= self.settings.send_batch_size and not stop.is_set():
                    continue  # a full batch: more may be due
                if claimed == 0 and time.monotonic() - self.relay.last_used >= self.settings.smtp_idle_close_s:
                    await self.close()
                await _wait_for_either(stop, wakeup, self.settings.sender_poll_interval_s)
        finally:
            await self.close()

    async def close(self) -> None:
        """Say goodbye to the relay (QUIT), or just drop the connection if it is broken."""
        await self.relay.close()

    async def send_due(self, stop: asyncio.Event) -> int:
        """Claim one batch and send it; returns how many deliveries were claimed."""
        batch, exhausted = await self.claim()
        for delivery in exhausted:
            await self._fail(
                delivery, f"gave up after {delivery.attempts} attempts; the last one was interrupted by a crash"
            )
        if batch:
            await self.send_batch(batch, stop)
        return len(batch) + len(exhausted)

    async def claim(self) -> tuple[list[ClaimedDelivery], list[ClaimedDelivery]]:
        """Due deliveries marked ``sending`` and committed; plus crashed ones that used up their attempts."""
        now = self._now()
        lease_expired = now - timedelta(seconds=self.settings.send_lease_s)
        batch: list[ClaimedDelivery] = []
        exhausted: list[ClaimedDelivery] = []
        wanted: list[tuple[RowMapping, str, bool]] = []
        resent = 0
        async with self.runtime.unit_of_work() as uow:
            rows = await send_queue.lock_due(uow.session, now, lease_expired, self.settings.send_batch_size)
            blocked = await suppressed_keys(uow.session, [row["to_address"] or "" for row in rows])
            for row in rows:
                if blocked and address_key(row["to_address"] or "") in blocked:
                    await send_queue.skip_suppressed(uow.session, row)
                    continue
                # Handlers set the Message-ID when they write the row; rows queued by the first release of
                # this service have none yet and get the same deterministic one here.
                message_id = row["message_id"] or message_id_for(
                    row["cause_event_id"], row["contact_id"], row["template"], self.settings.mail_domain
                )
                crashed = row["status"] == DeliveryStatus.SENDING.value
                if crashed and row["attempts"] >= self.settings.max_attempts:
                    exhausted.append(ClaimedDelivery.from_row(row, message_id=message_id, attempts=row["attempts"]))
                    continue
                wanted.append((row, message_id, crashed))
            claimed = await send_queue.mark_sending(
                uow.session, [(row, message_id) for row, message_id, _ in wanted], now
            )
            for row, message_id, crashed in wanted:
                if row["id"] not in claimed:
                    continue
                if crashed:
                    resent += 1
                    log.warning("email_resent_after_crash", delivery_id=row["id"], message_id=message_id)
                batch.append(ClaimedDelivery.from_row(row, message_id=message_id, attempts=row["attempts"] + 1))
        if resent:
            EMAILS.labels(self.service, "resent_after_crash").inc(resent)
        return batch, exhausted

    async def _throttle(self, stop: asyncio.Event) -> bool:
        """Wait for the rate limit's next slot; False if told to stop meanwhile."""
        wait_s = self.bucket.take(time.monotonic())
        if wait_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait_s)
        return not stop.is_set()

    def _sender(self, delivery: ClaimedDelivery) -> Address:
        """The configured address, under the cluster's name when the delivery has one: the cluster writes."""
        configured = self.sender_address
        if not delivery.from_name:
            return configured
        return Address(display_name=single_line(delivery.from_name), addr_spec=configured.addr_spec)

    def _message(self, delivery: ClaimedDelivery) -> EmailMessage:
        return build_message(
            OutgoingEmail(
                sender=self._sender(delivery),
                to_address=delivery.to_address,
                to_name=delivery.to_name,
                subject=delivery.subject,
                text_body=delivery.text_body,
                html_body=delivery.html_body,
                message_id=delivery.message_id,
                # The moment the email was composed: a resend is the same message, byte for byte.
                date=delivery.created_at,
                unsubscribe_url=delivery.unsubscribe_url,
                attachments=delivery.attachments,
            )
        )

    async def send_batch(self, batch: list[ClaimedDelivery], stop: asyncio.Event) -> None:
        # One message's whole SMTP exchange (reconnecting included) must end well inside the lease its claim
        # was renewed for; otherwise another sender could take the row over while it is being sent.
        budget_s = self.settings.send_lease_s / 2
        step = self.settings.send_confirm_every
        self.relay.new_batch()
        ours = await self._renew(batch[:step])
        # The whole rest of the batch is renewed every quarter lease too: over a slow relay the batch's tail
        # must not outlive its lease while earlier emails are being sent. Both clocks count: real time (a slow
        # relay) and the service clock the leases are kept in (it may jump: NTP, or a test's manual clock).
        renewed = (time.monotonic(), self._now())
        try:
            for start in range(0, len(batch), step):
                sent: list[ClaimedDelivery] = []
                try:
                    for index in range(start, min(start + step, len(batch))):
                        delivery = batch[index]
                        if self._stale(renewed):  # the sent but unconfirmed ones too: they are not done yet
                            ours = await self._renew([*sent, *batch[index:]])
                            renewed = (time.monotonic(), self._now())
                        if stop.is_set() or not await self._throttle(stop):
                            for rest in batch[index:]:
                                await self._release(rest)
                            return
                        if delivery.id not in ours:
                            continue  # taken over after our lease ran out, or cancelled meanwhile: not ours to send
                        try:
                            message = self._message(delivery)
                        except Exception as exc:  # a message that cannot be built never will be
                            await self._fail(delivery, f"message cannot be built: {describe(exc)}")
                            continue
                        connecting = True
                        try:
                            async with asyncio.timeout(budget_s):
                                smtp = await self.relay.open()
                                connecting = False
                                await smtp.send_message(
                                    message,
                                    sender=self.sender_address.addr_spec,
                                    recipients=[delivery.to_address],
                                )
                        except Exception as exc:
                            if connecting:  # relay unreachable, TLS or login refused: no message's fault
                                self.relay.drop()
                                error = f"cannot connect to the SMTP relay: {describe(exc)}"
                                for rest in batch[index:]:
                                    await self._retry_later(rest, error)
                                return
                            if isinstance(exc, TimeoutError | aiosmtplib.SMTPServerDisconnected | ConnectionError):
                                self.relay.drop()  # mid-exchange: the connection is in an unknown state
                            if classify_smtp_error(exc) is Verdict.PERMANENT:
                                await self._fail(delivery, describe(exc), hard_bounce=is_hard_bounce(exc))
                            else:
                                await self._retry_later(delivery, describe(exc))
                            continue
                        self.relay.last_used = time.monotonic()
                        sent.append(delivery)
                finally:
                    # The chunk's outcomes and the next chunk's claims in one transaction.
                    following = batch[start + step : start + 2 * step]
                    ours = await self._confirm_patiently(sent, following, stop) | (ours - {d.id for d in following})
        finally:
            if self.settings.smtp_idle_close_s == 0:
                await self.close()

    def _stale(self, renewed: tuple[float, datetime]) -> bool:
        """A quarter lease has passed since the claims were renewed, by real time or by the service clock."""
        quarter = self.settings.send_lease_s / 4
        return time.monotonic() - renewed[0] > quarter or (self._now() - renewed[1]).total_seconds() > quarter

    async def _renew(self, claimed: Sequence[ClaimedDelivery]) -> set[str]:
        """Extend our claim of ``claimed`` (in its own transaction); returns the ids still ours."""
        if not claimed:
            return set()
        async with self.runtime.db.transaction() as session:
            return await send_queue.renew_claims(session, claimed, self._now())

    async def _confirm_patiently(
        self, sent: Sequence[ClaimedDelivery], following: Sequence[ClaimedDelivery], stop: asyncio.Event
    ) -> set[str]:
        """``_confirm_sent``, tried again while the database is unreachable: these emails have left, and giving up
        would send them again after the lease. Only a stop (or a crash) leaves them to that at-least-once window;
        confirming late is safe, the fenced update records nothing another sender took over meanwhile."""
        backoff = self.runtime.settings.retry_initial_backoff_s
        while True:
            try:
                return await self._confirm_sent(sent, then=following)
            except Exception as exc:
                if not sent or not is_transient(exc) or stop.is_set():
                    raise
                log.warning("email_confirm_retrying", error=describe(exc), emails=len(sent), retry_in_s=backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, self.runtime.settings.retry_max_backoff_s)

    async def _confirm_sent(self, sent: Sequence[ClaimedDelivery], then: Sequence[ClaimedDelivery] = ()) -> set[str]:
        """Record the emails as sent (with their EmailDelivered events) and, in the same transaction, renew the
        claims of ``then``: one commit per chunk. Returns the ids of ``then`` still ours."""
        if not sent and not then:
            return set()
        now = self._now()
        async with self.runtime.db.transaction() as session:
            recorded = await send_queue.record_sent(session, sent, now) if sent else set()
            still_ours = await send_queue.renew_claims(session, then, now)
            units = []
            for delivery in sent:
                if delivery.id not in recorded:
                    continue
                unit = self.runtime.new_unit_of_work(session, correlation_id=delivery.correlation_id)
                unit.emit(
                    EmailDelivered(
                        delivery_id=delivery.id,
                        message_id=delivery.message_id,
                        template=delivery.template,
                        contact_id=delivery.contact_id,
                        cause_event_id=delivery.cause_event_id,
                        attempts=delivery.attempts,
                        delivered_at=now,
                    )
                )
                units.append(unit)
            signals = await flush_outboxes(units)
        self.runtime.wakeups.fire(signals)
        for delivery in sent:
            EMAILS.labels(self.service, "sent").inc()
            if delivery.id in recorded:
                log.info("email_sent", delivery_id=delivery.id, template=delivery.template, attempts=delivery.attempts)
            else:
                log.warning("email_sent_outcome_superseded", delivery_id=delivery.id)
        return still_ours

    async def _fail(self, delivery: ClaimedDelivery, error: str, *, hard_bounce: bool = False) -> None:
        now = self._now()
        error = redact(error, delivery.to_address)[:MAX_ERROR_CHARS]
        skipped = 0
        async with self.runtime.unit_of_work(correlation_id=delivery.correlation_id) as uow:
            recorded = await send_queue.record_failed(uow.session, delivery, error)
            if recorded and hard_bounce and delivery.to_address:
                skipped = await suppress(uow.session, SERVICE, delivery.to_address, error, delivery.id, now)
            if recorded:
                uow.emit(
                    EmailFailed(
                        delivery_id=delivery.id,
                        message_id=delivery.message_id,
                        template=delivery.template,
                        contact_id=delivery.contact_id,
                        cause_event_id=delivery.cause_event_id,
                        attempts=delivery.attempts,
                        error=error,
                        failed_at=now,
                    )
                )
        if recorded:
            EMAILS.labels(self.service, "failed").inc()
            log.warning("email_failed", delivery_id=delivery.id, template=delivery.template, error=error)
            if hard_bounce:
                EMAILS.labels(self.service, "suppressed").inc()
                log.warning("address_suppressed", delivery_id=delivery.id, queued_emails_skipped=skipped)

    async def _retry_later(self, delivery: ClaimedDelivery, error: str) -> None:
        if delivery.attempts >= self.settings.max_attempts:
            await self._fail(delivery, f"gave up after {delivery.attempts} attempts: {error}")
            return
        delay = retry_delay(delivery.attempts, self.settings.send_retry_base_s, self.settings.send_retry_max_s)
        error = redact(error, delivery.to_address)[:MAX_ERROR_CHARS]
        async with self.runtime.unit_of_work() as uow:
            recorded = await send_queue.retry_at(uow.session, delivery, error, self._now() + delay)
        if recorded:
            EMAILS.labels(self.service, "retried").inc()
            log.info("email_retry_scheduled", delivery_id=delivery.id, attempts=delivery.attempts, error=error)

    async def _release(self, delivery: ClaimedDelivery) -> None:
        """Shutting down before this one was sent: hand it back untouched, so it is not taken for a crash."""
        async with self.runtime.unit_of_work() as uow:
            await send_queue.release(uow.session, delivery)


async def _wait_for_either(stop: asyncio.Event, wakeup: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def send_emails(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    """Worker: send due emails until ``stop`` is set; wakes when emails are queued (in any process), polls as a
    safety net."""
    settings = narrowed(runtime.settings, NotificationsSettings)
    bucket = TokenBucket(settings.smtp_rate_per_s, settings.smtp_rate_burst, time.monotonic())
    senders = [EmailSender(runtime, settings, bucket) for _ in range(settings.smtp_connections)]
    await asyncio.gather(*(sender.run(stop) for sender in senders))
