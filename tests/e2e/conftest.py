"""Fixtures of the end-to-end tests: the distributed platform, and Debian's headless Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.conftest import NewDatabase
from tests.support.distributed import Distributed
from trellis.mailsink import MailSink

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def distributed(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase, smtp_sink: MailSink
) -> AsyncIterator[Distributed]:
    platform = Distributed(tmp_path, kafka_bootstrap, topic_prefix, smtp_sink)
    try:
        yield platform
    finally:
        platform.stop_all()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium); "
            "this test never skips"
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()
