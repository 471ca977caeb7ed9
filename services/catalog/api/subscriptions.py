"""The catalog's NATS entry points: per consumed subject, its decoder and its use case."""

from __future__ import annotations

import datetime as dt

from trainvite.events.v1 import events_pb2

from services.catalog.domain.attendance import ENDED, WebinarActivity
from services.catalog.service_layer import attendance, registrations
from services.catalog.service_layer.dependencies import Dependencies
from services.common.attendance import AttendanceFact
from services.common.messaging import decoders, decoding
from services.common.messaging.consumer import MessageHandler, PoisonMessage
from services.common.messaging.inbound import Route, by_subject
from services.common.messaging.topology import ConsumerSpec, Topology

_ACTIVITY_KINDS = {
    events_pb2.WEBINAR_ACTIVITY_KIND_REGISTERED: "registered",
    events_pb2.WEBINAR_ACTIVITY_KIND_JOINED: "joined",
    events_pb2.WEBINAR_ACTIVITY_KIND_LEFT: "left",
    events_pb2.WEBINAR_ACTIVITY_KIND_ENDED: ENDED,
}


def webinar_activity(data: bytes) -> WebinarActivity:
    """A WebinarActivity event: every kind but ENDED names a person by email."""
    event, event_id = decoding.parse_event(events_pb2.WebinarActivity, data)
    kind = _ACTIVITY_KINDS.get(event.kind)
    if kind is None:
        name = events_pb2.WebinarActivityKind.Name(event.kind)
        raise PoisonMessage(f"kind: is required, not {name}")
    decoding.require(event, "source", "webinar_id")
    if len(event.webinar_id) > 64:
        raise PoisonMessage("webinar_id: must be at most 64 characters")
    if not event.HasField("occur_time"):
        raise PoisonMessage("occur_time: is required")
    email = "" if kind == ENDED else decoding.require_email(event, "email").strip().lower()
    return WebinarActivity(
        event_id=event_id,
        occur_time=event.occur_time.ToDatetime(tzinfo=dt.UTC),
        source=event.source,
        webinar_id=event.webinar_id.strip(),
        kind=kind,
        email=email,
        participant_id=event.participant_id,
        webinar_instance=event.webinar_instance,
    )


def subscriptions(
    deps: Dependencies, topology: Topology
) -> list[tuple[ConsumerSpec, MessageHandler]]:
    """Registrations and attendance count the seats of each session; webinar activity is
    pieced into attendance."""

    async def record_attendance(fact: AttendanceFact) -> bool:
        return await registrations.record_attendance(deps, fact)

    async def record_activity(activity: WebinarActivity) -> bool:
        return await attendance.record_webinar_activity(deps, activity)

    seats = by_subject(
        {topology.attendance_recorded: Route(decoders.attendance_recorded, record_attendance)}
    )
    activity = by_subject({topology.webinar_activity: Route(webinar_activity, record_activity)})
    return [(topology.catalog_registrations, seats), (topology.catalog_webinar_activity, activity)]
