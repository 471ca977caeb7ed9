"""The personalizer's unit of work."""

from __future__ import annotations

import asyncpg

from services.common.unit_of_work import UnitOfWork
from services.personalizer.adapters.batch_repository import BatchRepository
from services.personalizer.adapters.platform_repository import PlatformRepository


class PersonalizerUnitOfWork(UnitOfWork):
    batches: BatchRepository
    platform: PlatformRepository

    def _bind(self, conn: asyncpg.Connection) -> None:
        self.batches = BatchRepository(conn)
        self.platform = PlatformRepository(conn)
