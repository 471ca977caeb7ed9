"""The dispatcher's unit of work on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from services.common.db import Connection
from services.common.unit_of_work import PostgresUnitOfWork, Repository
from services.dispatcher.adapters.repository import (
    PostgresAddressRepository,
    PostgresDeliveryRepository,
)
from services.dispatcher.adapters.tracking import PostgresTrackingRepository
from services.dispatcher.service_layer.unit_of_work import DispatcherUnitOfWork


class PostgresDispatcherUnitOfWork(PostgresUnitOfWork, DispatcherUnitOfWork):
    deliveries: PostgresDeliveryRepository
    addresses: PostgresAddressRepository
    tracking: PostgresTrackingRepository

    def _bind(self, conn: Connection) -> None:
        self.deliveries = PostgresDeliveryRepository(conn)
        self.addresses = PostgresAddressRepository(conn)
        self.tracking = PostgresTrackingRepository(conn)

    def repositories(self) -> list[Repository]:
        return [self.deliveries, self.addresses, self.tracking]

    async def first_times(self, event_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """`first_time` for a batch of events in one statement (same table, same meaning), in
        the order of the ids, so that two batches holding the same event never deadlock."""
        rows = await self.connection.fetch(
            """
            INSERT INTO processed_events (event_id)
            SELECT DISTINCT e FROM unnest($1::uuid[]) AS e ORDER BY e
            ON CONFLICT DO NOTHING RETURNING event_id
            """,
            list(event_ids),
        )
        return {r["event_id"] for r in rows}
