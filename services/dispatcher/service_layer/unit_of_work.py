"""The dispatcher's unit of work, as its use cases see it: deliveries and addresses."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from services.common.unit_of_work import UnitOfWork
from services.dispatcher.service_layer.ports import (
    AddressRepository,
    DeliveryRepository,
    TrackingRepository,
)


class DispatcherUnitOfWork(UnitOfWork):
    deliveries: DeliveryRepository
    addresses: AddressRepository
    tracking: TrackingRepository

    async def first_times(self, event_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """`first_time` for each of many events (an id given twice counts once): the ids
        applied now for the first time. PostgreSQL asks in one statement."""
        return {e for e in dict.fromkeys(event_ids) if await self.first_time(e)}
