"""The ingress service's tables.

- ``accepted_events``: every event accepted over HTTP, by CloudEvents id, with a digest of what was posted, so a
  retry of the same post is answered as before and a different event reusing an id is refused.
- ``member_names`` and ``cluster_names``: members and clusters surveys published (``surveys.member.changed``), so
  an event for a cluster nobody registered is refused at the door.
The events themselves go to Kafka through the common transactional outbox.
"""

from __future__ import annotations

from sqlalchemy import Column, String, Table

from trellis_common.db import UTCDateTime, new_metadata
from trellis_common.repositories.names import name_tables

metadata = new_metadata()
NAMES = name_tables(metadata)

accepted_events = Table(
    "accepted_events",
    metadata,
    Column("event_id", String(64), primary_key=True),  # the outbox keeps ids of this length too
    Column("source", String(512), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("caller", String(256), nullable=False),
    Column("accepted_at", UTCDateTime, nullable=False, index=True),
)
