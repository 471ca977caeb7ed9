"""The contact budget at send time, on real PostgreSQL and NATS: of two invitations approved for
one person in two batches, one is sent and the other suppressed with the reason, unless the CSM
overrode the budget; and two workers sending both at the same moment never both send."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path

import asyncpg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext

from services.common.clock import utc_now
from services.common.db import Connection, create_pool
from services.common.messaging.topology import Topology
from services.dispatcher.adapters.events import event_registry
from services.dispatcher.adapters.quota import NoQuota
from services.dispatcher.adapters.repository import PostgresDeliveryRepository
from services.dispatcher.adapters.unit_of_work import PostgresDispatcherUnitOfWork
from services.dispatcher.bootstrap import bootstrap
from services.dispatcher.domain.model import Delivery
from services.dispatcher.service_layer import sending
from services.dispatcher.service_layer.ports import SendControls
from tests.fakes.dispatcher import FakeMailSender, FakeProvider, approved, build_message
from tests.helpers import Clients
from tests.integration.event_checks import approval, publish, wait_for_files
from tests.waiting import NotYet, wait_for

pytestmark = pytest.mark.integration

HELD = "contact budget: invited to "
CAP = "(one training message per 14 days)"


@pytest.fixture
def database_url(fresh_database_url: str) -> str:
    """A database per test: the budget reads every invitation to the address."""
    return fresh_database_url


async def approve_both(
    js: JetStreamContext, namespace: str, recipients: tuple[str, str], override: str = ""
) -> list[str]:
    """Two approvals for one person, each from a batch of its own, due at the same moment (the
    second with the override, if any); the names of their invitations."""
    due = Timestamp()
    due.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5))
    first, second = approval(recipients[0]), approval(recipients[1])
    second.contact_budget_override = override
    for event in (first, second):
        event.send_after.CopyFrom(due)
        await publish(js, Topology(namespace).invitation_approved, event.SerializeToString())
    return [first.invitation, second.invitation]


async def outcomes(database_url: str, invitations: list[str]) -> list[asyncpg.Record]:
    """The deliveries of the invitations once none is pending, in the order of the names."""

    async def done() -> list[asyncpg.Record] | NotYet:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch(
                """
                SELECT invitation, state, detail, contact_budget_override
                FROM dispatcher.deliveries WHERE invitation = ANY($1::text[])
                """,
                invitations,
            )
        finally:
            await conn.close()
        settled = len(rows) == len(invitations) and all(r["state"] != "pending" for r in rows)
        return (
            sorted(rows, key=lambda r: invitations.index(r["invitation"]))
            if settled
            else NotYet(rows)
        )

    return await wait_for(done, f"{invitations} sent or held", timeout=20)


async def suppressions(database_url: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        return [r["email"] for r in await conn.fetch("SELECT email FROM dispatcher.suppressions")]
    finally:
        await conn.close()


# Two workers each take one of the two invitations: they are checked at the same moment.
@pytest.mark.dispatcher_settings(send_batch_size=1)
async def test_two_batches_inviting_one_person_send_one_invitation(
    services: Clients, js: JetStreamContext, namespace: str, database_url: str, outbox_dir: Path
) -> None:
    person = f"dana-{uuid.uuid4().hex[:6]}@cloudtech.example"
    invitations = await approve_both(js, namespace, (person, person.upper()))

    rows = await outcomes(database_url, invitations)

    assert sorted(r["state"] for r in rows) == ["sent", "suppressed"]
    [held] = [r for r in rows if r["state"] == "suppressed"]
    assert held["detail"].startswith(HELD + '"Analytics clinic next month" on ')
    assert held["detail"].endswith(CAP)
    [sent] = await wait_for_files(outbox_dir, 1)
    await asyncio.sleep(0.5)  # the workers poll every 0.1 s: a second message would be here
    assert list(outbox_dir.glob("*.eml")) == [sent]
    assert person.lower() not in await suppressions(database_url)


# Both due at once: whichever goes first, both go.
@pytest.mark.dispatcher_settings(send_batch_size=1)
async def test_an_invitation_the_csm_overrode_the_budget_for_is_sent_too(
    services: Clients, js: JetStreamContext, namespace: str, database_url: str, outbox_dir: Path
) -> None:
    person = f"eli-{uuid.uuid4().hex[:6]}@cloudtech.example"
    reason = "asked for the advanced session as well"
    invitations = await approve_both(js, namespace, (person, person), override=reason)

    rows = await outcomes(database_url, invitations)

    assert [r["state"] for r in rows] == ["sent", "sent"]
    assert [r["contact_budget_override"] for r in rows] == ["", reason]
    assert len(await wait_for_files(outbox_dir, 2)) == 2


class SlowControls(PostgresDeliveryRepository):
    """Reads the controls, then dawdles before the attempt is committed: without the lock on the
    address, the other worker's check would run meanwhile and find nothing."""

    async def controls(
        self, delivery: Delivery, invitations_since: dt.datetime | None = None
    ) -> SendControls:
        found = await super().controls(delivery, invitations_since)
        await asyncio.sleep(0.3)
        return found


class SlowUnitOfWork(PostgresDispatcherUnitOfWork):
    def _bind(self, conn: Connection) -> None:
        super()._bind(conn)
        self.deliveries = SlowControls(conn)


async def test_two_workers_sending_to_one_person_at_once_send_once(
    database_url: str, namespace: str
) -> None:
    pool = await create_pool(database_url, "dispatcher", max_size=4)
    registry = event_registry(Topology(namespace), utc_now)
    provider = FakeProvider()
    deps = bootstrap(
        uow=lambda: SlowUnitOfWork(pool, registry),
        sender=FakeMailSender(provider),
        build_message=build_message,
        quota=NoQuota(),
        unsubscribe_key="unsubscribe-test-key",
    )
    person = f"fay-{uuid.uuid4().hex[:6]}@cloudtech.example"
    now = utc_now()
    try:
        async with deps.uow() as uow:
            for n, batch in enumerate((uuid.uuid4(), uuid.uuid4()), start=1):
                invitation = approved(
                    n,
                    recipient=person,
                    batch=f"customers/cloudtech/invitation-batches/{batch}",
                    send_after=now,
                )
                assert await uow.deliveries.add(Delivery.accept(invitation, uuid.uuid4()))
            await uow.commit()
        claims = [await sending.claim_due(deps, 1), await sending.claim_due(deps, 1)]
        assert [len(c) for c in claims] == [1, 1]

        await asyncio.gather(*(sending.send_one(deps, c[0]) for c in claims))

        states = await pool.fetch(
            "SELECT state, detail FROM deliveries WHERE recipient_email = $1 ORDER BY state",
            person,
        )
    finally:
        await pool.close()
    assert [s["state"] for s in states] == ["sent", "suppressed"]
    assert states[1]["detail"].startswith(HELD) and states[1]["detail"].endswith(CAP)
    assert len(provider.to(person)) == 1
