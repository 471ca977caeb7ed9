"""The dispatcher's unit of work on PostgreSQL."""

from __future__ import annotations

from services.common.db import Connection
from services.common.unit_of_work import PostgresUnitOfWork, Repository
from services.dispatcher.adapters.repository import (
    PostgresAddressRepository,
    PostgresDeliveryRepository,
)
from services.dispatcher.service_layer.unit_of_work import DispatcherUnitOfWork


class PostgresDispatcherUnitOfWork(PostgresUnitOfWork, DispatcherUnitOfWork):
    deliveries: PostgresDeliveryRepository
    addresses: PostgresAddressRepository

    def _bind(self, conn: Connection) -> None:
        self.deliveries = PostgresDeliveryRepository(conn)
        self.addresses = PostgresAddressRepository(conn)

    def repositories(self) -> list[Repository]:
        return [self.deliveries, self.addresses]
