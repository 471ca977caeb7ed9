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
from services.dispatcher.service_layer.handlers import BatchStatus, Dependencies

Context = grpc.aio.ServicerContext[Any, Any]


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


def _status_to_pb(name: str, status: BatchStatus) -> pb.BatchDeliveryStatus:
    def count(state: DeliveryState) -> int:
        return sum(1 for d in status.deliveries if d.state is state)

    return pb.BatchDeliveryStatus(
        name=name,
        deliveries=[_delivery_to_pb(d) for d in status.deliveries],
        pending_count=count(DeliveryState.PENDING),
        sent_count=count(DeliveryState.SENT),
        failed_count=count(DeliveryState.FAILED),
        suppressed_count=count(DeliveryState.SUPPRESSED),
        cancelled_count=count(DeliveryState.CANCELLED),
        paused=status.paused,
    )


class DispatcherServicer(dispatcher_pb2_grpc.DispatcherServiceServicer):
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    async def GetBatchDeliveryStatus(
        self, request: pb.GetBatchDeliveryStatusRequest, context: Context
    ) -> pb.BatchDeliveryStatus:
        status = await handlers.batch_status(self._deps, request.name, current_principal())
        return _status_to_pb(request.name, status)

    async def PauseBatchDelivery(
        self, request: pb.PauseBatchDeliveryRequest, context: Context
    ) -> pb.BatchDeliveryStatus:
        status = await handlers.pause_batch(self._deps, request.name, True, current_principal())
        return _status_to_pb(request.name, status)

    async def ResumeBatchDelivery(
        self, request: pb.ResumeBatchDeliveryRequest, context: Context
    ) -> pb.BatchDeliveryStatus:
        status = await handlers.pause_batch(self._deps, request.name, False, current_principal())
        return _status_to_pb(request.name, status)

    async def CancelBatchDelivery(
        self, request: pb.CancelBatchDeliveryRequest, context: Context
    ) -> pb.BatchDeliveryStatus:
        status = await handlers.cancel_batch(self._deps, request.name, current_principal())
        return _status_to_pb(request.name, status)

    async def UpdateSenderControl(
        self, request: pb.UpdateSenderControlRequest, context: Context
    ) -> pb.SenderControl:
        name = request.sender_control.name
        paused, backoff_until = await handlers.control_sender(
            self._deps,
            name.removeprefix("senders/"),
            request.sender_control.paused,
            current_principal(),
        )
        control = pb.SenderControl(name=name, paused=paused)
        if backoff_until is not None:
            control.backoff_until.FromDatetime(backoff_until)
        return control

    async def Unsubscribe(
        self, request: pb.UnsubscribeRequest, context: Context
    ) -> pb.UnsubscribeResponse:
        email = await handlers.unsubscribe(
            self._deps, request.token, request.email, request.reason, current_principal()
        )
        return pb.UnsubscribeResponse(email=email)
