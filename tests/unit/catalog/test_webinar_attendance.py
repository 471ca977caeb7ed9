"""Joins and leaves pieced into minutes (no fakes), and the webinar activity use case over the
in-memory unit of work: what it publishes, once, and what it refuses."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import uuid
from dataclasses import replace

import pytest

from services.catalog.bootstrap import bootstrap
from services.catalog.domain.attendance import (
    ATTENDED,
    ENDED,
    JOINED,
    LEFT,
    NO_SHOW,
    REGISTERED,
    AttendanceResult,
    WebinarActivity,
    closest_session,
    union_seconds,
    webinar_results,
    whole_minutes,
)
from services.catalog.domain.events import AttendanceRecorded
from services.catalog.domain.model import Registration
from services.catalog.service_layer.attendance import record_webinar_activity
from services.catalog.service_layer.dependencies import Dependencies
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from tests.fakes.catalog import CatalogStore, FakeCatalogUnitOfWork
from tests.unit.catalog.examples import COURSE, NOW, scheduled

START = NOW - dt.timedelta(hours=3)  # COURSE lasts 60 minutes
WEBINAR = "84512347702"


def at(minutes: float) -> dt.datetime:
    return START + dt.timedelta(minutes=minutes)


def act(kind: str, minute: float, email: str = "", participant: str = "") -> WebinarActivity:
    return WebinarActivity(
        event_id=uuid.uuid5(uuid.NAMESPACE_OID, f"{kind}{minute}{email}{participant}"),
        occur_time=at(minute),
        source="zoom",
        webinar_id=WEBINAR,
        kind=kind,
        email=email,
        participant_id=participant,
    )


ANA = "ana@cloudtech.example"
BO = "bo@cloudtech.example"


# --- Minutes, no fakes ------------------------------------------------------------------------


def test_re_joins_are_summed_and_nothing_is_known_before_the_end() -> None:
    played = [
        act(JOINED, 0, ANA, "a1"),
        act(LEFT, 30, ANA, "a1"),
        act(JOINED, 50, ANA, "a2"),
        act(LEFT, 90, ANA, "a2"),
    ]
    assert webinar_results(played, [ANA, BO]) == []  # not ended: nobody is a no-show yet
    results = webinar_results([*played, act(ENDED, 90)], [ANA, BO])
    assert results == [AttendanceResult(ANA, ATTENDED, 70), AttendanceResult(BO, NO_SHOW)]


def test_two_devices_at_once_count_once_and_a_join_without_leave_lasts_until_the_end() -> None:
    played = [
        act(JOINED, 0, ANA, "laptop"),
        act(JOINED, 10, ANA, "phone"),
        act(LEFT, 40, ANA, "laptop"),
        act(LEFT, 45, ANA, "phone"),
        act(JOINED, 20, BO, "b"),  # never left: until the end
        act(ENDED, 60),
    ]
    assert webinar_results(played, []) == [
        AttendanceResult(ANA, ATTENDED, 45),
        AttendanceResult(BO, ATTENDED, 40),
    ]


def test_the_result_does_not_depend_on_the_order_activity_arrives_in() -> None:
    played = [
        act(JOINED, 0, ANA, "a1"),
        act(LEFT, 30, ANA, "a1"),
        act(JOINED, 50, ANA, "a2"),
        act(LEFT, 90, ANA, "a2"),
        act(REGISTERED, -600, BO),
        act(ENDED, 90),
    ]
    expected = webinar_results(played, [])
    shuffled = random.Random(7)
    for _ in range(20):
        order = played[:]
        shuffled.shuffle(order)
        assert webinar_results(order, []) == expected
    assert expected == [AttendanceResult(ANA, ATTENDED, 70), AttendanceResult(BO, NO_SHOW)]


def test_pairing_and_rounding_edges() -> None:
    # A leave with no join says nothing; a second join while present changes nothing.
    played = [
        act(LEFT, 5, ANA, "a"),
        act(JOINED, 10, ANA, "a"),
        act(JOINED, 12, ANA, "a"),
        act(LEFT, 20, ANA, "a"),
        act(LEFT, 25, ANA, "a"),
        act(JOINED, 59.9, BO, "b"),  # a few seconds before the end: one minute, not zero
        act(ENDED, 60),
    ]
    assert webinar_results(played, []) == [
        AttendanceResult(ANA, ATTENDED, 10),
        AttendanceResult(BO, ATTENDED, 1),
    ]
    assert whole_minutes(0) == 0 and whole_minutes(89) == 1 and whole_minutes(90) == 2
    assert union_seconds([(at(0), at(10)), (at(5), at(20)), (at(30), at(31))]) == 21 * 60


def test_a_recurring_webinar_belongs_to_the_session_closest_in_time() -> None:
    monday, tuesday = (
        scheduled(start_time=START),
        scheduled(start_time=START + dt.timedelta(days=1)),
    )
    assert closest_session([monday, tuesday], at(30)) is monday
    assert closest_session([monday, tuesday], at(24 * 60 - 20)) is tuesday
    assert closest_session([monday, tuesday], at(60 + 600)) is monday


# --- The use case over fakes ------------------------------------------------------------------


@pytest.fixture
def store() -> CatalogStore:
    store = CatalogStore(clock=lambda: NOW)
    store.courses[COURSE.id] = COURSE
    return store


def _deps(store: CatalogStore, now: dt.datetime = NOW) -> Dependencies:
    return bootstrap(uow=lambda: FakeCatalogUnitOfWork(store), clock=lambda: now)


def _session(store: CatalogStore, start: dt.datetime = START) -> uuid.UUID:
    s = scheduled(start_time=start, webinar_id=WEBINAR).session
    store.sessions[s.id] = s
    return s.id


def _published(store: CatalogStore) -> list[tuple[str, str, int, str]]:
    return [
        (e.email, e.kind, e.minutes_attended, e.invitation)
        for e in store.published_of(AttendanceRecorded)
        if isinstance(e, AttendanceRecorded)
    ]


DRAFT = "customers/cloudtech/invitation-batches/b1/drafts/d1"


async def test_a_webinar_played_as_activity_publishes_attended_and_no_show_once(
    store: CatalogStore,
) -> None:
    session_id = _session(store)
    store.registrations[(session_id, ANA)] = Registration(
        session_id, ANA, "registered", invitation=DRAFT
    )
    store.registrations[(session_id, BO)] = Registration(session_id, BO, "registered")
    deps = _deps(store)
    played = [
        act(JOINED, 0, ANA, "a1"),
        act(LEFT, 30, ANA, "a1"),
        act(JOINED, 50, ANA, "a2"),
        act(LEFT, 90, ANA, "a2"),
        act(ENDED, 90),
    ]
    for activity in played:
        assert await record_webinar_activity(deps, activity)
    assert _published(store) == [(ANA, ATTENDED, 70, DRAFT), (BO, NO_SHOW, 0, "")]

    # Replayed in any order: the same events, nothing new.
    for activity in reversed(played):
        assert not await record_webinar_activity(deps, activity)
    assert len(_published(store)) == 2
    assert len(store.webinar_activity) == 5


async def test_late_activity_recomputes_and_publishes_only_a_changed_result(
    store: CatalogStore,
) -> None:
    _session(store)
    deps = _deps(store)
    for activity in (act(JOINED, 0, ANA, "a1"), act(ENDED, 60), act(REGISTERED, -5, BO)):
        await record_webinar_activity(deps, activity)
    # Ana's leave arrives after the end: her minutes change, Bo's no-show stands (not repeated).
    await record_webinar_activity(deps, act(LEFT, 40, ANA, "a1"))
    assert _published(store) == [
        (ANA, ATTENDED, 60, ""),
        (BO, REGISTERED, 0, ""),
        (BO, NO_SHOW, 0, ""),
        (ANA, ATTENDED, 40, ""),
    ]
    ids = [e.event_id for e in store.published]
    assert len(set(ids)) == len(ids)
    # Each result is stamped later than the session's results before it, even by a clock that
    # stood still: Ana's 40 minutes supersede her 60 wherever the two meet, in either order.
    # Bo's registration keeps the time it happened.
    first, registered, no_show, again = [
        e.occur_time for e in store.published if isinstance(e, AttendanceRecorded)
    ]
    assert first == NOW
    assert no_show == NOW + dt.timedelta(microseconds=1)
    assert again == NOW + dt.timedelta(microseconds=2)
    assert registered == act(REGISTERED, -5, BO).occur_time


async def test_a_registration_is_published_at_once_even_before_the_session(
    store: CatalogStore,
) -> None:
    session_id = _session(store, start=NOW + dt.timedelta(days=3))
    store.registrations[(session_id, ANA)] = Registration(
        session_id, ANA, "registered", invitation=DRAFT
    )
    deps = _deps(store)
    assert await record_webinar_activity(deps, act(REGISTERED, -60, BO))
    # Ana registered through her invitation: the tool's registration names it.
    assert await record_webinar_activity(deps, act(REGISTERED, -50, ANA))
    assert _published(store) == [(BO, REGISTERED, 0, ""), (ANA, REGISTERED, 0, DRAFT)]


async def test_unknown_webinar_and_impossible_activity_are_refused_and_change_nothing(
    store: CatalogStore,
) -> None:
    _session(store, start=NOW + dt.timedelta(days=3))
    deps = _deps(store)
    with pytest.raises(NotFound, match="webinar id '999'"):
        await record_webinar_activity(deps, replace(act(JOINED, 0, ANA), webinar_id="999"))
    # The session has not started by the catalog's clock: an end cannot be its end.
    ended = replace(act(ENDED, 0), occur_time=NOW + dt.timedelta(days=3, minutes=60))
    with pytest.raises(FailedPrecondition, match="has not started yet"):
        await record_webinar_activity(deps, ended)
    early = replace(act(JOINED, 0, ANA), occur_time=NOW + dt.timedelta(days=3, minutes=-61))
    with pytest.raises(FailedPrecondition, match="more than an hour before"):
        await record_webinar_activity(deps, early)
    assert store.published == [] and store.webinar_activity == {}
    # A session starting within the clock skew of attendance facts may have ended by the
    # tool's clock.
    soon = _session(store, start=NOW + dt.timedelta(minutes=1))
    soon_ended = replace(
        act(ENDED, 0), event_id=uuid.uuid4(), occur_time=NOW + dt.timedelta(minutes=61)
    )
    assert await record_webinar_activity(deps, soon_ended)
    del store.sessions[soon]
    # An hour before is a host opening the webinar early: kept.
    lobby = replace(act(JOINED, 0, ANA), occur_time=NOW + dt.timedelta(days=3, minutes=-59))
    assert await record_webinar_activity(deps, lobby)


async def test_results_are_the_same_events_whatever_the_order_of_a_whole_replay(
    store: CatalogStore,
) -> None:
    session_id = _session(store)
    store.registrations[(session_id, BO)] = Registration(session_id, BO, "registered")
    played = [act(JOINED, 0, ANA, "a1"), act(LEFT, 45, ANA, "a1"), act(ENDED, 60)]
    finals = set()
    for order in itertools.permutations(played):
        fresh = CatalogStore(clock=lambda: NOW)
        fresh.courses, fresh.sessions = store.courses, store.sessions
        fresh.registrations = dict(store.registrations)
        deps = _deps(fresh)
        for activity in order:
            await record_webinar_activity(deps, activity)
        last = {e.email: e for e in fresh.published if isinstance(e, AttendanceRecorded)}
        finals.add(
            tuple(sorted((e.email, e.kind, e.minutes_attended, e.event_id) for e in last.values()))
        )
    assert len(finals) == 1


async def test_a_session_names_its_webinar_through_the_update_mask(store: CatalogStore) -> None:
    from services.catalog.domain.events import SessionChanged
    from services.catalog.service_layer import sessions

    upcoming = scheduled(start_time=NOW + dt.timedelta(days=3)).session
    store.sessions[upcoming.id] = upcoming
    deps = _deps(store)
    changed = await sessions.change_session(
        deps, upcoming.name, {"webinar_id": WEBINAR}, ["webinar_id"], "", "editor@x.example"
    )
    assert changed.session.webinar_id == WEBINAR
    assert store.sessions[upcoming.id].webinar_id == WEBINAR
    # Invitees see nothing of it: no change is announced.
    assert store.published_of(SessionChanged) == []
    with pytest.raises(InvalidArgument) as caught:
        await sessions.change_session(
            deps, upcoming.name, {"webinar_id": "12 34; drop"}, ["webinar_id"], "", "e@x.example"
        )
    assert [v.field for v in caught.value.violations] == ["training_session.webinar_id"]


def test_webinar_activity_is_decoded_or_named_poison() -> None:
    from google.protobuf.timestamp_pb2 import Timestamp
    from trainvite.events.v1 import events_pb2

    from services.catalog.api.subscriptions import webinar_activity
    from services.common.messaging.consumer import PoisonMessage

    when = Timestamp()
    when.FromDatetime(at(5))
    good = events_pb2.WebinarActivity(
        event_id=str(uuid.uuid4()),
        occur_time=when,
        source="zoom",
        webinar_id=WEBINAR,
        kind=events_pb2.WEBINAR_ACTIVITY_KIND_JOINED,
        email="Ana@CloudTech.example",
        participant_id="p1",
    )
    decoded = webinar_activity(good.SerializeToString())
    assert (decoded.kind, decoded.email, decoded.occur_time) == (JOINED, ANA, at(5))
    ended = events_pb2.WebinarActivity()
    ended.CopyFrom(good)
    ended.kind = events_pb2.WEBINAR_ACTIVITY_KIND_ENDED
    ended.email = ""
    assert webinar_activity(ended.SerializeToString()).email == ""
    for field, value, says in [
        ("email", "", "email"),
        ("webinar_id", "", "webinar_id: is required"),
        ("webinar_id", "9" * 65, "at most 64"),
        ("source", "", "source: is required"),
        ("kind", events_pb2.WEBINAR_ACTIVITY_KIND_UNSPECIFIED, "kind: is required"),
    ]:
        bad = events_pb2.WebinarActivity()
        bad.CopyFrom(good)
        setattr(bad, field, value)
        with pytest.raises(PoisonMessage, match=says):
            webinar_activity(bad.SerializeToString())
    no_time = events_pb2.WebinarActivity()
    no_time.CopyFrom(good)
    no_time.ClearField("occur_time")
    with pytest.raises(PoisonMessage, match="occur_time: is required"):
        webinar_activity(no_time.SerializeToString())
