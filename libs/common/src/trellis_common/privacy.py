"""Personal data in the messaging tables: erasing a person also purges the outbox rows that carry them.

The outbox keeps rows after the relay published them (for a day, for operators); a row that names an erased
person must not outlive the erasure. ``purge_outbox`` deletes, in the caller's transaction:

- rows already published (``sent_at`` set) or set aside for good (``failed_at`` set): the relay never reads
  them again, so deleting them cannot change what is published;
- unpublished rows of the event types the caller names, when a newer event supersedes them (e.g. the state of
  a member on a compacted topic, queued in the same transaction without the erased contact).

A row goes only if it mentions one of the ``needles`` (compared case-insensitively in the decoded payload,
the headers and the error), so other rows of the same key stay.

Inbox rows hold event ids and types only, audit rows the caller, method and path (ids, never names or
addresses): neither needs erasing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from trellis_common.repositories.erasure import delete_outbox_rows, erasable_outbox_rows

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

ERASED = "erased"


def needles_of(*values: str | None) -> list[str]:
    """The non-empty, lower-cased strings to look for (names and addresses as the person gave them)."""
    return sorted({value.strip().lower() for value in values if value and value.strip()})


def name_needles(*names: str | None) -> list[str]:
    """Names worth searching other people's rows for: a full name ("Anna Schmidt") or a long one. A short
    single word ("Ann", "Sales") would match unrelated rows, and erasing those would destroy other people's
    data; the person's own rows are found by id and address instead."""
    return [name for name in needles_of(*names) if " " in name or len(name) >= 8]


def row_text(*parts: Any) -> str:
    """Everything a row says, lower-cased, with JSON decoded so escaped characters compare as written."""
    texts: list[str] = []
    for part in parts:
        if part is None:
            continue
        if isinstance(part, bytes | bytearray | memoryview):
            raw = bytes(part).decode("utf-8", errors="replace")
            try:
                texts.append(json.dumps(json.loads(raw), ensure_ascii=False))
            except ValueError:
                texts.append(raw)
        elif isinstance(part, str):
            texts.append(part)
        else:
            texts.append(json.dumps(part, ensure_ascii=False, default=str))
    return "\n".join(texts).lower()


def mentions(text: str, needles: Iterable[str]) -> bool:
    return any(needle in text for needle in needles)


async def purge_outbox(
    session: AsyncSession,
    needles: Sequence[str],
    *,
    keys: Sequence[str] | None = None,
    superseded_types: Sequence[str] = (),
) -> int:
    """Delete the outbox rows (of ``keys``, if given) that mention a needle; returns how many went.

    Published and failed rows always qualify; unpublished rows only when their type is in
    ``superseded_types``.
    """
    if not needles:
        return 0
    rows = await erasable_outbox_rows(session, keys=keys, superseded_types=superseded_types)
    doomed = [row.id for row in rows if mentions(row_text(row.payload, row.headers, row.error), needles)]
    if doomed:
        await delete_outbox_rows(session, doomed)
    return len(doomed)
