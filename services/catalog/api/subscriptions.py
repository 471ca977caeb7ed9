"""The catalog's NATS entry points: per consumed subject, its decoder and its use case."""

from __future__ import annotations

from services.catalog.service_layer import registrations
from services.catalog.service_layer.dependencies import Dependencies
from services.common.attendance import AttendanceFact
from services.common.messaging import decoders
from services.common.messaging.consumer import MessageHandler
from services.common.messaging.inbound import Route, by_subject
from services.common.messaging.topology import ConsumerSpec, Topology


def subscriptions(
    deps: Dependencies, topology: Topology
) -> list[tuple[ConsumerSpec, MessageHandler]]:
    """Registrations and attendance count the seats of each session."""

    async def record_attendance(fact: AttendanceFact) -> bool:
        return await registrations.record_attendance(deps, fact)

    seats = by_subject(
        {topology.attendance_recorded: Route(decoders.attendance_recorded, record_attendance)}
    )
    return [(topology.catalog_registrations, seats)]
