"""Connecting, declaring the topology, and publishing with de-duplication ids."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import PubAck, StreamConfig
from nats.js.errors import NotFoundError

from services.common.messaging.topology import Topology

_log = logging.getLogger(__name__)

# Retried publishes of one event id inside this window are dropped by the server.
DUPLICATE_WINDOW_SECONDS = 120.0


async def connect(url: str, name: str) -> NATS:
    """Connect with reconnects on, naming the client after the service."""
    return await nats.connect(url, name=name, max_reconnect_attempts=-1, reconnect_time_wait=1)


async def declare_streams(js: JetStreamContext, topology: Topology) -> None:
    """Create the topology's streams, or bring existing ones up to date."""
    for spec in topology.streams():
        config = StreamConfig(
            name=spec.name, subjects=spec.subjects, duplicate_window=DUPLICATE_WINDOW_SECONDS
        )
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)


async def publish_event(
    js: JetStreamContext, subject: str, event_id: str, payload: bytes
) -> PubAck:
    """Publish with the event id as Nats-Msg-Id, so that a retried publish is stored once."""
    ack = await js.publish(subject, payload, headers={"Nats-Msg-Id": event_id})
    if ack.duplicate:
        _log.info("duplicate publish dropped by JetStream", extra={"event_id": event_id})
    return ack
