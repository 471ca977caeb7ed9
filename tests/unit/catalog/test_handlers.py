"""The catalog's use cases on in-memory repositories: what they store, answer and publish."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace

import pytest
from nats.aio.msg import Msg
from trainvite.events.v1 import events_pb2

from services.catalog.api.subscriptions import subscriptions
from services.catalog.bootstrap import bootstrap
from services.catalog.domain.events import (
    AttendanceRecorded,
    ChangeKind,
    RegistrationChanged,
    SessionChanged,
)
from services.catalog.domain.model import (
    COURSE_CANCELLED_REASON,
    Course,
    CourseState,
    Format,
    Level,
    Registration,
    ScheduledSession,
    SessionState,
    TrainingSession,
)
from services.catalog.service_layer import courses, registrations, search, sessions
from services.catalog.service_layer.dependencies import Dependencies
from services.catalog.service_layer.sessions import SessionQuery
from services.common.attendance import AttendanceFact
from services.common.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound
from services.common.messaging.topology import Topology
from tests.fakes.catalog import CatalogStore, FakeCatalogUnitOfWork
from tests.unit.catalog.examples import NOW

EDITOR = "editor@trainvite.dev"


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Catalog:
    store: CatalogStore
    clock: Clock
    deps: Dependencies

    async def course(self, title: str = "Dashboards 101", **kw: object) -> Course:
        fields: dict[str, object] = dict(
            id=uuid.UUID(int=0),
            title=title,
            level=Level.BEGINNER,
            format=Format.LIVE_WEBINAR,
            duration=dt.timedelta(minutes=60),
            features=("dashboards",),
        )
        fields.update(kw)
        return await courses.create_course(self.deps, Course(**fields), "")  # type: ignore[arg-type]

    async def session(
        self, course: Course, in_days: float = 7, request_id: str = "", **kw: object
    ) -> ScheduledSession:
        fields: dict[str, object] = dict(
            id=uuid.UUID(int=0),
            course_id=course.id,
            start_time=self.clock.now + dt.timedelta(days=in_days),
            time_zone="Europe/Berlin",
        )
        fields.update(kw)
        return await sessions.create_session(
            self.deps,
            TrainingSession(**fields),  # type: ignore[arg-type]
            request_id,
        )

    async def past_session(self, course: Course, days_ago: float = 2) -> ScheduledSession:
        """Scheduled while it was in the future; the clock has moved on since."""
        later = self.clock.now
        self.clock.now = later - dt.timedelta(days=days_ago + 1)
        try:
            return await self.session(course, in_days=1)
        finally:
            self.clock.now = later

    def changes(self) -> list[tuple[ChangeKind, str]]:
        """The published session changes: their kind and session, in order."""
        return [(e.kind, e.session.name) for e in self.published()]

    def published(self) -> list[SessionChanged]:
        found = self.store.published_of(SessionChanged)
        assert all(isinstance(e, SessionChanged) for e in found)
        return found  # type: ignore[return-value]

    async def attend(
        self,
        session: ScheduledSession,
        email: str,
        kind: str,
        event_id: uuid.UUID | None = None,
    ) -> bool:
        fact = AttendanceFact(event_id or uuid.uuid4(), session.session.name, email, kind)
        return await registrations.record_attendance(self.deps, fact)

    def seats(self, session: ScheduledSession) -> int:
        return self.store.sessions[session.session.id].seats_taken


@pytest.fixture
def catalog() -> Catalog:
    clock = Clock(NOW)
    store = CatalogStore(clock=clock)
    deps = bootstrap(uow=lambda: FakeCatalogUnitOfWork(store), clock=clock)
    return Catalog(store, clock, deps)


# Courses ------------------------------------------------------------------------------------


async def test_a_course_is_stored_once_per_request_id(catalog: Catalog) -> None:
    course = Course(
        id=uuid.UUID(int=0),
        title="Alerts",
        level=Level.ADVANCED,
        format=Format.ON_DEMAND,
        duration=dt.timedelta(minutes=30),
    )
    first = await courses.create_course(catalog.deps, course, "req-1")
    again = await courses.create_course(catalog.deps, replace(course, title="Other"), "req-1")
    other = await courses.create_course(catalog.deps, course, "")
    assert again == first and first.title == "Alerts"
    assert first.id != uuid.UUID(int=0) and other.id not in (first.id, uuid.UUID(int=0))
    assert await courses.get_course(catalog.deps, first.name) == first
    assert catalog.store.published == []


async def test_a_bad_course_is_refused_and_not_stored(catalog: Catalog) -> None:
    with pytest.raises(InvalidArgument):
        await catalog.course(title=" ")
    assert catalog.store.courses == {}


async def test_an_unknown_or_misnamed_course_is_not_found_or_invalid(catalog: Catalog) -> None:
    with pytest.raises(NotFound):
        await courses.get_course(catalog.deps, f"courses/{uuid.uuid4()}")
    with pytest.raises(InvalidArgument):
        await courses.get_course(catalog.deps, "courses/nope")


async def test_courses_are_listed_by_title_a_page_at_a_time(catalog: Catalog) -> None:
    for title in ("charts", "Alerts", "budgets"):
        await catalog.course(title)
    retired = await catalog.course("Archive")
    await courses.cancel_course(catalog.deps, retired.name, "", EDITOR)
    first = await courses.list_courses(catalog.deps, 2, "", False)
    assert [c.title for c in first.items] == ["Alerts", "budgets"]
    rest = await courses.list_courses(catalog.deps, 2, first.next_page_token, False)
    assert ([c.title for c in rest.items], rest.next_page_token) == (["charts"], "")
    every = await courses.list_courses(catalog.deps, 0, "", True)
    assert [c.title for c in every.items] == ["Alerts", "Archive", "budgets", "charts"]
    with pytest.raises(InvalidArgument):
        await courses.list_courses(catalog.deps, 2, first.next_page_token, True)


async def test_a_new_title_reaches_no_invitee(catalog: Catalog) -> None:
    course = await catalog.course()
    await catalog.session(course)
    changed = await courses.change_course(
        catalog.deps, course.name, {"title": "Dashboards 102"}, ["title"], course.etag, EDITOR
    )
    assert (changed.title, changed.version) == ("Dashboards 102", 2)
    assert catalog.store.courses[course.id].title == "Dashboards 102"
    assert catalog.changes() == []


async def test_a_new_duration_is_news_to_each_upcoming_session_only(catalog: Catalog) -> None:
    course = await catalog.course()
    soon = await catalog.session(course, in_days=3)
    later = await catalog.session(course, in_days=10)
    cancelled = await catalog.session(course, in_days=5)
    await sessions.cancel_session(catalog.deps, cancelled.session.name, "", "", EDITOR)
    await catalog.past_session(course)
    elsewhere = await catalog.session(await catalog.course("Alerts"))
    catalog.store.published.clear()

    longer = dt.timedelta(minutes=90)
    await courses.change_course(
        catalog.deps, course.name, {"duration": longer}, ["duration"], "", EDITOR
    )

    assert catalog.changes() == [
        (ChangeKind.UPDATED, soon.session.name),
        (ChangeKind.UPDATED, later.session.name),
    ]
    for event in catalog.published():
        assert (event.course.duration, event.changed_by) == (longer, EDITOR)
        assert (event.previous_start_time, event.reason) == (None, "")
    assert elsewhere.session.name not in {name for _, name in catalog.changes()}


async def test_a_stale_or_cancelled_course_is_not_changed(catalog: Catalog) -> None:
    course = await catalog.course()
    await catalog.session(course)
    change = {"duration": dt.timedelta(minutes=90)}
    with pytest.raises(Aborted):
        await courses.change_course(catalog.deps, course.name, change, ["duration"], '"7"', EDITOR)
    await courses.cancel_course(catalog.deps, course.name, "", EDITOR)
    catalog.store.published.clear()
    with pytest.raises(FailedPrecondition):
        await courses.change_course(catalog.deps, course.name, change, ["duration"], "", EDITOR)
    with pytest.raises(NotFound):
        await courses.change_course(
            catalog.deps, f"courses/{uuid.uuid4()}", change, ["duration"], "", EDITOR
        )
    assert catalog.changes() == []
    assert catalog.store.courses[course.id].duration == dt.timedelta(minutes=60)


async def test_cancelling_a_course_cancels_its_upcoming_sessions_once(catalog: Catalog) -> None:
    course = await catalog.course()
    upcoming = await catalog.session(course)
    past = await catalog.past_session(course)

    cancelled = await courses.cancel_course(catalog.deps, course.name, course.etag, EDITOR)
    again = await courses.cancel_course(catalog.deps, course.name, '"1"', EDITOR)

    assert cancelled.state is CourseState.CANCELLED and again == cancelled
    assert catalog.changes() == [(ChangeKind.CANCELLED, upcoming.session.name)]
    (event,) = catalog.published()
    assert (event.reason, event.changed_by) == (COURSE_CANCELLED_REASON, EDITOR)
    assert event.course.state is CourseState.CANCELLED
    stored = catalog.store.sessions
    assert stored[upcoming.session.id].state is SessionState.CANCELLED
    assert stored[upcoming.session.id].cancel_reason == COURSE_CANCELLED_REASON
    assert stored[past.session.id].state is SessionState.SCHEDULED


async def test_a_stale_etag_does_not_cancel_a_course(catalog: Catalog) -> None:
    course = await catalog.course()
    await catalog.session(course)
    with pytest.raises(Aborted):
        await courses.cancel_course(catalog.deps, course.name, '"9"', EDITOR)
    assert catalog.store.courses[course.id].state is CourseState.ACTIVE
    assert catalog.changes() == []


# Sessions -----------------------------------------------------------------------------------


async def test_a_session_is_scheduled_once_per_request_id(catalog: Catalog) -> None:
    course = await catalog.course()
    first = await catalog.session(course, request_id="s-1")
    again = await catalog.session(course, in_days=9, request_id="s-1")
    assert again.session == first.session and first.course == course
    assert await sessions.get_session(catalog.deps, first.session.name) == first
    assert catalog.changes() == []


async def test_a_session_needs_a_known_active_course_and_a_future_start(
    catalog: Catalog,
) -> None:
    course = await catalog.course()
    with pytest.raises(NotFound):
        await catalog.session(replace(course, id=uuid.uuid4()))
    with pytest.raises(InvalidArgument):
        await catalog.session(course, in_days=-1)
    await courses.cancel_course(catalog.deps, course.name, "", EDITOR)
    with pytest.raises(FailedPrecondition):
        await catalog.session(course)
    assert catalog.store.sessions == {}


async def test_an_unknown_session_is_not_found(catalog: Catalog) -> None:
    with pytest.raises(NotFound):
        await sessions.get_session(catalog.deps, f"training-sessions/{uuid.uuid4()}")
    with pytest.raises(InvalidArgument):
        await sessions.get_session(catalog.deps, "sessions/1")


async def test_listing_hides_the_past_and_cancelled_unless_asked(catalog: Catalog) -> None:
    course = await catalog.course()
    past = await catalog.past_session(course)
    soon = await catalog.session(course, in_days=1)
    later = await catalog.session(course, in_days=3)
    dropped = await catalog.session(course, in_days=2)
    await sessions.cancel_session(catalog.deps, dropped.session.name, "", "", EDITOR)

    def names(page: list[ScheduledSession]) -> list[uuid.UUID]:
        return [s.session.id for s in page]

    upcoming = await sessions.list_sessions(catalog.deps, SessionQuery(), 0, "")
    assert names(upcoming.items) == [soon.session.id, later.session.id]
    everything = SessionQuery(include_past=True, show_cancelled=True)
    first = await sessions.list_sessions(catalog.deps, everything, 2, "")
    rest = await sessions.list_sessions(catalog.deps, everything, 2, first.next_page_token)
    assert names(first.items) == [past.session.id, soon.session.id]
    assert names(rest.items) == [dropped.session.id, later.session.id]
    assert rest.next_page_token == ""


async def test_listing_filters_on_the_course(catalog: Catalog) -> None:
    dashboards = await catalog.course(target_roles=("analyst",))
    alerts = await catalog.course("Alerts", features=("alerts",), level=Level.ADVANCED)
    a = await catalog.session(dashboards)
    b = await catalog.session(alerts)

    async def ids(q: SessionQuery) -> list[uuid.UUID]:
        return [s.session.id for s in (await sessions.list_sessions(catalog.deps, q, 0, "")).items]

    assert await ids(SessionQuery(feature="alerts")) == [b.session.id]
    assert await ids(SessionQuery(level=Level.BEGINNER)) == [a.session.id]
    assert await ids(SessionQuery(course=alerts.name)) == [b.session.id]
    # A course for every role is offered to any role.
    assert await ids(SessionQuery(role="admin")) == [b.session.id]
    with pytest.raises(InvalidArgument) as err:
        await ids(SessionQuery(course="alerts", start_after=NOW, start_before=NOW))
    assert {v.field for v in err.value.violations} == {"course", "start_before"}


async def test_a_new_time_is_published_as_a_reschedule(catalog: Catalog) -> None:
    course = await catalog.course()
    s = await catalog.session(course)
    later = s.session.start_time + dt.timedelta(days=1)
    moved = await sessions.change_session(
        catalog.deps, s.session.name, {"start_time": later}, ["start_time"], s.session.etag, EDITOR
    )
    assert (moved.session.start_time, moved.session.version) == (later, 2)
    assert catalog.store.sessions[s.session.id].start_time == later
    assert catalog.changes() == [(ChangeKind.RESCHEDULED, s.session.name)]
    (event,) = catalog.published()
    assert event.session.start_time == later
    assert (event.previous_start_time, event.previous_time_zone) == (
        s.session.start_time,
        "Europe/Berlin",
    )
    assert (event.changed_by, event.reason) == (EDITOR, "")


async def test_new_logistics_are_an_update_and_no_change_is_no_news(catalog: Catalog) -> None:
    course = await catalog.course()
    s = await catalog.session(course)
    name = s.session.name
    link = {"join_url": "https://meet.example/j"}
    await sessions.change_session(catalog.deps, name, link, ["join_url"], "", EDITOR)
    same = await sessions.change_session(
        catalog.deps, name, {"presenter": ""}, ["presenter"], "", EDITOR
    )
    assert same.session.version == 3
    assert catalog.changes() == [(ChangeKind.UPDATED, name)]
    (event,) = catalog.published()
    assert event.session.join_url == "https://meet.example/j"
    assert event.previous_start_time == s.session.start_time


async def test_capacity_cannot_go_below_the_seats_taken(catalog: Catalog) -> None:
    course = await catalog.course()
    s = await catalog.session(course, capacity=10)
    for email in ("a@x.example", "b@x.example"):
        await catalog.attend(s, email, "registered")
    with pytest.raises(FailedPrecondition):
        await sessions.change_session(
            catalog.deps, s.session.name, {"capacity": 1}, ["capacity"], "", EDITOR
        )
    fits = await sessions.change_session(
        catalog.deps, s.session.name, {"capacity": 2}, ["capacity"], "", EDITOR
    )
    assert (fits.session.capacity, fits.session.seats_taken, fits.session.full) == (2, 2, True)
    assert catalog.changes() == [(ChangeKind.UPDATED, s.session.name)]


async def test_a_started_stale_or_unknown_session_is_not_changed(catalog: Catalog) -> None:
    course = await catalog.course()
    s = await catalog.session(course)
    name = s.session.name
    with pytest.raises(Aborted):
        await sessions.change_session(catalog.deps, name, {"capacity": 5}, ["capacity"], '"4"', "")
    with pytest.raises(InvalidArgument):
        await sessions.change_session(catalog.deps, name, {}, ["course"], "", EDITOR)
    with pytest.raises(NotFound):
        await sessions.change_session(
            catalog.deps, f"training-sessions/{uuid.uuid4()}", {}, ["capacity"], "", EDITOR
        )
    catalog.clock.now = s.session.start_time
    with pytest.raises(FailedPrecondition):
        await sessions.change_session(catalog.deps, name, {"capacity": 5}, ["capacity"], "", "")
    assert catalog.store.sessions[s.session.id].version == 1
    assert catalog.changes() == []


async def test_cancelling_a_session_twice_publishes_once(catalog: Catalog) -> None:
    course = await catalog.course()
    s = await catalog.session(course)
    name = s.session.name
    cancelled = await sessions.cancel_session(catalog.deps, name, s.session.etag, "ill", EDITOR)
    again = await sessions.cancel_session(catalog.deps, name, '"1"', "other", EDITOR)
    assert cancelled.session.state is SessionState.CANCELLED
    assert again.session == cancelled.session
    assert catalog.store.sessions[s.session.id].cancel_reason == "ill"
    assert catalog.changes() == [(ChangeKind.CANCELLED, name)]
    assert catalog.published()[0].reason == "ill"


async def test_a_session_is_not_cancelled_once_started_or_with_a_stale_etag(
    catalog: Catalog,
) -> None:
    course = await catalog.course()
    s = await catalog.session(course)
    name = s.session.name
    with pytest.raises(Aborted):
        await sessions.cancel_session(catalog.deps, name, '"2"', "", EDITOR)
    with pytest.raises(InvalidArgument):
        await sessions.cancel_session(catalog.deps, name, "", "x" * 501, EDITOR)
    catalog.clock.now = s.session.start_time + dt.timedelta(minutes=1)
    with pytest.raises(FailedPrecondition):
        await sessions.cancel_session(catalog.deps, name, "", "", EDITOR)
    assert catalog.store.sessions[s.session.id].state is SessionState.SCHEDULED
    assert catalog.changes() == []


# Registrations ------------------------------------------------------------------------------


async def test_seats_follow_registrations_and_cancellations(catalog: Catalog) -> None:
    s = await catalog.session(await catalog.course(), capacity=3)
    await catalog.attend(s, "a@x.example", "registered")
    await catalog.attend(s, "b@x.example", "registered")
    await catalog.attend(s, "b@x.example", "registered")
    assert catalog.seats(s) == 2
    await catalog.attend(s, "a@x.example", "cancelled")
    assert catalog.seats(s) == 1
    await catalog.attend(s, "a@x.example", "registered")
    await catalog.attend(s, "c@x.example", "cancelled")
    assert catalog.seats(s) == 2
    assert catalog.store.registrations[(s.session.id, "c@x.example")].state == "cancelled"
    got = await sessions.get_session(catalog.deps, s.session.name)
    assert (got.session.seats_taken, got.session.seats_left) == (2, 1)
    assert catalog.changes() == []


async def test_each_move_of_a_registration_is_published_once_with_the_seats_left(
    catalog: Catalog,
) -> None:
    s = await catalog.session(await catalog.course(), capacity=2)
    registered = uuid.uuid4()
    await catalog.attend(s, "a@x.example", "registered", registered)
    await catalog.attend(s, "a@x.example", "registered", registered)  # the same event again
    await catalog.attend(s, "a@x.example", "registered")  # nothing moves
    await catalog.attend(s, "b@x.example", "registered")
    await catalog.attend(s, "a@x.example", "cancelled")
    catalog.clock.now = s.session.start_time + dt.timedelta(minutes=5)
    await catalog.attend(s, "b@x.example", "attended")
    await catalog.attend(s, "b@x.example", "cancelled")  # attendance never goes backwards

    moves = [
        (e.email, e.previous_state, e.state, e.seats_left, e.training_session)
        for e in catalog.store.published_of(RegistrationChanged)
        if isinstance(e, RegistrationChanged)
    ]
    assert moves == [
        ("a@x.example", None, "registered", 1, s.session.name),
        ("b@x.example", None, "registered", 0, s.session.name),
        ("a@x.example", "registered", "cancelled", 1, s.session.name),
        ("b@x.example", "registered", "attended", 1, s.session.name),
    ]


async def test_a_repeated_event_is_applied_once(catalog: Catalog) -> None:
    s = await catalog.session(await catalog.course())
    registered = uuid.uuid4()
    assert await catalog.attend(s, "a@x.example", "registered", registered)
    assert await catalog.attend(s, "a@x.example", "cancelled")
    assert not await catalog.attend(s, "a@x.example", "registered", registered)
    assert catalog.seats(s) == 0
    assert catalog.store.registrations[(s.session.id, "a@x.example")].state == "cancelled"


async def test_attendance_never_goes_backwards(catalog: Catalog) -> None:
    s = await catalog.session(await catalog.course())
    await catalog.attend(s, "a@x.example", "registered")
    catalog.clock.now = s.session.start_time + dt.timedelta(minutes=5)
    await catalog.attend(s, "a@x.example", "attended")
    for late in ("registered", "cancelled", "no_show"):
        await catalog.attend(s, "a@x.example", late)
    assert catalog.store.registrations[(s.session.id, "a@x.example")].state == "attended"
    assert catalog.seats(s) == 1
    # A no-show took a seat as much as an attendee did; attending after it keeps that seat.
    await catalog.attend(s, "b@x.example", "no_show")
    await catalog.attend(s, "b@x.example", "attended")
    assert catalog.store.registrations[(s.session.id, "b@x.example")].state == "attended"
    assert catalog.seats(s) == 2


async def test_attending_a_session_that_has_not_begun_is_refused(catalog: Catalog) -> None:
    s = await catalog.session(await catalog.course())
    early = uuid.uuid4()
    with pytest.raises(InvalidArgument) as err:
        await catalog.attend(s, "a@x.example", "attended", early)
    assert [v.field for v in err.value.violations] == ["kind"]
    assert catalog.seats(s) == 0 and catalog.store.registrations == {}
    # Refused, not consumed: the same event is taken once the session has begun.
    assert early not in catalog.store.processed
    catalog.clock.now = s.session.start_time
    assert await catalog.attend(s, "a@x.example", "attended", early)
    assert catalog.seats(s) == 1


async def test_attendance_for_an_unknown_session_is_not_found(catalog: Catalog) -> None:
    fact = AttendanceFact(
        uuid.uuid4(), f"training-sessions/{uuid.uuid4()}", "a@x.example", "registered"
    )
    with pytest.raises(NotFound):
        await registrations.record_attendance(catalog.deps, fact)
    with pytest.raises(InvalidArgument):
        await registrations.record_attendance(
            catalog.deps, replace(fact, training_session="courses/1")
        )
    assert catalog.store.processed == set()


async def test_the_attendance_subject_counts_seats(catalog: Catalog) -> None:
    """The entry point decodes the wire event (the address lower-cased) and applies it."""
    s = await catalog.session(await catalog.course())
    topology = Topology("unit")
    (spec, handle), *_ = subscriptions(catalog.deps, topology)
    assert spec == topology.catalog_registrations
    event = events_pb2.AttendanceRecorded(
        event_id=str(uuid.uuid4()),
        training_session=s.session.name,
        email="Ana@X.example",
        kind=events_pb2.ATTENDANCE_KIND_REGISTERED,
    )
    event.occur_time.FromDatetime(NOW)
    msg = Msg(_client=None, subject=topology.attendance_recorded, data=event.SerializeToString())  # type: ignore[arg-type]
    await handle(msg)
    await handle(msg)
    assert catalog.seats(s) == 1
    assert {k: r.state for k, r in catalog.store.registrations.items()} == {
        (s.session.id, "ana@x.example"): "registered"
    }


# Finding sessions ---------------------------------------------------------------------------


async def test_alternatives_are_other_upcoming_dates_of_the_course(catalog: Catalog) -> None:
    course = await catalog.course(features=("charts", "dashboards"))
    s = await catalog.session(course, in_days=2)
    later = await catalog.session(course, in_days=9)
    sooner = await catalog.session(course, in_days=4)
    await catalog.past_session(course)
    dropped = await catalog.session(course, in_days=3)
    await sessions.cancel_session(catalog.deps, dropped.session.name, "", "", EDITOR)
    await catalog.session(await catalog.course("Other"))

    found = await search.alternatives(catalog.deps, s.session.name, 0)
    assert [a.scheduled.session.id for a in found] == [sooner.session.id, later.session.id]
    assert all(a.same_course and a.shared_features == ["charts", "dashboards"] for a in found)
    one = await search.alternatives(catalog.deps, s.session.name, 1)
    assert [a.scheduled.session.id for a in one] == [sooner.session.id]


async def test_without_other_dates_the_nearest_courses_are_offered(catalog: Catalog) -> None:
    course = await catalog.course(features=("alerts", "charts", "dashboards"))
    s = await catalog.session(course)
    one = await catalog.course("One", features=("charts",))
    two = await catalog.course("Two", features=("charts", "dashboards"))
    unrelated = await catalog.course("Unrelated", features=("billing",))
    one_soon = await catalog.session(one, in_days=1)
    await catalog.session(one, in_days=5)
    two_later = await catalog.session(two, in_days=6)
    await catalog.session(unrelated, in_days=1)

    found = await search.alternatives(catalog.deps, s.session.name, 0)
    assert [(a.scheduled.session.id, a.same_course, a.shared_features) for a in found] == [
        (two_later.session.id, False, ["charts", "dashboards"]),
        (one_soon.session.id, False, ["charts"]),
    ]
    with pytest.raises(NotFound):
        await search.alternatives(catalog.deps, f"training-sessions/{uuid.uuid4()}", 0)


async def test_search_finds_upcoming_sessions_of_matching_courses(catalog: Catalog) -> None:
    dashboards = await catalog.course()
    await catalog.course("Alerts", features=("alerts",))
    past = await catalog.past_session(dashboards)
    upcoming = await catalog.session(dashboards)

    found = await search.search_sessions(catalog.deps, "dashboards training", 0, False)
    assert [s.session.id for s, _ in found] == [upcoming.session.id]
    with_past = await search.search_sessions(catalog.deps, "dashboards", 0, True)
    assert {s.session.id for s, _ in with_past} == {past.session.id, upcoming.session.id}
    with pytest.raises(InvalidArgument):
        await search.search_sessions(catalog.deps, " ", 0, False)


# Seats and the waitlist ---------------------------------------------------------------------


def _moves(catalog: Catalog) -> list[tuple[str, str | None, str, int, int | None]]:
    """The published registration moves: who, from, to, the place and the seats left."""
    return [
        (e.email, e.previous_state, e.state, e.waitlist_position, e.seats_left)
        for e in catalog.store.published_of(RegistrationChanged)
        if isinstance(e, RegistrationChanged)
    ]


async def _register(catalog: Catalog, s: ScheduledSession, *emails: str) -> list[Registration]:
    return [
        await registrations.register(catalog.deps, s.session.name, email, "") for email in emails
    ]


async def test_a_registration_takes_a_seat_while_one_is_free_then_waits_in_order(
    catalog: Catalog,
) -> None:
    s = await catalog.session(await catalog.course(), capacity=2)
    a, b, c, d = await _register(
        catalog, s, "a@x.example", "b@x.example", "c@x.example", "d@x.example"
    )
    assert [(r.state, r.waitlist_position) for r in (a, b, c, d)] == [
        ("registered", 0),
        ("registered", 0),
        ("waitlisted", 1),
        ("waitlisted", 2),
    ]
    assert c.occurrence_id == s.session.id
    assert a.updated_at == NOW
    assert catalog.seats(s) == 2
    assert _moves(catalog) == [
        ("a@x.example", None, "registered", 0, 1),
        ("b@x.example", None, "registered", 0, 0),
        ("c@x.example", None, "waitlisted", 1, 0),
        ("d@x.example", None, "waitlisted", 2, 0),
    ]


async def test_an_unlimited_session_seats_everyone(catalog: Catalog) -> None:
    s = await catalog.session(await catalog.course(), capacity=0)
    found = await _register(catalog, s, *(f"p{i}@x.example" for i in range(30)))
    assert {r.state for r in found} == {"registered"}
    assert catalog.seats(s) == 30
    assert {m[4] for m in _moves(catalog)} == {None}


async def test_registering_again_answers_the_registration_as_it_stands(catalog: Catalog) -> None:
    s = await catalog.session(await catalog.course(), capacity=1)
    invitation = "customers/c1/invitation-batches/b1/drafts/d1"
    first = await registrations.register(catalog.deps, s.session.name, "A@X.example ", invitation)
    assert (first.email, first.invitation) == ("a@x.example", invitation)
    await _register(catalog, s, "b@x.example")
    catalog.clock.now = NOW + dt.timedelta(minutes=5)
    again = await registrations.register(catalog.deps, s.session.name, "a@x.example", "")
    waiting = await registrations.register(catalog.deps, s.session.name, "b@x.example", "")
    assert (again.state, again.invitation, again.updated_at) == ("registered", invitation, NOW)
    assert (waiting.state, waiting.waitlist_position) == ("waitlisted", 1)
    assert catalog.seats(s) == 1
    assert len(_moves(catalog)) == 2


async def test_cancelling_a_seat_promotes_the_first_person_waiting(catalog: Catalog) -> None:
    s = await catalog.session(await catalog.course(), capacity=2)
    emails = [f"p{i}@x.example" for i in range(6)]
    await _register(catalog, s, *emails)
    name = s.session.name
    cancelled = await registrations.cancel(catalog.deps, name, "p0@x.example")
    assert (cancelled.state, cancelled.waitlist_position) == ("cancelled", 0)
    # A place on the waitlist given up moves those behind it up, without promoting anyone.
    await registrations.cancel(catalog.deps, name, "p3@x.example")
    await registrations.cancel(catalog.deps, name, "p1@x.example")
    states = {e: (await registrations.get(catalog.deps, name, e)) for e in emails}
    assert {e: (r.state, r.waitlist_position) for e, r in states.items()} == {
        "p0@x.example": ("cancelled", 0),
        "p1@x.example": ("cancelled", 0),
        "p2@x.example": ("registered", 0),
        "p3@x.example": ("cancelled", 0),
        "p4@x.example": ("registered", 0),
        "p5@x.example": ("waitlisted", 1),
    }
    assert catalog.seats(s) == 2
    assert _moves(catalog)[6:] == [
        ("p0@x.example", "registered", "cancelled", 0, 1),
        ("p2@x.example", "waitlisted", "registered", 0, 0),
        ("p3@x.example", "waitlisted", "cancelled", 0, 0),
        ("p1@x.example", "registered", "cancelled", 0, 1),
        ("p4@x.example", "waitlisted", "registered", 0, 0),
    ]
    # Cancelling again changes nothing and publishes nothing.
    again = await registrations.cancel(catalog.deps, name, "p0@x.example")
    assert again.state == "cancelled" and len(_moves(catalog)) == 11


async def test_someone_who_cancelled_registers_again_at_the_end_of_the_waitlist(
    catalog: Catalog,
) -> None:
    s = await catalog.session(await catalog.course(), capacity=1)
    await _register(catalog, s, "a@x.example", "b@x.example", "c@x.example")
    await registrations.cancel(catalog.deps, s.session.name, "b@x.example")
    (back,) = await _register(catalog, s, "b@x.example")
    assert (back.state, back.waitlist_position) == ("waitlisted", 2)
    await registrations.cancel(catalog.deps, s.session.name, "a@x.example")
    got = await registrations.get(catalog.deps, s.session.name, "b@x.example")
    assert (got.state, got.waitlist_position) == ("waitlisted", 1)


async def test_a_larger_capacity_promotes_as_many_as_it_frees_in_order(catalog: Catalog) -> None:
    s = await catalog.session(await catalog.course(), capacity=1)
    await _register(catalog, s, *(f"p{i}@x.example" for i in range(5)))
    changed = await sessions.change_session(
        catalog.deps, s.session.name, {"capacity": 3}, ["capacity"], "", EDITOR
    )
    assert (changed.session.seats_taken, changed.session.seats_left) == (3, 0)
    assert catalog.seats(s) == 3
    assert _moves(catalog)[5:] == [
        ("p1@x.example", "waitlisted", "registered", 0, 1),
        ("p2@x.example", "waitlisted", "registered", 0, 0),
    ]
    got = await registrations.get(catalog.deps, s.session.name, "p4@x.example")
    assert got.waitlist_position == 2
    # The capacity change is published before the promotions it makes.
    assert catalog.changes() == [(ChangeKind.UPDATED, s.session.name)]
    published = [e for e in catalog.store.published if not isinstance(e, AttendanceRecorded)]
    assert isinstance(published[-3], SessionChanged)
    # Unlimited seats everyone who waits; fewer than the seats taken is still refused.
    with pytest.raises(FailedPrecondition):
        await sessions.change_session(
            catalog.deps, s.session.name, {"capacity": 2}, ["capacity"], "", EDITOR
        )
    await sessions.change_session(
        catalog.deps, s.session.name, {"capacity": 0}, ["capacity"], "", EDITOR
    )
    assert catalog.seats(s) == 5


async def test_a_registered_fact_waitlists_when_the_session_is_full(catalog: Catalog) -> None:
    s = await catalog.session(await catalog.course(), capacity=1)
    await catalog.attend(s, "a@x.example", "registered")
    await catalog.attend(s, "b@x.example", "registered")
    await catalog.attend(s, "b@x.example", "registered")  # still waiting, same place
    assert catalog.store.registrations[(s.session.id, "b@x.example")].state == "waitlisted"
    await catalog.attend(s, "a@x.example", "cancelled")
    assert catalog.store.registrations[(s.session.id, "b@x.example")].state == "registered"
    await catalog.attend(s, "c@x.example", "registered")
    await catalog.attend(s, "c@x.example", "cancelled")  # leaves the waitlist
    assert catalog.seats(s) == 1
    assert [m[:4] for m in _moves(catalog)] == [
        ("a@x.example", None, "registered", 0),
        ("b@x.example", None, "waitlisted", 1),
        ("a@x.example", "registered", "cancelled", 0),
        ("b@x.example", "waitlisted", "registered", 0),
        ("c@x.example", None, "waitlisted", 1),
        ("c@x.example", "waitlisted", "cancelled", 0),
    ]


async def test_attending_from_the_waitlist_takes_a_seat(catalog: Catalog) -> None:
    s = await catalog.session(await catalog.course(), capacity=1)
    await _register(catalog, s, "a@x.example", "b@x.example")
    catalog.clock.now = s.session.start_time + dt.timedelta(minutes=5)
    await catalog.attend(s, "b@x.example", "attended")
    await catalog.attend(s, "a@x.example", "no_show")
    assert catalog.seats(s) == 2
    # A late cancellation of the attendee changes nothing.
    await catalog.attend(s, "b@x.example", "cancelled")
    assert catalog.store.registrations[(s.session.id, "b@x.example")].state == "attended"


async def test_registrations_are_refused_for_cancelled_and_started_sessions(
    catalog: Catalog,
) -> None:
    course = await catalog.course()
    s = await catalog.session(course, capacity=3)
    await _register(catalog, s, "a@x.example")
    catalog.clock.now = s.session.start_time
    for call in (
        registrations.register(catalog.deps, s.session.name, "b@x.example", ""),
        registrations.cancel(catalog.deps, s.session.name, "a@x.example"),
    ):
        with pytest.raises(FailedPrecondition):
            await call
    catalog.clock.now = NOW
    other = await catalog.session(course, capacity=3)
    await sessions.cancel_session(catalog.deps, other.session.name, "", "", EDITOR)
    with pytest.raises(FailedPrecondition):
        await registrations.register(catalog.deps, other.session.name, "b@x.example", "")
    # Reading stays possible.
    catalog.clock.now = s.session.start_time
    got = await registrations.get(catalog.deps, s.session.name, "a@x.example")
    assert got.state == "registered"


async def test_unknown_sessions_and_registrations_are_not_found(catalog: Catalog) -> None:
    s = await catalog.session(await catalog.course())
    unknown = f"training-sessions/{uuid.uuid4()}"
    with pytest.raises(NotFound):
        await registrations.register(catalog.deps, unknown, "a@x.example", "")
    for call in (registrations.get, registrations.cancel):
        with pytest.raises(NotFound):
            await call(catalog.deps, s.session.name, "nobody@x.example")


@pytest.mark.parametrize(
    ("session_name", "email", "invitation", "fields"),
    [
        ("courses/1", "a@x.example", "", ["training_session"]),
        ("training-sessions/nope", "", "", ["training_session", "email"]),
        (None, "not an address", "", ["email"]),
        (None, "a@x", "", ["email"]),
        (None, "a@x.example", "drafts/1", ["invitation"]),
    ],
)
async def test_bad_registrations_name_their_fields(
    catalog: Catalog, session_name: str | None, email: str, invitation: str, fields: list[str]
) -> None:
    s = await catalog.session(await catalog.course())
    with pytest.raises(InvalidArgument) as err:
        await registrations.register(
            catalog.deps, session_name or s.session.name, email, invitation
        )
    assert [v.field for v in err.value.violations] == fields
    assert catalog.store.registrations == {}


async def test_the_catalog_leaves_the_facts_it_told_of_its_own_registrations(
    catalog: Catalog,
) -> None:
    """Ana registers and cancels through her link: each is told as AttendanceRecorded, and
    when those facts come back through the catalog's own consumer, late or not, the
    "registered" must not seat her again."""
    s = await catalog.session(await catalog.course(), capacity=5)
    await _register(catalog, s, "ana@x.example")
    await registrations.cancel(catalog.deps, s.session.name, "ana@x.example")
    told = [e for e in catalog.store.published if isinstance(e, AttendanceRecorded)]
    assert [(e.kind, e.applied) for e in told] == [("registered", True), ("cancelled", True)]
    for event in told:
        fact = AttendanceFact(event.event_id, event.training_session, event.email, event.kind)
        assert not await registrations.record_attendance(catalog.deps, fact)
    got = await registrations.get(catalog.deps, s.session.name, "ana@x.example")
    assert got.state == "cancelled" and catalog.seats(s) == 0
