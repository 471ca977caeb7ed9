"""Durable pull consumers that apply a whole fetch in one transaction.

Where every event is a small write (tracking an invitation), committing one transaction per
message caps a consumer at a few thousand events a second. A batch consumer fetches up to
`batch` messages, decodes each (one that does not decode is dead-lettered with the reason and
terminated, as `consumer` does), hands the decoded ones to one `apply` call that writes them in
one transaction, and acks them all once it committed. Acks follow the commit: a consumer killed
before the commit leaves nothing written, and the redelivered messages are applied once (each
event asks its unit of work `first_time(event_id)`).

When the batch fails with a refusal (poison, a value the database refuses, NotFound,
InvalidArgument, FailedPrecondition, PermissionDenied) or any failure that is not an outage,
the batch is applied again one message at a time through `consumer.process_one`: only the
message at fault is dead-lettered (or retried later), the others are applied and acked. A
dependency that is away holds the whole batch (in_progress, retried with backoff) exactly as the
one-at-a-time consumer holds its message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from services.common.messaging.consumer import (
    OutageWait,
    PoisonMessage,
    give_up_at_once,
    process_one,
    refusal,
    subscribe,
)
from services.common.messaging.topology import ConsumerSpec, Topology
from services.common.outages import is_dependency_unavailable

_log = logging.getLogger(__name__)

T = TypeVar("T")

# Messages fetched and applied together: large enough to spread a transaction's cost, small
# enough that a batch is written well within the consumer's ack wait.
DEFAULT_BATCH = 200
_DECODED_BETWEEN_YIELDS = 20


@dataclass(frozen=True)
class BatchHandler(Generic[T]):
    """How a batch consumer reads its messages and applies them."""

    # The message as its use case takes it, or PoisonMessage saying why it never can be.
    decode: Callable[[Msg], T]
    # Apply every item in one transaction (each applied once, by its event id), then commit.
    apply: Callable[[Sequence[T]], Awaitable[object]]
    # Batches written at once. More than one only where the outcome does not depend on the
    # order in which batches commit (each batch still commits whole, and is acked after).
    in_flight: int = 1


def by_subject(subject: str, decode: Callable[[bytes], T]) -> Callable[[Msg], T]:
    """A decoder for a consumer that reads one subject: anything else is poison."""

    def decode_msg(msg: Msg) -> T:
        if msg.subject != subject:
            raise PoisonMessage(f"this consumer takes nothing published on {msg.subject}")
        return decode(msg.data)

    return decode_msg


async def run_batch_consumer(
    js: JetStreamContext,
    topology: Topology,
    spec: ConsumerSpec,
    handler: BatchHandler[T],
    stop: asyncio.Event,
    batch: int = DEFAULT_BATCH,
    fetch_timeout: float = 1.0,
) -> None:
    """Consume until `stop` is set, a fetched batch at a time in stream order."""
    sub = await subscribe(js, spec)
    _log.info("batch consumer started", extra={"durable": spec.durable})
    # The next batch is fetched and decoded while the ones before are written; up to
    # `handler.in_flight` batches are written at once, each in its own transaction.
    ahead = asyncio.create_task(sub.fetch(batch, timeout=fetch_timeout))
    applying: list[asyncio.Task[None]] = []
    try:
        while not stop.is_set():
            try:
                msgs = await ahead
            except TimeoutError:  # nothing was there
                msgs = []
            ahead = asyncio.create_task(sub.fetch(batch, timeout=fetch_timeout))
            decoded = await decode_batch(js, topology, spec, handler, msgs)
            applying = await _settled(applying, max(handler.in_flight, 1) - 1)
            if decoded:
                applying.append(
                    asyncio.create_task(apply_batch(js, topology, spec, handler, decoded, stop))
                )
            elif not msgs:
                applying = await _settled(applying, 0)  # idle: finish what is in hand
        await _settled(applying, 0)
    finally:
        for task in applying:
            if not task.done():
                # The consumer itself was cancelled: so are the batches in hand, never
                # acknowledged, redelivered to whoever consumes next.
                task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await _let_go(ahead)
        await sub.unsubscribe()


async def _settled(tasks: list[asyncio.Task[None]], keep: int) -> list[asyncio.Task[None]]:
    """Wait for the oldest batches until at most `keep` are still being written."""
    while len(tasks) > keep:
        await tasks[0]
        tasks = tasks[1:]
    return tasks


async def _let_go(ahead: asyncio.Task[list[Msg]]) -> None:
    """Stop fetching; what was fetched ahead and not begun goes back to the stream at once."""
    if not ahead.done():
        ahead.cancel()
    with contextlib.suppress(BaseException):
        for msg in await ahead:
            await msg.nak()


async def process_batch(
    js: JetStreamContext,
    topology: Topology,
    spec: ConsumerSpec,
    handler: BatchHandler[T],
    msgs: Sequence[Msg],
    stop: asyncio.Event,
) -> None:
    """Decode, apply in one transaction, ack; or fall back to one message at a time."""
    decoded = await decode_batch(js, topology, spec, handler, msgs)
    if decoded:
        await apply_batch(js, topology, spec, handler, decoded, stop)


async def decode_batch(
    js: JetStreamContext,
    topology: Topology,
    spec: ConsumerSpec,
    handler: BatchHandler[T],
    msgs: Sequence[Msg],
) -> list[tuple[Msg, T]]:
    """Each message with what it decodes to; one that never will is dead-lettered."""
    decoded: list[tuple[Msg, T]] = []
    for n, msg in enumerate(msgs, start=1):
        if n % _DECODED_BETWEEN_YIELDS == 0:
            # Let the batches being written read their answers meanwhile: a whole batch
            # decoded in one go would hold each of their round trips up by as long.
            await asyncio.sleep(0)
        try:
            decoded.append((msg, handler.decode(msg)))
        except PoisonMessage as exc:
            await give_up_at_once(js, topology, spec, msg, str(exc))
    return decoded


async def apply_batch(
    js: JetStreamContext,
    topology: Topology,
    spec: ConsumerSpec,
    handler: BatchHandler[T],
    decoded: list[tuple[Msg, T]],
    stop: asyncio.Event,
) -> None:
    """Apply in one transaction and ack all; through an outage, hold them; on any other
    failure, apply them one at a time."""
    outage = OutageWait(spec, stop)
    while True:
        try:
            await handler.apply([item for _, item in decoded])
        except Exception as exc:
            if is_dependency_unavailable(exc):
                if await outage.hold([m for m, _ in decoded], exc):
                    continue
                return
            _log.warning(
                "a batch failed, applying it one message at a time",
                extra={
                    "durable": spec.durable,
                    "messages": len(decoded),
                    "error": refusal(exc) or f"{type(exc).__name__}: {exc}",
                },
            )
            await _one_at_a_time(js, topology, spec, handler, decoded, stop)
            return
        break
    for msg, _ in decoded:
        await msg.ack()


async def _one_at_a_time(
    js: JetStreamContext,
    topology: Topology,
    spec: ConsumerSpec,
    handler: BatchHandler[T],
    decoded: list[tuple[Msg, T]],
    stop: asyncio.Event,
) -> None:
    for msg, item in decoded:

        async def apply_alone(_: Msg, item: T = item) -> None:
            await handler.apply([item])

        await process_one(js, topology, spec, apply_alone, msg, stop)


def batch_consumer_task(
    js: JetStreamContext, topology: Topology, spec: ConsumerSpec, handler: BatchHandler[T]
) -> Callable[[asyncio.Event], Awaitable[None]]:
    """The background task that feeds `spec`'s durable consumer to `handler`, a batch at a
    time."""

    async def consume(stop: asyncio.Event) -> None:
        await run_batch_consumer(js, topology, spec, handler, stop)

    consume.__name__ = f"consume {spec.durable}"
    return consume
