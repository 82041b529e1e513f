"""A local SMTP server (aiosmtpd) that keeps what it receives, so embedded mode needs no mail relay."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class ReceivedMail:
    received_at: datetime
    mail_from: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return str(part.get_content()) if part is not None else ""

    def summary(self) -> dict[str, Any]:
        return {
            "received_at": self.received_at.isoformat(),
            "from": self.mail_from,
            "to": self.recipients,
            "subject": self.subject,
            "message_id": str(self.message["Message-ID"] or ""),
            "text": self.text(),
        }


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(
                ReceivedMail(datetime.now(UTC), envelope.mail_from or "", list(envelope.rcpt_tos), parsed)
            )
        return "250 Message accepted for delivery"


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MailSink:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._recorder = _Recorder()
        # aiosmtpd checks its own start by connecting to the port it was given, so 0 ("any") cannot be
        # passed through: pick a free port first.
        self._controller = Controller(self._recorder, hostname=host, port=port or _free_port(host))
        self.host = host

    @property
    def port(self) -> int:
        server = self._controller.server
        assert isinstance(server, asyncio.Server), "mail sink not started"
        return int(server.sockets[0].getsockname()[1])

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._recorder.lock:
            return list(self._recorder.messages)
