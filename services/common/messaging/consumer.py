"""Durable pull consumers: fetch in batches, ack after the handler committed.

A handler raises `PoisonMessage` for an event it can never process (it is dead-lettered with the
reason on its first delivery and terminated), and any other exception for a passing failure (it
is nak'ed with a delay and redelivered; after the consumer's `max_deliver` it is dead-lettered
too, never lost). PostgreSQL refusing a value (a data exception, SQLSTATE class 22) is poison
too: the same input fails the same way on every delivery; and so is a domain NotFound,
InvalidArgument, FailedPrecondition or PermissionDenied (the event names something the owning
service does not know, or refuses). A
dependency that is away (PostgreSQL restarting, a peer service unavailable) is neither: the
consumer holds the message, tells JetStream it is still working on it, and tries again with
backoff until the dependency is back, so an outage longer than the redeliveries allow sends
nothing to the dead letters.
"""

from __future__ import annotations

import asyncio
import contextlib
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

from services.common import errors
from services.common.messaging.topology import ConsumerSpec, Topology
from services.common.outages import is_dependency_unavailable, log_failure

_log = logging.getLogger(__name__)

MessageHandler = Callable[[Msg], Awaitable[None]]

# A dead letter carries the original payload and the reason in one NATS message (1 MiB by
# default): an event near that size, or a reason quoting a huge value, must still fit.
MAX_KEPT_PAYLOAD_BYTES = 256 * 1024
MAX_REASON_CHARS = 2_000
# Header of a dead letter: the delivery of the original message on which the consumer gave up.
NUM_DELIVERED_HEADER = "Trainvite-Num-Delivered"


class PoisonMessage(Exception):
    """The message can never be processed: malformed, or failing the contract."""


# A use case's refusals that the same event meets on every delivery. Aborted (a concurrent
# change) is not among them: the next delivery may well pass.
_REFUSED_BY_OWNER = (
    errors.InvalidArgument,
    errors.NotFound,
    errors.FailedPrecondition,
    errors.PermissionDenied,
)
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
    stream_seq = msg.metadata.sequence.stream if msg.metadata else 0
    payload = msg.data
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[:MAX_REASON_CHARS] + "…"
    if len(payload) > MAX_KEPT_PAYLOAD_BYTES:
        # The letter must fit in one NATS message; the whole original stays in its stream.
        reason += (
            f" (payload of {len(payload)} bytes cut to {MAX_KEPT_PAYLOAD_BYTES}; the whole one"
            f" is message {stream_seq} of its stream)"
        )
        payload = payload[:MAX_KEPT_PAYLOAD_BYTES]
    letter = events_pb2.DeadLetter(
        consumer=consumer, subject=msg.subject, payload=payload, reason=reason, occur_time=now
    )
    # One dead letter per original message, even if this is retried.
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{consumer}/{msg.subject}/{stream_seq}"))
    delivered = msg.metadata.num_delivered if msg.metadata else 1
    await js.publish(
        topology.dead_letter(consumer),
        letter.SerializeToString(),
        # Which delivery gave up: 1 for poison, max_deliver for a failure that never passed.
        headers={"Nats-Msg-Id": event_id, NUM_DELIVERED_HEADER: str(delivered)},
    )


def consumer_config(spec: ConsumerSpec) -> ConsumerConfig:
    """The durable's delivery settings, as chosen in the topology."""
    return ConsumerConfig(
        durable_name=spec.durable,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=spec.ack_wait,
        max_deliver=spec.max_deliver,
        backoff=spec.backoff,
        max_ack_pending=spec.max_ack_pending,
        filter_subject=spec.filter_subject,
    )


async def subscribe(js: JetStreamContext, spec: ConsumerSpec) -> JetStreamContext.PullSubscription:
    """Create the durable, or bring one made by an earlier release up to these settings
    (pull_subscribe alone would keep an existing durable's old ones), and pull from it."""
    config = consumer_config(spec)
    await js.add_consumer(spec.stream, config)
    return await js.pull_subscribe(
        spec.filter_subject, durable=spec.durable, stream=spec.stream, config=config
    )


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
    sub = await subscribe(js, spec)
    _log.info("consumer started", extra={"durable": spec.durable})
    try:
        while not stop.is_set():
            try:
                msgs = await sub.fetch(batch, timeout=fetch_timeout)
            except TimeoutError:  # nats-py raises its own or asyncio's: both mean
                continue  # that nothing was there
            for msg in msgs:
                await process_one(js, topology, spec, handler, msg, stop)
    finally:
        await sub.unsubscribe()


# While a dependency is away, the message in hand is tried again after this, doubling up to the
# cap, which stays well under every consumer's ack_wait (in_progress() restarts that clock).
OUTAGE_RETRY_SECONDS = 0.5
OUTAGE_RETRY_CAP_SECONDS = 10.0


def refusal(exc: BaseException) -> str | None:
    """The dead letter's reason when `exc` says the message fails the same way on every
    delivery (poison, a value the database refuses, a refusal of the owning service); None for
    anything that may pass."""
    if isinstance(exc, PoisonMessage):
        return str(exc)
    if isinstance(exc, _REFUSED_INPUT):
        return f"the database refused a value: {type(exc).__name__}: {exc}"
    if isinstance(exc, _REFUSED_BY_OWNER):
        # What the event names does not exist or is refused by the service that owns it
        # (events leave only after their facts are committed): it will not change.
        return f"refused by the service that owns it: {exc}"
    return None


class OutageWait:
    """Backoff while a dependency is away: the messages in hand are held (in_progress) and
    tried again after a wait that doubles up to a cap, or until `stop` is set."""

    def __init__(self, spec: ConsumerSpec, stop: asyncio.Event) -> None:
        self._spec = spec
        self._stop = stop
        self._wait = OUTAGE_RETRY_SECONDS

    async def hold(self, msgs: list[Msg], exc: BaseException) -> bool:
        """Hold the messages and wait; False when stopping (they were nak'ed: the next process
        takes them up, never the dead letters)."""
        if self._stop.is_set():
            for msg in msgs:
                with contextlib.suppress(Exception):
                    await msg.nak(delay=_retry_delay(_delivered(msg)))
            return False
        log_failure(_log, "event waits for a dependency", exc, durable=self._spec.durable)
        for msg in msgs:
            with contextlib.suppress(Exception):  # NATS may be the one away
                await msg.in_progress()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), self._wait)
        self._wait = min(self._wait * 2, OUTAGE_RETRY_CAP_SECONDS)
        return True


def _delivered(msg: Msg) -> int:
    return msg.metadata.num_delivered if msg.metadata else 1


async def process_one(
    js: JetStreamContext,
    topology: Topology,
    spec: ConsumerSpec,
    handler: MessageHandler,
    msg: Msg,
    stop: asyncio.Event,
) -> None:
    """Handle one message: ack it, dead-letter it, retry it later, or hold it through an
    outage."""
    delivered = _delivered(msg)
    outage = OutageWait(spec, stop)
    while True:
        try:
            await handler(msg)
        except Exception as exc:
            reason = refusal(exc)
            if reason is not None:
                await give_up_at_once(js, topology, spec, msg, reason)
            elif not is_dependency_unavailable(exc):
                await _retry_later(js, topology, spec, msg, exc, delivered)
            elif await outage.hold([msg], exc):
                continue
        else:
            await msg.ack()
        return


async def _retry_later(
    js: JetStreamContext,
    topology: Topology,
    spec: ConsumerSpec,
    msg: Msg,
    exc: Exception,
    delivered: int,
) -> None:
    """A passing failure: redelivered with a delay, dead-lettered after `max_deliver`."""
    if delivered >= spec.max_deliver:
        log_failure(_log, "giving up on an event", exc, durable=spec.durable)
        await dead_letter(js, topology, spec.durable, msg, f"failed {delivered} times: {exc!r}")
        await msg.term()
    else:
        log_failure(_log, "event failed, will retry", exc, durable=spec.durable)
        await msg.nak(delay=_retry_delay(delivered))


async def give_up_at_once(
    js: JetStreamContext,
    topology: Topology,
    spec: ConsumerSpec,
    msg: Msg,
    reason: str,
) -> None:
    """Dead-letter a message that can never succeed and go on with the next one."""
    delivered = _delivered(msg)
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
