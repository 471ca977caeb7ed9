"""What the personalizer's use cases are given: the unit of work, the ports and the rules."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from services.common.clock import Clock
from services.personalizer.domain.learning import LearningPolicy
from services.personalizer.service_layer.ports import Renderer, SessionSource
from services.personalizer.service_layer.unit_of_work import PersonalizerUnitOfWork


@dataclass(frozen=True)
class Policy:
    """The personalizer's tunable rules (from settings)."""

    # Windows (days) whose role benchmarks are precomputed; GetTrainingGaps accepts these.
    benchmark_windows: tuple[int, ...] = (7, 30, 90)
    default_window_days: int = 30
    # No second training invitation to the same person within this many days.
    frequency_cap_days: int = 14
    # Training attended within this many days closes the gap on its features.
    training_counts_days: int = 180
    # How angles are chosen among those that fit (domain/learning.py).
    learning: LearningPolicy = field(default_factory=LearningPolicy)


@dataclass(frozen=True)
class Dependencies:
    uow: Callable[[], PersonalizerUnitOfWork]
    catalog: SessionSource
    renderer: Renderer
    clock: Clock
    # Ids of new batches and drafts.
    new_id: Callable[[], uuid.UUID]
    policy: Policy = Policy()
    # The draws of angle learning (seeded in tests and simulations).
    rng: random.Random = field(default_factory=random.Random)
