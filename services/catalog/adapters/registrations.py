"""Entry point for registration and attendance events (JetStream): count the seats."""

from __future__ import annotations

import uuid

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from trainvite.events.v1 import events_pb2

from services.catalog.service_layer import handlers
from services.catalog.service_layer.handlers import Dependencies
from services.common.errors import InvalidArgument, NotFound
from services.common.messaging.consumer import MessageHandler, PoisonMessage

_KINDS = {
    events_pb2.ATTENDANCE_KIND_REGISTERED: "registered",
    events_pb2.ATTENDANCE_KIND_ATTENDED: "attended",
    events_pb2.ATTENDANCE_KIND_NO_SHOW: "no_show",
    events_pb2.ATTENDANCE_KIND_CANCELLED: "cancelled",
}


def registration_handler(deps: Dependencies) -> MessageHandler:
    """A consumer handler that applies each event to the session's seats once."""

    async def handle(msg: Msg) -> None:
        try:
            event = events_pb2.AttendanceRecorded.FromString(msg.data)
            event_id = uuid.UUID(event.event_id)
        except (DecodeError, ValueError) as exc:
            raise PoisonMessage(f"not an AttendanceRecorded with a uuid event_id: {exc}") from exc
        kind = _KINDS.get(event.kind)
        if kind is None:
            raise PoisonMessage(f"unknown attendance kind {event.kind}")
        if "@" not in event.email:
            raise PoisonMessage("email is missing or not an address")
        try:
            await handlers.record_registration(
                deps, event_id, event.training_session, event.email, kind
            )
        except (InvalidArgument, NotFound) as exc:
            raise PoisonMessage(str(exc)) from exc

    return handle
