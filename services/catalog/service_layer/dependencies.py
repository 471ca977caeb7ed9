"""What the catalog's use cases are given: made by `bootstrap`, with fakes in unit tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from services.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from services.common.clock import Clock, utc_now


@dataclass(frozen=True)
class Dependencies:
    uow: Callable[[], CatalogUnitOfWork]
    clock: Clock = utc_now
    new_id: Callable[[], uuid.UUID] = uuid.uuid4
