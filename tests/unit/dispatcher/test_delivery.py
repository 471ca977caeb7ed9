"""A delivery's transitions: each allowed one, every illegal one refused, and the events."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import pytest

from services.dispatcher.domain.events import AddressSuppressed, DeliveryOutcome
from services.dispatcher.domain.model import Address, Delivery, DeliveryState, IllegalTransition
from tests.fakes.dispatcher import T0, approved

SETTLE = dt.timedelta(seconds=60)


def claimed() -> Delivery:
    delivery = Delivery.accept(approved(1), uuid.uuid4())
    delivery.claim_token = uuid.uuid4()
    return delivery


def attempting() -> Delivery:
    delivery = claimed()
    delivery.begin_attempt(T0, "1000")
    return delivery


def sent() -> Delivery:
    delivery = attempting()
    delivery.mark_sent("m1", T0)
    return delivery


def cancelled() -> Delivery:
    delivery = claimed()
    delivery.cancel("jordan.blake@trainvite.dev")
    return delivery


def failed() -> Delivery:
    delivery = attempting()
    delivery.mark_failed("550 no such user")
    return delivery


def suppressed() -> Delivery:
    delivery = claimed()
    delivery.mark_suppressed("address suppressed: unsubscribed")
    return delivery


def test_an_attempt_leaves_the_outcome_unknown_until_the_answer() -> None:
    delivery = attempting()
    assert delivery.outcome_unknown and delivery.attempted_at == T0
    assert delivery.history_id == "1000"
    assert delivery.pending_events == ()
    delivery.refused()
    assert not delivery.outcome_unknown and delivery.state is DeliveryState.PENDING
    delivery.begin_attempt(T0 + SETTLE, "2000")
    assert delivery.history_id == "1000"  # the first attempt's position covers every later one


def test_sent_records_its_outcome() -> None:
    delivery = sent()
    assert delivery.state is DeliveryState.SENT and not delivery.outcome_unknown
    [event] = delivery.collect_events()
    assert isinstance(event, DeliveryOutcome)
    assert (event.state, event.provider_message_id, event.message_id) == (
        DeliveryState.SENT,
        "m1",
        delivery.message_id,
    )
    assert (event.invitation, event.batch) == (
        delivery.approved.invitation,
        delivery.approved.batch,
    )


def test_an_unknown_outcome_is_known_again_only_once_settled() -> None:
    delivery = attempting()
    with pytest.raises(IllegalTransition):
        delivery.not_found(T0 + SETTLE - dt.timedelta(microseconds=1), SETTLE)
    assert delivery.settles_at(SETTLE) == T0 + SETTLE
    delivery.not_found(T0 + SETTLE, SETTLE)
    assert delivery.unsent


def test_a_sent_delivery_that_bounces_fails_and_belongs_to_no_claim() -> None:
    delivery = sent()
    delivery.collect_events()
    delivery.bounced("bounced: 5.1.1 user unknown")
    assert delivery.state is DeliveryState.FAILED and delivery.claim_token is None
    [event] = delivery.collect_events()
    assert isinstance(event, DeliveryOutcome) and event.state is DeliveryState.FAILED
    assert event.detail == "bounced: 5.1.1 user unknown"


@pytest.mark.parametrize(
    ("make", "ending"),
    [
        (claimed, lambda d: d.cancel("jordan")),
        (claimed, lambda d: d.mark_suppressed("unsubscribed")),
        (attempting, lambda d: d.mark_failed("550")),
        (attempting, lambda d: d.mark_suppressed("unsubscribed")),
        (attempting, lambda d: d.mark_sent("m1", T0)),
    ],
    ids=["cancel", "suppress", "fail", "suppress unknown", "found"],
)
def test_each_ending_records_one_outcome(
    make: Callable[[], Delivery], ending: Callable[[Delivery], None]
) -> None:
    delivery = make()
    ending(delivery)
    assert not delivery.outcome_unknown
    [event] = delivery.collect_events()
    assert isinstance(event, DeliveryOutcome) and event.state is delivery.state


ILLEGAL: list[tuple[str, Callable[[], Delivery], Callable[[Delivery], None]]] = [
    ("sent again blind", attempting, lambda d: d.begin_attempt(T0, None)),
    (
        "sent unclaimed",
        lambda: Delivery.accept(approved(1), uuid.uuid4()),
        lambda d: d.begin_attempt(T0, None),
    ),
    ("sent back to unknown", sent, lambda d: d.begin_attempt(T0, None)),
    ("sent twice", sent, lambda d: d.mark_sent("m2", T0)),
    ("sent then refused", sent, lambda d: d.refused()),
    ("sent then not found", sent, lambda d: d.not_found(T0 + SETTLE, SETTLE)),
    ("sent then failed", sent, lambda d: d.mark_failed("550")),
    ("sent then cancelled", sent, lambda d: d.cancel("jordan")),
    ("sent then suppressed", sent, lambda d: d.mark_suppressed("unsubscribed")),
    ("refused with no attempt", claimed, lambda d: d.refused()),
    ("not found with no attempt", claimed, lambda d: d.not_found(T0 + SETTLE, SETTLE)),
    ("cancelled while it may be sent", attempting, lambda d: d.cancel("jordan")),
    ("bounced unsent", claimed, lambda d: d.bounced("bounced")),
    ("bounced twice", failed, lambda d: d.bounced("bounced")),
    ("cancelled then sent", cancelled, lambda d: d.begin_attempt(T0, None)),
    ("cancelled then found", cancelled, lambda d: d.mark_sent("m1", T0)),
    ("failed then sent", failed, lambda d: d.begin_attempt(T0, None)),
    ("suppressed then sent", suppressed, lambda d: d.begin_attempt(T0, None)),
    ("suppressed then cancelled", suppressed, lambda d: d.cancel("jordan")),
]


@pytest.mark.parametrize(("make", "change"), [c[1:] for c in ILLEGAL], ids=[c[0] for c in ILLEGAL])
def test_an_illegal_transition_is_refused_and_changes_nothing(
    make: Callable[[], Delivery], change: Callable[[Delivery], None]
) -> None:
    delivery = make()
    delivery.collect_events()
    before = (delivery.state, delivery.outcome_unknown, delivery.detail, delivery.attempted_at)
    with pytest.raises(IllegalTransition):
        change(delivery)
    assert (
        delivery.state,
        delivery.outcome_unknown,
        delivery.detail,
        delivery.attempted_at,
    ) == before
    assert delivery.pending_events == ()


def test_an_address_is_suppressed_and_told_once() -> None:
    address = Address("Wei.Chen@Acme.example")
    address.suppress("unsubscribed")
    address.suppress("bounced: 5.1.1")
    assert address.suppressed_reason == "unsubscribed"
    [event] = address.collect_events()
    assert isinstance(event, AddressSuppressed)
    assert (event.email, event.reason) == ("wei.chen@acme.example", "unsubscribed")
    again = Address("wei.chen@acme.example", "unsubscribed")
    again.suppress("unsubscribed")
    assert again.pending_events == ()
