"""The dispatcher's unit of work."""

from __future__ import annotations

from services.common.db import Connection
from services.common.unit_of_work import UnitOfWork
from services.dispatcher.adapters.repository import DeliveryRepository


class DispatcherUnitOfWork(UnitOfWork):
    deliveries: DeliveryRepository

    def _bind(self, conn: Connection) -> None:
        self.deliveries = DeliveryRepository(conn)
