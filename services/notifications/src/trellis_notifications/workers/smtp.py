"""The SMTP relay as a sender meets it: one connection kept across batches, and what the relay's answers mean
for a message (try again later, give up, suppress the address), worded for the delivery log."""

from __future__ import annotations

import asyncio
import time
from enum import StrEnum

import aiosmtplib

from trellis_notifications.settings import NotificationsSettings

MAX_ERROR_CHARS = 1000


class Verdict(StrEnum):
    PERMANENT = "permanent"  # the relay refused this message for good (5xx), or it cannot be built
    TRANSIENT = "transient"  # try again later: relay unreachable, timeout, 4xx


def classify_smtp_error(exc: BaseException) -> Verdict:
    """What an error while sending one message means for that message."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refusal.code for refusal in exc.recipients]
        return Verdict.PERMANENT if codes and all(code >= 500 for code in codes) else Verdict.TRANSIENT
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return Verdict.PERMANENT if exc.code >= 500 else Verdict.TRANSIENT
    if isinstance(exc, aiosmtplib.SMTPNotSupported | ValueError):
        # e.g. a non-ASCII address the relay cannot take (no SMTPUTF8): the same message fails every time
        return Verdict.PERMANENT
    return Verdict.TRANSIENT


def is_hard_bounce(exc: BaseException) -> bool:
    """The relay refused the recipient itself with a 5xx: the mailbox does not exist, suppress the address."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refusal.code for refusal in exc.recipients]
        return bool(codes) and all(code >= 500 for code in codes)
    return isinstance(exc, aiosmtplib.SMTPRecipientRefused) and exc.code >= 500


def describe(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients) or "recipients refused"
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"{exc.code} {exc.message}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:MAX_ERROR_CHARS]


def redact(error: str, address: str | None) -> str:
    """Relays quote the recipient in their replies; audit events must not carry personal data."""
    if not address:
        return error
    lowered, needle = error.lower(), address.lower()
    out, start = [], 0
    while (found := lowered.find(needle, start)) >= 0:
        out.append(error[start:found])
        out.append("<recipient>")
        start = found + len(needle)
    out.append(error[start:])
    return "".join(out)


class RelayConnection:
    """One sender's connection to the relay, opened when first needed and reused across batches."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings
        self._smtp: aiosmtplib.SMTP | None = None
        self.last_used = 0.0  # time.monotonic() of the last exchange
        self._checked = False  # the open connection answered NOOP during this batch

    def new_batch(self) -> None:
        """The next use checks a kept connection first."""
        self._checked = False

    async def open(self) -> aiosmtplib.SMTP:
        """The open connection, or a new one. A connection kept from an earlier batch is checked with NOOP
        first: relays drop idle clients, and a message must not fail for that."""
        smtp = self._smtp
        if smtp is not None and smtp.is_connected and not self._checked:
            try:
                await smtp.noop()
            except Exception:
                smtp.close()
        if smtp is None or not smtp.is_connected:
            self._smtp = smtp = await self._connect()
        self._checked = True
        self.last_used = time.monotonic()
        return smtp

    async def _connect(self) -> aiosmtplib.SMTP:
        settings = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            use_tls=settings.smtp_use_tls,
            start_tls=settings.smtp_starttls,
            validate_certs=settings.smtp_validate_certs,
            timeout=settings.smtp_timeout_s,
            # Not socket.getfqdn(): it can block on DNS for seconds inside containers.
            local_hostname=settings.mail_domain,
        )
        await smtp.connect()
        return smtp

    def drop(self) -> None:
        """The connection is in an unknown state (e.g. a timeout mid-exchange): never reuse it."""
        if self._smtp is not None:
            self._smtp.close()
        self._smtp = None

    async def close(self) -> None:
        """Say goodbye to the relay (QUIT), or just drop the connection if it is broken."""
        smtp, self._smtp = self._smtp, None
        if smtp is None or not smtp.is_connected:
            return
        try:
            async with asyncio.timeout(5):
                await smtp.quit()
        except Exception:
            smtp.close()
