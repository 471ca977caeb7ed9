"""The edge's NATS, for the webhooks only: the registration pages never wait for it.

At start the edge connects and declares the streams as the services do, waiting a few seconds
for it; if NATS is away, the connection goes on being tried in the background (nats-py retries
for as long as it takes) and webhooks are answered 503 until it is there, which Zoom retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from nats.aio.client import Client as NATS

from services.common.messaging.jetstream import connect, declare_streams
from services.common.messaging.topology import Topology
from services.edge.adapters.activity_publisher import JetStreamActivityPublisher

_log = logging.getLogger(__name__)

# How long the start waits for NATS before serving without it.
START_WAIT_SECONDS = 5.0


@contextlib.asynccontextmanager
async def nats_for_webhooks(
    url: str, name: str, topology: Topology, publisher: JetStreamActivityPublisher
) -> AsyncIterator[None]:
    """NATS connected (now or later) and handed to `publisher`; drained at the end."""

    async def connected() -> NATS:
        nc = await connect(url, name)
        try:
            await declare_streams(nc.jetstream(), topology)
        except BaseException:
            await nc.close()
            raise
        publisher.attach(nc.jetstream())
        _log.info("NATS connected for webhooks", extra={"service": name})
        return nc

    task = asyncio.create_task(connected())
    done, _ = await asyncio.wait({task}, timeout=START_WAIT_SECONDS)
    if not done:
        _log.warning("NATS not there yet: webhooks answer 503 until it is")
    try:
        yield
    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({task})
        if task.done() and not task.cancelled():
            if task.exception() is None:
                await task.result().drain()
            else:
                _log.error("NATS for webhooks failed", exc_info=task.exception())
