"""The three services in this process, on real PostgreSQL and NATS, over real gRPC."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.catalog import bootstrap as catalog
from services.catalog.settings import CatalogSettings
from services.common.runtime import serve
from services.dispatcher import bootstrap as dispatcher
from services.dispatcher.settings import DispatcherSettings
from services.personalizer import bootstrap as personalizer
from services.personalizer.settings import PersonalizerSettings
from tests.helpers import Clients, clients, free_port, wait_until_serving

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
    marker = request.node.get_closest_marker("personalizer_settings")
    personalizer_overrides: dict[str, Any] = {"frequency_cap_days": 0}
    if marker is not None:
        personalizer_overrides.update(marker.kwargs)
    marker = request.node.get_closest_marker("dispatcher_settings")
    dispatcher_overrides: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    ports = {"catalog": free_port(), "personalizer": free_port(), "dispatcher": free_port()}
    common: dict[str, Any] = {
        "database_url": database_url,
        "nats_url": nats_url,
        "event_namespace": namespace,
        "jwt_secret": signing_key,
        "shutdown_grace_seconds": 2.0,
    }
    stop = asyncio.Event()
    runs = [
        serve(
            "catalog",
            catalog.SCHEMA,
            CatalogSettings(grpc_port=ports["catalog"], **common),
            catalog.build,
            stop,
        ),
        serve(
            "personalizer",
            personalizer.SCHEMA,
            PersonalizerSettings(
                grpc_port=ports["personalizer"],
                catalog_address=f"127.0.0.1:{ports['catalog']}",
                **personalizer_overrides,
                **common,
            ),
            personalizer.build,
            stop,
        ),
        serve(
            "dispatcher",
            dispatcher.SCHEMA,
            DispatcherSettings(
                grpc_port=ports["dispatcher"],
                outbox_dir=outbox_dir,
                send_poll_seconds=0.1,
                **dispatcher_overrides,
                **common,
            ),
            dispatcher.build,
            stop,
        ),
    ]
    tasks = [asyncio.create_task(r) for r in runs]
    endpoints = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    c = clients(endpoints, signing_key)
    try:
        await wait_until_serving(c, tasks)
        yield c
        await _drain_deliveries(database_url)
    finally:
        stop.set()
        await c.close()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, errors


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
