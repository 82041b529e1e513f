"""Error classes that decide what a consumer does: retry (transient) or dead-letter (permanent)."""

from __future__ import annotations

import asyncio
import smtplib

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError


class PermanentError(Exception):
    """Retrying cannot help: the event goes to the DLQ with this message."""


class ContractError(PermanentError):
    """The event breaks its contract: bad envelope, unknown type, invalid data."""


class TransientError(Exception):
    """A dependency is unavailable for now: retry later without moving the offset."""


_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    TransientError,
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
    asyncio.TimeoutError,
    OSError,
    smtplib.SMTPServerDisconnected,
)


def is_transient(exc: BaseException) -> bool:
    """Infrastructure trouble is transient; anything else is a property of the event and permanent."""
    if isinstance(exc, PermanentError | ValidationError):
        return False
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _TRANSIENT_TYPES)
