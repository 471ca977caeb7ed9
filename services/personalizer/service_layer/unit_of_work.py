"""The personalizer's unit of work."""

from __future__ import annotations

from services.common.db import Connection
from services.common.unit_of_work import UnitOfWork
from services.personalizer.adapters.batch_repository import BatchRepository
from services.personalizer.adapters.benchmark_repository import BenchmarkRepository
from services.personalizer.adapters.history_repository import (
    HistoryRepository,
    SuppressionRepository,
)
from services.personalizer.adapters.platform_repository import PlatformRepository


class PersonalizerUnitOfWork(UnitOfWork):
    batches: BatchRepository
    platform: PlatformRepository
    benchmarks: BenchmarkRepository
    history: HistoryRepository
    suppressions: SuppressionRepository

    def _bind(self, conn: Connection) -> None:
        self.batches = BatchRepository(conn)
        self.platform = PlatformRepository(conn)
        self.benchmarks = BenchmarkRepository(conn)
        self.history = HistoryRepository(conn)
        self.suppressions = SuppressionRepository(conn)
