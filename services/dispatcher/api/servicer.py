"""DispatcherService over gRPC: protobuf in, domain calls, protobuf out."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from trainvite.dispatcher.v1 import dispatcher_pb2 as pb
from trainvite.dispatcher.v1 import dispatcher_pb2_grpc

from services.common.auth import current_principal
from services.dispatcher.adapters.events import STATE_TO_PB
from services.dispatcher.domain.model import Delivery, DeliveryState
from services.dispatcher.service_layer import handlers
from services.dispatcher.service_layer.handlers import Dependencies


def _delivery_to_pb(d: Delivery) -> pb.Delivery:
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
        sent = Timestamp()
        sent.FromDatetime(d.sent_at)
        message.sent_time.CopyFrom(sent)
    return message


class DispatcherServicer(dispatcher_pb2_grpc.DispatcherServiceServicer):
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    async def GetBatchDeliveryStatus(
        self, request: pb.GetBatchDeliveryStatusRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.BatchDeliveryStatus:
        deliveries = await handlers.batch_status(self._deps, request.name, current_principal())

        def count(state: DeliveryState) -> int:
            return sum(1 for d in deliveries if d.state is state)

        return pb.BatchDeliveryStatus(
            name=request.name,
            deliveries=[_delivery_to_pb(d) for d in deliveries],
            pending_count=count(DeliveryState.PENDING),
            sent_count=count(DeliveryState.SENT),
            failed_count=count(DeliveryState.FAILED),
            suppressed_count=count(DeliveryState.SUPPRESSED),
        )
