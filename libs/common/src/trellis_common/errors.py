"""Error classes that decide what a consumer does: retry (transient) or dead-letter (permanent)."""

from __future__ import annotations

import asyncio
import errno
import smtplib
import socket

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError


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
    DisconnectionError,
    PoolTimeoutError,  # the connection pool is exhausted for now
    ConnectionError,
    TimeoutError,
    asyncio.TimeoutError,
    socket.gaierror,  # DNS trouble
    smtplib.SMTPServerDisconnected,
)
# Network errnos; other OSErrors (a missing file, a permission) will not heal by retrying.
_TRANSIENT_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.ETIMEDOUT,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ENETDOWN,
    errno.EPIPE,
    errno.EAGAIN,
}


# SQLSTATE classes and codes that describe the server's state, not the statement: connection exceptions,
# insufficient resources, operator intervention (shutdown, restart), a database that is gone for now,
# serialisation failures and deadlocks.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57", "58")
_TRANSIENT_SQLSTATES = {"3D000", "40001", "40P01", "55006"}


def _transient_sqlstate(exc: BaseException) -> bool:
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return isinstance(state, str) and (state[:2] in _TRANSIENT_SQLSTATE_CLASSES or state in _TRANSIENT_SQLSTATES)


def is_transient(exc: BaseException) -> bool:
    """Infrastructure trouble is transient; anything else is a property of the event and permanent.

    Walks the cause chain, because drivers wrap the socket or server error that tells what happened.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PermanentError | ValidationError):
            return False
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, _TRANSIENT_TYPES) or _transient_sqlstate(current):
            return True
        if isinstance(current, OSError) and current.errno in _TRANSIENT_ERRNOS:
            return True
        if isinstance(current, DBAPIError) and current.orig is not None and _transient_sqlstate(current.orig):
            return True
        current = current.__cause__
    return False
