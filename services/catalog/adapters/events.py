"""The catalog's domain events as protobuf messages bound for the outbox."""

from __future__ import annotations

import datetime as dt

from trainvite.events.v1 import events_pb2

from services.catalog.api.convert import scheduled_to_pb, timestamp
from services.catalog.domain.model import ChangeKind, SessionChanged
from services.common.messaging.topology import Topology
from services.common.outbox import OutboxMessage

_KIND = {
    ChangeKind.RESCHEDULED: events_pb2.SESSION_CHANGE_KIND_RESCHEDULED,
    ChangeKind.CANCELLED: events_pb2.SESSION_CHANGE_KIND_CANCELLED,
    ChangeKind.UPDATED: events_pb2.SESSION_CHANGE_KIND_UPDATED,
}


def session_changed(event: SessionChanged, topology: Topology) -> OutboxMessage:
    now = dt.datetime.now(dt.UTC)
    message = events_pb2.TrainingSessionChanged(
        event_id=str(event.event_id),
        occur_time=timestamp(now),
        kind=_KIND[event.kind],
        training_session=scheduled_to_pb(event.scheduled, now),
        previous_time_zone=event.previous_time_zone,
        reason=event.reason,
        changed_by=event.changed_by,
    )
    if event.previous_start_time is not None:
        message.previous_start_time.CopyFrom(timestamp(event.previous_start_time))
    return OutboxMessage(str(event.event_id), topology.session_changed, message.SerializeToString())
