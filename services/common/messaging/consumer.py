"""Durable pull consumers: fetch in batches, ack after the handler committed.

A handler raises `PoisonMessage` for an event it can never process (it is dead-lettered with the
reason on its first delivery and terminated), and any other exception for a passing failure (it
is nak'ed with a delay and redelivered; after the consumer's `max_deliver` it is dead-lettered
too, never lost). PostgreSQL refusing a value (a data exception, SQLSTATE class 22) is poison
too: the same input fails the same way on every delivery. A lost connection is not.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from asyncpg.exceptions import DataError as PostgresDataError
from asyncpg.exceptions._base import DataError as ArgumentDataError
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from trainvite.events.v1 import events_pb2

from services.common.messaging.jetstream import publish_event
from services.common.messaging.topology import ConsumerSpec, Topology

_log = logging.getLogger(__name__)

MessageHandler = Callable[[Msg], Awaitable[None]]


class PoisonMessage(Exception):
    """The message can never be processed: malformed, or failing the contract."""


# Values PostgreSQL refuses (data exceptions) or that asyncpg cannot encode for a parameter.
_REFUSED_INPUT = (PostgresDataError, ArgumentDataError)


def _retry_delay(num_delivered: int) -> float:
    return float(min(2 ** max(num_delivered - 1, 0), 60))


async def dead_letter(
    js: JetStreamContext, topology: Topology, consumer: str, msg: Msg, reason: str
) -> None:
    """Keep a message we give up on, with the reason, on the dead-letter stream."""
    now = Timestamp()
    now.GetCurrentTime()
    letter = events_pb2.DeadLetter(
        consumer=consumer, subject=msg.subject, payload=msg.data, reason=reason, occur_time=now
    )
    # One dead letter per original message, even if this is retried.
    stream_seq = msg.metadata.sequence.stream if msg.metadata else 0
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{consumer}/{msg.subject}/{stream_seq}"))
    await publish_event(js, topology.dead_letter(consumer), event_id, letter.SerializeToString())


async def run_pull_consumer(
    js: JetStreamContext,
    topology: Topology,
    spec: ConsumerSpec,
    handler: MessageHandler,
    stop: asyncio.Event,
    batch: int = 100,
    fetch_timeout: float = 1.0,
) -> None:
    """Consume until `stop` is set, processing one message at a time in stream order."""
    config = ConsumerConfig(
        durable_name=spec.durable,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=spec.ack_wait,
        max_deliver=spec.max_deliver,
        backoff=spec.backoff,
        max_ack_pending=spec.max_ack_pending,
        filter_subject=spec.filter_subject,
    )
    sub = await js.pull_subscribe(
        spec.filter_subject, durable=spec.durable, stream=spec.stream, config=config
    )
    _log.info("consumer started", extra={"durable": spec.durable})
    try:
        while not stop.is_set():
            try:
                msgs = await sub.fetch(batch, timeout=fetch_timeout)
            except TimeoutError:  # nats-py raises its own or asyncio's: both mean
                continue  # that nothing was there
            for msg in msgs:
                await _process(js, topology, spec, handler, msg)
    finally:
        await sub.unsubscribe()


async def _process(
    js: JetStreamContext,
    topology: Topology,
    spec: ConsumerSpec,
    handler: MessageHandler,
    msg: Msg,
) -> None:
    delivered = msg.metadata.num_delivered if msg.metadata else 1
    try:
        await handler(msg)
    except PoisonMessage as exc:
        await _give_up_at_once(js, topology, spec, msg, str(exc), delivered)
    except _REFUSED_INPUT as exc:
        reason = f"the database refused a value: {type(exc).__name__}: {exc}"
        await _give_up_at_once(js, topology, spec, msg, reason, delivered)
    except Exception as exc:
        if delivered >= spec.max_deliver:
            _log.exception("giving up on an event", extra={"durable": spec.durable})
            await dead_letter(js, topology, spec.durable, msg, f"failed {delivered} times: {exc!r}")
            await msg.term()
        else:
            _log.exception("event failed, will retry", extra={"durable": spec.durable})
            await msg.nak(delay=_retry_delay(delivered))
    else:
        await msg.ack()


async def _give_up_at_once(
    js: JetStreamContext,
    topology: Topology,
    spec: ConsumerSpec,
    msg: Msg,
    reason: str,
    delivered: int,
) -> None:
    """Dead-letter a message that can never succeed and go on with the next one."""
    _log.warning(
        "dead-lettering a bad event",
        extra={"durable": spec.durable, "reason": reason, "num_delivered": delivered},
    )
    try:
        await dead_letter(js, topology, spec.durable, msg, reason)
    except Exception:
        # Not kept yet: leave it to a later delivery rather than lose it.
        _log.exception("could not dead-letter an event", extra={"durable": spec.durable})
        await msg.nak(delay=_retry_delay(delivered))
        return
    await msg.term()
