"""The send path, case by case, on the in-memory dispatcher: what becomes of the delivery, how
often the provider was asked to send, what was published, and when the delivery is taken up
again. Each round claims what is due, sends it, and moves the clock to when the delivery was
let go until (checking that nothing takes it up a moment before)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from services.common.domain import Event
from services.dispatcher.domain.events import AddressSuppressed, DeliveryOutcome
from services.dispatcher.domain.model import DeliveryState
from services.dispatcher.service_layer import sending
from services.dispatcher.service_layer.dependencies import Limits
from services.dispatcher.service_layer.ports import (
    OutcomeUnknownError,
    PermanentSendError,
    RateLimitedError,
    TransientSendError,
)
from tests.fakes.dispatcher import (
    BATCH,
    SENDER,
    T0,
    Answer,
    FakeDispatcher,
    accept_then,
    approved,
    fake_dispatcher,
    refuse,
)

RECIPIENT = "person1@northwind.example"
LEASE = Limits().lease
MOMENT = dt.timedelta(milliseconds=1)

Hook = Callable[[FakeDispatcher], Awaitable[None]]


def described(events: list[Event]) -> list[str]:
    def one(event: Event) -> str:
        if isinstance(event, DeliveryOutcome):
            return f"outcome {event.state}"
        assert isinstance(event, AddressSuppressed)
        return f"suppressed {event.email}"

    return sorted(one(e) for e in events)


async def _suppress(f: FakeDispatcher) -> None:
    f.store.suppressions[RECIPIENT] = "unsubscribed"


async def _pause_batch(f: FakeDispatcher) -> None:
    f.store.paused_batches.add(BATCH)


async def _pause_sender(f: FakeDispatcher) -> None:
    async with f.uow() as uow:
        await uow.deliveries.set_sender_paused(SENDER, True, SENDER)
        await uow.commit()


async def _another_worker_takes_over(f: FakeDispatcher) -> None:
    """Our worker stalls past its lease, and another claims the delivery meanwhile."""
    f.clock.advance(LEASE + dt.timedelta(seconds=1))
    assert len(await sending.claim_due(f.deps, 20)) == 1


async def _two_sent_today(f: FakeDispatcher) -> None:
    for n, ago in ((2, dt.timedelta(hours=23)), (3, dt.timedelta(hours=1))):
        earlier = await f.add(approved(n))
        stored = f.store.rows[earlier.id].delivery
        stored.state, stored.sent_at = DeliveryState.SENT, T0 - ago


@dataclass(frozen=True)
class Case:
    id: str
    state: DeliveryState
    # Calls to the provider's send, and messages the recipient got.
    sends: int
    delivered: int
    events: list[str]
    # When (seconds after T0) the delivery was let go until, round after round; None: not
    # checked (someone else holds it).
    retries: list[float] | None
    answers: list[Answer] = field(default_factory=list)
    lookup_failures: list[Exception] = field(default_factory=list)
    # Lookups in the sender's search (not the mailbox history).
    searches: int = 0
    with_history: bool = False
    quota_waits: list[dt.timedelta] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    before: Hook | None = None
    # Runs once, between the first claim and its sending.
    after_claim: Hook | None = None
    # Runs once, when the worker reads the mailbox's history position before its first attempt.
    on_position: Hook | None = None
    rounds: int = 6


OUTCOME_UNKNOWN = OutcomeUnknownError("503 from Gmail")
TIMED_OUT = OutcomeUnknownError("timed out")

CASES = [
    Case("accepted", DeliveryState.SENT, 1, 1, ["outcome sent"], []),
    Case(
        "429: the mailbox rests for Retry-After, nothing sent meanwhile",
        DeliveryState.SENT,
        sends=2,
        delivered=1,
        events=["outcome sent"],
        retries=[120],
        answers=[refuse(RateLimitedError("429", dt.timedelta(seconds=120)))],
    ),
    Case(
        "refused with a 503 before acceptance: tried again later",
        DeliveryState.SENT,
        sends=2,
        delivered=1,
        events=["outcome sent"],
        retries=[30],
        answers=[refuse(TransientSendError("503"))],
    ),
    Case(
        "5xx after acceptance: found in the mailbox history, not resent",
        DeliveryState.SENT,
        sends=1,
        delivered=1,
        events=["outcome sent"],
        retries=[5],
        answers=[accept_then(OUTCOME_UNKNOWN)],
        with_history=True,
    ),
    Case(
        "timeout after acceptance: found by the search, not resent",
        DeliveryState.SENT,
        sends=1,
        delivered=1,
        events=["outcome sent"],
        retries=[5],
        answers=[accept_then(TIMED_OUT)],
        searches=1,
    ),
    Case(
        "timeout, the lookup fails: looked up again, sent again only once settled",
        DeliveryState.SENT,
        sends=2,
        delivered=1,
        events=["outcome sent"],
        # looked up at 5 s (fails), at 10 s (nothing yet), at 60 s (nothing: not sent).
        retries=[5, 10, 60],
        answers=[refuse(TIMED_OUT)],
        lookup_failures=[TransientSendError("lookup failed")],
        searches=3,
    ),
    Case(
        "the lease runs out and another worker takes over: nothing sent",
        DeliveryState.PENDING,
        sends=0,
        delivered=0,
        events=[],
        retries=None,
        with_history=True,
        on_position=_another_worker_takes_over,
        rounds=1,
    ),
    Case(
        "rejected for good: failed, the address suppressed",
        DeliveryState.FAILED,
        sends=1,
        delivered=0,
        events=["outcome failed", f"suppressed {RECIPIENT}"],
        retries=[],
        answers=[refuse(PermanentSendError("550 5.1.1 no such user"))],
    ),
    Case(
        "suppressed after approval: never sent",
        DeliveryState.SUPPRESSED,
        sends=0,
        delivered=0,
        events=["outcome suppressed"],
        retries=[],
        after_claim=_suppress,
    ),
    Case(
        "batch paused after the claim: let go, not sent",
        DeliveryState.PENDING,
        sends=0,
        delivered=0,
        events=[],
        retries=[0],
        after_claim=_pause_batch,
    ),
    Case(
        "batch paused while waiting for the mailbox: let go, not sent",
        DeliveryState.PENDING,
        sends=0,
        delivered=0,
        events=[],
        retries=[0],
        with_history=True,
        on_position=_pause_batch,
    ),
    Case(
        "mailbox paused after the claim: let go, not sent",
        DeliveryState.PENDING,
        sends=0,
        delivered=0,
        events=[],
        retries=[0],
        after_claim=_pause_sender,
    ),
    Case(
        "daily cap reached: held until the oldest send is a day old",
        DeliveryState.SENT,
        sends=1,
        delivered=1,
        events=["outcome sent"],
        retries=[3600],
        limits=Limits(daily_cap=2),
        before=_two_sent_today,
    ),
    Case(
        "the mailbox's quota has room again shortly: waited for, the claim kept",
        DeliveryState.SENT,
        sends=1,
        delivered=1,
        events=["outcome sent"],
        retries=[],
        quota_waits=[dt.timedelta(seconds=3)] * 150,
    ),
    Case(
        "the mailbox's quota is spent for longer than a worker waits: let go until then",
        DeliveryState.SENT,
        sends=1,
        delivered=1,
        events=["outcome sent"],
        retries=[45],
        quota_waits=[dt.timedelta(seconds=45)],
    ),
]


def _once(hook: Hook, f: FakeDispatcher) -> Callable[[], Awaitable[None]]:
    calls: list[int] = []

    async def first_time_only() -> None:
        if not calls:
            calls.append(1)
            await hook(f)

    return first_time_only


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_send_path(case: Case) -> None:
    f = fake_dispatcher(
        answers=case.answers,
        lookup_failures=case.lookup_failures,
        quota_waits=case.quota_waits,
        with_history=case.with_history,
        limits=case.limits,
    )
    if case.before is not None:
        await case.before(f)
    delivery = await f.add(approved(1))
    published_before = len(f.store.published)
    if f.history is not None and case.on_position is not None:
        f.history.on_position = _once(case.on_position, f)
    after_claim = None if case.after_claim is None else _once(case.after_claim, f)
    retries: list[float] = []
    for round_ in range(case.rounds):
        claimed = await sending.claim_due(f.deps, 20)
        if round_ > 0 and not claimed:
            break
        assert [d.id for d in claimed] == [delivery.id]
        if after_claim is not None:
            await after_claim()
        await sending.send_one(f.deps, claimed[0])
        row = f.store.rows[delivery.id]
        if row.delivery.state is not DeliveryState.PENDING or case.retries is None:
            break
        assert row.lease_until is not None
        retries.append((row.lease_until - T0).total_seconds())
        # Held until then: a moment before, no worker takes it up.
        f.clock.now = row.lease_until - MOMENT
        assert await sending.claim_due(f.deps, 20) == []
        f.clock.now = row.lease_until + MOMENT

    stored = f.store.rows[delivery.id].delivery
    assert stored.state is case.state, stored.detail
    assert f.sender.sends == case.sends
    assert len(f.provider.to(RECIPIENT)) == case.delivered
    assert described(f.store.published[published_before:]) == sorted(case.events)
    assert f.sender.lookups == case.searches
    if case.retries is not None:
        assert retries == pytest.approx(case.retries, abs=0.1)


async def test_a_delivery_held_after_its_claim_spends_no_quota_and_goes_once_resumed() -> None:
    f = fake_dispatcher()
    await f.add(approved(1))
    [claimed] = await sending.claim_due(f.deps, 20)
    await _pause_batch(f)
    await sending.send_one(f.deps, claimed)
    assert f.quota.spent == [] and f.sender.sends == 0
    f.clock.advance(dt.timedelta(minutes=10))
    assert await sending.claim_due(f.deps, 20) == []  # held while paused, however long
    f.store.paused_batches.clear()
    assert await sending.send_due(f.deps) == 1
    assert f.store.delivery(claimed.approved.invitation).state is DeliveryState.SENT
    assert len(f.provider.to(RECIPIENT)) == 1


async def test_an_attempt_is_committed_before_the_provider_is_called() -> None:
    """A worker that dies while Gmail takes the message leaves the attempt on record: whoever
    takes the delivery over once the lease has run out finds the message, and sends nothing."""

    class Killed(BaseException):
        pass

    f = fake_dispatcher(answers=[accept_then(Killed())], with_history=True)
    delivery = await f.add(approved(1))
    with pytest.raises(Killed):
        await sending.send_due(f.deps)
    f.clock.advance(LEASE + MOMENT)
    assert await sending.send_due(f.deps) == 1
    stored = f.store.rows[delivery.id].delivery
    assert stored.state is DeliveryState.SENT and stored.provider_message_id == "m1"
    assert f.sender.sends == 1 and len(f.provider.to(RECIPIENT)) == 1
    assert described(f.store.published) == ["outcome sent"]
