"""The dispatcher's domain events as protobuf messages bound for the outbox."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from trainvite.common.v1 import common_pb2
from trainvite.events.v1 import events_pb2

from services.common.messaging.topology import Topology
from services.common.outbox import OutboxMessage
from services.dispatcher.domain.model import AddressSuppressed, DeliveryOutcome, DeliveryState


def address_suppressed(event: AddressSuppressed, topology: Topology) -> OutboxMessage:
    now = Timestamp()
    now.GetCurrentTime()
    message = events_pb2.AddressSuppressed(
        event_id=str(event.event_id), occur_time=now, email=event.email, reason=event.reason
    )
    return OutboxMessage(
        str(event.event_id), topology.address_suppressed, message.SerializeToString()
    )


STATE_TO_PB = {
    DeliveryState.PENDING: common_pb2.DELIVERY_STATE_PENDING,
    DeliveryState.SENT: common_pb2.DELIVERY_STATE_SENT,
    DeliveryState.FAILED: common_pb2.DELIVERY_STATE_FAILED,
    DeliveryState.SUPPRESSED: common_pb2.DELIVERY_STATE_SUPPRESSED,
    DeliveryState.CANCELLED: common_pb2.DELIVERY_STATE_CANCELLED,
}


def delivery_outcome(event: DeliveryOutcome, topology: Topology) -> OutboxMessage:
    now = Timestamp()
    now.GetCurrentTime()
    message = events_pb2.DeliveryOutcome(
        event_id=str(event.event_id),
        occur_time=now,
        invitation=event.invitation,
        batch=event.batch,
        state=STATE_TO_PB[event.state],
        message_id=event.message_id,
        provider_message_id=event.provider_message_id,
        detail=event.detail,
    )
    return OutboxMessage(
        str(event.event_id), topology.delivery_outcome, message.SerializeToString()
    )
