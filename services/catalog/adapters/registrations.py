"""Entry point for registration and attendance events (JetStream): count the seats."""

from __future__ import annotations

from nats.aio.msg import Msg
from trainvite.events.v1 import events_pb2

from services.catalog.service_layer import handlers
from services.catalog.service_layer.handlers import Dependencies
from services.common.errors import InvalidArgument, NotFound
from services.common.messaging import decoding
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
        event, event_id = decoding.parse_event(events_pb2.AttendanceRecorded, msg.data)
        kind = _KINDS.get(event.kind)
        if kind is None:
            raise PoisonMessage(
                f"kind: is required, not {events_pb2.AttendanceKind.Name(event.kind)}"
            )
        email = decoding.require_email(event, "email")
        try:
            await handlers.record_registration(deps, event_id, event.training_session, email, kind)
        except InvalidArgument as exc:
            raise PoisonMessage(str(exc)) from exc
        except NotFound as exc:
            raise PoisonMessage(f"training_session: {exc}") from exc

    return handle
