"""A service's life: open resources, serve, and on SIGTERM stop in order without losing work.

Start: logging, migrations, the pool, NATS with the streams declared, the gRPC server, then the
background tasks (outbox relay, consumers, workers). Stop: health NOT_SERVING, in-flight calls get
the grace period, background tasks see `stop` and finish their current item, NATS drains, the
pool closes.

Outages: every service needs PostgreSQL to answer anything, so a monitor pings it on a
connection of its own every second and reports NOT_SERVING (for the server and each service)
while it is away, SERVING again once it answers; calls meanwhile get UNAVAILABLE. NATS is not
needed to serve: RPCs write their events to the outbox in PostgreSQL and the relay publishes them
when NATS is back, so a NATS outage delays events and leaves health SERVING. A background task
that loses PostgreSQL or NATS is started again with backoff instead of stopping the service; the
pool replaces connections that died with the server, and nats-py reconnects for as long as it
takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
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
from services.common.outages import is_dependency_unavailable
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


# How often the database is pinged for health, and how long a ping may take.
DATABASE_PING_SECONDS = 1.0
DATABASE_PING_TIMEOUT_SECONDS = 2.0
# A background task that lost a dependency starts again after this, doubling up to the cap.
RESTART_DELAY_SECONDS = 0.5
RESTART_DELAY_CAP_SECONDS = 15.0


class DatabaseProbe:
    """Asks PostgreSQL `SELECT 1` on a connection of its own.

    Not through the pool: a pool busy with a burst of calls would read as a database that is
    away, and health would turn a loaded replica out of its balancer.
    """

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._conn: asyncpg.Connection[asyncpg.Record] | None = None

    async def answers(self, within: float) -> bool:
        """True when PostgreSQL answers within `within` seconds."""
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self._url, timeout=within)
            await self._conn.fetchval("SELECT 1", timeout=within)
        except Exception as exc:
            _log.debug("database ping failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            await self.close()
            return False
        return True

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()


async def watch_database(
    database_url: str,
    server: GrpcServer,
    stop: asyncio.Event,
    interval: float = DATABASE_PING_SECONDS,
    ping_timeout: float = DATABASE_PING_TIMEOUT_SECONDS,
) -> None:
    """Keep health at NOT_SERVING while PostgreSQL does not answer, SERVING once it does."""
    probe = DatabaseProbe(database_url)
    serving = True
    try:
        while not stop.is_set():
            answers = await probe.answers(ping_timeout)
            if answers != serving:
                serving = answers
                if serving:
                    _log.warning("database is back: serving")
                else:
                    _log.warning("database unavailable: not serving")
                await server.set_serving(serving)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    finally:
        await probe.close()


def restarted_on_outage(task: BackgroundTask) -> BackgroundTask:
    """`task`, started again with backoff whenever it fails because a dependency is away.

    Any other failure still ends it, and with it the service (see `serve`): a bug is not
    retried forever in silence.
    """
    name = getattr(task, "__name__", "background task")

    async def supervised(stop: asyncio.Event) -> None:
        delay = RESTART_DELAY_SECONDS
        while True:
            started = time.monotonic()
            try:
                await task(stop)
                return
            except Exception as exc:
                if stop.is_set():
                    _log.info("background task ended while stopping", extra={"task": name})
                    return
                if not is_dependency_unavailable(exc):
                    raise
                if time.monotonic() - started > RESTART_DELAY_CAP_SECONDS:
                    delay = RESTART_DELAY_SECONDS  # it ran well for a while: a new outage
                _log.warning(
                    "background task lost a dependency, restarting",
                    extra={"task": name, "error": f"{type(exc).__name__}: {exc}", "delay": delay},
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return
            delay = min(delay * 2, RESTART_DELAY_CAP_SECONDS)

    supervised.__name__ = name
    return supervised


async def serve(
    name: str,
    schema: str,
    settings: CommonSettings,
    build: Build,
    stop: asyncio.Event | None = None,
) -> None:
    """Run one service until `stop` is set, or, when none is given, until SIGTERM or SIGINT.

    A background task that dies of anything but an outage stops the service too, and `serve`
    then raises, so that the process exits non-zero and its supervisor restarts it.
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
        asyncio.ensure_future(restarted_on_outage(task)(stop)) for task in parts.background
    ]
    tasks.append(asyncio.ensure_future(watch_database(settings.database_url, server, stop)))
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
