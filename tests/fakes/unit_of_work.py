"""The in-memory unit of work the handler unit tests run on: no PostgreSQL, no NATS.

Each service's fake subclasses it with fake repositories over one `FakeStore`, which outlives
the units of work as a database would. What a committed unit of work would have written to the
outbox is kept, as domain events, in `store.published`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from services.common.domain import Event
from services.common.unit_of_work import UnitOfWork


@dataclass
class FakeStore:
    published: list[Event] = field(default_factory=list)
    processed: set[uuid.UUID] = field(default_factory=set)
    commits: int = 0

    def published_of(self, event_type: type[Event]) -> list[Event]:
        return [e for e in self.published if isinstance(e, event_type)]


class FakeUnitOfWork(UnitOfWork):
    """Commits land in the store; the repositories write to it directly, as the handlers see
    only what they read back. A unit of work left without commit publishes nothing."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self._open = False
        self._processed: set[uuid.UUID] = set()

    async def __aenter__(self) -> Self:
        self._open = True
        self._processed = set()
        return self

    async def first_time(self, event_id: uuid.UUID) -> bool:
        assert self._open, "use the unit of work inside `async with`"
        if event_id in self.store.processed or event_id in self._processed:
            return False
        self._processed.add(event_id)
        return True

    async def commit(self) -> None:
        assert self._open, "commit inside `async with`"
        self.store.published.extend(self.collect_events())
        self.store.processed |= self._processed
        self.store.commits += 1

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        self._processed = set()
