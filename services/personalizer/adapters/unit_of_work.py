"""The personalizer's unit of work on PostgreSQL."""

from __future__ import annotations

from services.common.db import Connection
from services.common.unit_of_work import PostgresUnitOfWork, Repository
from services.personalizer.adapters.batch_repository import PostgresBatchRepository
from services.personalizer.adapters.benchmark_repository import PostgresBenchmarkRepository
from services.personalizer.adapters.history_repository import (
    PostgresHistoryRepository,
    PostgresSuppressionRepository,
)
from services.personalizer.adapters.platform_repository import PostgresPlatformRepository
from services.personalizer.service_layer.unit_of_work import PersonalizerUnitOfWork


class PostgresPersonalizerUnitOfWork(PostgresUnitOfWork, PersonalizerUnitOfWork):
    _repositories: list[Repository]

    def _bind(self, conn: Connection) -> None:
        batches = PostgresBatchRepository(conn)
        platform = PostgresPlatformRepository(conn)
        benchmarks = PostgresBenchmarkRepository(conn)
        history = PostgresHistoryRepository(conn)
        suppressions = PostgresSuppressionRepository(conn)
        self.batches = batches
        self.platform = platform
        self.benchmarks = benchmarks
        self.history = history
        self.suppressions = suppressions
        self._repositories = [batches, platform, benchmarks, history, suppressions]

    def repositories(self) -> list[Repository]:
        return self._repositories
