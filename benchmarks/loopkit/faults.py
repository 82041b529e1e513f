"""What the chaos runs break and mend: the mail relay (refusing or gone) and the infrastructure itself (the Kafka
broker and PostgreSQL stopped, cleanly or as a crash, then started again by ``scripts/infra``)."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections import defaultdict
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

ROOT = Path(__file__).resolve().parents[2]
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class FlakySink:
    """The mail relay: keeps, per recipient, the Message-IDs that arrived; can refuse (451) or vanish."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.arrivals: dict[str, list[bytes]] = defaultdict(list)
        self.refusing = False
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refusing:
            return "451 4.3.0 Try again later"
        content = envelope.original_content or b""
        found = _MESSAGE_ID.search(content if isinstance(content, bytes) else content.encode())
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                self.arrivals[rcpt.lower()].append(found.group(1) if found else b"")
        return "250 OK"

    def start(self) -> None:  # as the platform starts and stops its sink
        self.up()

    def stop(self) -> None:
        self.down()

    def up(self) -> None:
        if self._controller is None:
            self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
            self._controller.start()

    def down(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def snapshot(self) -> dict[str, list[bytes]]:
        with self._lock:
            return {k: list(v) for k, v in self.arrivals.items()}


class Infrastructure:
    """The broker and PostgreSQL the run uses, as ``scripts/infra`` manages them (the environment it inherits
    names which instance: ``scripts/chaos`` gives the run one of its own)."""

    def __init__(self) -> None:
        self.script = ROOT / "scripts" / "infra"
        self.environment = dict(os.environ)

    def _infra(self, *args: str) -> None:
        done = subprocess.run(  # noqa: S603 - our own script, no user input
            [str(self.script), *args], env=self.environment, capture_output=True, text=True, timeout=180, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"scripts/infra {' '.join(args)} failed:\n{done.stderr[-2000:]}")

    def stop(self, what: str, *, crash: bool) -> None:
        self._infra("stop", what, *(["--crash"] if crash else []))

    def start(self) -> None:
        self._infra("up")
