"""A local SMTP server (aiosmtpd) that keeps what it receives, so embedded mode needs no mail relay.

Given a file, it also writes each message to a small SQLite table there and reads them back when it starts,
so the embedded runner's mail survives a restart (``--no-reset``) and goes with the data directory.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from trellis_common.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class ReceivedMail:
    received_at: datetime
    mail_from: str
    recipients: list[str]
    raw: bytes
    id: int = 0  # 1, 2, … in the order received; stable across restarts when the sink has a store

    @functools.cached_property
    def message(self) -> EmailMessage:
        """Parsed when first looked at: parsing every message as it arrives took about a millisecond of the
        embedded process's one interpreter per email, and most are never opened."""
        return _parse(self.raw)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return str(part.get_content()) if part is not None else ""

    def html(self) -> str | None:
        part = self.message.get_body(preferencelist=("html",))
        return str(part.get_content()) if part is not None else None

    def attachments(self) -> list[tuple[str, str, int]]:
        """(file name, content type, size in bytes) of each attachment."""
        found = []
        for part in self.message.iter_attachments():
            payload = part.get_payload(decode=True)
            size = len(payload) if isinstance(payload, bytes) else 0
            found.append((part.get_filename() or "(unnamed)", part.get_content_type(), size))
        return found

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received_at": self.received_at.isoformat(),
            "from": self.mail_from,
            "to": self.recipients,
            "subject": self.subject,
            "message_id": str(self.message["Message-ID"] or ""),
            "text": self.text(),
        }


def _parse(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


_HEADERS = BytesHeaderParser(policy=policy.default)


def _subject(raw: bytes) -> str:
    """The subject alone, from the headers alone (a fifth of a whole parse)."""
    return str(_HEADERS.parsebytes(raw)["Subject"] or "")


class _Store:
    """One row per message: the raw bytes as received, and the envelope."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written from the SMTP server's thread and read at start-up: the recorder's lock serialises both.
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, received_at TEXT NOT NULL,"
            " mail_from TEXT NOT NULL, recipients TEXT NOT NULL, raw BLOB NOT NULL)"
        )
        self._db.commit()

    def load(self) -> list[ReceivedMail]:
        rows = self._db.execute("SELECT id, received_at, mail_from, recipients, raw FROM messages ORDER BY id")
        return [
            ReceivedMail(datetime.fromisoformat(at), sender, json.loads(to), raw, id=ident)
            for ident, at, sender, to, raw in rows
        ]

    def add(self, received_at: datetime, mail_from: str, recipients: list[str], raw: bytes) -> int:
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO messages (received_at, mail_from, recipients, raw) VALUES (?, ?, ?, ?)",
                (received_at.isoformat(), mail_from, json.dumps(recipients), raw),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def close(self) -> None:
        self._db.close()


class _Recorder:
    def __init__(self, store: _Store | None) -> None:
        self.store = store
        self.messages: list[ReceivedMail] = store.load() if store else []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        now, sender, recipients = datetime.now(UTC), envelope.mail_from or "", list(envelope.rcpt_tos)
        with self.lock:
            if self.store is not None:
                ident = self.store.add(now, sender, recipients, raw)
            else:
                ident = (self.messages[-1].id if self.messages else 0) + 1
            self.messages.append(ReceivedMail(now, sender, recipients, raw, id=ident))
        log.info("mail_received", service="mail sink", mail_id=ident, to=recipients, subject=_subject(raw))
        return "250 Message accepted for delivery"


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MailSink:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, store: Path | None = None) -> None:
        """``store``: a SQLite file that keeps the messages across restarts; without it they live in memory."""
        self._store = _Store(store) if store is not None else None
        self._recorder = _Recorder(self._store)
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
        if self._store is not None:
            with self._recorder.lock:
                self._store.close()

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._recorder.lock:
            return list(self._recorder.messages)

    def get(self, ident: int) -> ReceivedMail | None:
        with self._recorder.lock:
            return next((m for m in self._recorder.messages if m.id == ident), None)


if __name__ == "__main__":  # python -m trellis.mailsink: the sink with its viewer, as `trellis mailsink` runs it
    from trellis.mailsink_cli import main

    main()
