"""The edge's pages in a real headless browser: Debian's chromium driven by Playwright.

Playwright's own browser download cannot be used here (no internet on the test machines), so the
tests launch /usr/bin/chromium and are skipped, saying so, where it is not installed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.helpers import Clients
from tests.in_process import running_services

CHROMIUM = Path("/usr/bin/chromium")
NO_CHROMIUM = "install Debian's chromium (.ci/run does)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(pytest.mark.skip(reason=NO_CHROMIUM))


@pytest.fixture
async def services(
    database_url: str, nats_url: str, namespace: str, signing_key: str, outbox_dir: Path
) -> AsyncIterator[Clients]:
    async with running_services(database_url, nats_url, namespace, signing_key, outbox_dir) as c:
        yield c


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            await launched.close()
