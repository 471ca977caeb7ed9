"""Decoders of the events more than one service consumes."""

from __future__ import annotations

from trainvite.events.v1 import events_pb2

from services.common.attendance import KINDS, AttendanceFact
from services.common.messaging import decoding
from services.common.messaging.consumer import PoisonMessage

_ATTENDANCE_KINDS = {
    events_pb2.ATTENDANCE_KIND_REGISTERED: "registered",
    events_pb2.ATTENDANCE_KIND_ATTENDED: "attended",
    events_pb2.ATTENDANCE_KIND_NO_SHOW: "no_show",
    events_pb2.ATTENDANCE_KIND_CANCELLED: "cancelled",
}
assert set(_ATTENDANCE_KINDS.values()) == KINDS


def attendance_recorded(data: bytes) -> AttendanceFact:
    """An AttendanceRecorded event (catalog seats, personalizer history)."""
    event, event_id = decoding.parse_event(events_pb2.AttendanceRecorded, data)
    kind = _ATTENDANCE_KINDS.get(event.kind)
    if kind is None:
        raise PoisonMessage(f"kind: is required, not {events_pb2.AttendanceKind.Name(event.kind)}")
    email = decoding.require_email(event, "email")
    decoding.require(event, "training_session")
    if event.minutes_attended < 0:
        raise PoisonMessage(f"minutes_attended: must not be negative, not {event.minutes_attended}")
    return AttendanceFact(
        event_id,
        event.training_session,
        email.strip().lower(),
        kind,
        minutes_attended=event.minutes_attended,
    )
