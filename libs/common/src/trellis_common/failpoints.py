"""Named crash points for fault-injection tests (``TRELLIS_FAILPOINTS=consumer.after_db_commit``).

A failpoint kills the process with SIGKILL, the way an OOM kill or a node loss would, so tests can prove
that nothing is lost or doubled. Empty by default; the settings never enable one implicitly.
``name@event-type`` fires only where that type of event is at hand (e.g. in a consumer batch holding one),
so a test can crash on the event it follows rather than on whatever the service happens to read first.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable

CONSUMER_BEFORE_DB_COMMIT = "consumer.before_db_commit"  # a batch handled, its transaction not committed
CONSUMER_AFTER_DB_COMMIT = "consumer.after_db_commit"  # a batch committed, its offsets not
RELAY_AFTER_PUBLISH = "relay.after_publish"


class Failpoints:
    def __init__(self, spec: str) -> None:
        self._active = {p.strip() for p in spec.split(",") if p.strip()}

    def hit(self, name: str, event_types: Iterable[str] = ()) -> None:
        if name in self._active or any(f"{name}@{t}" in self._active for t in event_types):
            os.kill(os.getpid(), signal.SIGKILL)
