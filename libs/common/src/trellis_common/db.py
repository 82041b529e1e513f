"""Async SQLAlchemy engine and sessions; the messaging tables every service keeps in its own database."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from trellis_common import json_codec

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset; we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Integer primary keys autoincrement on SQLite only when declared INTEGER; BIGINT elsewhere.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")

messaging_metadata = new_metadata()

outbox = Table(
    "outbox",
    messaging_metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("event_type", String(200), nullable=False),
    Column("topic", String(255), nullable=False),
    Column("key", String(255), nullable=True),
    Column("headers", JSON, nullable=False),
    Column("payload", LargeBinary, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True, index=True),
    # Set when the broker refuses the row for good (e.g. too large): set aside for an operator, not retried.
    Column("failed_at", UTCDateTime, nullable=True),
    Column("error", Text, nullable=True),
)

inbox = Table(
    "inbox",
    messaging_metadata,
    Column("consumer", String(120), primary_key=True),
    Column("event_id", String(128), primary_key=True),
    Column("event_type", String(200), nullable=False),
    Column("processed_at", UTCDateTime, nullable=False),
)

# Administrative actions: every successful change made through a service's API, by whom and when.
audit_log = Table(
    "audit_log",
    messaging_metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actor", String(256), nullable=False, index=True),
    Column("roles", String(200), nullable=False),
    Column("method", String(10), nullable=False),
    Column("path", String(500), nullable=False),
    Column("status", Integer, nullable=False),
    Column("correlation_id", String(128), nullable=True),
)

schedule_fires = Table(
    "schedule_fires",
    messaging_metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("schedule_key", String(255), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("fired_at", UTCDateTime, nullable=False),
    Column("late", Integer, nullable=False, server_default=text("0")),
    Column("note", Text, nullable=True),
    UniqueConstraint("schedule_key", "due_at"),
)


def insert_for(session_or_dialect: AsyncSession | str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that supports ``on_conflict_do_nothing`` on PostgreSQL and SQLite alike."""
    name = session_or_dialect if isinstance(session_or_dialect, str) else session_or_dialect.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database dialect {name}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """With the write-ahead log, NORMAL sync is safe from corruption and loses no commit to a process crash
    (only, at worst, the last ones to a power cut): right for embedded mode, and commits stop waiting on fsync."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


PREPARED_STATEMENTS_PER_CONNECTION = 1000
# A pooled connection unused for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_S = 1.0


# JSON columns (the outbox's event data, a match's explanation, a run's options) written and read by
# pydantic-core, several times as fast as the standard library on the larger values every event carries.
_JSON_CODEC: dict[str, Any] = {"json_serializer": json_codec.dumps_text, "json_deserializer": json_codec.loads}


def _ping_when_idle(engine: AsyncEngine, idle_s: float) -> None:
    """``pool_pre_ping``, but only for a connection that sat in the pool for ``idle_s`` or more.

    The driver's ping is three round trips (BEGIN, a query, ROLLBACK); paid at every checkout it was 3-4% of a
    consumer's CPU, on connections used a few milliseconds before. What the ping is for (a server restarted, or a
    firewall that dropped an idle connection) happens to connections that waited; one used just now that fails is
    seen as a disconnect anyway: SQLAlchemy then discards every older connection of the pool, and the error is
    transient, so the consumer or request is tried again on a fresh one.
    """
    dialect = engine.sync_engine.dialect

    def returned(_dbapi_connection: Any, entry: ConnectionPoolEntry) -> None:
        entry.info["returned_at"] = time.monotonic()

    def checked_out(dbapi_connection: Any, entry: ConnectionPoolEntry, _proxy: Any) -> None:
        returned_at = entry.info.get("returned_at")  # none on a connection just made: it needs no ping
        if returned_at is None or time.monotonic() - returned_at < idle_s:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:  # what a dead connection raises depends on the driver
            raise DisconnectionError(f"pooled connection failed its ping: {exc!r}") from exc
        if not alive:
            raise DisconnectionError("pooled connection failed its ping")

    # The pool replaces a connection whose checkout raised DisconnectionError with a new one.
    event.listen(engine.sync_engine, "checkin", returned)
    event.listen(engine.sync_engine, "checkout", checked_out)


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo, **_JSON_CODEC}
        if url.startswith("sqlite"):
            # Writers wait for each other instead of failing with "database is locked".
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size)
            # Each IN list of another length is another statement to prepare (a round trip to the server). The
            # driver's default of 100 per connection churned on the hot paths: statements were prepared, evicted
            # and closed again within a matching round.
            kwargs["connect_args"] = {"prepared_statement_cache_size": PREPARED_STATEMENTS_PER_CONNECTION}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        _ping_when_idle(self.engine, PING_AFTER_IDLE_S)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.dialect = self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def prepare(self) -> None:
        """Per-connection pragmas for SQLite (WAL lets readers run beside the writer)."""
        if self.dialect == "sqlite":
            async with self.engine.begin() as conn:
                await conn.execute(text("PRAGMA journal_mode=WAL"))

    async def dispose(self) -> None:
        await self.engine.dispose()
