"""The dispatcher's domain events as the protobuf messages it publishes, and where."""

from __future__ import annotations

from trainvite.events.v1 import events_pb2

from services.common.clock import Clock
from services.common.messaging.registry import EventRegistry
from services.common.messaging.topology import Topology
from services.dispatcher.api.convert import STATE_TO_PB
from services.dispatcher.domain.events import AddressSuppressed, DeliveryOutcome


def _address_suppressed(event: AddressSuppressed) -> events_pb2.AddressSuppressed:
    return events_pb2.AddressSuppressed(email=event.email, reason=event.reason)


def _delivery_outcome(event: DeliveryOutcome) -> events_pb2.DeliveryOutcome:
    return events_pb2.DeliveryOutcome(
        invitation=event.invitation,
        batch=event.batch,
        state=STATE_TO_PB[event.state],
        message_id=event.message_id,
        provider_message_id=event.provider_message_id,
        detail=event.detail,
    )


def event_registry(topology: Topology, clock: Clock) -> EventRegistry:
    registry = EventRegistry(clock)
    registry.register(AddressSuppressed, topology.address_suppressed, _address_suppressed)
    registry.register(DeliveryOutcome, topology.delivery_outcome, _delivery_outcome)
    return registry
