"""The catalog over gRPC on real PostgreSQL and JetStream."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import grpc
import nats
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from trainvite.catalog.v1 import catalog_pb2 as pb
from trainvite.events.v1 import events_pb2

from services.common.messaging.topology import Topology
from tests.helpers import CATALOG_EDITOR_EMAIL, Clients
from tests.integration.catalog_data import in_days, new_course, new_session, ts
from tests.integration.test_api_errors import bad_fields
from tests.waiting import NotYet, wait_for

pytestmark = pytest.mark.integration

NY = ZoneInfo("America/New_York")


@pytest.fixture
async def changes(
    nats_url: str, namespace: str
) -> AsyncIterator[asyncio.Queue[events_pb2.TrainingSessionChanged]]:
    """Every TrainingSessionChanged the catalog publishes during the test."""
    nc = await nats.connect(nats_url)
    queue: asyncio.Queue[events_pb2.TrainingSessionChanged] = asyncio.Queue()

    async def on_message(msg: Msg) -> None:
        await queue.put(events_pb2.TrainingSessionChanged.FromString(msg.data))

    await nc.subscribe(Topology(namespace).session_changed, cb=on_message)
    yield queue
    await nc.drain()


async def test_create_get_and_retried_creates_make_one_of_each(services: Clients) -> None:
    course = await new_course(services)
    request_id = str(uuid.uuid4())
    request = pb.CreateTrainingSessionRequest(
        training_session=pb.TrainingSession(
            course=course.name, start_time=ts(in_days(30)), time_zone="Europe/Paris"
        ),
        request_id=request_id,
    )
    first = await services.catalog.CreateTrainingSession(request, metadata=services.editor)
    retried = await services.catalog.CreateTrainingSession(request, metadata=services.editor)
    assert first.name == retried.name and first.name.startswith("training-sessions/")
    got = await services.catalog.GetTrainingSession(
        pb.GetTrainingSessionRequest(name=first.name), metadata=services.csm
    )
    assert (got.title, got.course, got.time_zone) == (course.title, course.name, "Europe/Paris")
    assert got.duration.ToTimedelta() == dt.timedelta(minutes=45)
    assert got.state == pb.SESSION_STATE_SCHEDULED and got.etag == '"1"'
    assert not got.HasField("seats_left")  # capacity 0: no limit

    course_request = pb.CreateCourseRequest(
        course=pb.Course(
            title="Idempotent course",
            level=pb.SESSION_LEVEL_BEGINNER,
            format=pb.SESSION_FORMAT_ON_DEMAND,
            duration=Duration(seconds=600),
        ),
        request_id=str(uuid.uuid4()),
    )
    a = await services.catalog.CreateCourse(course_request, metadata=services.editor)
    b = await services.catalog.CreateCourse(course_request, metadata=services.editor)
    assert a.name == b.name


async def test_get_of_a_malformed_or_unknown_name(services: Clients) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.GetTrainingSession(
            pb.GetTrainingSessionRequest(name="sessions/1"), metadata=services.csm
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.GetTrainingSession(
            pb.GetTrainingSessionRequest(name=f"training-sessions/{uuid.uuid4()}"),
            metadata=services.csm,
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.GetCourse(
            pb.GetCourseRequest(name=f"courses/{uuid.uuid4()}"), metadata=services.csm
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_list_pages_through_upcoming_sessions_with_filters(services: Clients) -> None:
    seen: list[pb.TrainingSession] = []
    token = ""
    while True:
        page = await services.catalog.ListTrainingSessions(
            pb.ListTrainingSessionsRequest(page_size=2, page_token=token), metadata=services.csm
        )
        seen.extend(page.training_sessions)
        token = page.next_page_token
        if not token:
            break
    starts = [s.start_time.ToDatetime() for s in seen]
    assert starts == sorted(starts) and len({s.name for s in seen}) == len(seen) >= 4
    assert all(s.start_time.ToDatetime(tzinfo=dt.UTC) > dt.datetime.now(dt.UTC) for s in seen)

    with_past = await services.catalog.ListTrainingSessions(
        pb.ListTrainingSessionsRequest(
            include_past=True, feature="report_scheduling", page_size=100
        ),
        metadata=services.csm,
    )
    past = [
        s
        for s in with_past.training_sessions
        if s.start_time.ToDatetime().year == 2026 and s.start_time.ToDatetime().month == 2
    ]
    assert past and past[0].state == pb.SESSION_STATE_COMPLETED  # the PRD's session, done
    assert all("report_scheduling" in s.features for s in with_past.training_sessions)

    for request, check in (
        (
            pb.ListTrainingSessionsRequest(role="it_admin"),
            lambda s: not s.target_roles or "it_admin" in s.target_roles,
        ),
        (
            pb.ListTrainingSessionsRequest(level=pb.SESSION_LEVEL_ADVANCED),
            lambda s: s.level == pb.SESSION_LEVEL_ADVANCED,
        ),
        (
            pb.ListTrainingSessionsRequest(
                start_after=ts(dt.datetime(2027, 1, 20, tzinfo=dt.UTC)),
                start_before=ts(dt.datetime(2027, 2, 10, tzinfo=dt.UTC)),
            ),
            lambda s: (
                dt.datetime(2027, 1, 20) <= s.start_time.ToDatetime() < dt.datetime(2027, 2, 10)
            ),
        ),
    ):
        found = (
            await services.catalog.ListTrainingSessions(request, metadata=services.csm)
        ).training_sessions
        assert found and all(check(s) for s in found), request

    first = await services.catalog.ListTrainingSessions(
        pb.ListTrainingSessionsRequest(page_size=1), metadata=services.csm
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.ListTrainingSessions(
            pb.ListTrainingSessionsRequest(
                page_size=1, page_token=first.next_page_token, feature="api"
            ),
            metadata=services.csm,
        )
    assert bad_fields(err.value) == {"page_token"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.ListTrainingSessions(
            pb.ListTrainingSessionsRequest(page_size=1000), metadata=services.csm
        )
    assert bad_fields(err.value) == {"page_size"}


async def test_reschedule_needs_the_current_etag_and_is_published(
    services: Clients, changes: asyncio.Queue[events_pb2.TrainingSessionChanged]
) -> None:
    course = await new_course(services)
    session = await new_session(services, course, in_days(20))
    later = in_days(21).replace(microsecond=0)
    edit = pb.TrainingSession(name=session.name, etag=session.etag, start_time=ts(later))
    moved = await services.catalog.UpdateTrainingSession(
        pb.UpdateTrainingSessionRequest(
            training_session=edit, update_mask=FieldMask(paths=["start_time"])
        ),
        metadata=services.editor,
    )
    assert moved.start_time.ToDatetime(tzinfo=dt.UTC) == later and moved.etag == '"2"'
    event = await asyncio.wait_for(changes.get(), 10)
    assert event.kind == events_pb2.SESSION_CHANGE_KIND_RESCHEDULED
    assert event.training_session.name == session.name
    assert event.previous_start_time == session.start_time
    assert event.changed_by == CATALOG_EDITOR_EMAIL

    with pytest.raises(grpc.aio.AioRpcError) as err:  # the etag we read before the move
        await services.catalog.UpdateTrainingSession(
            pb.UpdateTrainingSessionRequest(
                training_session=edit, update_mask=FieldMask(paths=["start_time"])
            ),
            metadata=services.editor,
        )
    assert err.value.code() == grpc.StatusCode.ABORTED

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.UpdateTrainingSession(
            pb.UpdateTrainingSessionRequest(
                training_session=pb.TrainingSession(name=session.name, time_zone="Nowhere/City"),
                update_mask=FieldMask(paths=["time_zone", "title"]),
            ),
            metadata=services.editor,
        )
    assert bad_fields(err.value) == {"update_mask"}


async def test_cancel_is_published_once(
    services: Clients, changes: asyncio.Queue[events_pb2.TrainingSessionChanged]
) -> None:
    course = await new_course(services)
    session = await new_session(services, course, in_days(25))
    request = pb.CancelTrainingSessionRequest(
        name=session.name, etag=session.etag, reason="presenter ill"
    )
    cancelled = await services.catalog.CancelTrainingSession(request, metadata=services.editor)
    again = await services.catalog.CancelTrainingSession(request, metadata=services.editor)
    assert cancelled.state == again.state == pb.SESSION_STATE_CANCELLED
    assert cancelled.cancel_reason == "presenter ill"
    event = await asyncio.wait_for(changes.get(), 10)
    assert (
        event.kind == events_pb2.SESSION_CHANGE_KIND_CANCELLED and event.reason == "presenter ill"
    )
    await asyncio.sleep(1)  # a second event would have arrived by now
    assert changes.empty()
    upcoming = await services.catalog.ListTrainingSessions(
        pb.ListTrainingSessionsRequest(course=course.name), metadata=services.csm
    )
    assert not upcoming.training_sessions


async def test_cancelling_a_course_cancels_its_upcoming_sessions(
    services: Clients, changes: asyncio.Queue[events_pb2.TrainingSessionChanged]
) -> None:
    course = await new_course(services)
    sessions = [await new_session(services, course, in_days(d)) for d in (10, 40)]
    cancelled = await services.catalog.CancelCourse(
        pb.CancelCourseRequest(name=course.name, etag=course.etag), metadata=services.editor
    )
    assert cancelled.state == pb.COURSE_STATE_CANCELLED
    events = [await asyncio.wait_for(changes.get(), 10) for _ in sessions]
    assert {e.training_session.name for e in events} == {s.name for s in sessions}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await new_session(services, course, in_days(50))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    "query",
    [
        "Advanced Analytics",
        "Advanced Analytics training",
        "Advnced analytics",
        "analytics",
        "custom dashboards",
    ],
)
async def test_search_puts_the_course_a_csm_means_first(services: Clients, query: str) -> None:
    found = await services.catalog.SearchTrainingSessions(
        pb.SearchTrainingSessionsRequest(query=query), metadata=services.csm
    )
    assert found.results, query
    assert found.results[0].training_session.title == "Advanced Analytics & Custom Dashboards"
    assert all(
        r.training_session.start_time.ToDatetime(tzinfo=dt.UTC) > dt.datetime.now(dt.UTC)
        for r in found.results
    )
    assert found.results[0].training_session.HasField("seats_left")


async def test_search_by_feature_and_including_past_sessions(services: Clients) -> None:
    found = await services.catalog.SearchTrainingSessions(
        pb.SearchTrainingSessionsRequest(query="dashboards training"), metadata=services.csm
    )
    titles = [r.training_session.title for r in found.results]
    assert titles[0] == "Dashboards Fundamentals"  # the title says it; the other only covers it
    assert "Admin Console Masterclass" not in titles
    by_feature = await services.catalog.SearchTrainingSessions(
        pb.SearchTrainingSessionsRequest(query="report scheduling"), metadata=services.csm
    )
    assert {r.training_session.title for r in by_feature.results} >= {
        "Dashboards Fundamentals",
        "Advanced Analytics & Custom Dashboards",
    }
    with_past = await services.catalog.SearchTrainingSessions(
        pb.SearchTrainingSessionsRequest(query="Advanced Analytics", include_past=True),
        metadata=services.csm,
    )
    years = {r.training_session.start_time.ToDatetime().year for r in with_past.results}
    assert {2026, 2027} <= years


async def test_alternatives_offer_other_dates_then_courses_on_the_same_features(
    services: Clients,
) -> None:
    course = await new_course(services, features=("dashboards", "sharing"))
    only = await new_session(services, course, in_days(30))
    nearest = await services.catalog.ListAlternativeSessions(
        pb.ListAlternativeSessionsRequest(name=only.name), metadata=services.csm
    )
    assert nearest.alternatives and not any(a.same_course for a in nearest.alternatives)
    first = nearest.alternatives[0]
    assert first.training_session.title == "Advanced Analytics & Custom Dashboards"  # both features
    assert list(first.shared_features) == ["dashboards", "sharing"]

    other_date = await new_session(services, course, in_days(37))
    same = await services.catalog.ListAlternativeSessions(
        pb.ListAlternativeSessionsRequest(name=only.name), metadata=services.csm
    )
    assert [a.training_session.name for a in same.alternatives] == [other_date.name]
    assert same.alternatives[0].same_course


async def test_seats_follow_registration_events_once_each(
    services: Clients, nats_url: str, namespace: str
) -> None:
    course = await new_course(services)
    session = await new_session(services, course, in_days(15), capacity=2)
    nc = await nats.connect(nats_url)
    js: JetStreamContext = nc.jetstream()
    subject = Topology(namespace).attendance_recorded

    async def record(
        email: str, kind: events_pb2.AttendanceKind, event_id: str | None = None
    ) -> None:
        event = events_pb2.AttendanceRecorded(
            event_id=event_id or str(uuid.uuid4()),
            training_session=session.name,
            email=email,
            kind=kind,
            source="test",
        )
        await js.publish(
            subject, event.SerializeToString(), headers={"Nats-Msg-Id": event.event_id}
        )

    async def seats(expected_taken: int) -> pb.TrainingSession:
        async def taken() -> pb.TrainingSession | NotYet:
            got = await services.catalog.GetTrainingSession(
                pb.GetTrainingSessionRequest(name=session.name), metadata=services.csm
            )
            return got if got.seats_taken == expected_taken else NotYet(got.seats_taken)

        return await wait_for(taken, f"{expected_taken} seat(s) taken", timeout=10)

    try:
        repeated = str(uuid.uuid4())
        await record("a@x.example", events_pb2.ATTENDANCE_KIND_REGISTERED, repeated)
        await record("a@x.example", events_pb2.ATTENDANCE_KIND_REGISTERED, repeated)
        await record("A@X.example", events_pb2.ATTENDANCE_KIND_REGISTERED)  # same person
        await record("b@x.example", events_pb2.ATTENDANCE_KIND_REGISTERED)
        full = await seats(2)
        assert full.full and full.seats_left == 0
        await record("b@x.example", events_pb2.ATTENDANCE_KIND_CANCELLED)
        freed = await seats(1)
        assert not freed.full and freed.seats_left == 1
    finally:
        await nc.drain()


async def test_local_times_hold_across_a_daylight_saving_change(services: Clients) -> None:
    """10:00 in New York before and after the March 2027 change: two different UTC offsets."""
    course = await new_course(services)
    before = dt.datetime(2027, 3, 11, 10, 0, tzinfo=NY)
    after = dt.datetime(2027, 3, 18, 10, 0, tzinfo=NY)
    for start in (after, before):
        await new_session(services, course, start, zone="America/New_York")
    listed = await services.catalog.ListTrainingSessions(
        pb.ListTrainingSessionsRequest(course=course.name), metadata=services.csm
    )
    instants = [s.start_time.ToDatetime(tzinfo=dt.UTC) for s in listed.training_sessions]
    assert [i.hour for i in instants] == [15, 14]  # EST is UTC-5, EDT UTC-4
    assert [i.astimezone(NY).hour for i in instants] == [10, 10]


async def test_every_invalid_field_is_named(services: Clients) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.CreateCourse(
            pb.CreateCourseRequest(
                course=pb.Course(title="", features=["Not A Key"], duration=Duration(seconds=-60))
            ),
            metadata=services.editor,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(err.value) == {"course.level", "course.format"}  # enums are checked first
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.CreateCourse(
            pb.CreateCourseRequest(
                course=pb.Course(
                    title="",
                    features=["Not A Key"],
                    duration=Duration(seconds=-60),
                    level=pb.SESSION_LEVEL_BEGINNER,
                    format=pb.SESSION_FORMAT_IN_PERSON,
                )
            ),
            metadata=services.editor,
        )
    assert bad_fields(err.value) == {"course.title", "course.duration", "course.features[0]"}

    course = await new_course(services)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.CreateTrainingSession(
            pb.CreateTrainingSessionRequest(
                training_session=pb.TrainingSession(
                    course=course.name,
                    time_zone="Mars/Olympus",
                    join_url="ftp://example.com/x",
                    registration_url="not a url",
                    capacity=-1,
                    start_time=Timestamp(seconds=1),
                )
            ),
            metadata=services.editor,
        )
    assert bad_fields(err.value) == {
        f"training_session.{f}"
        for f in ("time_zone", "start_time", "capacity", "join_url", "registration_url")
    }
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.CreateTrainingSession(
            pb.CreateTrainingSessionRequest(training_session=pb.TrainingSession(course="nope")),
            metadata=services.editor,
        )
    assert bad_fields(err.value) == {"training_session.course", "training_session.start_time"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.SearchTrainingSessions(
            pb.SearchTrainingSessionsRequest(query=" ", page_size=99), metadata=services.csm
        )
    assert bad_fields(err.value) == {"query"}


async def test_course_update_with_etag_and_a_new_duration_is_news_for_invitees(
    services: Clients, changes: asyncio.Queue[events_pb2.TrainingSessionChanged]
) -> None:
    course = await new_course(services)
    session = await new_session(services, course, in_days(12))
    longer = Duration()
    longer.FromTimedelta(dt.timedelta(minutes=90))
    edit = pb.Course(name=course.name, etag=course.etag, title="Alerting, longer", duration=longer)
    updated = await services.catalog.UpdateCourse(
        pb.UpdateCourseRequest(course=edit, update_mask=FieldMask(paths=["title", "duration"])),
        metadata=services.editor,
    )
    assert (updated.title, updated.etag) == ("Alerting, longer", '"2"')
    assert updated.topic == course.topic  # not in the mask, not touched
    event = await asyncio.wait_for(changes.get(), 10)
    assert event.kind == events_pb2.SESSION_CHANGE_KIND_UPDATED
    assert event.training_session.name == session.name
    assert event.training_session.duration.ToTimedelta() == dt.timedelta(minutes=90)

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.catalog.UpdateCourse(
            pb.UpdateCourseRequest(course=edit, update_mask=FieldMask(paths=["title"])),
            metadata=services.editor,
        )
    assert err.value.code() == grpc.StatusCode.ABORTED
    listed = await services.catalog.ListCourses(
        pb.ListCoursesRequest(page_size=100), metadata=services.csm
    )
    assert course.name in {c.name for c in listed.courses}
