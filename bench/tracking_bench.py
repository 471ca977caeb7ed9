"""Dispatcher tracking: attendance facts committed per second by the batch consumer, beside the
raw rate at which nats-py fetches and acks the same messages.

N sent invitations are stored, N AttendanceRecorded (attended, with minutes; half naming their
invitation, half matched by session and address as a webinar tool's are) are published to a
fresh namespace's stream. Then, in this one process under uvloop: a bare pull consumer fetches
and acks them all (the baseline, measured again after the tracking phase by a second bare
consumer); the dispatcher's tracking consumer (its decoder, use case and
PostgreSQL unit of work) applies them all, timed until the last of them has committed (then
the table is checked to hold every one).

BENCH_TRACKING_EVENTS sets N (10,000 by default); BENCH_TRACKING_ROUNDS how many rounds are
run (9: a round's ratio swings from 0.4x to 0.7x with the machine), each measuring both side by
side, the median ratio reported. BENCH_PROFILE_DIR=DIR
runs the last round's tracking phase under pyinstrument and writes its call tree to
DIR/tracking.txt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import statistics
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import nats
import uvloop
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from trainvite.events.v1 import events_pb2

from bench.environment import BenchEnvironment, bench_environment
from services.common.clock import utc_now
from services.common.db import create_pool
from services.common.messaging.batch_consumer import run_batch_consumer
from services.common.messaging.jetstream import declare_streams
from services.common.messaging.topology import Topology
from services.dispatcher.adapters.events import event_registry
from services.dispatcher.adapters.unit_of_work import PostgresDispatcherUnitOfWork
from services.dispatcher.api.tracking_subscriptions import (
    attendance_fact,
    tracking_subscriptions,
)
from services.dispatcher.bootstrap import bootstrap
from services.dispatcher.domain.tracking import TrackingFact
from services.dispatcher.service_layer import tracking
from services.dispatcher.service_layer.dependencies import Dependencies
from tests.fakes.dispatcher import (
    FakeMailSender,
    FakeProvider,
    FakeQuota,
    FixedClock,
    build_message,
)

EVENTS = int(os.environ.get("BENCH_TRACKING_EVENTS", "10000"))
PROFILE_DIR = os.environ.get("BENCH_PROFILE_DIR", "")
FETCH = int(os.environ.get("BENCH_TRACKING_FETCH", "200"))
# The machine is shared: each round measures both side by side, and the median ratio is told.
ROUNDS = int(os.environ.get("BENCH_TRACKING_ROUNDS", "9"))
SETTLE_SECONDS = 2.0


async def _store_sent(database_url: str, batch: str, session: str, count: int) -> list[str]:
    """`count` sent deliveries of one batch to one session; their invitations."""
    invitations = [f"{batch}/drafts/{uuid.uuid4()}" for _ in range(count)]
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            """
            INSERT INTO dispatcher.deliveries (id, invitation, batch, customer_id,
                training_session, recipient_email, recipient_name, sender_email, sender_name,
                subject, text_body, html_body, calendar_ics, content_sha256, approved_by,
                approved_at, message_id, send_after, state, sent_at)
            SELECT gen_random_uuid(), inv, $2, 'bench', $3, 'person' || i || '@bench.example',
                   'Person ' || i, 'csm@bench.example', 'CSM', 'Training', 'Hi', '<p>Hi</p>', '',
                   'x', 'csm@bench.example', now(), '<' || gen_random_uuid() || '@bench.example>',
                   now(), 'sent', now()
            FROM unnest($1::text[]) WITH ORDINALITY AS t (inv, i)
            """,
            invitations,
            batch,
            session,
        )
        await conn.execute("ANALYZE dispatcher.deliveries")
    finally:
        await conn.close()
    return invitations


def _events(session: str, invitations: list[str]) -> list[bytes]:
    occurred = Timestamp()
    occurred.GetCurrentTime()
    return [
        events_pb2.AttendanceRecorded(
            event_id=str(uuid.uuid4()),
            occur_time=occurred,
            training_session=session,
            email=f"person{i}@bench.example",
            invitation=invitation if i % 2 else "",
            kind=events_pb2.ATTENDANCE_KIND_ATTENDED,
            source="bench",
            minutes_attended=30 + i % 30,
        ).SerializeToString()
        for i, invitation in enumerate(invitations, start=1)
    ]


async def _publish(js: JetStreamContext, subject: str, payloads: list[bytes]) -> None:
    for start in range(0, len(payloads), 500):
        await asyncio.gather(*(js.publish(subject, p) for p in payloads[start : start + 500]))


async def _raw(js: JetStreamContext, topology: Topology, count: int, durable: str) -> float:
    """Seconds a bare durable pull consumer takes to fetch and ack `count` messages."""
    config = ConsumerConfig(
        durable_name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        filter_subject=topology.attendance_recorded,
        max_ack_pending=10_000,
    )
    sub = await js.pull_subscribe(
        topology.attendance_recorded,
        durable=durable,
        stream=topology.attendance_stream,
        config=config,
    )
    started = time.perf_counter()
    seen = 0
    while seen < count:
        for msg in await sub.fetch(FETCH, timeout=5):
            await msg.ack()
            seen += 1
    elapsed = time.perf_counter() - started
    await sub.unsubscribe()
    return elapsed


_TRACKED = """
SELECT count(*) FROM tracking t JOIN deliveries d ON d.invitation = t.invitation
WHERE d.batch = $1
"""


async def _tracking(
    env: BenchEnvironment, js: JetStreamContext, topology: Topology, batch: str, count: int
) -> float:
    """Seconds the dispatcher's tracking consumer takes until `count` facts are committed."""
    pool = await create_pool(env.database_url, "dispatcher", max_size=4)
    clock = FixedClock()
    deps = bootstrap(
        uow=lambda: PostgresDispatcherUnitOfWork(pool, event_registry(topology, utc_now)),
        sender=FakeMailSender(FakeProvider()),
        build_message=build_message,
        quota=FakeQuota(clock),
        unsubscribe_key="bench",
    )
    [(spec, handler)] = [
        (s, h)
        for s, h in tracking_subscriptions(deps, topology)
        if s.durable == topology.dispatcher_attendance.durable
    ]
    await _warm_up(env, deps, pool)
    # The clock stops when the batch that brings the count to `count` has committed (polling
    # the table instead would add up to a polling interval to every round).
    committed = 0
    all_committed = asyncio.Event()

    async def apply_and_count(facts: Sequence[TrackingFact]) -> None:
        nonlocal committed
        await handler.apply(facts)
        committed += len(facts)
        if committed >= count:
            all_committed.set()

    counted = dataclasses.replace(handler, apply=apply_and_count)
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(run_batch_consumer(js, topology, spec, counted, stop, batch=FETCH))
    try:
        await asyncio.wait_for(all_committed.wait(), timeout=600)
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        await task
    try:
        async with pool.acquire() as conn:
            tracked = await conn.fetchval(_TRACKED, batch)
        if tracked != count:
            raise RuntimeError(f"{count} facts were applied but {tracked} invitations tracked")
        return elapsed
    finally:
        await pool.close()


async def _warm_up(env: BenchEnvironment, deps: Dependencies, pool: asyncpg.Pool) -> None:
    """A running dispatcher has prepared its statements: each pool connection applies one fact
    of invitations of their own before the clock starts (the first use of a connection
    prepares each statement and looks its array types up, 35 ms that a service pays once)."""
    batch = f"customers/bench/invitation-batches/{uuid.uuid4()}"
    session = f"training-sessions/{uuid.uuid4()}"
    size = pool.get_max_size()
    invitations = await _store_sent(env.database_url, batch, session, size)
    facts = [attendance_fact(e) for e in _events(session, invitations)]
    await asyncio.gather(*(tracking.apply_facts(deps, [fact]) for fact in facts))


async def _round(env: BenchEnvironment, profile: bool) -> tuple[float, float, float]:
    """(raw messages/s before, tracked facts/s, raw messages/s after) over a fresh namespace
    and fresh invitations. The baseline is measured on both sides of the tracking phase: the
    machine's speed drifts by a third within seconds, and the mean of the two cancels it."""
    topology = Topology(f"bench{uuid.uuid4().hex[:8]}")
    batch = f"customers/bench/invitation-batches/{uuid.uuid4()}"
    session = f"training-sessions/{uuid.uuid4()}"
    invitations = await _store_sent(env.database_url, batch, session, EVENTS)
    nc = await nats.connect(env.nats_url)
    try:
        js = nc.jetstream()
        await declare_streams(js, topology)
        await _publish(js, topology.attendance_recorded, _events(session, invitations))
        # Storing the deliveries (PostgreSQL writes and analyzes them) and publishing the
        # events (the server stores them) go on for a moment after they answer: measured at
        # once, the baseline and the consumer would share the two cores with that.
        await asyncio.sleep(SETTLE_SECONDS)
        before = EVENTS / await _raw(js, topology, EVENTS, "bench-raw-before")
        profiler = None
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler(async_mode="enabled")
            profiler.start()
        tracked = EVENTS / await _tracking(env, js, topology, batch, EVENTS)
        if profiler is not None:
            profiler.stop()
            out = Path(PROFILE_DIR) / "tracking.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(profiler.output_text(unicode=True, show_all=False))
            print(f"profile of the tracking phase: {out}")
        after = EVENTS / await _raw(js, topology, EVENTS, "bench-raw-after")
        for stream in topology.streams():
            await js.delete_stream(stream.name)
    finally:
        await nc.drain()
    return before, tracked, after


async def _run(env: BenchEnvironment) -> None:
    ratios = []
    for n in range(ROUNDS):
        before, tracked, after = await _round(env, profile=bool(PROFILE_DIR) and n == ROUNDS - 1)
        raw = (before + after) / 2
        ratios.append(tracked / raw)
        print(
            f"  round {n + 1}: tracking commits {tracked:,.0f} facts/s, bare fetch-and-ack"
            f" {before:,.0f} msgs/s before and {after:,.0f} after: {tracked / raw:.2f}x"
        )
    print(
        f"{EVENTS:,} attendance facts a round: the tracking consumer commits"
        f" {statistics.median(ratios):.2f}x the bare fetch-and-ack of the same stream"
        " (median of the rounds, against the mean of the baseline before and after; goal 0.5x)"
    )


def main() -> None:
    print("== dispatcher tracking: attendance facts applied in batches ==")
    with bench_environment() as env:
        uvloop.run(_run(env))
