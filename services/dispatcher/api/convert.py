"""Domain objects to the dispatcher's protobuf messages."""

from __future__ import annotations

from trainvite.common.v1 import common_pb2
from trainvite.dispatcher.v1 import dispatcher_pb2 as pb

from services.dispatcher.domain.model import Delivery, DeliveryState
from services.dispatcher.service_layer.controls import BatchStatus

STATE_TO_PB = {
    DeliveryState.PENDING: common_pb2.DELIVERY_STATE_PENDING,
    DeliveryState.SENT: common_pb2.DELIVERY_STATE_SENT,
    DeliveryState.FAILED: common_pb2.DELIVERY_STATE_FAILED,
    DeliveryState.SUPPRESSED: common_pb2.DELIVERY_STATE_SUPPRESSED,
    DeliveryState.CANCELLED: common_pb2.DELIVERY_STATE_CANCELLED,
}


def delivery_to_pb(d: Delivery) -> pb.Delivery:
    message = pb.Delivery(
        invitation=d.approved.invitation,
        recipient_email=d.approved.recipient_email,
        state=STATE_TO_PB[d.state],
        message_id=d.message_id,
        provider_message_id=d.provider_message_id,
        detail=d.detail,
        attempts=d.attempts,
    )
    if d.sent_at is not None:
        message.sent_time.FromDatetime(d.sent_at)
    return message


def status_to_pb(name: str, status: BatchStatus) -> pb.BatchDeliveryStatus:
    def count(state: DeliveryState) -> int:
        return sum(1 for d in status.deliveries if d.state is state)

    return pb.BatchDeliveryStatus(
        name=name,
        deliveries=[delivery_to_pb(d) for d in status.deliveries],
        pending_count=count(DeliveryState.PENDING),
        sent_count=count(DeliveryState.SENT),
        failed_count=count(DeliveryState.FAILED),
        suppressed_count=count(DeliveryState.SUPPRESSED),
        cancelled_count=count(DeliveryState.CANCELLED),
        paused=status.paused,
    )
