"""A service's life: open resources, serve, and on SIGTERM stop in order without losing work.

Start: logging, migrations, the pool, NATS with the streams declared, the gRPC server, then the
background tasks (outbox relay, consumers, workers). Stop: health NOT_SERVING, in-flight calls get
the grace period, background tasks see `stop` and finish their current item, NATS drains, the
pool closes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import uvloop
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from services.common.db import create_pool
from services.common.grpc_server import GrpcServer
from services.common.logging import configure_logging
from services.common.messaging.consumer import MessageHandler, run_pull_consumer
from services.common.messaging.jetstream import connect, declare_streams
from services.common.messaging.topology import ConsumerSpec, Topology
from services.common.migrations import apply_migrations
from services.common.outbox import run_relay
from services.common.settings import CommonSettings

_log = logging.getLogger(__name__)

BackgroundTask = Callable[[asyncio.Event], Awaitable[None]]


@dataclass
class Infrastructure:
    """What a service's bootstrap wires its adapters to."""

    settings: CommonSettings
    pool: asyncpg.Pool[asyncpg.Record]
    nats: NATS
    js: JetStreamContext
    topology: Topology


@dataclass
class ServiceParts:
    """What a service adds to the common runtime: its servicers and its background tasks."""

    register: Callable[[GrpcServer], None]
    background: list[BackgroundTask] = field(default_factory=list)
    close: Callable[[], Awaitable[None]] | None = None


Build = Callable[[Infrastructure], Awaitable[ServiceParts]]


def outbox_relay_task(infra: Infrastructure, schema: str) -> BackgroundTask:
    """The background task that relays `schema`'s outbox to JetStream."""

    async def outbox_relay(stop: asyncio.Event) -> None:
        await run_relay(infra.pool, infra.js, schema, stop)

    return outbox_relay


def consumer_task(
    infra: Infrastructure, spec: ConsumerSpec, handler: MessageHandler
) -> BackgroundTask:
    """The background task that feeds `spec`'s durable consumer to `handler`."""

    async def consume(stop: asyncio.Event) -> None:
        await run_pull_consumer(infra.js, infra.topology, spec, handler, stop)

    consume.__name__ = f"consume {spec.durable}"
    return consume


async def serve(
    name: str,
    schema: str,
    settings: CommonSettings,
    build: Build,
    stop: asyncio.Event | None = None,
) -> None:
    """Run one service until `stop` is set, or, when none is given, until SIGTERM or SIGINT.

    A background task that dies stops the service too, and `serve` then raises, so that the
    process exits non-zero and its supervisor restarts it.
    """
    await asyncio.to_thread(apply_migrations, settings.database_url, schema)
    pool = await create_pool(
        settings.database_url, schema, settings.db_pool_min_size, settings.db_pool_max_size
    )
    nc = await connect(settings.nats_url, name)
    js = nc.jetstream()
    topology = Topology(settings.event_namespace)
    await declare_streams(js, topology)
    infra = Infrastructure(settings, pool, nc, js, topology)
    parts = await build(infra)

    server = GrpcServer(settings.signing_key(), settings.listen_address)
    parts.register(server)
    await server.start()
    _log.info("serving", extra={"service": name, "address": f"{settings.grpc_host}:{server.port}"})

    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    tasks: list[asyncio.Future[None]] = [
        asyncio.ensure_future(task(stop)) for task in parts.background
    ]
    waiter: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    died = [t for t in done if t is not waiter and t.exception() is not None]
    for task in died:
        _log.error("background task died", exc_info=task.exception())
    stop.set()
    waiter.cancel()

    _log.info("stopping", extra={"service": name})
    await server.stop(settings.shutdown_grace_seconds)
    # Background tasks finish the item in hand; one still waiting (for quota, say) after the
    # grace period is cancelled, which is safe: whatever was not committed is done again.
    if tasks:
        _, unfinished = await asyncio.wait(tasks, timeout=settings.shutdown_grace_seconds)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if parts.close is not None:
        await parts.close()
    await nc.drain()
    await pool.close()
    _log.info("stopped", extra={"service": name})
    if died:
        raise RuntimeError(f"{name}: a background task died") from died[0].exception()


def main(name: str, schema: str, settings: CommonSettings, build: Build) -> None:
    """Process entry point: JSON logs, uvloop, serve."""
    configure_logging(name, settings.log_level)
    uvloop.run(serve(name, schema, settings, build))
