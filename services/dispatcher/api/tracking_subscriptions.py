"""The dispatcher's tracking entry points: AttendanceRecorded and RegistrationChanged, decoded
into facts and applied a fetched batch at a time (services/common/messaging/batch_consumer.py).

A fact that can never be true is poison, dead-lettered at once with the field named: an unknown
kind or state, ATTENDED with negative minutes, a place on the waitlist below zero, a fact with no
time (its order against the others could not be told), an invitation that is no invitation's
name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from trainvite.catalog.v1 import catalog_pb2
from trainvite.events.v1 import events_pb2

from services.common.messaging import decoding
from services.common.messaging.batch_consumer import BatchHandler, by_subject
from services.common.messaging.consumer import PoisonMessage
from services.common.messaging.topology import ConsumerSpec, Topology
from services.dispatcher.domain import names
from services.dispatcher.domain.tracking import TrackingFact
from services.dispatcher.service_layer import tracking
from services.dispatcher.service_layer.dependencies import Dependencies

_ATTENDANCE_KINDS = {
    events_pb2.ATTENDANCE_KIND_REGISTERED: "registered",
    events_pb2.ATTENDANCE_KIND_ATTENDED: "attended",
    events_pb2.ATTENDANCE_KIND_NO_SHOW: "no_show",
    events_pb2.ATTENDANCE_KIND_CANCELLED: "cancelled",
}
_REGISTRATION_STATES = {
    catalog_pb2.REGISTRATION_STATE_REGISTERED: "registered",
    catalog_pb2.REGISTRATION_STATE_WAITLISTED: "waitlisted",
    catalog_pb2.REGISTRATION_STATE_CANCELLED: "cancelled",
    catalog_pb2.REGISTRATION_STATE_ATTENDED: "attended",
    catalog_pb2.REGISTRATION_STATE_NO_SHOW: "no_show",
}


def _common(
    event: events_pb2.AttendanceRecorded | events_pb2.RegistrationChanged,
) -> tuple[dt.datetime, str, str, str]:
    """When it happened, the session, the (lower-case) address and the invitation named (or
    ""), or PoisonMessage. Each field is read once: reading one builds it anew."""
    session = event.training_session
    if not session:
        raise PoisonMessage("training_session: is required")
    if not event.HasField("occur_time"):
        raise PoisonMessage("occur_time: is required")
    email = decoding.require_email(event, "email").strip().lower()
    invitation = event.invitation
    if invitation and not names.is_draft(invitation):
        raise PoisonMessage(f"invitation: {invitation[:160]!r} is not an invitation's name")
    return decoding.utc_time(event.occur_time), session, email, invitation


def attendance_fact(data: bytes) -> TrackingFact:
    """An AttendanceRecorded event as a tracking fact."""
    event, event_id = decoding.parse_event(events_pb2.AttendanceRecorded, data)
    kind = _ATTENDANCE_KINDS.get(event.kind)
    if kind is None:
        raise PoisonMessage(f"kind: is required, not {events_pb2.AttendanceKind.Name(event.kind)}")
    minutes = event.minutes_attended
    if minutes < 0:
        raise PoisonMessage(f"minutes_attended: {minutes} is below zero")
    occurred_at, session, email, invitation = _common(event)
    return TrackingFact(
        event_id=event_id,
        occurred_at=occurred_at,
        training_session=session,
        email=email,
        kind=kind,
        invitation=invitation,
        minutes_attended=minutes if kind == "attended" else 0,
        source=event.source,
    )


def registration_fact(data: bytes) -> TrackingFact:
    """A RegistrationChanged event as a tracking fact."""
    event, event_id = decoding.parse_event(events_pb2.RegistrationChanged, data)
    kind = _REGISTRATION_STATES.get(event.state)
    if kind is None:
        state = catalog_pb2.RegistrationState.Name(event.state)
        raise PoisonMessage(f"state: is required, not {state}")
    if event.waitlist_position < 0:
        raise PoisonMessage(f"waitlist_position: {event.waitlist_position} is below zero")
    occurred_at, session, email, invitation = _common(event)
    return TrackingFact(
        event_id=event_id,
        occurred_at=occurred_at,
        training_session=session,
        email=email,
        kind=kind,
        invitation=invitation,
        waitlist_position=event.waitlist_position if kind == "waitlisted" else 0,
        source="catalog",
    )


def tracking_subscriptions(
    deps: Dependencies, topology: Topology
) -> list[tuple[ConsumerSpec, BatchHandler[TrackingFact]]]:
    """Attendance and registrations, each applied to the invitations they are about."""

    async def apply(facts: Sequence[TrackingFact]) -> None:
        await tracking.apply_facts(deps, facts)

    # Two batches are written at once: the same facts end in the same state whatever order
    # they are applied in (domain/tracking.py), and batches sharing an invitation take its
    # lock in turn.
    return [
        (
            topology.dispatcher_attendance,
            BatchHandler(
                by_subject(topology.attendance_recorded, attendance_fact), apply, in_flight=2
            ),
        ),
        (
            topology.dispatcher_registrations,
            BatchHandler(
                by_subject(topology.registration_changed, registration_fact), apply, in_flight=2
            ),
        ),
    ]
