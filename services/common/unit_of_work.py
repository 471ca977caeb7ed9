"""The unit of work: the one door through which a use case's changes and events go out.

A use case works inside `async with uow:`; nothing is kept unless it calls `commit()`. On commit
the unit of work collects the events of every aggregate its repositories have seen, encodes each
through the service's event registry and writes them to the outbox in the same transaction as
the change, so an event exists if and only if the change does. `first_time(event_id)` is the one
check that an incoming event is applied once.

`UnitOfWork` holds what every implementation shares; `PostgresUnitOfWork` is the real one, and
the unit tests' in-memory one (tests/fakes) implements the same few methods.
"""

from __future__ import annotations

import abc
import uuid
from types import TracebackType
from typing import Self, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.common.db import Connection
from services.common.domain import Aggregate, Event
from services.common.messaging.registry import EventRegistry
from services.common.outbox import add_to_outbox

A = TypeVar("A", bound=Aggregate)


class Repository:
    """Base of every repository, real or fake: it remembers the aggregates it handed out or was
    given, so that the unit of work can collect their events."""

    def __init__(self) -> None:
        self._seen: dict[int, Aggregate] = {}

    def seen(self, aggregate: A) -> A:
        self._seen[id(aggregate)] = aggregate
        return aggregate

    def collect_events(self) -> list[Event]:
        return [e for aggregate in self._seen.values() for e in aggregate.collect_events()]


class UnitOfWork(abc.ABC):
    """What a use case sees: its repositories, `commit()` and `first_time()`."""

    @abc.abstractmethod
    def repositories(self) -> list[Repository]:
        """The repositories whose aggregates' events go out on commit."""

    def collect_events(self) -> list[Event]:
        return [e for repository in self.repositories() for e in repository.collect_events()]

    @abc.abstractmethod
    async def first_time(self, event_id: uuid.UUID) -> bool:
        """Mark an incoming event applied; False when it was before (do nothing then). Part of
        the transaction: if the use case does not commit, the event is not marked."""

    @abc.abstractmethod
    async def commit(self) -> None: ...

    @abc.abstractmethod
    async def __aenter__(self) -> Self: ...

    @abc.abstractmethod
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class PostgresUnitOfWork(UnitOfWork):
    """One pooled connection, one transaction. Subclasses create their repositories in `_bind`."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], registry: EventRegistry) -> None:
        self._pool = pool
        self._registry = registry
        self._conn: PoolConnectionProxy[asyncpg.Record] | None = None
        self._tx: asyncpg.transaction.Transaction | None = None

    @property
    def connection(self) -> Connection:
        assert self._conn is not None, "use the unit of work inside `async with`"
        return self._conn

    @abc.abstractmethod
    def _bind(self, conn: Connection) -> None:
        """Create the repositories over `conn`."""

    async def __aenter__(self) -> Self:
        conn = await self._pool.acquire()
        self._conn = conn
        try:
            self._tx = conn.transaction()
            await self._tx.start()
        except BaseException:
            self._conn = None
            await self._pool.release(conn)
            raise
        self._bind(conn)
        return self

    async def first_time(self, event_id: uuid.UUID) -> bool:
        first = await self.connection.fetchval(
            "INSERT INTO processed_events (event_id) VALUES ($1) ON CONFLICT DO NOTHING"
            " RETURNING true",
            event_id,
        )
        return bool(first)

    async def commit(self) -> None:
        """Write the collected events to the outbox and commit."""
        assert self._tx is not None, "commit inside `async with`, once"
        messages = [self._registry.to_outbox(e) for e in self.collect_events()]
        await add_to_outbox(self.connection, messages)
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
