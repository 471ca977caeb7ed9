"""The three services in this process, on real PostgreSQL and NATS, over real gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext

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

    Settings of the personalizer or the dispatcher come from the test's
    `@pytest.mark.personalizer_settings(...)` and `@pytest.mark.dispatcher_settings(...)`.
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


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    """A JetStream client of the test's NATS, to publish events and read streams directly."""
    nc = await nats.connect(nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.drain()
