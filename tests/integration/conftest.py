"""The three services in this process, on real PostgreSQL and NATS, over real gRPC."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from tests.helpers import Clients
from tests.in_process import running_services

pytestmark = pytest.mark.integration


@pytest.fixture
async def services(
    request: pytest.FixtureRequest,
    database_url: str,
    nats_url: str,
    namespace: str,
    signing_key: str,
    outbox_dir: Path,
) -> AsyncIterator[Clients]:
    """Catalog, personalizer and dispatcher serving on free ports, stopped after the test.

    The tests share one database, so the frequency cap is off unless a test asks for it with
    `@pytest.mark.personalizer_settings(frequency_cap_days=...)`.
    """
    personalizer_marker = request.node.get_closest_marker("personalizer_settings")
    dispatcher_marker = request.node.get_closest_marker("dispatcher_settings")
    async with running_services(
        database_url,
        nats_url,
        namespace,
        signing_key,
        outbox_dir,
        personalizer_overrides=personalizer_marker.kwargs if personalizer_marker else None,
        dispatcher_overrides=dispatcher_marker.kwargs if dispatcher_marker else None,
    ) as c:
        yield c
        await _drain_deliveries(database_url)


async def _drain_deliveries(database_url: str, seconds: float = 15.0) -> None:
    """Let the dispatcher send what the test approved, so that no later test's dispatcher (and
    its outbox or fake mailbox) receives another test's invitations. Approved drafts whose
    delivery is still pending are the measure: it covers events still on their way."""
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(int(seconds * 10)):
            pending = await conn.fetchval(
                """
                SELECT count(*) FROM personalizer.invitation_drafts
                WHERE state = 'approved' AND delivery_state = 'pending'
                """
            )
            if pending == 0:
                return
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
