"""The catalog's domain events as protobuf messages: one registry entry per event."""

from __future__ import annotations

from trainvite.events.v1 import events_pb2

from services.catalog.api.convert import REGISTRATION_STATE_TO_PB, scheduled_to_pb, timestamp
from services.catalog.domain.events import (
    AttendanceRecorded,
    ChangeKind,
    RegistrationChanged,
    SessionChanged,
)
from services.catalog.domain.model import ScheduledSession
from services.common.clock import Clock
from services.common.messaging.registry import EventRegistry
from services.common.messaging.topology import Topology

_KIND = {
    ChangeKind.RESCHEDULED: events_pb2.SESSION_CHANGE_KIND_RESCHEDULED,
    ChangeKind.CANCELLED: events_pb2.SESSION_CHANGE_KIND_CANCELLED,
    ChangeKind.UPDATED: events_pb2.SESSION_CHANGE_KIND_UPDATED,
}

_ATTENDANCE_KIND = {
    "registered": events_pb2.ATTENDANCE_KIND_REGISTERED,
    "attended": events_pb2.ATTENDANCE_KIND_ATTENDED,
    "no_show": events_pb2.ATTENDANCE_KIND_NO_SHOW,
    "cancelled": events_pb2.ATTENDANCE_KIND_CANCELLED,
}


def event_registry(topology: Topology, clock: Clock) -> EventRegistry:
    registry = EventRegistry(clock)

    def session_changed(event: SessionChanged) -> events_pb2.TrainingSessionChanged:
        # One instant for when it happened and for the session's state as of then.
        now = clock()
        message = events_pb2.TrainingSessionChanged(
            occur_time=timestamp(now),
            kind=_KIND[event.kind],
            training_session=scheduled_to_pb(ScheduledSession(event.session, event.course), now),
            previous_time_zone=event.previous_time_zone,
            reason=event.reason,
            changed_by=event.changed_by,
        )
        if event.previous_start_time is not None:
            message.previous_start_time.CopyFrom(timestamp(event.previous_start_time))
        return message

    def registration_changed(event: RegistrationChanged) -> events_pb2.RegistrationChanged:
        return events_pb2.RegistrationChanged(
            training_session=event.training_session,
            email=event.email,
            state=REGISTRATION_STATE_TO_PB[event.state],
            previous_state=REGISTRATION_STATE_TO_PB[event.previous_state],
            seats_left=event.seats_left,
            waitlist_position=event.waitlist_position,
            invitation=event.invitation,
        )

    def attendance_recorded(event: AttendanceRecorded) -> events_pb2.AttendanceRecorded:
        message = events_pb2.AttendanceRecorded(
            training_session=event.training_session,
            invitation=event.invitation,
            email=event.email,
            kind=_ATTENDANCE_KIND[event.kind],
            source=event.source,
            minutes_attended=event.minutes_attended,
        )
        if event.occur_time is not None:
            message.occur_time.CopyFrom(timestamp(event.occur_time))
        return message

    registry.register(SessionChanged, topology.session_changed, session_changed)
    registry.register(AttendanceRecorded, topology.attendance_recorded, attendance_recorded)
    registry.register(RegistrationChanged, topology.registration_changed, registration_changed)
    return registry
