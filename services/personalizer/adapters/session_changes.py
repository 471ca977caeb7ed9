"""Entry point for the catalog's session changes (JetStream): notices for the invitees."""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo

from nats.aio.msg import Msg
from trainvite.events.v1 import events_pb2

from services.common.messaging import decoding
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


_SESSION_NAME = re.compile(
    r"training-sessions/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _is_time_zone(name: str) -> bool:
    """A zone the notices can be rendered in: rendering in an unknown one fails every time."""
    return name in _time_zones()


def decode(data: bytes) -> Notice:
    """The notice an event asks for, or PoisonMessage saying what is wrong with it."""
    event, event_id = decoding.parse_event(events_pb2.TrainingSessionChanged, data)
    purpose = _PURPOSE.get(event.kind)
    if purpose is None:
        raise PoisonMessage(f"kind: is required, not {event.kind}")
    session = event.training_session
    if not _SESSION_NAME.fullmatch(session.name):
        raise PoisonMessage(f"training_session.name: {session.name[:80]!r} is not a session's name")
    if not session.HasField("start_time"):
        raise PoisonMessage("training_session.start_time: is required")
    for path in ("training_session.time_zone", "previous_time_zone"):
        zone = decoding.field_value(event, path)
        if (zone or path == "training_session.time_zone") and not _is_time_zone(zone):
            raise PoisonMessage(f"{path}: {zone[:80]!r} is not an IANA time zone")
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
