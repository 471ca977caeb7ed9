"""DispatcherService over gRPC: protobuf in, domain calls, protobuf out."""

from __future__ import annotations

from typing import Any

import grpc
from trainvite.dispatcher.v1 import dispatcher_pb2 as pb
from trainvite.dispatcher.v1 import dispatcher_pb2_grpc

from services.common.auth import current_principal
from services.dispatcher.api.convert import (
    batch_tracking_to_pb,
    session_tracking_to_pb,
    status_to_pb,
)
from services.dispatcher.service_layer import controls, tracking, unsubscribe
from services.dispatcher.service_layer.dependencies import Dependencies

Context = grpc.aio.ServicerContext[Any, Any]


class DispatcherServicer(dispatcher_pb2_grpc.DispatcherServiceServicer):
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    async def GetBatchTracking(
        self, request: pb.GetBatchTrackingRequest, context: Context
    ) -> pb.BatchTracking:
        found = await tracking.batch_tracking(self._deps, request.name, current_principal())
        return batch_tracking_to_pb(request.name, found)

    async def GetSessionTracking(
        self, request: pb.GetSessionTrackingRequest, context: Context
    ) -> pb.SessionTracking:
        found = await tracking.session_tracking(self._deps, request.name, current_principal())
        return session_tracking_to_pb(request.name, found)

    async def GetBatchDeliveryStatus(
        self, request: pb.GetBatchDeliveryStatusRequest, context: Context
    ) -> pb.BatchDeliveryStatus:
        status = await controls.batch_status(self._deps, request.name, current_principal())
        return status_to_pb(request.name, status)

    async def PauseBatchDelivery(
        self, request: pb.PauseBatchDeliveryRequest, context: Context
    ) -> pb.BatchDeliveryStatus:
        status = await controls.pause_batch(self._deps, request.name, True, current_principal())
        return status_to_pb(request.name, status)

    async def ResumeBatchDelivery(
        self, request: pb.ResumeBatchDeliveryRequest, context: Context
    ) -> pb.BatchDeliveryStatus:
        status = await controls.pause_batch(self._deps, request.name, False, current_principal())
        return status_to_pb(request.name, status)

    async def CancelBatchDelivery(
        self, request: pb.CancelBatchDeliveryRequest, context: Context
    ) -> pb.BatchDeliveryStatus:
        status = await controls.cancel_batch(self._deps, request.name, current_principal())
        return status_to_pb(request.name, status)

    async def UpdateSenderControl(
        self, request: pb.UpdateSenderControlRequest, context: Context
    ) -> pb.SenderControl:
        name = request.sender_control.name
        paused, backoff_until = await controls.control_sender(
            self._deps,
            name,
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
        email = await unsubscribe.unsubscribe(
            self._deps, request.token, request.email, request.reason, current_principal()
        )
        return pb.UnsubscribeResponse(email=email)
