"""The unit of work: one connection, one transaction, events out through the outbox.

It rolls back unless `commit()` is called; `commit()` writes the collected outbox messages in
the same transaction as the state change, so an event exists if and only if the change does.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.common.db import Connection
from services.common.outbox import OutboxMessage, add_to_outbox


class UnitOfWork:
    """Base of each service's unit of work; subclasses bind their repositories in `_bind`."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self._pool = pool
        self._conn: PoolConnectionProxy[asyncpg.Record] | None = None
        self._tx: asyncpg.transaction.Transaction | None = None
        self._outbox: list[OutboxMessage] = []

    @property
    def connection(self) -> Connection:
        assert self._conn is not None, "use the unit of work inside `async with`"
        return self._conn

    def _bind(self, conn: Connection) -> None:
        """Create the repositories over `conn`."""

    def publish(self, message: OutboxMessage) -> None:
        """Queue an event; it is written to the outbox on commit."""
        self._outbox.append(message)

    async def __aenter__(self) -> Self:
        conn = await self._pool.acquire()
        self._conn = conn
        self._tx = conn.transaction()
        await self._tx.start()
        self._outbox = []
        self._bind(conn)
        return self

    async def commit(self) -> None:
        """Write the queued events and commit."""
        assert self._tx is not None and self._conn is not None
        await add_to_outbox(self._conn, self._outbox)
        await self._tx.commit()
        self._tx = None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._tx is not None:
                await self._tx.rollback()
        finally:
            self._tx = None
            if self._conn is not None:
                await self._pool.release(self._conn)
                self._conn = None
