"""Attendance reports as Zoom, GoToWebinar and Teams export them, read into one result per
person; rows that cannot be read are listed, never dropped; and the import use case."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from services.catalog.bootstrap import bootstrap
from services.catalog.domain.attendance import ATTENDED, NO_SHOW, AttendanceResult
from services.catalog.domain.attendance_report import (
    MAX_REPORT_BYTES,
    normalize,
    parse_duration,
    parse_time,
    read_report,
)
from services.catalog.domain.events import AttendanceRecorded
from services.catalog.domain.model import Registration
from services.catalog.service_layer.attendance import import_report
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from tests.fakes.catalog import CatalogStore, FakeCatalogUnitOfWork
from tests.unit.catalog.examples import COURSE, NOW, scheduled

NY = ZoneInfo("America/New_York")

# As Zoom's webinar attendee report: a BOM, a title and summary, sections with their own
# headers, the host (not an attendee), "--" for who never joined, and a re-join.
ZOOM = (
    "\ufeffAttendee Report\n"
    'Report Generated:,"Mar 12, 2026 11:02:10 AM"\n'
    "Topic,Webinar ID,Actual Start Time,Actual Duration (minutes),# Registered\n"
    '"Dashboards, live",845 1234 7702,"Mar 12, 2026 09:58:21 AM",92,3\n'
    "Host Details\n"
    "Attended,User Name (Original Name),Email,Join Time,Leave Time,Time in Session (minutes)\n"
    'Yes,Nina Alvarez,nina@trainvite.dev,"Mar 12, 2026 09:50:00 AM",'
    '"Mar 12, 2026 11:30:00 AM",100\n'
    "Attendee Details\n"
    "Attended,User Name (Original Name),First Name,Last Name,Email,Registration Time,"
    "Join Time,Leave Time,Time in Session (minutes),Country/Region Name\n"
    'Yes,Ana,Ana,Souza,Ana@CloudTech.example,"Mar 1, 2026 10:00:00 AM",'
    '"Mar 12, 2026 10:00:00 AM","Mar 12, 2026 10:30:00 AM",30,Brazil\n'
    'Yes,Ana,Ana,Souza,ana@cloudtech.example,"Mar 1, 2026 10:00:00 AM",'
    '"Mar 12, 2026 10:50:00 AM","Mar 12, 2026 11:30:00 AM",40,Brazil\n'
    'Yes,"Lee, Dana",Dana,Lee,dana@northwind.example,"Mar 2, 2026 08:00:00 AM",'
    '"Mar 12, 2026 10:10:00 AM","Mar 12, 2026 10:40:00 AM",30,"United States\n(remote)"\n'
    'Yes,Dana (phone),Dana,Lee,dana@northwind.example,"Mar 2, 2026 08:00:00 AM",'
    '"Mar 12, 2026 10:20:00 AM","Mar 12, 2026 10:50:00 AM",30,United States\n'
    'No,Bo,Bo,Chen,bo@cloudtech.example,"Mar 3, 2026 09:00:00 AM",--,--,--,Canada\n'
    'Yes,Nobody,,,,"Mar 3, 2026 09:00:00 AM","Mar 12, 2026 10:00:00 AM",'
    '"Mar 12, 2026 10:30:00 AM",30,\n'
    'Yes,Typo,,,cy@@,"Mar 3, 2026 09:00:00 AM","Mar 12, 2026 10:00:00 AM",'
    '"Mar 12, 2026 10:30:00 AM",30,\n'
)


def test_a_zoom_report_with_preamble_sections_bom_and_quoted_fields() -> None:
    read = read_report(ZOOM.encode(), NY)
    assert read.results == [
        AttendanceResult("ana@cloudtech.example", ATTENDED, 70),  # re-join summed
        AttendanceResult("bo@cloudtech.example", NO_SHOW),  # "Attended: No", "--" times
        AttendanceResult("dana@northwind.example", ATTENDED, 40),  # two devices: union
    ]
    assert [(s.line, s.reason) for s in read.skipped] == [
        (7, "a host or panelist, not an attendee"),
        (8, "a section title, not a participant"),
        (16, "no email address"),  # Dana's row on line 12 spans two lines
        (17, "'cy@@' is not an email address"),
    ]


def test_teams_tab_separated_with_durations_in_hours_minutes_seconds() -> None:
    teams = (
        "1. Summary\n"
        "Meeting title\tDashboards live\n"
        "Attended participants\t2\n"
        "\n"
        "2. Participants\n"
        "Name\tFirst Join\tLast Leave\tIn-Meeting Duration\tEmail\tParticipant ID (UPN)\tRole\n"
        "Ana Souza\t3/12/26, 10:00:00 AM\t3/12/26, 11:30:00 AM\t1h 10m 5s\tana@cloudtech.example"
        "\tana@cloudtech.example\tAttendee\n"
        "Bo Chen\t\t\t12m\tbo@cloudtech.example\tbo@cloudtech.example\tAttendee\n"
    )
    # UTF-16 with its byte order mark, as Teams writes it.
    read = read_report(teams.encode("utf-16"), NY)
    assert read.results == [
        # First join and last leave span 90 minutes, but Teams' own duration is what it says
        # she was in: times win when both are given, so 90 here.
        AttendanceResult("ana@cloudtech.example", ATTENDED, 90),
        AttendanceResult("bo@cloudtech.example", ATTENDED, 12),
    ]
    assert read.skipped == []


def test_gotowebinar_durations_summed_over_rows_and_a_zero_is_a_no_show() -> None:
    goto = (
        "Attendee Report\n"
        "\n"
        "Attended,Interest Rating,Last Name,First Name,Email Address,In Session Duration\n"
        "Yes,50,Souza,Ana,ana@cloudtech.example,45 minutes\n"
        "Yes,50,Souza,Ana,ana@cloudtech.example,25 mins\n"
        "Yes,0,Chen,Bo,bo@cloudtech.example,0\n"
        "Yes,0,Lee,Dana,dana@northwind.example,forever\n"
    )
    read = read_report(goto.encode(), NY)
    assert read.results == [
        AttendanceResult("ana@cloudtech.example", ATTENDED, 70),
        # Attended says yes with zero minutes: attended, as the tool says.
        AttendanceResult("bo@cloudtech.example", ATTENDED, 0),
    ]
    assert [(s.line, s.reason) for s in read.skipped] == [
        (7, "duration 'forever' is not a duration we read")
    ]
    plain = "Email,Duration (minutes)\nbo@cloudtech.example,0\ncy@x.example,\n"
    assert read_report(plain.encode(), NY).results == [
        AttendanceResult("bo@cloudtech.example", NO_SHOW),
        AttendanceResult("cy@x.example", ATTENDED, 0),  # listed, nothing more known
    ]


def test_times_with_zones_and_a_zone_column() -> None:
    report = (
        "Email,Join Time,Leave Time,Time Zone\n"
        "a@x.example,2026-03-12T10:00:00-04:00,2026-03-12T14:30:00Z,\n"  # 30 minutes
        'b@x.example,"Mar 12, 2026 10:00:00 AM","Mar 12, 2026 10:45:00 AM",Europe/Paris\n'
        "c@x.example,2026-03-12 10:00:00 UTC,2026-03-12 10:20:00 UTC,\n"
        'd@x.example,"Mar 12, 2026 10:00:00 AM","Mar 12, 2026 09:00:00 AM",\n'
        'e@x.example,"Mar 12, 2026 10:00:00 AM",noon,\n'
        'f@x.example,"Mar 12, 2026 10:00:00 AM","Mar 12, 2026 10:45:00 AM",Mars/Olympus\n'
    )
    read = read_report(report.encode(), NY)
    assert read.results == [
        AttendanceResult("a@x.example", ATTENDED, 30),
        AttendanceResult("b@x.example", ATTENDED, 45),
        AttendanceResult("c@x.example", ATTENDED, 20),
    ]
    assert [s.reason for s in read.skipped] == [
        "leave time is before join time",
        "time 'noon' is not a time we read",
        "time zone 'Mars/Olympus' is not one we read",
    ]


def test_time_and_duration_forms() -> None:
    paris = ZoneInfo("Europe/Paris")
    assert parse_time("Mar 12, 2026 09:58:21 AM", paris) == dt.datetime(
        2026, 3, 12, 9, 58, 21, tzinfo=paris
    )
    assert parse_time("Mar 12, 2026 09:58:21 AM GMT+2", paris) == dt.datetime(
        2026, 3, 12, 7, 58, 21, tzinfo=dt.UTC
    )
    assert parse_time("03/12/2026 01:00:00 PM America/New_York", paris) == dt.datetime(
        2026, 3, 12, 17, 0, tzinfo=dt.UTC
    )
    assert parse_time("tomorrow", paris) is None
    assert parse_duration("1h 10m 5s") == 4205
    assert parse_duration("70") == 4200
    assert parse_duration("70", seconds_unit=True) == 70
    assert parse_duration("01:10:05") == 4205
    assert parse_duration("1 hr 10 mins") == 4200
    assert parse_duration("-5") is None and parse_duration("nan") is None
    assert parse_duration("10 parsecs") is None
    assert normalize("Time in Session (minutes)") == "timeinsessionminutes"


@pytest.mark.parametrize(
    ("report", "says"),
    [
        (b"Name,Join Time\nAna,2026-03-12 10:00\n", "has no email column"),
        (b"", "has no email column"),
        (b"\xff\xfeA\x00" + b"\x00\xd8", "is not UTF-8 text"),
        (b"Email,Duration\n\xe9t\xe9,3\n", "is not UTF-8 text"),
        (b"x" * (MAX_REPORT_BYTES + 1), "at most 5242880"),
    ],
)
def test_a_file_that_is_not_a_report_names_report(report: bytes, says: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        read_report(report, NY)
    (violation,) = caught.value.violations
    assert violation.field == "report" and says in violation.description


# --- The use case -----------------------------------------------------------------------------


@pytest.fixture
def store() -> CatalogStore:
    store = CatalogStore(clock=lambda: NOW)
    store.courses[COURSE.id] = COURSE
    return store


async def test_importing_publishes_one_result_per_person_once(store: CatalogStore) -> None:
    session = scheduled(start_time=NOW - dt.timedelta(days=1)).session
    store.sessions[session.id] = session
    draft = "customers/cloudtech/invitation-batches/b/drafts/d"
    key = (session.id, "ana@cloudtech.example")
    store.registrations[key] = Registration(session.id, key[1], "registered", invitation=draft)
    deps = bootstrap(uow=lambda: FakeCatalogUnitOfWork(store), clock=lambda: NOW)

    imported = await import_report(deps, session.name, ZOOM.encode(), "Zoom")
    assert (imported.attended, imported.no_show, len(imported.skipped)) == (2, 1, 4)
    published = [e for e in store.published if isinstance(e, AttendanceRecorded)]
    assert [(e.email, e.kind, e.minutes_attended, e.source, e.invitation) for e in published] == [
        ("ana@cloudtech.example", "attended", 70, "zoom", draft),
        ("bo@cloudtech.example", "no_show", 0, "zoom", ""),
        ("dana@northwind.example", "attended", 40, "zoom", ""),
    ]
    again = await import_report(deps, session.name, ZOOM.encode(), "")
    assert (again.attended, again.no_show) == (2, 1)
    assert len(store.published) == 3  # the same results: nothing new


async def test_import_refusals(store: CatalogStore) -> None:
    upcoming = scheduled(start_time=NOW + dt.timedelta(days=1)).session
    store.sessions[upcoming.id] = upcoming
    deps = bootstrap(uow=lambda: FakeCatalogUnitOfWork(store), clock=lambda: NOW)
    with pytest.raises(FailedPrecondition, match="once it has started"):
        await import_report(deps, upcoming.name, ZOOM.encode(), "")
    with pytest.raises(NotFound):
        await import_report(deps, scheduled().session.name, ZOOM.encode(), "")
    with pytest.raises(InvalidArgument) as caught:
        await import_report(deps, "sessions/1", b"", "bad source!")
    assert [v.field for v in caught.value.violations] == ["training_session", "report", "source"]
    assert store.published == []
