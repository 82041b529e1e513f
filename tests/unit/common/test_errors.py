from __future__ import annotations

import errno

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from trellis_common.errors import ContractError, PermanentError, TransientError, is_transient


def _wrapped(orig: Exception) -> DBAPIError:
    return DBAPIError("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    "exc",
    [
        TransientError("broker down"),
        ConnectionRefusedError(),
        TimeoutError(),
        OperationalError("SELECT 1", {}, Exception("database is locked")),
        _wrapped(asyncpg.exceptions.InvalidCatalogNameError("database is away")),
        _wrapped(asyncpg.exceptions.CannotConnectNowError("starting up")),
        _wrapped(asyncpg.exceptions.TooManyConnectionsError("too many")),
        _wrapped(asyncpg.exceptions.DeadlockDetectedError("deadlock")),
        PoolTimeoutError("QueuePool limit of size 10 overflow 10 reached"),
        OSError(errno.EHOSTUNREACH, "no route to host"),
    ],
)
def test_infrastructure_trouble_is_transient(exc: Exception) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        PermanentError("rule"),
        ContractError("bad"),
        ValueError("bug"),
        KeyError("x"),
        IntegrityError("INSERT", {}, asyncpg.exceptions.UniqueViolationError("dup")),
        FileNotFoundError(errno.ENOENT, "template missing"),
        PermissionError(errno.EACCES, "denied"),
    ],
)
def test_everything_else_is_permanent(exc: Exception) -> None:
    assert not is_transient(exc)


def test_cause_chain_is_followed_but_not_the_handling_context() -> None:
    try:
        try:
            raise ConnectionResetError()
        except ConnectionResetError as inner:
            raise RuntimeError("lost the connection") from inner
    except RuntimeError as outer:
        assert is_transient(outer)
    try:
        try:
            raise ConnectionResetError()
        except ConnectionResetError:
            raise ValueError("a bug while handling") from None
    except ValueError as outer:
        assert not is_transient(outer)
