"""The unit of work on real PostgreSQL: what a commit keeps, what a rollback leaves, and the
events that go out with a change (the personalizer's, as an example of all three)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.common.db import create_pool
from services.common.messaging.topology import Topology
from services.personalizer.adapters.events import event_registry
from services.personalizer.adapters.unit_of_work import PostgresPersonalizerUnitOfWork
from services.personalizer.domain.model import DeliveryState, InvitationBatch
from tests.unit.test_batch import AT
from tests.unit.test_batch import batch as example_batch

pytestmark = pytest.mark.integration

TOPOLOGY = Topology("uow")


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool[asyncpg.Record]]:
    p = await create_pool(database_url, "personalizer", 1, 4)
    yield p
    await p.close()


def _uow(pool: asyncpg.Pool[asyncpg.Record]) -> PostgresPersonalizerUnitOfWork:
    return PostgresPersonalizerUnitOfWork(pool, event_registry(TOPOLOGY, lambda: AT))


def batch(n: int) -> InvitationBatch:
    """A batch of people nobody else in this database invites (one approval per person and
    session is a constraint of the table)."""
    b = example_batch(n)
    for d in b.drafts:
        d.recipient = dataclasses.replace(d.recipient, stakeholder_id=uuid.uuid4().hex)
    return b


async def _outbox(pool: asyncpg.Pool[asyncpg.Record], event_ids: list[str]) -> list[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT event_id::text, subject FROM outbox WHERE event_id = ANY($1::uuid[])"
            " ORDER BY id",
            event_ids,
        )
    return [r["subject"] for r in rows]


async def _stored(pool: asyncpg.Pool[asyncpg.Record], b: InvitationBatch) -> InvitationBatch:
    async with _uow(pool) as uow:
        found = await uow.batches.get(b.customer_id, b.id)
    assert found is not None
    return found


async def test_a_commit_keeps_the_change_and_its_events_together(
    pool: asyncpg.Pool[asyncpg.Record],
) -> None:
    b = batch(2)
    async with _uow(pool) as uow:
        assert await uow.batches.add(b, None)
        await uow.commit()
    async with _uow(pool) as uow:
        stored = await uow.batches.get(b.customer_id, b.id, for_update=True)
        assert stored is not None
        stored.approve("csm@x.dev", AT, stored.etag)
        event_ids = [str(e.event_id) for e in stored.pending_events]
        await uow.batches.save(stored)
        await uow.commit()

    assert len(event_ids) == 2
    assert await _outbox(pool, event_ids) == [TOPOLOGY.invitation_approved] * 2
    assert {d.delivery_state for d in (await _stored(pool, b)).drafts} == {DeliveryState.PENDING}


async def test_without_a_commit_neither_the_change_nor_its_events_are_kept(
    pool: asyncpg.Pool[asyncpg.Record],
) -> None:
    b = batch(1)
    async with _uow(pool) as uow:
        await uow.batches.add(b, None)
        await uow.commit()
    async with _uow(pool) as uow:
        stored = await uow.batches.get(b.customer_id, b.id, for_update=True)
        assert stored is not None
        stored.approve("csm@x.dev", AT, stored.etag)
        event_ids = [str(e.event_id) for e in stored.pending_events]
        await uow.batches.save(stored)
    assert event_ids
    assert await _outbox(pool, event_ids) == []
    assert (await _stored(pool, b)).drafts[0].delivery_state is DeliveryState.NOT_SENT


async def test_an_event_is_first_seen_once_and_only_when_committed(
    pool: asyncpg.Pool[asyncpg.Record],
) -> None:
    event_id = uuid.uuid4()
    async with _uow(pool) as uow:
        assert await uow.first_time(event_id)
    async with _uow(pool) as uow:
        assert await uow.first_time(event_id), "a rolled-back first_time is not kept"
        await uow.commit()
    async with _uow(pool) as uow:
        assert not await uow.first_time(event_id)


async def test_approving_the_rest_of_a_batch_keeps_an_outcome_that_arrived_meanwhile(
    pool: asyncpg.Pool[asyncpg.Record],
) -> None:
    b = batch(2)
    first, second = b.drafts
    async with _uow(pool) as uow:
        await uow.batches.add(b, None)
        await uow.commit()
    async with _uow(pool) as uow:
        stored = await uow.batches.get(b.customer_id, b.id, for_update=True)
        assert stored is not None
        stored.approve("csm@x.dev", AT, stored.etag, only={first.id})
        await uow.batches.save(stored)
        await uow.commit()

    async with _uow(pool) as approving:
        # The CSM approves the rest with the batch as read now, before the first one's outcome.
        read = await approving.batches.get(b.customer_id, b.id, for_update=True)
        assert read is not None
        async with _uow(pool) as outcome:
            await outcome.batches.show_delivery(first.id, DeliveryState.SENT, "", AT)
            await outcome.commit()
        read.approve("csm@x.dev", AT, read.etag)
        await approving.batches.save(read)
        await approving.commit()

    states = {d.id: d.delivery_state for d in (await _stored(pool, b)).drafts}
    assert states == {first.id: DeliveryState.SENT, second.id: DeliveryState.PENDING}
