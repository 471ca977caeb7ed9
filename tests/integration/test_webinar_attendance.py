"""Attendance from Zoom over the real HTTP edge, NATS and PostgreSQL, and from an attendance
report over gRPC: registrations end ATTENDED or NO_SHOW, AttendanceRecorded carries the
minutes, and nothing happens twice."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import grpc
import httpx
import pytest
from google.protobuf.duration_pb2 import Duration
from nats.js import JetStreamContext
from trainvite.catalog.v1 import catalog_pb2 as pb
from trainvite.events.v1 import events_pb2

from services.common.messaging.topology import Topology
from tests.edge_server import edge_settings, running_edge
from tests.helpers import Clients, free_port
from tests.integration.catalog_data import in_days, move_into_past, ts
from tests.integration.event_checks import DeadLetters, published, settled
from tests.integration.test_api_errors import bad_fields
from tests.waiting import NotYet, wait_for

pytestmark = pytest.mark.integration

SECRET = "zoom-secret-token-" + uuid.uuid4().hex
DRAFT = f"customers/cloudtech/invitation-batches/{uuid.uuid4()}/drafts/{uuid.uuid4()}"
ATTENDED = pb.REGISTRATION_STATE_ATTENDED
NO_SHOW = pb.REGISTRATION_STATE_NO_SHOW


@pytest.fixture
def database_url(fresh_database_url: str) -> str:
    """A database per test: outbox counts are read per test."""
    return fresh_database_url


@pytest.fixture
async def http(
    services: Clients, signing_key: str, nats_url: str, namespace: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = edge_settings(
        services,
        signing_key,
        zoom_webhook_secret_token=SECRET,
        nats_url=nats_url,
        event_namespace=namespace,
    )
    async with running_edge(settings) as url, httpx.AsyncClient(base_url=url, timeout=20) as c:
        yield c


# The attendance the webinar brings (the registrations made over gRPC are told too).
ATTENDED_KIND = events_pb2.ATTENDANCE_KIND_ATTENDED
NO_SHOW_KIND = events_pb2.ATTENDANCE_KIND_NO_SHOW


@pytest.fixture
async def recorded(
    nats_url: str, namespace: str
) -> AsyncIterator[list[events_pb2.AttendanceRecorded]]:
    """Every AttendanceRecorded published during the test."""
    subject = Topology(namespace).attendance_recorded
    async with published(nats_url, subject, events_pb2.AttendanceRecorded) as seen:
        yield seen


def _signed(body: bytes, secret: str = SECRET, at: dt.datetime | None = None) -> dict[str, str]:
    """Zoom's headers, computed here from Zoom's documented recipe."""
    timestamp = str(int((at or dt.datetime.now(dt.UTC)).timestamp()))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return {
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": f"v0={digest.hexdigest()}",
        "content-type": "application/json",
    }


async def _post(http: httpx.AsyncClient, document: dict[str, Any], **kw: Any) -> httpx.Response:
    body = json.dumps(document).encode()
    return await http.post("/webhooks/zoom", content=body, headers=_signed(body, **kw))


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _presence(event: str, webinar: str, email: str, pid: str, t: dt.datetime) -> dict[str, Any]:
    field = "join_time" if event.endswith("joined") else "leave_time"
    return {
        "event": f"webinar.participant_{event}",
        "event_ts": int(t.timestamp() * 1000),
        "payload": {
            "account_id": "acc",
            "object": {
                "id": webinar,
                "uuid": f"{webinar}-instance==",
                "participant": {
                    "user_id": pid,
                    "participant_uuid": pid,
                    "user_name": email.split("@")[0],
                    "email": email,
                    field: _iso(t),
                },
            },
        },
    }


def _ended(webinar: str, t: dt.datetime) -> dict[str, Any]:
    return {
        "event": "webinar.ended",
        "event_ts": int(t.timestamp() * 1000),
        "payload": {
            "object": {"id": webinar, "uuid": f"{webinar}-instance==", "end_time": _iso(t)}
        },
    }


async def _webinar_session(
    c: Clients, database_url: str, people: dict[str, str]
) -> tuple[pb.TrainingSession, str, dt.datetime]:
    """A 90-minute webinar session with `people` (email -> invitation) registered, moved to
    have started two hours ago; its webinar id and start."""
    course = await c.catalog.CreateCourse(
        pb.CreateCourseRequest(
            course=pb.Course(
                title=f"Dashboards Live {uuid.uuid4().hex[:6]}",
                level=pb.SESSION_LEVEL_BEGINNER,
                format=pb.SESSION_FORMAT_LIVE_WEBINAR,
                duration=Duration(seconds=90 * 60),
            )
        ),
        metadata=c.editor,
    )
    webinar = str(uuid.uuid4().int % 10**11)
    session = await c.catalog.CreateTrainingSession(
        pb.CreateTrainingSessionRequest(
            training_session=pb.TrainingSession(
                course=course.name,
                start_time=ts(in_days(3)),
                time_zone="America/New_York",
                webinar_id=webinar,
            )
        ),
        metadata=c.editor,
    )
    assert session.webinar_id == webinar
    for email, invitation in people.items():
        await c.catalog.RegisterForSession(
            pb.RegisterForSessionRequest(
                training_session=session.name, email=email, invitation=invitation
            ),
            metadata=c.service,
        )
    await move_into_past(database_url, session, 2 / 24)
    got = await c.catalog.GetTrainingSession(
        pb.GetTrainingSessionRequest(name=session.name), metadata=c.service
    )
    assert got.webinar_id == webinar
    return got, webinar, got.start_time.ToDatetime(tzinfo=dt.UTC)


async def _states(c: Clients, session: str, want: dict[str, int]) -> dict[str, int]:
    async def now() -> dict[str, int] | NotYet:
        found: dict[str, int] = {}
        for email in want:
            r = await c.catalog.GetRegistration(
                pb.GetRegistrationRequest(training_session=session, email=email),
                metadata=c.service,
            )
            found[email] = r.state
        return found if found == want else NotYet(found)

    return await wait_for(now, f"registrations {want}", timeout=30)


async def _outbox_count(database_url: str, subject: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM catalog.outbox WHERE subject = $1", subject
        )
        return count
    finally:
        await conn.close()


async def _activity_messages(js: JetStreamContext, topology: Topology) -> int:
    info = await js.stream_info(topology.attendance_stream, subjects_filter=">")
    return (info.state.subjects or {}).get(topology.webinar_activity, 0)


# ---------------------------------------------------------------------------------------------


async def test_refused_webhooks_get_401_and_nothing_reaches_the_stream(
    http: httpx.AsyncClient, js: JetStreamContext, namespace: str
) -> None:
    topology = Topology(namespace)
    before = await _activity_messages(js, topology)
    now = dt.datetime.now(dt.UTC)
    join = _presence("joined", "84512347702", "ana@cloudtech.example", "p1", now)
    forged = await _post(http, join, secret="not-our-secret")
    stale = await _post(http, join, at=now - dt.timedelta(minutes=6))
    body = json.dumps(join).encode()
    unsigned = await http.post("/webhooks/zoom", content=body)
    assert [forged.status_code, stale.status_code, unsigned.status_code] == [401, 401, 401]
    assert await _activity_messages(js, topology) == before

    # The URL validation challenge, answered as Zoom checks it.
    challenge = await _post(
        http, {"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6U"}}
    )
    assert challenge.status_code == 200
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6U", hashlib.sha256).hexdigest()
    assert challenge.json() == {"plainToken": "qgg8vlvZRS6U", "encryptedToken": expected}
    assert await _activity_messages(js, topology) == before


async def test_a_webinar_played_as_webhooks_becomes_attended_and_no_show_once(
    services: Clients,
    http: httpx.AsyncClient,
    js: JetStreamContext,
    namespace: str,
    database_url: str,
    recorded: list[events_pb2.AttendanceRecorded],
) -> None:
    ana, bo = "ana@cloudtech.example", "bo@cloudtech.example"
    session, webinar, start = await _webinar_session(services, database_url, {ana: DRAFT, bo: ""})

    def m(minutes: int) -> dt.datetime:
        return start + dt.timedelta(minutes=minutes)

    played = [
        _presence("joined", webinar, "Ana@CloudTech.example", "ana-1", m(0)),
        _presence("left", webinar, ana, "ana-1", m(30)),
        _presence("joined", webinar, ana, "ana-2", m(50)),
        _presence("left", webinar, ana, "ana-2", m(90)),
        _ended(webinar, m(90)),
    ]
    for document in played:
        answer = await _post(http, document)
        assert answer.status_code == 200, answer.text

    await _states(services, session.name, {ana: ATTENDED, bo: NO_SHOW})

    async def both() -> list[events_pb2.AttendanceRecorded] | NotYet:
        mine = [
            e
            for e in recorded
            if e.training_session == session.name and e.kind in (ATTENDED_KIND, NO_SHOW_KIND)
        ]
        return mine if len(mine) == 2 else NotYet(mine)

    events = {e.email: e for e in await wait_for(both, "two AttendanceRecorded")}
    assert events[ana].kind == events_pb2.ATTENDANCE_KIND_ATTENDED
    assert events[ana].minutes_attended == 70
    assert events[ana].invitation == DRAFT and events[ana].source == "zoom"
    assert events[bo].kind == events_pb2.ATTENDANCE_KIND_NO_SHOW

    # Zoom delivers the same webhooks again, in another order: the same final state, and no
    # new event (the stream drops the repeats by their ids; the catalog would too).
    topology = Topology(namespace)
    stored = await _activity_messages(js, topology)
    published = await _outbox_count(database_url, topology.attendance_recorded)
    for document in reversed(played):
        assert (await _post(http, document)).status_code == 200
    assert await _activity_messages(js, topology) == stored == 5
    await settled(js, topology.catalog_webinar_activity, published=5)
    await _states(services, session.name, {ana: ATTENDED, bo: NO_SHOW})
    assert await _outbox_count(database_url, topology.attendance_recorded) == published


async def test_activity_of_an_unknown_webinar_is_dead_lettered_with_the_reason(
    http: httpx.AsyncClient, js: JetStreamContext, namespace: str
) -> None:
    letters = DeadLetters(js, Topology(namespace), "catalog-webinar-activity")
    try:
        answer = await _post(http, _ended("99999999999", dt.datetime.now(dt.UTC)))
        assert answer.status_code == 200  # stored: what the catalog makes of it is its own
        (letter,) = await letters.wait_for(1, seconds=20)
        assert "no training session has webinar id '99999999999'" in letter.reason
    finally:
        await letters.close()


REPORT = (
    "\ufeffAttendee Report\n"
    'Report Generated:,"Mar 12, 2026 11:02:10 AM"\n'
    "Attendee Details\n"
    "Attended,User Name (Original Name),Email,Join Time,Leave Time,Time in Session (minutes)\n"
    "Yes,Ana,Ana@CloudTech.example,2026-03-12 10:00:00,2026-03-12 10:30:00,30\n"
    "Yes,Ana,ana@cloudtech.example,2026-03-12 10:50:00,2026-03-12 11:30:00,40\n"
    "No,Bo,bo@cloudtech.example,--,--,--\n"
    'Yes,"Lee, Dana",not an address,2026-03-12 10:00:00,2026-03-12 10:30:00,30\n'
)


async def test_an_attendance_report_over_grpc_gives_the_same_outcome_once(
    services: Clients,
    database_url: str,
    namespace: str,
    recorded: list[events_pb2.AttendanceRecorded],
) -> None:
    ana, bo = "ana@cloudtech.example", "bo@cloudtech.example"
    session, _, _ = await _webinar_session(services, database_url, {ana: DRAFT, bo: ""})
    request = pb.ImportAttendanceReportRequest(
        training_session=session.name, report=REPORT.encode(), source="zoom"
    )
    answer = await services.catalog.ImportAttendanceReport(request, metadata=services.editor)
    assert (answer.attended_count, answer.no_show_count) == (1, 1)
    assert [(r.line, r.reason) for r in answer.skipped_rows] == [
        (8, "'not an address' is not an email address")
    ]
    await _states(services, session.name, {ana: ATTENDED, bo: NO_SHOW})

    async def both() -> list[events_pb2.AttendanceRecorded] | NotYet:
        mine = [
            e
            for e in recorded
            if e.training_session == session.name and e.kind in (ATTENDED_KIND, NO_SHOW_KIND)
        ]
        return mine if len(mine) == 2 else NotYet(mine)

    events = {e.email: e for e in await wait_for(both, "two AttendanceRecorded")}
    assert events[ana].minutes_attended == 70 and events[ana].invitation == DRAFT

    subject = Topology(namespace).attendance_recorded
    published = await _outbox_count(database_url, subject)
    again = await services.catalog.ImportAttendanceReport(request, metadata=services.editor)
    assert (again.attended_count, again.no_show_count) == (1, 1)
    # The same report as a 4.6 MiB file (a long preamble): gRPC carries it, nothing new.
    padded = ("Report notes," + "x" * 1000 + "\n") * 4600 + REPORT.removeprefix("\ufeff")
    request.report = padded.encode()
    assert 4 * 1024 * 1024 < len(request.report) < 5 * 1024 * 1024
    big = await services.catalog.ImportAttendanceReport(request, metadata=services.editor)
    assert (big.attended_count, big.no_show_count) == (1, 1)
    assert await _outbox_count(database_url, subject) == published

    request.report = b"Email\n" + b"a@x.example\n" * (500 * 1024)  # over 5 MiB
    with pytest.raises(grpc.aio.AioRpcError) as too_big:
        await services.catalog.ImportAttendanceReport(request, metadata=services.editor)
    assert too_big.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(too_big.value) == {"report"}

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await services.catalog.ImportAttendanceReport(
            pb.ImportAttendanceReportRequest(
                training_session=session.name, report=b"Name,Join Time\nAna,10:00\n"
            ),
            metadata=services.editor,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(caught.value) == {"report"}
    assert "email column" in (caught.value.details() or "")


async def test_with_nats_away_the_pages_serve_and_webhooks_get_503(
    services: Clients, signing_key: str, namespace: str
) -> None:
    nowhere = f"nats://127.0.0.1:{free_port()}"
    settings = edge_settings(
        services,
        signing_key,
        zoom_webhook_secret_token=SECRET,
        nats_url=nowhere,
        event_namespace=namespace,
    )
    async with running_edge(settings) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
        assert (await http.get("/healthz")).text == "ok"
        answer = await _post(http, _ended("84512347702", dt.datetime.now(dt.UTC)))
        assert answer.status_code == 503  # Zoom delivers it again later
        assert answer.headers["retry-after"] == "30"
