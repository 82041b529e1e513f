"""Error classes that decide what a consumer does: retry (transient) or dead-letter (permanent)."""

from __future__ import annotations

import asyncio
import errno
import functools
import smtplib
import socket
from types import ModuleType

from pydantic import ValidationError


class PermanentError(Exception):
    """Retrying cannot help: the event goes to the DLQ with this message and its code (``rule.*`` when a rule of
    the service refuses it; the codes are listed in docs/integrating.md, "Dead letters")."""

    code = "rule.refused"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ContractError(PermanentError):
    """The event breaks its contract: bad envelope, unknown type, invalid data (``contract.*`` codes)."""

    code = "contract.invalid_data"


# The dead-letter vocabulary: every code a DLQ record's trellis_error_code header can hold, and what it means.
DEAD_LETTER_CODES = {
    "contract.not_a_cloudevent": "the record is not a CloudEvent: a required attribute or header is missing, the "
    "specversion is not 1.0, an attribute is invalid, or a mode we do not read (batched, data_base64)",
    "contract.not_json": "the value (or the request body) is not JSON, or the content type is not JSON",
    "contract.not_an_object": "the event's data is JSON but not an object (a string, a number, a list)",
    "contract.unknown_type": "the event type is not one the consuming service reads on this topic",
    "contract.invalid_data": "the data does not match the type's schema (the message names each field)",
    "contract.undecodable": "the record could not be decoded at all",
    "rule.unknown_cluster": "cluster-wide figures (skills.supply.reported) for a cluster no member was published for",
    "rule.other_cluster": "the event names a member of another cluster",
    "rule.refused": "a rule of the consuming service refused the event (the message says which)",
}


class TransientError(Exception):
    """A dependency is unavailable for now: retry later without moving the offset."""


@functools.cache
def _sqlalchemy_errors() -> ModuleType:
    # Imported on the first failure, not with this module: command-line tools read the vocabulary above and
    # would otherwise pay half a second for SQLAlchemy on every start.
    from sqlalchemy import exc

    return exc


@functools.cache
def _transient_types() -> tuple[type[BaseException], ...]:
    sa = _sqlalchemy_errors()
    return (
        TransientError,
        sa.OperationalError,
        sa.InterfaceError,
        sa.DisconnectionError,
        sa.TimeoutError,  # the connection pool is exhausted for now
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
    database_error = _sqlalchemy_errors().DBAPIError
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PermanentError | ValidationError):
            return False
        if isinstance(current, database_error) and current.connection_invalidated:
            return True
        if isinstance(current, _transient_types()) or _transient_sqlstate(current):
            return True
        if isinstance(current, OSError) and current.errno in _TRANSIENT_ERRNOS:
            return True
        if isinstance(current, database_error) and current.orig is not None and _transient_sqlstate(current.orig):
            return True
        current = current.__cause__
    return False
