"""The personalizer's unit of work, as its use cases see it."""

from __future__ import annotations

from services.common.unit_of_work import UnitOfWork
from services.personalizer.service_layer.ports import (
    BatchRepository,
    BenchmarkRepository,
    HistoryRepository,
    PlatformRepository,
    SuppressionRepository,
)


class PersonalizerUnitOfWork(UnitOfWork):
    batches: BatchRepository
    platform: PlatformRepository
    benchmarks: BenchmarkRepository
    history: HistoryRepository
    suppressions: SuppressionRepository
