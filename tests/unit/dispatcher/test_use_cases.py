"""The dispatcher's other use cases on the in-memory dispatcher: approvals stored once, a CSM's
controls, unsubscribing and bounce reports, with what each publishes."""

from __future__ import annotations

import uuid

import pytest

from services.common.auth import CallerKind, Principal
from services.common.errors import InvalidArgument, NotFound, PermissionDenied
from services.dispatcher.domain.events import AddressSuppressed, DeliveryOutcome
from services.dispatcher.domain.facts import InvitationApproved
from services.dispatcher.domain.model import DeliveryState
from services.dispatcher.domain.unsubscribe import unsubscribe_token
from services.dispatcher.service_layer import (
    bounces,
    controls,
    invitations,
    sending,
    unsubscribe,
)
from tests.fakes.dispatcher import (
    BATCH,
    SENDER,
    FakeDispatcher,
    approved,
    build_message,
    fake_dispatcher,
)
from tests.fakes.gmail import bounce_report

ALEX = Principal(SENDER, CallerKind.CSM)
JORDAN = Principal("jordan.blake@trainvite.dev", CallerKind.CSM)
GATEWAY = Principal("gateway", CallerKind.SERVICE)
STATUS = f"{BATCH}/delivery-status"


def outcomes(f: FakeDispatcher) -> list[tuple[str, DeliveryState]]:
    return sorted(
        (e.invitation, e.state) for e in f.store.published if isinstance(e, DeliveryOutcome)
    )


def suppressions(f: FakeDispatcher) -> list[tuple[str, str]]:
    return [(e.email, e.reason) for e in f.store.published if isinstance(e, AddressSuppressed)]


async def test_an_approval_becomes_one_delivery_however_often_it_arrives() -> None:
    f = fake_dispatcher()
    approval = InvitationApproved(uuid.uuid4(), approved(1))
    assert await invitations.accept_invitation(f.deps, approval)
    assert not await invitations.accept_invitation(f.deps, approval)  # redelivered
    again = InvitationApproved(uuid.uuid4(), approved(1))  # the same invitation, a new event
    assert not await invitations.accept_invitation(f.deps, again)
    [row] = f.store.rows.values()
    assert row.delivery.state is DeliveryState.PENDING
    assert row.delivery.message_id == f"<{row.delivery.id}@trainvite.dev>"
    assert f.store.processed == {approval.event_id, again.event_id}
    assert f.store.published == []


async def test_a_batch_is_seen_paused_and_cancelled_by_its_csm_only() -> None:
    f = fake_dispatcher()
    for n in (1, 2, 3):
        await f.add(approved(n))
    [first, *_] = await sending.claim_due(f.deps, 1)
    await sending.send_one(f.deps, first)

    assert (await controls.batch_status(f.deps, STATUS, JORDAN)).deliveries == []
    for refused in (JORDAN, GATEWAY):
        with pytest.raises(NotFound):
            await controls.pause_batch(f.deps, STATUS, True, refused)
        with pytest.raises(NotFound):
            await controls.cancel_batch(f.deps, STATUS, refused)
    with pytest.raises(InvalidArgument):
        await controls.batch_status(f.deps, f"{BATCH}/deliveries", ALEX)

    paused = await controls.pause_batch(f.deps, STATUS, True, ALEX)
    assert paused.paused and await sending.send_due(f.deps) == 0
    cancelled = await controls.cancel_batch(f.deps, STATUS, ALEX)
    states = sorted(d.state for d in cancelled.deliveries)
    assert states == [DeliveryState.CANCELLED, DeliveryState.CANCELLED, DeliveryState.SENT]
    assert outcomes(f) == sorted(
        [
            (approved(1).invitation, DeliveryState.SENT),
            (approved(2).invitation, DeliveryState.CANCELLED),
            (approved(3).invitation, DeliveryState.CANCELLED),
        ]
    )
    await controls.pause_batch(f.deps, STATUS, False, ALEX)
    assert await sending.send_due(f.deps) == 0 and f.sender.sends == 1


async def test_a_delivery_being_sent_is_not_cancelled() -> None:
    f = fake_dispatcher()
    await f.add(approved(1))
    await sending.claim_due(f.deps, 20)  # a worker holds it
    status = await controls.cancel_batch(f.deps, STATUS, ALEX)
    assert [d.state for d in status.deliveries] == [DeliveryState.PENDING]
    assert f.store.published == []


async def test_a_csm_pauses_their_own_mailbox_only() -> None:
    f = fake_dispatcher()
    await f.add(approved(1))
    with pytest.raises(PermissionDenied):
        await controls.control_sender(f.deps, f"senders/{SENDER}", True, JORDAN)
    with pytest.raises(InvalidArgument):
        await controls.control_sender(f.deps, "senders/alex", True, ALEX)
    paused = await controls.control_sender(f.deps, f"senders/{SENDER.upper()}", True, ALEX)
    assert paused == (True, None)
    assert await sending.send_due(f.deps) == 0
    await controls.control_sender(f.deps, f"senders/{SENDER}", False, ALEX)
    assert await sending.send_due(f.deps) == 1


async def test_a_link_unsubscribes_its_address_once() -> None:
    f = fake_dispatcher()
    token = unsubscribe_token(f.deps.unsubscribe_key, "Wei.Chen@acme.example")
    assert await unsubscribe.unsubscribe(f.deps, token, "", "", GATEWAY) == "wei.chen@acme.example"
    assert (
        await unsubscribe.unsubscribe(f.deps, token, "", "again", GATEWAY)
        == "wei.chen@acme.example"
    )
    assert suppressions(f) == [("wei.chen@acme.example", "unsubscribed")]
    assert f.store.suppressions == {"wei.chen@acme.example": "unsubscribed"}
    with pytest.raises(InvalidArgument):
        await unsubscribe.unsubscribe(f.deps, token[:-2] + "xx", "", "", GATEWAY)


async def test_a_csm_unsubscribes_by_address_only_whom_their_mailbox_invited() -> None:
    f = fake_dispatcher()
    await f.add(approved(1, recipient="wei.chen@acme.example"))
    with pytest.raises(NotFound):
        await unsubscribe.unsubscribe(f.deps, "", "wei.chen@acme.example", "", JORDAN)
    with pytest.raises(PermissionDenied):
        await unsubscribe.unsubscribe(f.deps, "", "wei.chen@acme.example", "", GATEWAY)
    with pytest.raises(InvalidArgument):
        await unsubscribe.unsubscribe(f.deps, "t.k", "wei.chen@acme.example", "", ALEX)
    address = await unsubscribe.unsubscribe(f.deps, "", " WEI.CHEN@acme.example ", "asked", ALEX)
    assert address == "wei.chen@acme.example"
    assert suppressions(f) == [("wei.chen@acme.example", "asked")]
    assert await sending.send_due(f.deps) == 1
    assert f.sender.sends == 0 and outcomes(f) == [
        (approved(1).invitation, DeliveryState.SUPPRESSED)
    ]


async def test_a_bounce_fails_the_sent_delivery_and_suppresses_the_address_once() -> None:
    f = fake_dispatcher()
    delivery = await f.add(approved(1))
    await sending.send_due(f.deps)
    report = bounce_report(build_message(delivery), "person1@northwind.example")
    f.bounces.reports[SENDER] = [("b1", report)]
    assert await bounces.process_bounces(f.deps) == 1
    assert await bounces.process_bounces(f.deps) == 0  # the report was read
    stored = f.store.rows[delivery.id].delivery
    assert stored.state is DeliveryState.FAILED and stored.detail.startswith("bounced: 5.1.1")
    assert outcomes(f) == [
        (delivery.approved.invitation, DeliveryState.FAILED),
        (delivery.approved.invitation, DeliveryState.SENT),
    ]
    [(email, reason)] = suppressions(f)
    assert email == "person1@northwind.example" and reason == stored.detail
