"""One invitation per person within the frequency cap's window, checked at send time on the
in-memory dispatcher: a second invitation to someone is suppressed with a reason the CSM reads,
unless the CSM overrode the budget; notices and confirmations are never held; the address stays
open."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from services.dispatcher.domain.contact_budget import ContactBudget, OtherInvitation
from services.dispatcher.domain.events import AddressSuppressed, DeliveryOutcome
from services.dispatcher.domain.model import Delivery, DeliveryState, MessagePurpose
from services.dispatcher.service_layer import sending
from services.dispatcher.service_layer.dependencies import Limits
from services.dispatcher.service_layer.ports import OutcomeUnknownError
from tests.fakes.dispatcher import (
    T0,
    FakeDispatcher,
    accept_then,
    approved,
    fake_dispatcher,
)

PERSON = "wei.chen@acme.example"
OTHER_BATCH = "customers/northwind/invitation-batches/7d1e2f3a-0000-4000-8000-000000000002"
DAY = dt.timedelta(days=1)
HELD = (
    'contact budget: invited to "Advanced Analytics, next Tuesday" on 2026-12-01 '
    "(one training message per 14 days)"
)


async def sent_earlier(f: FakeDispatcher, recipient: str = PERSON) -> Delivery:
    """An invitation from another batch to the person, sent now."""
    delivery = await f.add(approved(1, recipient=recipient, batch=OTHER_BATCH))
    assert await sending.send_due(f.deps) == 1
    assert f.store.rows[delivery.id].delivery.state is DeliveryState.SENT
    return delivery


async def send(f: FakeDispatcher, delivery: Delivery) -> Delivery:
    """Every due delivery sent (or held); the delivery as stored after."""
    while await sending.send_due(f.deps):
        pass
    return f.store.rows[delivery.id].delivery


async def test_a_second_invitation_within_the_window_is_suppressed_and_not_sent() -> None:
    f = fake_dispatcher()
    await sent_earlier(f)
    f.clock.advance(3 * DAY)
    second = await f.add(approved(2, recipient=PERSON.upper()))
    published_before = len(f.store.published)

    stored = await send(f, second)

    assert stored.state is DeliveryState.SUPPRESSED
    assert stored.detail == HELD
    assert f.sender.sends == 1 and len(f.provider.to(PERSON)) == 1
    assert f.provider.to(PERSON.upper()) == []
    [outcome] = f.store.published[published_before:]
    assert isinstance(outcome, DeliveryOutcome)
    assert (outcome.state, outcome.detail) == (DeliveryState.SUPPRESSED, HELD)


async def test_the_address_is_not_put_on_the_suppression_list() -> None:
    f = fake_dispatcher()
    await sent_earlier(f)
    second = await f.add(approved(2, recipient=PERSON))
    assert (await send(f, second)).state is DeliveryState.SUPPRESSED

    assert f.store.suppressions == {}
    assert not any(isinstance(e, AddressSuppressed) for e in f.store.published)
    notice = await f.add(approved(3, recipient=PERSON, purpose=MessagePurpose.NOTICE))
    assert (await send(f, notice)).state is DeliveryState.SENT


async def test_two_invitations_due_together_send_only_the_first() -> None:
    f = fake_dispatcher()
    first = await f.add(approved(1, recipient=PERSON, batch=OTHER_BATCH))
    second = await f.add(approved(2, recipient=PERSON))

    assert await sending.send_due(f.deps) == 2

    assert f.store.rows[first.id].delivery.state is DeliveryState.SENT
    assert f.store.rows[second.id].delivery.state is DeliveryState.SUPPRESSED
    assert f.sender.sends == 1
    # Each attempt was checked with the address held.
    assert f.store.contact_locks == [PERSON]


async def test_an_invitation_the_csm_overrode_the_budget_for_is_sent() -> None:
    f = fake_dispatcher()
    await sent_earlier(f)
    second = await f.add(
        approved(2, recipient=PERSON, contact_budget_override="asked for the advanced session")
    )

    stored = await send(f, second)

    assert stored.state is DeliveryState.SENT
    assert len(f.provider.to(PERSON)) == 2
    assert f.store.contact_locks == [PERSON]  # the override takes no lock: it checks nothing


async def test_an_overridden_invitation_sent_first_does_not_hold_the_other_back() -> None:
    """The CSM overrode the budget knowing of the other invitation: both go, whichever is sent
    first; a third, not overridden, is held by the one that spent the budget."""
    f = fake_dispatcher()
    overridden = await f.add(approved(1, recipient=PERSON, contact_budget_override="asked"))
    assert await sending.send_due(f.deps) == 1
    assert f.store.rows[overridden.id].delivery.state is DeliveryState.SENT
    f.clock.advance(DAY)
    plain = await f.add(approved(2, recipient=PERSON, batch=OTHER_BATCH, send_after=f.clock()))
    assert (await send(f, plain)).state is DeliveryState.SENT

    f.clock.advance(DAY)
    third = await f.add(approved(3, recipient=PERSON, send_after=f.clock()))
    stored = await send(f, third)
    assert stored.state is DeliveryState.SUPPRESSED
    assert "on 2026-12-02" in stored.detail  # the plain one, not the overridden one
    assert len(f.provider.to(PERSON)) == 2


@pytest.mark.parametrize("purpose", [MessagePurpose.NOTICE, MessagePurpose.CONFIRMATION])
async def test_notices_and_confirmations_are_never_held(purpose: MessagePurpose) -> None:
    f = fake_dispatcher()
    await sent_earlier(f)
    message = await f.add(approved(2, recipient=PERSON, purpose=purpose))

    assert (await send(f, message)).state is DeliveryState.SENT
    assert len(f.provider.to(PERSON)) == 2


async def test_a_notice_does_not_spend_the_budget() -> None:
    f = fake_dispatcher()
    await sent_earlier(f, recipient="someone.else@acme.example")
    notice = await f.add(approved(2, recipient=PERSON, purpose=MessagePurpose.NOTICE))
    assert (await send(f, notice)).state is DeliveryState.SENT

    invitation = await f.add(approved(3, recipient=PERSON))
    assert (await send(f, invitation)).state is DeliveryState.SENT


async def test_an_invitation_after_the_window_is_sent() -> None:
    f = fake_dispatcher()
    await sent_earlier(f)
    f.clock.advance(14 * DAY + dt.timedelta(seconds=1))
    later = await f.add(approved(2, recipient=PERSON, send_after=f.clock()))

    assert (await send(f, later)).state is DeliveryState.SENT
    assert len(f.provider.to(PERSON)) == 2


async def test_a_window_of_zero_days_turns_the_check_off() -> None:
    f = fake_dispatcher(limits=Limits(frequency_cap_days=0))
    await sent_earlier(f)
    second = await f.add(approved(2, recipient=PERSON))

    assert (await send(f, second)).state is DeliveryState.SENT
    assert len(f.provider.to(PERSON)) == 2
    assert f.store.contact_locks == []


async def test_an_attempt_that_may_have_gone_out_counts() -> None:
    """The first invitation's answer never came: it may be in the person's mailbox, so the
    second is not sent."""
    f = fake_dispatcher(answers=[accept_then(OutcomeUnknownError("timed out"))])
    first = await f.add(approved(1, recipient=PERSON, batch=OTHER_BATCH))
    assert await sending.send_due(f.deps) == 1
    assert f.store.rows[first.id].delivery.outcome_unknown
    second = await f.add(approved(2, recipient=PERSON))

    assert await sending.send_due(f.deps) == 1  # the first is looked up later, not now

    assert f.store.rows[second.id].delivery.state is DeliveryState.SUPPRESSED
    assert f.sender.sends == 1


async def test_an_attempt_already_made_is_settled_not_held() -> None:
    """An invitation whose answer never came fitted the budget when it was tried; whatever was
    sent to the person since, it is looked up, and recorded as sent when it is in the mailbox,
    never suppressed while it may be there."""
    f = fake_dispatcher(answers=[accept_then(OutcomeUnknownError("timed out"))])
    first = await f.add(approved(1, recipient=PERSON, batch=OTHER_BATCH))
    assert await sending.send_due(f.deps) == 1
    overridden = await f.add(approved(2, recipient=PERSON, contact_budget_override="asked"))
    assert await sending.send_due(f.deps) == 1
    assert f.store.rows[overridden.id].delivery.state is DeliveryState.SENT

    f.clock.advance(dt.timedelta(minutes=2))
    assert await sending.send_due(f.deps) == 1

    stored = f.store.rows[first.id].delivery
    assert stored.state is DeliveryState.SENT and stored.provider_message_id == "m1"
    assert f.sender.sends == 2 and len(f.provider.to(PERSON)) == 2


async def test_an_earlier_invitation_that_failed_does_not_count() -> None:
    f = fake_dispatcher()
    failed = await f.add(approved(1, recipient=PERSON, batch=OTHER_BATCH))
    stored = f.store.rows[failed.id].delivery
    stored.state, stored.attempted_at = DeliveryState.FAILED, T0
    invitation = await f.add(approved(2, recipient=PERSON))

    assert (await send(f, invitation)).state is DeliveryState.SENT


def test_the_budget_names_the_latest_invitation_in_the_window() -> None:
    budget = ContactBudget(14)
    delivery = Delivery.accept(approved(3, recipient=PERSON), uuid.UUID(int=3))
    now = T0 + 10 * DAY

    def sent(days_ago: int, subject: str) -> OtherInvitation:
        at = now - days_ago * DAY
        return OtherInvitation("sessions/x", subject, DeliveryState.SENT, at, False, at)

    detail = budget.spent(delivery, [sent(20, "Old"), sent(9, "Earlier"), sent(2, "Later")], now)
    assert detail == (
        'contact budget: invited to "Later" on 2026-12-09 (one training message per 14 days)'
    )
    assert budget.spent(delivery, [sent(15, "Old")], now) is None
    assert ContactBudget(0).spent(delivery, [sent(2, "Later")], now) is None
