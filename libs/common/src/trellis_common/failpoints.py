"""Named crash points for fault-injection tests (``TRELLIS_FAILPOINTS=consumer.after_db_commit``).

A failpoint kills the process with SIGKILL, the way an OOM kill or a node loss would, so tests can prove
that nothing is lost or doubled. Empty by default; the settings never enable one implicitly.
"""

from __future__ import annotations

import os
import signal

CONSUMER_BEFORE_DB_COMMIT = "consumer.before_db_commit"  # a batch handled, its transaction not committed
CONSUMER_AFTER_DB_COMMIT = "consumer.after_db_commit"  # a batch committed, its offsets not
RELAY_AFTER_PUBLISH = "relay.after_publish"


class Failpoints:
    def __init__(self, spec: str) -> None:
        self._active = {p.strip() for p in spec.split(",") if p.strip()}

    def hit(self, name: str) -> None:
        if name in self._active:
            os.kill(os.getpid(), signal.SIGKILL)
