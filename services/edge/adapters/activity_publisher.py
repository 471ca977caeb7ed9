"""Webinar activity onto JetStream, acknowledged by the stream before the edge answers."""

from __future__ import annotations

import logging

import nats.errors
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext
from trainvite.events.v1 import events_pb2

from services.common.messaging.jetstream import publish_event
from services.common.messaging.topology import Topology
from services.edge.service_layer.ports import ActivityKind, ServiceUnavailable, WebinarActivity

_KIND = {
    ActivityKind.REGISTERED: events_pb2.WEBINAR_ACTIVITY_KIND_REGISTERED,
    ActivityKind.JOINED: events_pb2.WEBINAR_ACTIVITY_KIND_JOINED,
    ActivityKind.LEFT: events_pb2.WEBINAR_ACTIVITY_KIND_LEFT,
    ActivityKind.ENDED: events_pb2.WEBINAR_ACTIVITY_KIND_ENDED,
}
_log = logging.getLogger(__name__)


def to_pb(activity: WebinarActivity) -> events_pb2.WebinarActivity:
    occur_time = Timestamp()
    occur_time.FromDatetime(activity.occur_time)
    return events_pb2.WebinarActivity(
        event_id=str(activity.event_id),
        occur_time=occur_time,
        source=activity.source,
        webinar_id=activity.webinar_id,
        kind=_KIND[activity.kind],
        email=activity.email,
        participant_id=activity.participant_id,
        webinar_instance=activity.webinar_instance,
    )


class JetStreamActivityPublisher:
    """Publishes once JetStream is attached (see `nats_link`); until then ServiceUnavailable."""

    def __init__(
        self, topology: Topology, timeout: float, js: JetStreamContext | None = None
    ) -> None:
        self._js = js
        self._subject = topology.webinar_activity
        self._timeout = timeout

    def attach(self, js: JetStreamContext) -> None:
        self._js = js

    async def publish(self, activity: WebinarActivity) -> None:
        event_id = str(activity.event_id)
        if self._js is None:
            raise ServiceUnavailable(f"not connected to NATS yet: {event_id} not published")
        payload = to_pb(activity).SerializeToString()
        try:
            await publish_event(self._js, self._subject, event_id, payload, self._timeout)
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            raise ServiceUnavailable(f"JetStream did not acknowledge {event_id}: {exc!r}") from exc
