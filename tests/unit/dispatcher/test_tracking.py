"""Tracking each invitation after the send: the stage only moves forward whatever the order of
the facts, facts are matched to invitations, and the CSM's views with their summary line."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from trainvite.catalog.v1 import catalog_pb2
from trainvite.events.v1 import events_pb2

from services.common.auth import CallerKind, Principal
from services.common.errors import InvalidArgument, NotFound
from services.common.messaging.consumer import PoisonMessage
from services.dispatcher.api.tracking_subscriptions import attendance_fact, registration_fact
from services.dispatcher.domain.model import MessagePurpose
from services.dispatcher.domain.tracking import (
    Counts,
    Stage,
    Tracking,
    TrackingFact,
    is_unsubscribe,
    next_stage,
)
from services.dispatcher.service_layer import sending, tracking, unsubscribe
from tests.fakes.dispatcher import BATCH, SENDER, T0, FakeDispatcher, approved, fake_dispatcher

ALEX = Principal(SENDER, CallerKind.CSM)
JORDAN = Principal("jordan.blake@trainvite.dev", CallerKind.CSM)
SESSION = "sessions/analytics-101"  # the fakes' approved invitations are for this session
OTHER_BATCH = "customers/northwind/invitation-batches/1c7a4d2f-5e5a-4b64-8e66-1b5a2a2e3d4c"


def fact(
    kind: str,
    minutes: int = 0,
    at: int = 0,
    email: str = "person1@northwind.example",
    invitation: str = "",
    position: int = 0,
    session: str = SESSION,
) -> TrackingFact:
    """A fact happening `at` minutes after T0."""
    return TrackingFact(
        event_id=uuid.uuid4(),
        occurred_at=T0 + dt.timedelta(minutes=at),
        training_session=session,
        email=email,
        kind=kind,
        invitation=invitation,
        waitlist_position=position,
        minutes_attended=minutes,
    )


def final(facts: list[TrackingFact] | tuple[TrackingFact, ...]) -> Tracking:
    t = Tracking("i")
    for f in facts:
        t.apply(f)
    return t


# ---------------------------------------------------------------------------------------------
# The stage


def test_a_late_registration_does_not_undo_attended() -> None:
    t = final([fact("attended", minutes=40, at=60), fact("registered", at=0)])
    assert (t.stage, t.minutes_attended) == (Stage.ATTENDED, 40)
    assert next_stage(Stage.ATTENDED, "no_show") is None
    assert next_stage(Stage.ATTENDED, "cancelled") is None
    assert next_stage(Stage.REGISTERED, "waitlisted") is None
    assert next_stage(Stage.WAITLISTED, "registered") is Stage.REGISTERED
    assert next_stage(Stage.CANCELLED, "waitlisted") is Stage.WAITLISTED
    assert next_stage(Stage.NO_SHOW, "attended") is Stage.ATTENDED
    with pytest.raises(ValueError):
        next_stage(None, "joined")


def test_minutes_follow_the_newest_result_in_any_order() -> None:
    # A result worked out again from more activity (a leave heard after the end) replaces the
    # one before, lower or higher, whichever arrives first.
    earlier, later = fact("attended", minutes=90, at=95), fact("attended", minutes=60, at=97)
    assert final([earlier, later]).minutes_attended == 60
    assert final([later, earlier]).minutes_attended == 60
    growing = [fact("attended", minutes=30, at=60), fact("attended", minutes=55, at=90)]
    assert final(growing).minutes_attended == 55
    assert final(growing[::-1]).minutes_attended == 55
    # The registration moving to attended afterwards says no minutes: the result stands.
    moved = fact("attended", minutes=0, at=99)
    assert final([earlier, later, moved]).minutes_attended == 60
    assert final([moved, later, earlier]).minutes_attended == 60
    # Of two results stamped alike, the higher.
    tied = [fact("attended", minutes=20, at=90), fact("attended", minutes=45, at=90)]
    assert final(tied).minutes_attended == final(tied[::-1]).minutes_attended == 45


def test_the_waitlist_position_follows_the_newest_fact_and_ends_with_a_seat() -> None:
    t = final([fact("waitlisted", position=3, at=1), fact("waitlisted", position=1, at=5)])
    assert (t.stage, t.waitlist_position) == (Stage.WAITLISTED, 1)
    t = final([fact("waitlisted", position=1, at=5), fact("waitlisted", position=3, at=1)])
    assert (t.stage, t.waitlist_position) == (Stage.WAITLISTED, 1)
    t = final([fact("waitlisted", position=1, at=5), fact("registered", at=9)])
    assert (t.stage, t.waitlist_position) == (Stage.REGISTERED, 0)


@pytest.mark.parametrize(
    "story",
    [
        [("waitlisted", 2, 0, 1), ("registered", 0, 0, 5), ("attended", 0, 35, 60)],
        [("registered", 0, 0, 1), ("cancelled", 0, 0, 2), ("registered", 0, 0, 3)],
        [("registered", 0, 0, 1), ("no_show", 0, 0, 90), ("attended", 0, 12, 95)],
        [("registered", 0, 0, 1), ("attended", 0, 20, 60), ("attended", 0, 45, 70)],
        [("registered", 0, 0, 1), ("attended", 0, 90, 95), ("attended", 0, 60, 97)],
        [("registered", 0, 0, 1), ("attended", 0, 70, 95), ("attended", 0, 0, 99)],
        [("waitlisted", 4, 0, 1), ("waitlisted", 2, 0, 2), ("cancelled", 0, 0, 3)],
    ],
)
def test_any_order_of_the_same_facts_ends_in_the_same_state(
    story: list[tuple[str, int, int, int]],
) -> None:
    facts = [fact(kind, position=p, minutes=m, at=at) for kind, p, m, at in story]
    clean = final(facts)
    for order in itertools.permutations(facts):
        assert final(order) == clean, order
    assert final([*facts, *facts]) == clean  # replayed (not deduplicated here) changes nothing


# ---------------------------------------------------------------------------------------------
# The summary


def test_the_summary_counts_every_seat_as_registered_and_leaves_zeros_out() -> None:
    counts = Counts(invited=3, sent=1, registered=1, attended=1)
    assert counts.summary() == "3 invited · 2 registered · 1 attended"
    counts = Counts(invited=5, not_sent=1, waitlisted=1, no_show=2, cancelled=1, unsubscribed=1)
    assert counts.summary() == (
        "5 invited · 1 not sent · 1 waitlisted · 2 registered · 2 no-show · 1 cancelled"
        " · 1 unsubscribed"
    )
    assert Counts().summary() == "0 invited"


def test_only_an_owner_s_request_reads_as_unsubscribed() -> None:
    assert is_unsubscribe("unsubscribed") and is_unsubscribe("asked the CSM")
    assert not is_unsubscribe("bounced: 5.1.1 no such user")
    assert not is_unsubscribe("rejected: invalid address")
    assert not is_unsubscribe(None)


# ---------------------------------------------------------------------------------------------
# Applying facts


async def sent(f: FakeDispatcher, *ns: int, batch: str = BATCH) -> list[str]:
    """Approve and send the n-th invitations of the batch; their names."""
    for n in ns:
        await f.add(approved(n, batch=batch))
    await sending.send_due(f.deps, 50)
    return [approved(n, batch=batch).invitation for n in ns]


async def stages(f: FakeDispatcher, batch: str = BATCH) -> dict[str, tuple[Stage, int, int]]:
    view = await tracking.batch_tracking(f.deps, f"{batch}/tracking", ALEX)
    return {
        i.recipient_email: (i.stage, i.waitlist_position, i.minutes_attended)
        for i in view.invitations
    }


async def test_facts_reach_their_invitations_once() -> None:
    f = fake_dispatcher()
    first, second, _ = await sent(f, 1, 2, 3)
    registered = fact("registered", invitation=first)
    batch = [
        registered,
        registered,  # twice in the same batch
        fact("waitlisted", position=2, email="person2@northwind.example", invitation=second),
        fact("attended", minutes=42, at=60, email="PERSON3@northwind.example".lower()),
    ]
    applied = await tracking.apply_facts(f.deps, batch)
    assert (applied.repeated, applied.not_invited, applied.changed) == (1, 0, 3)
    assert await stages(f) == {
        "person1@northwind.example": (Stage.REGISTERED, 0, 0),
        "person2@northwind.example": (Stage.WAITLISTED, 2, 0),
        "person3@northwind.example": (Stage.ATTENDED, 0, 42),
    }
    again = await tracking.apply_facts(f.deps, batch)  # redelivered
    assert (again.repeated, again.changed) == (4, 0)


async def test_a_fact_without_invitation_reaches_every_batch_that_invited_the_person() -> None:
    f = fake_dispatcher()
    await sent(f, 1)
    await sent(f, 1, batch=OTHER_BATCH)
    await tracking.apply_facts(f.deps, [fact("registered")])
    assert (await stages(f))["person1@northwind.example"][0] is Stage.REGISTERED
    other = await stages(f, OTHER_BATCH)
    assert other["person1@northwind.example"][0] is Stage.REGISTERED


async def test_people_never_invited_are_counted_and_left_out() -> None:
    f = fake_dispatcher()
    [first] = await sent(f, 1)
    applied = await tracking.apply_facts(
        f.deps,
        [
            fact("registered", email="walk.in@northwind.example"),
            fact("registered", email="colleague@northwind.example", invitation=first),
            fact("registered", session="sessions/another"),
        ],
    )
    assert (applied.not_invited, applied.changed) == (3, 0)
    assert f.store.tracking == {}
    assert (await stages(f))["person1@northwind.example"][0] is Stage.SENT


async def test_a_fact_naming_an_invitation_never_sent_is_refused_with_nothing_applied() -> None:
    f = fake_dispatcher()
    await sent(f, 1)
    unknown = approved(9).invitation
    with pytest.raises(NotFound, match=r"no invitation .* was sent"):
        await tracking.apply_facts(
            f.deps, [fact("registered"), fact("registered", invitation=unknown)]
        )
    assert f.store.tracking == {} and f.store.processed == set()
    with pytest.raises(InvalidArgument, match="training_session"):
        await tracking.apply_facts(
            f.deps, [fact("registered", invitation=approved(1).invitation, session="sessions/x")]
        )


# ---------------------------------------------------------------------------------------------
# The views


async def test_the_batch_view_shows_each_invitation_with_counts() -> None:
    f = fake_dispatcher()
    first, _, _ = await sent(f, 1, 2, 3)
    await f.add(approved(4))  # approved, not sent yet
    await tracking.apply_facts(
        f.deps,
        [
            fact("registered", invitation=first, at=1),
            fact("attended", minutes=50, at=70, email="person2@northwind.example"),
        ],
    )
    await unsubscribe.unsubscribe(f.deps, "", "person3@northwind.example", "", ALEX)
    view = await tracking.batch_tracking(f.deps, f"{BATCH}/tracking", ALEX)
    by_email = {i.recipient_email: i for i in view.invitations}
    assert by_email["person3@northwind.example"].unsubscribed
    assert by_email["person3@northwind.example"].stage is Stage.SENT
    assert by_email["person4@northwind.example"].stage is Stage.NOT_SENT
    assert by_email["person2@northwind.example"].updated_at == T0 + dt.timedelta(minutes=70)
    assert view.counts == Counts(
        invited=4, not_sent=1, sent=1, registered=1, attended=1, unsubscribed=1
    )
    assert view.counts.summary() == (
        "4 invited · 1 not sent · 2 registered · 1 attended · 1 unsubscribed"
    )


async def test_a_batch_is_seen_by_the_csm_who_sent_it_only() -> None:
    f = fake_dispatcher()
    await sent(f, 1)
    with pytest.raises(NotFound):
        await tracking.batch_tracking(f.deps, f"{BATCH}/tracking", JORDAN)
    with pytest.raises(NotFound):
        await tracking.batch_tracking(f.deps, f"{OTHER_BATCH}/tracking", ALEX)
    with pytest.raises(InvalidArgument, match="name"):
        await tracking.batch_tracking(f.deps, f"{BATCH}/delivery-status", ALEX)
    with pytest.raises(InvalidArgument, match="name"):
        await tracking.session_tracking(f.deps, "sessions/analytics-101/tracking", ALEX)


async def test_the_session_view_counts_the_caller_s_invitations_by_customer() -> None:
    f = fake_dispatcher()
    acme = "customers/acme/invitation-batches/2d8b5e3a-6f6b-4c75-9f77-2c6b3b3f4e5d"
    await sent(f, 1, 2)
    await sent(f, 3, batch=acme)
    await f.add(approved(5, sender=JORDAN.subject))
    session = "training-sessions/analytics-101"
    for row in f.store.rows.values():  # the fakes' session name is not a catalog name
        row.delivery.approved = row.delivery.approved.__class__(
            **{**row.delivery.approved.__dict__, "training_session": session}
        )
    await tracking.apply_facts(
        f.deps, [fact("registered", email="person3@northwind.example", session=session)]
    )
    view = await tracking.session_tracking(f.deps, f"{session}/tracking", ALEX)
    assert view.counts.invited == 3 and view.counts.registered == 1
    assert [(c, n.invited, n.registered) for c, n in view.customers] == [
        ("acme", 1, 1),
        ("northwind", 2, 0),
    ]
    nobody = await tracking.session_tracking(f.deps, "training-sessions/other/tracking", ALEX)
    assert nobody.counts == Counts() and nobody.customers == []


async def test_notices_and_confirmations_are_not_invitations_again() -> None:
    """The person invited also gets the notice of a new time and the confirmation of their
    seat, to the same session: a fact about them moves the invitation only, and the session
    view counts one invitation."""
    f = fake_dispatcher()
    session = "training-sessions/analytics-101"
    invitation = approved(1, training_session=session)
    notices = "customers/northwind/invitation-batches/5e0c8a52-3a51-4c1e-8f0e-6f1a7d2b9c11"
    confirmations = "customers/northwind/invitation-batches/7a1d2e33-0b9c-4d5e-a6f7-8b9c0d1e2f3a"
    await f.add(invitation)
    for batch, purpose in (
        (notices, MessagePurpose.NOTICE),
        (confirmations, MessagePurpose.CONFIRMATION),
    ):
        await f.add(approved(1, batch=batch, purpose=purpose, training_session=session))
    await sending.send_due(f.deps, 50)
    applied = await tracking.apply_facts(
        f.deps, [fact("attended", minutes=70, at=60, session=session)]
    )
    assert applied.changed == 1
    assert (await stages(f))["person1@northwind.example"] == (Stage.ATTENDED, 0, 70)
    assert (await stages(f, notices))["person1@northwind.example"][0] is Stage.SENT
    view = await tracking.session_tracking(f.deps, f"{session}/tracking", ALEX)
    assert view.counts.invited == 1 and view.counts.attended == 1, view.counts
    assert list(f.store.tracking) == [invitation.invitation]


# ---------------------------------------------------------------------------------------------
# Decoding


def _ts(at: dt.datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(at)
    return t


def test_impossible_facts_are_poison_naming_the_field() -> None:
    good = events_pb2.AttendanceRecorded(
        event_id=str(uuid.uuid4()),
        occur_time=_ts(T0),
        training_session=SESSION,
        email="Person1@Northwind.example",
        kind=events_pb2.ATTENDANCE_KIND_ATTENDED,
        minutes_attended=30,
    )
    decoded = attendance_fact(good.SerializeToString())
    assert (decoded.email, decoded.kind, decoded.minutes_attended) == (
        "person1@northwind.example",
        "attended",
        30,
    )
    for field, value, problem in [
        ("minutes_attended", -5, "minutes_attended"),
        ("kind", events_pb2.ATTENDANCE_KIND_UNSPECIFIED, "kind"),
        ("invitation", "drafts/1", "invitation"),
        ("email", "nobody", "email"),
    ]:
        bad = events_pb2.AttendanceRecorded()
        bad.CopyFrom(good)
        setattr(bad, field, value)
        with pytest.raises(PoisonMessage, match=problem):
            attendance_fact(bad.SerializeToString())
    untimed = events_pb2.AttendanceRecorded()
    untimed.CopyFrom(good)
    untimed.ClearField("occur_time")
    with pytest.raises(PoisonMessage, match="occur_time"):
        attendance_fact(untimed.SerializeToString())

    registration = events_pb2.RegistrationChanged(
        event_id=str(uuid.uuid4()),
        occur_time=_ts(T0),
        training_session=SESSION,
        email="person1@northwind.example",
        state=catalog_pb2.REGISTRATION_STATE_WAITLISTED,
        waitlist_position=3,
    )
    assert registration_fact(registration.SerializeToString()).waitlist_position == 3
    registration.waitlist_position = -1
    with pytest.raises(PoisonMessage, match="waitlist_position"):
        registration_fact(registration.SerializeToString())
    registration.waitlist_position = 0
    registration.state = catalog_pb2.REGISTRATION_STATE_UNSPECIFIED
    with pytest.raises(PoisonMessage, match="state"):
        registration_fact(registration.SerializeToString())
