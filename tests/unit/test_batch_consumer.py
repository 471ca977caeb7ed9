"""The batch consumer's decisions, with messages that record what was done to them: a batch is
applied in one call and acked after it; poison is dead-lettered at decode; a refusal falls back
to one message at a time; an outage holds the whole batch until the dependency is back."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import asyncpg
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from trainvite.events.v1 import events_pb2

from services.common.errors import NotFound
from services.common.messaging import consumer
from services.common.messaging.batch_consumer import BatchHandler, process_batch
from services.common.messaging.consumer import PoisonMessage
from services.common.messaging.topology import Topology

TOPOLOGY = Topology("unit")
SPEC = TOPOLOGY.dispatcher_attendance


@dataclass
class Meta:
    num_delivered: int = 1

    @dataclass
    class Seq:
        stream: int = 1

    sequence: Seq = field(default_factory=Seq)


@dataclass
class FakeMsg:
    """What the consumer did to one message, in order."""

    data: bytes
    subject: str = TOPOLOGY.attendance_recorded
    metadata: Meta = field(default_factory=Meta)
    done: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.done.append("ack")

    async def nak(self, delay: float | None = None) -> None:
        self.done.append("nak")

    async def term(self) -> None:
        self.done.append("term")

    async def in_progress(self) -> None:
        self.done.append("in_progress")


class FakeJetStream:
    def __init__(self) -> None:
        self.letters: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        self.letters.append((subject, payload))


def decode(msg: Msg) -> str:
    text = msg.data.decode()
    if text.startswith("poison"):
        raise PoisonMessage(f"not an event: {text}")
    return text


@dataclass
class Store:
    """Applies a batch all or nothing, as one transaction would."""

    applied: list[str] = field(default_factory=list)
    calls: list[list[str]] = field(default_factory=list)
    outages: int = 0

    async def apply(self, items: Sequence[str]) -> None:
        self.calls.append(list(items))
        if self.outages:
            self.outages -= 1
            raise asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
        if any(i.startswith("unknown") for i in items):
            raise NotFound(f"no invitation {items[0]} was sent")
        self.applied.extend(items)


async def run(msgs: list[FakeMsg], store: Store) -> FakeJetStream:
    js = FakeJetStream()
    await process_batch(
        cast(JetStreamContext, js),
        TOPOLOGY,
        SPEC,
        BatchHandler(decode, store.apply),
        cast(list[Any], msgs),
        asyncio.Event(),
    )
    return js


async def test_a_batch_is_applied_in_one_call_and_acked_after_it() -> None:
    store = Store()
    msgs = [FakeMsg(f"e{n}".encode()) for n in range(5)]
    js = await run(msgs, store)
    assert store.calls == [["e0", "e1", "e2", "e3", "e4"]]
    assert [m.done for m in msgs] == [["ack"]] * 5 and not js.letters


async def test_poison_is_dead_lettered_at_decode_and_the_rest_applied_together() -> None:
    store = Store()
    msgs = [FakeMsg(b"e0"), FakeMsg(b"poison!"), FakeMsg(b"e2")]
    js = await run(msgs, store)
    assert store.calls == [["e0", "e2"]]
    assert msgs[1].done == ["term"]
    assert [s for s, _ in js.letters] == [TOPOLOGY.dead_letter(SPEC.durable)]


async def test_a_refused_event_is_dead_lettered_alone_and_the_rest_of_its_batch_applied() -> None:
    store = Store()
    msgs = [FakeMsg(b"e0"), FakeMsg(b"unknown-1"), FakeMsg(b"e2")]
    js = await run(msgs, store)
    assert store.calls[0] == ["e0", "unknown-1", "e2"]  # the batch, refused whole
    assert store.calls[1:] == [["e0"], ["unknown-1"], ["e2"]]  # then one at a time
    assert store.applied == ["e0", "e2"]
    assert [m.done for m in msgs] == [["ack"], ["term"], ["ack"]]
    [(_, letter)] = js.letters
    kept = events_pb2.DeadLetter.FromString(letter)
    assert kept.payload == b"unknown-1" and "no invitation unknown-1" in kept.reason


async def test_an_outage_holds_the_whole_batch_until_the_dependency_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(consumer, "OUTAGE_RETRY_SECONDS", 0.001)
    store = Store(outages=2)
    msgs = [FakeMsg(b"e0"), FakeMsg(b"e1")]
    js = await run(msgs, store)
    assert store.calls == [["e0", "e1"]] * 3
    assert [m.done for m in msgs] == [["in_progress", "in_progress", "ack"]] * 2
    assert not js.letters
