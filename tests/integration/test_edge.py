"""The HTTP edge over the real services: registration links and one-click unsubscribe.

Served by uvicorn on a free port and called with httpx, as a browser or a mail client would.
"""

from __future__ import annotations

import datetime as dt
import html
import uuid
from collections.abc import AsyncIterator

import asyncpg
import grpc
import httpx
import icalendar
import pytest
from trainvite.catalog.v1 import catalog_pb2 as pb
from trainvite.personalizer.v1 import personalizer_pb2

from services.common import registration_links
from services.common.registration_links import LinkClaims
from services.dispatcher.domain.unsubscribe import unsubscribe_token
from tests.edge_server import edge_settings, running_edge
from tests.helpers import Clients, free_port
from tests.integration.catalog_data import in_days, new_course, new_session

pytestmark = pytest.mark.integration

SAO_PAULO = "America/Sao_Paulo"
DRAFT = f"customers/cloudtech/invitation-batches/{uuid.uuid4()}/drafts/{uuid.uuid4()}"


@pytest.fixture
async def edge(services: Clients, signing_key: str) -> AsyncIterator[str]:
    async with running_edge(edge_settings(services, signing_key)) as url:
        yield url


@pytest.fixture
async def http(edge: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge, timeout=20) as client:
        yield client


async def _session(c: Clients, capacity: int = 0, days: float = 20) -> pb.TrainingSession:
    course = await new_course(c, title=f"Alerting Deep Dive {uuid.uuid4().hex[:6]}")
    start = in_days(days).replace(hour=14, minute=0, second=0, microsecond=0)
    return await new_session(c, course, start, zone="Europe/Paris", capacity=capacity)


def _token(signing_key: str, session: pb.TrainingSession, email: str, tz: str = SAO_PAULO) -> str:
    links = registration_links.RegistrationLinks(
        "http://edge", registration_links.link_keys(None, signing_key)
    )
    end = session.start_time.ToDatetime(tzinfo=dt.UTC) + dt.timedelta(hours=1)
    return links.link(DRAFT, session.name, email, tz, end).removeprefix("http://edge/r/")


async def _registration(c: Clients, session: str, email: str) -> pb.Registration | None:
    try:
        return await c.catalog.GetRegistration(
            pb.GetRegistrationRequest(training_session=session, email=email), metadata=c.service
        )
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND, exc
        return None


def _text(answer: httpx.Response) -> str:
    """The page's text as a person reads it."""
    return html.unescape(answer.text)


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    middle = len(payload) // 2
    swapped = "A" if payload[middle] != "A" else "B"
    return f"{header}.{payload[:middle]}{swapped}{payload[middle + 1 :]}.{signature}"


async def test_a_get_shows_the_session_in_the_invitees_zone_and_registers_nobody(
    services: Clients, http: httpx.AsyncClient, signing_key: str
) -> None:
    session = await _session(services, capacity=5)
    token = _token(signing_key, session, "ana@cloudtech.example")

    for _ in range(2):  # a mail scanner, then the person
        page = await http.get(f"/r/{token}")
        assert page.status_code == 200, page.text
    local = session.start_time.ToDatetime(tzinfo=dt.UTC).astimezone(
        dt.timezone(-dt.timedelta(hours=3))
    )
    assert session.title in page.text
    assert f"{local:%I:%M %p}".lstrip("0") in page.text and SAO_PAULO in page.text
    assert "5 left" in page.text
    assert 'action="/r/' in page.text and "Register" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert await _registration(services, session.name, "ana@cloudtech.example") is None
    assert (await http.get("/healthz")).text == "ok"


async def test_a_post_registers_then_waitlists_then_cancels(
    services: Clients, http: httpx.AsyncClient, signing_key: str
) -> None:
    session = await _session(services, capacity=1)
    ana = _token(signing_key, session, "ana@cloudtech.example")
    bo = _token(signing_key, session, "bo@cloudtech.example")

    first = await http.post(f"/r/{ana}/register")
    assert first.status_code == 200, first.text
    assert "You're registered" in _text(first)
    assert "Full: registering puts you on the waitlist" in _text(first)  # seats after it
    registration = await _registration(services, session.name, "ana@cloudtech.example")
    assert registration is not None
    assert registration.state == pb.REGISTRATION_STATE_REGISTERED
    assert registration.invitation == DRAFT

    again = await http.post(f"/r/{ana}/register")  # a second press changes nothing
    assert again.status_code == 200 and "registered" in again.text

    second = await http.post(f"/r/{bo}/register")
    assert second.status_code == 200, second.text
    assert "waitlist: number 1" in second.text

    ics = await http.get(f"/r/{ana}/calendar.ics")
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    event = icalendar.Calendar.from_ical(ics.content).walk("VEVENT")[0]
    assert event.decoded("DTSTART") == session.start_time.ToDatetime(tzinfo=dt.UTC)
    assert str(event["UID"]) == f"{session.name.rsplit('/', 1)[1]}@trainvite.dev"

    cancelled = await http.post(f"/r/{ana}/cancel")
    assert cancelled.status_code == 200 and "cancelled" in cancelled.text
    promoted = await _registration(services, session.name, "bo@cloudtech.example")
    assert promoted is not None and promoted.state == pb.REGISTRATION_STATE_REGISTERED
    shown = await http.get(f"/r/{bo}")
    assert "registered" in shown.text and "Cancel my registration" in shown.text


async def test_forged_tampered_expired_and_broken_links_are_refused_and_record_nothing(
    services: Clients, http: httpx.AsyncClient, signing_key: str
) -> None:
    session = await _session(services, capacity=5)
    email = "eve@cloudtech.example"
    good = _token(signing_key, session, email)
    forged = _token("another-key-entirely", session, email)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    expired = registration_links.sign(
        registration_links.link_keys(None, signing_key),
        LinkClaims(DRAFT, session.name, email, SAO_PAULO, past),
        past - dt.timedelta(days=60),
    )
    cases = {
        "forged": (forged, 403, "isn't valid"),
        "tampered": (_tampered(good), 403, "isn't valid"),
        "expired": (expired, 410, "expired"),
        "cut short": (good[: len(good) // 3], 400, "incomplete"),
    }
    for what, (token, status, words) in cases.items():
        for method, path in (
            ("GET", f"/r/{token}"),
            ("POST", f"/r/{token}/register"),
            ("POST", f"/r/{token}/cancel"),
            ("GET", f"/r/{token}/calendar.ics"),
        ):
            answer = await http.request(method, path)
            assert answer.status_code == status, (what, method, path, answer.text)
            assert words in _text(answer), (what, answer.text)
    assert await _registration(services, session.name, email) is None


async def test_an_unknown_or_cancelled_session_is_said_so(
    services: Clients, http: httpx.AsyncClient, signing_key: str
) -> None:
    nowhere = pb.TrainingSession(name=f"training-sessions/{uuid.uuid4()}", start_time=None)
    nowhere.start_time.FromDatetime(in_days(10))
    missing = await http.get(f"/r/{_token(signing_key, nowhere, 'ana@x.example')}")
    assert missing.status_code == 404 and "can't find" in _text(missing)

    session = await _session(services, capacity=5)
    token = _token(signing_key, session, "ana@cloudtech.example")
    await services.catalog.CancelTrainingSession(
        pb.CancelTrainingSessionRequest(name=session.name, reason="Presenter is ill"),
        metadata=services.editor,
    )
    for answer in (await http.get(f"/r/{token}"), await http.post(f"/r/{token}/register")):
        assert answer.status_code == 410
        assert "cancelled" in answer.text and "Presenter is ill" in answer.text
    assert await _registration(services, session.name, "ana@cloudtech.example") is None


async def test_a_service_that_is_away_is_a_503_page(services: Clients, signing_key: str) -> None:
    away = f"127.0.0.1:{free_port()}"
    settings = edge_settings(services, signing_key, catalog_address=away, call_deadline_seconds=2)
    session = await _session(services)
    token = _token(signing_key, session, "ana@cloudtech.example")
    async with running_edge(settings) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
        answer = await http.post(f"/r/{token}/register")
    assert answer.status_code == 503, answer.text
    assert "try again" in answer.text and answer.headers["retry-after"] == "30"


async def test_one_click_unsubscribe_is_a_post_and_a_get_only_asks(
    services: Clients, http: httpx.AsyncClient, signing_key: str, database_url: str
) -> None:
    email = f"ana.{uuid.uuid4().hex[:6]}@cloudtech.example"
    token = unsubscribe_token(signing_key, email)

    async def suppressed() -> bool:
        conn = await asyncpg.connect(database_url)
        try:
            found = await conn.fetchval(
                "SELECT count(*) FROM dispatcher.suppressions WHERE email = $1", email
            )
        finally:
            await conn.close()
        return bool(found)

    asked = await http.get("/unsubscribe", params={"token": token})
    assert asked.status_code == 200 and 'method="post"' in asked.text
    assert not await suppressed()

    # RFC 8058: what a mail client sends for its one-click button.
    done = await http.post(
        "/unsubscribe",
        params={"token": token},
        content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200, done.text
    assert email in done.text
    assert await suppressed()

    bad = await http.post("/unsubscribe", params={"token": token[:-3] + "AAA"})
    assert bad.status_code == 400 and "isn't valid" in _text(bad)
    assert (await http.post("/unsubscribe")).status_code == 400


async def test_a_drafts_register_link_opens_on_the_edge_and_registers_for_that_draft(
    services: Clients, http: httpx.AsyncClient
) -> None:
    batch = await services.personalizer.DraftInvitations(
        personalizer_pb2.DraftInvitationsRequest(
            parent="customers/cloudtech", topic="Advanced Analytics"
        ),
        metadata=services.csm,
    )
    sarah = next(d for d in batch.drafts if d.recipient.display_name == "Sarah Chen")
    path = "/r/" + sarah.registration_url.split("/r/", 1)[1]

    page = await http.get(path)
    assert page.status_code == 200, page.text
    assert batch.training_session.title in _text(page)
    assert "America/New_York" in page.text  # Sarah's own zone
    registered = await http.post(f"{path}/register")
    assert registered.status_code == 200 and "You're registered" in _text(registered)
    registration = await _registration(services, batch.training_session.name, sarah.recipient.email)
    assert registration is not None and registration.invitation == sarah.name
