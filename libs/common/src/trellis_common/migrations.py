"""Alembic, per service: each service keeps its own migration history in its own database."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from trellis_common.db import messaging_metadata

if TYPE_CHECKING:
    from trellis_common.runtime import ServiceDefinition


def alembic_config(definition: ServiceDefinition, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", definition.migrations)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(definition: ServiceDefinition, url: str, revision: str = "head") -> None:
    # Alembic's env runs its own event loop; keep it off ours.
    await asyncio.to_thread(command.upgrade, alembic_config(definition, url), revision)


def run_env(service_metadata: MetaData) -> None:
    """Body of every service's ``migrations/env.py``: the service's tables plus the messaging tables."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set"
    targets = [messaging_metadata, service_metadata]

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=targets,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def online() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
        await engine.dispose()

    asyncio.run(online())
