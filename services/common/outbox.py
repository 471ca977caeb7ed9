"""The transactional outbox: events are written with the state change, then relayed to JetStream.

Each service has an `outbox` table in its schema (see its first migration). A unit of work adds
rows inside its transaction; the relay publishes them in order with their event id as
Nats-Msg-Id and marks them published. A crash between publish and mark re-publishes on restart,
and JetStream drops the repeat inside its duplicate window; consumers de-duplicate by event id too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from nats.js import JetStreamContext

from services.common.db import Connection
from services.common.messaging.jetstream import publish_event
from services.common.outages import is_dependency_unavailable, log_failure

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxMessage:
    """An event ready to be written to the outbox."""

    event_id: str
    subject: str
    payload: bytes


async def add_to_outbox(conn: Connection, messages: list[OutboxMessage]) -> None:
    """Write events in the caller's transaction."""
    if not messages:
        return
    await conn.executemany(
        "INSERT INTO outbox (event_id, subject, payload) VALUES ($1, $2, $3)",
        [(m.event_id, m.subject, m.payload) for m in messages],
    )


async def relay_once(
    pool: asyncpg.Pool[asyncpg.Record], js: JetStreamContext, limit: int = 200
) -> int:
    """Publish up to `limit` unpublished events in order; return how many went out."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """
            SELECT id, event_id, subject, payload FROM outbox
            WHERE published_at IS NULL
            ORDER BY id
            LIMIT $1
            FOR UPDATE SKIP LOCKED
            """,
            limit,
        )
        for row in rows:
            await publish_event(js, row["subject"], str(row["event_id"]), bytes(row["payload"]))
        if rows:
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                [row["id"] for row in rows],
            )
    return len(rows)


class _Listener:
    """The relay's LISTEN connection, opened again after PostgreSQL went away and came back.

    Without it the relay still runs on its poll timer, but each event waits up to a poll.
    """

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], channel: str, wake: asyncio.Event):
        self._pool = pool
        self._channel = channel
        self._wake = wake
        self._conn: PoolConnectionProxy[asyncpg.Record] | None = None

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    def _is_open(self) -> bool:
        if self._conn is None:
            return False
        try:
            return not self._conn.is_closed()
        except asyncpg.InterfaceError:  # the pool already took back a connection that died
            return False

    async def ensure_open(self) -> None:
        if self._is_open():
            return
        await self.close()
        try:
            conn = await self._pool.acquire()
        except Exception as exc:
            if not is_dependency_unavailable(exc):
                raise
            return  # PostgreSQL is away: the poll timer carries on until it is back
        try:
            await conn.add_listener(self._channel, self._on_notify)
        except Exception:
            await self._pool.release(conn)
            raise
        self._conn = conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        # A connection PostgreSQL closed has nothing to unlisten, and the pool has it back.
        with contextlib.suppress(asyncpg.InterfaceError, asyncpg.PostgresError, OSError):
            await conn.remove_listener(self._channel, self._on_notify)
        with contextlib.suppress(asyncpg.InterfaceError):
            await self._pool.release(conn)


async def run_relay(
    pool: asyncpg.Pool[asyncpg.Record],
    js: JetStreamContext,
    schema: str,
    stop: asyncio.Event,
    poll: float = 1.0,
) -> None:
    """Relay until `stop` is set, woken by the outbox trigger's NOTIFY and by a poll timer."""
    wake = asyncio.Event()
    listener = _Listener(pool, f"{schema}_outbox", wake)
    try:
        while not stop.is_set():
            try:
                await listener.ensure_open()
                while await relay_once(pool, js):
                    pass
            except Exception as exc:
                log_failure(_log, "outbox relay failed, will retry", exc)
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(wake, stop), timeout=poll)
    finally:
        await listener.close()


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
