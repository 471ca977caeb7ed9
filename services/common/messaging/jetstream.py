"""Connecting, declaring the topology, and publishing with de-duplication ids."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import PubAck, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from services.common.messaging.topology import Topology

_log = logging.getLogger(__name__)

# Retried publishes of one event id inside this window are dropped by the server.
DUPLICATE_WINDOW_SECONDS = 120.0


async def _on_disconnected() -> None:
    _log.warning("NATS connection lost, reconnecting")


async def _on_reconnected() -> None:
    _log.warning("NATS connection back")


async def _on_error(exc: Exception) -> None:
    # Connection trouble while NATS is away is expected and retried: not an error of ours.
    _log.warning("NATS client error", extra={"error": f"{type(exc).__name__}: {exc}"})


async def connect(url: str, name: str) -> NATS:
    """Connect with reconnects on forever, naming the client after the service.

    While NATS is away, nats-py buffers what is published (up to its pending size) and tries
    each second; the outbox keeps every event in PostgreSQL until it is acknowledged anyway.
    """
    return await nats.connect(
        url,
        name=name,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=2,
        disconnected_cb=_on_disconnected,
        reconnected_cb=_on_reconnected,
        error_cb=_on_error,
    )


async def declare_streams(js: JetStreamContext, topology: Topology) -> None:
    """Create the topology's streams, or bring existing ones up to date."""
    for spec in topology.streams():
        config = StreamConfig(
            name=spec.name, subjects=spec.subjects, duplicate_window=DUPLICATE_WINDOW_SECONDS
        )
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            try:
                await js.add_stream(config)
                continue
            except BadRequestError:
                # Services of one namespace start together: another one may have created the
                # stream between our look and our add. Then it exists, and is updated below.
                await js.stream_info(spec.name)
        await js.update_stream(config)


async def publish_event(
    js: JetStreamContext,
    subject: str,
    event_id: str,
    payload: bytes,
    ack_timeout: float | None = None,
) -> PubAck:
    """Publish with the event id as Nats-Msg-Id, so that a retried publish is stored once;
    `ack_timeout` seconds for the stream's acknowledgement (None: the context's default)."""
    headers = {"Nats-Msg-Id": event_id}
    ack = await js.publish(subject, payload, timeout=ack_timeout, headers=headers)
    if ack.duplicate:
        _log.info("duplicate publish dropped by JetStream", extra={"event_id": event_id})
    return ack
