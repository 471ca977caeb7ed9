"""Entry point for the catalog's session changes (JetStream): notices for the invitees."""

from __future__ import annotations

import datetime as dt
import uuid

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from trainvite.events.v1 import events_pb2

from services.common.messaging.consumer import MessageHandler, PoisonMessage
from services.personalizer.adapters.catalog_client import session_info
from services.personalizer.domain.model import Notice, Purpose
from services.personalizer.service_layer import drafting
from services.personalizer.service_layer.dependencies import Dependencies

_PURPOSE = {
    events_pb2.SESSION_CHANGE_KIND_RESCHEDULED: Purpose.RESCHEDULED,
    events_pb2.SESSION_CHANGE_KIND_CANCELLED: Purpose.CANCELLED,
    events_pb2.SESSION_CHANGE_KIND_UPDATED: Purpose.UPDATED,
}


def decode(data: bytes) -> Notice:
    """The notice an event asks for, or PoisonMessage saying what is wrong with it."""
    try:
        event = events_pb2.TrainingSessionChanged.FromString(data)
        event_id = uuid.UUID(event.event_id)
    except (DecodeError, ValueError) as exc:
        raise PoisonMessage(f"not a TrainingSessionChanged with a uuid event_id: {exc}") from exc
    purpose = _PURPOSE.get(event.kind)
    if purpose is None:
        raise PoisonMessage(f"unknown change kind {event.kind}")
    if not event.training_session.name or not event.training_session.HasField("start_time"):
        raise PoisonMessage("the changed session is missing its name or start time")
    return Notice(
        event_id=event_id,
        purpose=purpose,
        session=session_info(event.training_session),
        previous_start_time=(
            event.previous_start_time.ToDatetime(tzinfo=dt.UTC)
            if event.HasField("previous_start_time")
            else None
        ),
        previous_time_zone=event.previous_time_zone,
        reason=event.reason,
        changed_by=event.changed_by,
    )


def session_change_handler(deps: Dependencies) -> MessageHandler:
    async def handle(msg: Msg) -> None:
        await drafting.notify_session_change(deps, decode(msg.data))

    return handle
