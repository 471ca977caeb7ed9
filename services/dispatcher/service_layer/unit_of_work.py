"""The dispatcher's unit of work."""

from __future__ import annotations

import asyncpg

from services.common.unit_of_work import UnitOfWork
from services.dispatcher.adapters.repository import DeliveryRepository


class DispatcherUnitOfWork(UnitOfWork):
    deliveries: DeliveryRepository

    def _bind(self, conn: asyncpg.Connection) -> None:
        self.deliveries = DeliveryRepository(conn)
