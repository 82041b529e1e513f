"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import NewDatabase
from tests.support.distributed import Distributed
from trellis.mailsink import MailSink


@pytest.fixture
async def distributed(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase, smtp_sink: MailSink
) -> AsyncIterator[Distributed]:
    platform = Distributed(tmp_path, kafka_bootstrap, topic_prefix, smtp_sink)
    try:
        yield platform
    finally:
        platform.stop_all()
