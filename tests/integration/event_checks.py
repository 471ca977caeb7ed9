"""Valid events to publish, and what the consumers did with them: dead letters, deliveries."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import nats
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo
from trainvite.common.v1 import common_pb2
from trainvite.events.v1 import events_pb2

from services.common.fingerprint import content_sha256
from services.common.messaging.consumer import NUM_DELIVERED_HEADER
from services.common.messaging.topology import ConsumerSpec, Topology
from tests import waiting

M = TypeVar("M", bound=Message)


@contextlib.asynccontextmanager
async def published(nats_url: str, subject: str, kind: type[M]) -> AsyncIterator[list[M]]:
    """Every `kind` message published on `subject` while inside, in order."""
    nc = await nats.connect(nats_url)
    seen: list[M] = []

    async def on_message(msg: Msg) -> None:
        seen.append(kind.FromString(msg.data))

    await nc.subscribe(subject, cb=on_message)
    try:
        yield seen
    finally:
        await nc.drain()


def now_ts() -> Timestamp:
    """The current time as a protobuf Timestamp."""
    t = Timestamp()
    t.GetCurrentTime()
    return t


def attendance(
    session: str, email: str, kind: int = events_pb2.ATTENDANCE_KIND_REGISTERED
) -> events_pb2.AttendanceRecorded:
    """A registration or attendance fact as a webinar tool would publish it."""
    return events_pb2.AttendanceRecorded(
        event_id=str(uuid.uuid4()),
        occur_time=now_ts(),
        training_session=session,
        email=email,
        kind=kind,  # type: ignore[arg-type]
        source="test",
    )


def approval(recipient: str, customer: str = "cloudtech") -> events_pb2.InvitationApproved:
    """An approved invitation the dispatcher will send, with content matching its fingerprint."""
    batch = f"customers/{customer}/invitation-batches/{uuid.uuid4()}"
    content = common_pb2.InvitationContent(
        subject="Analytics clinic next month",
        text_body="Hello,\n\nyou are invited.\n",
        html_body="<p>Hello,</p><p>you are invited.</p>",
    )
    event = events_pb2.InvitationApproved(
        event_id=str(uuid.uuid4()),
        occur_time=now_ts(),
        invitation=f"{batch}/drafts/{uuid.uuid4()}",
        batch=batch,
        customer_id=customer,
        training_session=f"training-sessions/{uuid.uuid4()}",
        recipient=common_pb2.Recipient(
            stakeholder_id="ct-test", display_name="Test Person", email=recipient
        ),
        sender=common_pb2.Sender(email="alex.rivera@trainvite.dev", display_name="Alex Rivera"),
        content=content,
        content_sha256=content_sha256(
            content.subject, content.text_body, content.html_body, content.calendar_ics
        ),
        approved_by="alex.rivera@trainvite.dev",
        approve_time=now_ts(),
        angle=common_pb2.PERSONALIZATION_ANGLE_CLOSE_GAP,
    )
    return event


async def publish(js: JetStreamContext, subject: str, payload: bytes) -> int:
    """Publish with a fresh message id; the stream sequence it got."""
    ack = await js.publish(subject, payload, headers={"Nats-Msg-Id": str(uuid.uuid4())})
    return ack.seq


class DeadLetters:
    """Reads one consumer's dead letters as they arrive, from the start of its stream."""

    def __init__(self, js: JetStreamContext, topology: Topology, durable: str) -> None:
        self._js = js
        self._topology = topology
        self.durable = durable
        self.seen: list[events_pb2.DeadLetter] = []
        # The delivery of each original message on which its consumer gave up (0: not said).
        self.on_delivery: list[int] = []
        self._sub: object | None = None

    async def wait_for(self, count: int, seconds: float = 10.0) -> list[events_pb2.DeadLetter]:
        """Every dead letter so far, once there are `count`; fails if not within `seconds`."""

        async def enough() -> list[events_pb2.DeadLetter]:
            await self._fetch()
            return list(self.seen) if len(self.seen) >= count else []

        return await waiting.wait_for(
            enough, f"{count} dead letter(s) from {self.durable}", timeout=seconds, interval=0
        )

    async def within(self, seconds: float) -> list[events_pb2.DeadLetter]:
        """Every dead letter that has arrived by the end of `seconds` from now: for proving
        that no (further) letter comes, which only time can show."""
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            await self._fetch()
        return list(self.seen)

    async def _fetch(self) -> None:
        """What has arrived since the last fetch, waiting at most 0.2 s for it."""
        if self._sub is None:
            self._sub = await self._js.pull_subscribe(
                self._topology.dead_letter(self.durable), stream=self._topology.dead_letter_stream
            )
        try:
            msgs = await self._sub.fetch(100, timeout=0.2)  # type: ignore[attr-defined]
        except TimeoutError:
            return
        for m in msgs:
            self.seen.append(events_pb2.DeadLetter.FromString(m.data))
            self.on_delivery.append(int((m.headers or {}).get(NUM_DELIVERED_HEADER, "0")))
            await m.ack()

    async def close(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Settled:
    """A consumer with nothing left to do: what it was delivered, and how often again."""

    delivered: int
    redelivered: int
    info: ConsumerInfo


async def settled(
    js: JetStreamContext, spec: ConsumerSpec, published: int, seconds: float = 20.0
) -> Settled:
    """Wait until the consumer was handed `published` messages and has none pending or unacked.

    A message nak'ed for a retry stays unacked (and comes back as a redelivery), so a consumer
    that settles with `redelivered == 0` and `delivered == published` handled each message on
    its first delivery. One that does not settle within `seconds` fails the test.
    """

    async def state() -> ConsumerInfo | waiting.NotYet:
        # NotFoundError until the service has declared the durable: "not yet".
        info = await js.consumer_info(spec.stream, spec.durable)
        delivered = info.delivered.consumer_seq if info.delivered else 0
        done = (
            delivered >= published
            and not info.num_pending
            and not info.num_ack_pending
            and not info.num_redelivered
        )
        return info if done else waiting.NotYet(info)

    info = await waiting.wait_for(
        state, f"{spec.durable} settled after {published} message(s)", timeout=seconds
    )
    return Settled(
        delivered=info.delivered.consumer_seq if info.delivered else 0,
        redelivered=info.num_redelivered or 0,
        info=info,
    )


async def wait_for_files(directory: Path, count: int, seconds: float = 15.0) -> list[Path]:
    """The .eml files the file sender wrote, once there are `count`; fails if not within
    `seconds`."""

    def files() -> list[Path]:
        found = sorted(directory.glob("*.eml"))
        return found if len(found) >= count else []

    return await waiting.wait_for(files, f"{count} .eml file(s) in {directory}", timeout=seconds)
