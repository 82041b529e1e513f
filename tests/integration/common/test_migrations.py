"""Each service's Alembic history builds exactly the tables its models describe, on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import NewDatabase
from trellis.embedded import SERVICES
from trellis_common.db import messaging_metadata
from trellis_common.migrations import upgrade
from trellis_common.runtime import ServiceDefinition


@pytest.mark.parametrize("definition", SERVICES, ids=lambda d: d.name)
async def test_migrations_match_the_models(definition: ServiceDefinition, new_database: NewDatabase) -> None:
    url = await new_database(definition.name)
    await upgrade(definition, url)
    await upgrade(definition, url)  # a second run is a no-op

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        # alembic annotates a single MetaData; like target_metadata, it takes a sequence of them
        return list(compare_metadata(context, [messaging_metadata, definition.metadata]))  # type: ignore[arg-type]

    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == [], f"{definition.name}: models and migrations differ; run scripts/new-migration"
